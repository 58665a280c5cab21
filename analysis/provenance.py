"""Provenance: what exactly went into a report, so that a reader can reproduce or audit it.

The stimulus set's own content hash (from stimulus_set.json) plus a SHA-256 of the manifest and every
input file, the versions of the software that computed the numbers, each network checkpoint's training
summary (architecture, runs/members, seed, epochs, final validation accuracy, as model_eval stores it),
and the command line. Nothing here imports torch: checkpoints are read through model_eval's reader only
when one is named, and versions come from package metadata.
"""

from __future__ import annotations

import hashlib
import json
import platform
import shlex
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

PACKAGES = ("human-vs-model", "numpy", "pandas", "scipy", "statsmodels", "matplotlib", "torch")


@dataclass(frozen=True)
class Provenance:
    stimulus_set: pd.DataFrame  # quantity, value
    inputs: pd.DataFrame  # file, role, sha256
    software: pd.DataFrame  # package, version
    checkpoints: pd.DataFrame  # one row per checkpoint
    command: str


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


def checkpoint_summary(path: Path) -> dict[str, object]:
    """One row about a model_eval checkpoint: how it was trained and how well it validated."""
    row: dict[str, object] = {}
    try:
        from model_eval.nets.checkpoint import read_checkpoint

        data = read_checkpoint(path)
    except Exception as exc:  # a missing torch or a foreign file is reported, not fatal
        row["note"] = f"not readable as a model_eval checkpoint ({type(exc).__name__}: {exc})"
        return {"checkpoint": str(path), **row}
    config = data.get("config") or {}
    history = list(data.get("history") or [])
    last: dict[int, dict[str, Any]] = {}  # a checkpoint's history rows, as read_checkpoint gives them
    for h in history:
        last[int(h.get("member", 0))] = h
    val = [float(h["val_accuracy"]) for h in last.values() if h.get("val_accuracy") is not None]
    row.update(
        {
            "name": data.get("name"),
            "arch": data.get("arch"),
            "members": len(data.get("members") or []),
            "source": data.get("source"),
            "seed": config.get("seed"),
            "epochs_run": max((int(h.get("epoch", 0)) for h in history), default=0),
            "epochs_planned": config.get("epochs"),
            "val_accuracy": ", ".join(f"{v:.4f}" for v in val) if val else "",
            "torch": data.get("torch_version"),
            "checkpoint": str(path),
            "sha256": sha256_file(path),
            "training_config": json.dumps(
                {k: v for k, v in config.items() if isinstance(v, int | float | str | bool) or v is None},
                sort_keys=True,
            ),
        }
    )
    return row


def collect_provenance(
    stimulus_dir: Path,
    inputs: list[tuple[str, str]],
    checkpoints: list[Path],
    argv: list[str],
) -> Provenance:
    """inputs: (role, path or URL) pairs; URLs are listed without a hash (and without a password)."""
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
    software = [("python", platform.python_version())]
    software += [(pkg, _version(pkg)) for pkg in (_project_name(), *PACKAGES[1:])]
    return Provenance(
        stimulus_set=pd.DataFrame(stim, columns=["quantity", "value"]).astype({"value": str}),
        inputs=pd.DataFrame(file_rows, columns=["role", "file", "sha256"]),
        software=pd.DataFrame(software, columns=["package", "version"]),
        checkpoints=pd.DataFrame([checkpoint_summary(Path(c)) for c in checkpoints]),
        command="python -m analysis.compare " + " ".join(shlex.quote(a) for a in argv)
        if argv
        else " ".join(shlex.quote(a) for a in sys.argv),
    )
