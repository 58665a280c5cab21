"""Provenance: what exactly went into a report, so that a reader can reproduce or audit it.

The stimulus set's own content hash (from stimulus_set.json) plus a SHA-256 of the manifest and every
input file (network checkpoints named on the command line among them), the versions of the software
that computed the numbers, each network's training summary (architecture, runs/members, seed, epochs,
final validation accuracy, checkpoint hash) as model_eval records it in the predictions' sidecar
(X.csv -> X.networks.json), and the command line. Nothing here imports torch or model_eval; versions
come from package metadata.
"""

from __future__ import annotations

import hashlib
import json
import platform
import shlex
import sys
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import pandas as pd

from analysis.inputs.load import AnalysisInputError

PACKAGES = ("human-vs-model", "numpy", "pandas", "scipy", "statsmodels", "matplotlib", "torch")


@dataclass(frozen=True)
class Provenance:
    stimulus_set: pd.DataFrame  # quantity, value
    inputs: pd.DataFrame  # file, role, sha256
    software: pd.DataFrame  # package, version
    checkpoints: pd.DataFrame  # one row per network, from the predictions' sidecars (NETWORK_FIELDS)
    command: str
    notes: list[str] = field(default_factory=list)  # predictions without a sidecar


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _project_name() -> str:
    root = Path(__file__).resolve().parents[1] / "pyproject.toml"
    if root.is_file():
        for line in root.read_text(encoding="utf-8").splitlines():
            if line.startswith("name"):
                return line.split("=", 1)[1].strip().strip('"')
    return PACKAGES[0]


NETWORKS_SCHEMA = 1
NETWORK_FIELDS = (
    "model",
    "name",
    "arch",
    "members",
    "source",
    "seed",
    "epochs_run",
    "epochs_planned",
    "val_accuracy",
    "torch",
    "checkpoint",
    "sha256",
    "training_config",
)


def networks_sidecar(predictions: str | Path) -> Path:
    """Where model_eval records the networks behind a predictions file: X.csv -> X.networks.json."""
    p = Path(predictions)
    return p.with_name(p.stem + ".networks.json")


def _val_accuracy(value: object) -> object:
    if isinstance(value, list | tuple):  # one final validation accuracy per member
        return ", ".join(f"{float(v):.4f}" for v in value)
    return value


def read_networks(predictions: list[str | Path]) -> tuple[pd.DataFrame, list[str]]:
    """The networks behind each predictions file, from its sidecar, and a note for each file without one.

    The sidecar is the predictions' own record of their networks' training (architecture, epochs run
    and planned, final validation accuracy, checkpoint hash), so the report states it without reading
    a checkpoint: analysis reads files, not networks. A malformed sidecar is an input error.
    """
    rows: list[dict[str, object]] = []
    notes: list[str] = []
    for pred in predictions:
        path = networks_sidecar(pred)
        if not path.is_file():
            notes.append(f"{pred} has no {path.name} beside it: its networks' training is not recorded")
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise AnalysisInputError(f"cannot read {path}: {exc}") from None
        if not isinstance(data, dict) or data.get("schema") != NETWORKS_SCHEMA:
            raise AnalysisInputError(f"{path} is not a networks record of schema {NETWORKS_SCHEMA}")
        networks = data.get("networks")
        if not isinstance(networks, list) or not all(isinstance(n, dict) for n in networks):
            raise AnalysisInputError(f"{path}: 'networks' must be a list of objects")
        for net in networks:
            row = {k: net.get(k) for k in NETWORK_FIELDS}
            row["val_accuracy"] = _val_accuracy(row["val_accuracy"])
            rows.append({**row, "predictions": str(pred)})
    return pd.DataFrame(rows, columns=[*NETWORK_FIELDS, "predictions"] if rows else None), notes


def collect_provenance(stimulus_dir: Path, inputs: list[tuple[str, str]], argv: list[str]) -> Provenance:
    """inputs: (role, path or URL) pairs; URLs are listed without a hash (and without a password).

    Each "predictions" input's networks come from its sidecar (read_networks).
    """
    meta_path = stimulus_dir / "stimulus_set.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
    stim = [
        ("name", meta.get("name", "")),
        ("content hash (stimulus_set.json)", meta.get("content_hash", "not recorded")),
        ("generator", meta.get("generator_version", "")),
        ("source data set", meta.get("source", "")),
        ("build seed", meta.get("seed", "")),
        ("classes", len(meta.get("classes", []))),
    ]
    if (stimulus_dir / "manifest.csv").is_file():
        stim.append(("manifest.csv sha256", sha256_file(stimulus_dir / "manifest.csv")))
    file_rows = []
    for role, where in inputs:
        p = Path(where)
        file_rows.append({"role": role, "file": where, "sha256": sha256_file(p) if p.is_file() else ""})
    networks, notes = read_networks([where for role, where in inputs if role == "predictions"])
    software = [("python", platform.python_version())]
    software += [(pkg, _version(pkg)) for pkg in (_project_name(), *PACKAGES[1:])]
    return Provenance(
        stimulus_set=pd.DataFrame(stim, columns=["quantity", "value"]).astype({"value": str}),
        inputs=pd.DataFrame(file_rows, columns=["role", "file", "sha256"]),
        software=pd.DataFrame(software, columns=["package", "version"]),
        checkpoints=networks,
        notes=notes,
        command="python -m analysis.compare " + " ".join(shlex.quote(a) for a in argv)
        if argv
        else " ".join(shlex.quote(a) for a in sys.argv),
    )
