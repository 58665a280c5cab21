"""The whole study as Python functions: stimuli, network, predictions, database, server and report.

`prepare_study(StudyOptions(...))` builds what is missing (each step is cached under the work folder, so a
second call is quick) and checks the network; `server_app` and `serve` put the study online; `run_demo`
adds simulated participants in a database of their own and writes the human-vs-network report. Each step
calls the packages' own Python API (stimuli.build, model_eval.train/predict, study_server.import_study,
analysis.write_report), never their command lines.
"""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import analysis
import model_eval
import stimuli
from stimuli import validate_stimulus_set

if TYPE_CHECKING:
    from flask import Flask

DEFAULT_WORKDIR = Path("artifacts/study")
DEFAULT_SLUG = "image-study"  # public: in every participant URL, so it must not name the manipulation
ARCH = "mvgg8"
# A study compares people with a network that does the task: below this accuracy on the regular
# (unmanipulated) stimuli the main job refuses to serve, rather than report on an undertrained network.
DEFAULT_MIN_ACCURACY = 0.85


class WorkflowError(RuntimeError):
    """A step cannot go on (a bad option, an undertrained network, a failed import): the reason."""


@dataclass(frozen=True)
class Paths:
    """Where each step keeps its output under the work folder."""

    root: Path

    @property
    def stimuli(self) -> Path:
        return self.root / "stimuli"

    @property
    def checkpoint(self) -> Path:
        return self.root / "models" / f"{ARCH}.pt"

    @property
    def predictions(self) -> Path:
        return self.root / "predictions.csv"

    @property
    def database(self) -> Path:
        return self.root / "study.sqlite3"

    @property
    def secret(self) -> Path:
        return self.root / "secret_key"

    @property
    def admin_password(self) -> Path:
        return self.root / "admin_password"


def _step(title: str) -> None:
    print(f"\n== {title}", flush=True)


def _private_file(path: Path, make: Callable[[], str]) -> str:
    """Read a secret kept in a 0600 file, creating it once; the value is never logged."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = make()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")
    return value


def build_stimuli(paths: Paths, n_per_class: int | None) -> None:
    """The Hosseini negative-image study on synthetic signs; reused when it validates. Built from a
    secret seed (none given): participants will see it, and a guessable seed tells every answer."""
    if (paths.stimuli / "stimulus_set.json").exists():
        problems = validate_stimulus_set(paths.stimuli)
        if problems:
            raise WorkflowError(
                f"{paths.stimuli} exists but fails validation ({problems[0]}); remove it to rebuild"
            )
        print(f"reusing the stimulus set in {paths.stimuli}")
        return
    written = stimuli.build(stimuli.preset_config("negative", n_per_class=n_per_class), paths.stimuli)
    print(f"wrote stimulus set {written}")


def train_network(paths: Paths, seed: int, epochs: int | None, max_minutes: float | None) -> None:
    """The paper's mvgg8 on synthetic signs, trained to its epochs; a finished checkpoint is reused, a
    stopped one (Ctrl-C, --train-minutes) resumes where it stopped and is never taken as finished."""
    if model_eval.training_done(paths.checkpoint):
        print(f"reusing the trained network {paths.checkpoint}")
        return
    cfg = model_eval.train_config(arch=ARCH, seed=seed, epochs=epochs, max_minutes=max_minutes)
    paths.checkpoint.parent.mkdir(parents=True, exist_ok=True)
    try:
        result = model_eval.train(cfg, paths.checkpoint, resume=paths.checkpoint.exists())
    except (
        model_eval.TrainingStopped
    ) as exc:  # the time budget ran out: go on with the network as it is, say so
        print(f"stopped early: {exc}", file=sys.stderr)
        print(f"training is NOT finished ({paths.checkpoint}); the next run continues it", flush=True)
        return
    print(
        f"wrote {result.checkpoint} (done; validation accuracy {result.val_accuracy:.4f}, "
        f"negative {result.val_negative_accuracy:.4f}; "
        f"imbalance-aware chance level {result.val_chance:.4f})"
    )


def predict(paths: Paths) -> None:
    """Predictions for every stimulus; redone whenever the checkpoint is newer."""
    if paths.predictions.exists() and paths.predictions.stat().st_mtime >= paths.checkpoint.stat().st_mtime:
        print(f"reusing the predictions {paths.predictions}")
        return
    result = model_eval.predict([paths.checkpoint], paths.stimuli, out=paths.predictions)
    print(f"accuracy per model x condition ({paths.stimuli}):")
    print(result.accuracy.to_string(float_format=lambda v: f"{v:.3f}"))
    print(f"wrote {paths.predictions} ({len(result.predictions)} rows)")


def regular_accuracy(paths: Paths) -> tuple[float, int]:
    """The network's top-1 accuracy on the regular, non-catch stimuli (the number `predict` printed in
    its table), and how many there are."""
    import pandas as pd

    manifest = stimuli.read_manifest(paths.stimuli / "manifest.csv")
    table = model_eval.accuracy_table(pd.read_csv(paths.predictions), manifest)
    n = int(((manifest["condition"] == "regular") & ~manifest["catch"]).sum())
    return float(table.loc[ARCH, "regular"]), n


def require_trained_network(paths: Paths, min_accuracy: float) -> float:
    """Stop before serving or reporting when the network is below `min_accuracy` on regular images."""
    acc, n = regular_accuracy(paths)
    print(f"{ARCH} accuracy on the {n} regular stimuli: {acc:.3f} (required: {min_accuracy:.3f})")
    if acc < min_accuracy:
        raise WorkflowError(
            f"the network {paths.checkpoint} reaches only {acc:.3f} on regular stimuli, below the required "
            f"{min_accuracy:.3f}; train it longer: delete {paths.checkpoint} and run this command again with "
            "more --epochs, or lower the bar with --min-accuracy"
        )
    return acc


@dataclass(frozen=True)
class StudyOptions:
    """The main job's choices: where it works, the seed (training and the simulated people; the
    stimulus set always gets a secret one), and how the network is trained and judged."""

    workdir: Path = DEFAULT_WORKDIR
    seed: int = 0
    n_per_class: int | None = None
    epochs: int | None = None
    train_minutes: float | None = None
    min_accuracy: float = DEFAULT_MIN_ACCURACY

    def check(self) -> None:
        """Refuse impossible settings at once, before any stimulus is rendered or any epoch is trained."""
        for flag, value in (("--n-per-class", self.n_per_class), ("--epochs", self.epochs)):
            if value is not None and value < 1:
                raise WorkflowError(f"{flag} must be at least 1, got {value}")
        if not 0.0 <= self.min_accuracy <= 1.0:
            raise WorkflowError(f"--min-accuracy must lie in [0, 1], got {self.min_accuracy}")
        if self.train_minutes is not None and self.train_minutes <= 0:
            raise WorkflowError(f"--train-minutes must be positive, got {self.train_minutes}")
        if self.workdir.exists() and not self.workdir.is_dir():
            raise WorkflowError(f"--workdir {self.workdir} exists and is not a folder")


def prepare_study(options: StudyOptions) -> Paths:
    """Build the stimulus set, train the network and predict, each only when missing; check the network."""
    options.check()
    paths = Paths(Path(options.workdir))
    paths.root.mkdir(parents=True, exist_ok=True)
    _step("1/3 stimulus set (negative-image study, synthetic traffic signs)")
    build_stimuli(paths, options.n_per_class)
    _step(f"2/3 network ({ARCH}, CPU unless a GPU is present)")
    train_network(paths, options.seed, options.epochs, options.train_minutes)
    _step("3/3 network predictions on the stimulus set")
    predict(paths)
    require_trained_network(paths, options.min_accuracy)
    return paths


def server_app(paths: Paths, database_url: str | None = None) -> tuple[Flask, str]:
    """The study server over the prepared set: its database brought up to date and the study imported."""
    import study_server

    secret = os.environ.get("STUDY_SECRET_KEY") or _private_file(paths.secret, lambda: secrets.token_hex(32))
    url = database_url or f"sqlite:///{paths.database.resolve()}"
    app = study_server.create_app({"DATABASE_URL": url, "SECRET_KEY": secret})
    study_server.prepare_database(app)
    # the default study is a demo (its consent page says so) until the researcher makes it a real one with
    # a contact and ethics text; a later run never turns a real study back into a demo
    first = study_server.study_settings(app, DEFAULT_SLUG) is None
    settings = {"demo": True} if first else None
    report = study_server.import_study(app, paths.stimuli, slug=DEFAULT_SLUG, settings=settings)
    print(report.summary())
    for note in report.notes:
        print(f"note: {note}")
    return app, url


def ensure_admin(app: Flask, paths: Paths) -> tuple[str, str]:
    """The admin user `admin`; its password from STUDY_ADMIN_PASSWORD or a generated 0600 file.

    Returns the user name and where the password is kept (never the password itself)."""
    import study_server

    if os.environ.get("STUDY_ADMIN_PASSWORD"):
        password, where = os.environ["STUDY_ADMIN_PASSWORD"], "STUDY_ADMIN_PASSWORD"
    else:
        password = _private_file(paths.admin_password, lambda: secrets.token_urlsafe(12))
        where = str(paths.admin_password)
    try:
        study_server.save_admin(app, "admin", password)
    except ValueError as exc:
        raise WorkflowError(f"could not create the admin user: {exc}") from None
    return "admin", where


def serve(app: Flask, paths: Paths, *, host: str = "127.0.0.1", port: int = 5000) -> None:
    """Serve the study until Ctrl-C (the development server; production is gunicorn, see README)."""
    from werkzeug.serving import make_server

    import study_server

    user, where = ensure_admin(app, paths)
    server = make_server(host, port, app, threaded=True)
    base = f"http://{host}:{server.server_port}"
    print(f"\nParticipant link: {base}/s/{DEFAULT_SLUG}/")
    print(f"Admin:            {base}/admin/   user '{user}', password in {where}")
    if (study_server.study_settings(app, DEFAULT_SLUG) or {}).get("demo"):
        print(
            "This is a demo study (its consent page says so). For a real one: python -m study_server "
            f"import-stimuli {paths.stimuli} --slug {DEFAULT_SLUG} --set demo=false "
            "--set researcher_contact=... --set ethics_approval=..."
        )
    print("Production: gunicorn 'study_server:create_app()' (see README). Ctrl-C stops.", flush=True)
    try:
        server.serve_forever()  # werkzeug ends this quietly on Ctrl-C
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    print("\nstopped; run the same command again to resume serving", flush=True)


def run_demo(options: StudyOptions, participants: int = 24) -> analysis.ReportResult:
    """Simulated participants through the real server (own database), then the report on them."""
    from workflow.simulate import simulate_study

    if participants < 1:
        raise WorkflowError(f"--participants must be at least 1, got {participants}")
    paths = prepare_study(options)
    demo = paths.root / "simulated"
    _step(f"simulating {participants} participants (SIMULATED data, own database)")
    secret = _private_file(paths.secret, lambda: secrets.token_hex(32))
    frame = simulate_study(
        paths.stimuli,
        demo / "simulated.sqlite3",
        participants=participants,
        seed=options.seed,
        secret_key=secret,
    )
    responses = demo / "responses_simulated.csv"
    frame.to_csv(responses, index=False)
    _step("human-vs-network report")
    result = analysis.write_report(
        responses,
        paths.stimuli,
        demo / "report",
        [paths.predictions],
        checkpoints=[paths.checkpoint],  # provenance: the network file's hash
    )
    print(result.headline())
    print(f"\nReport: {demo / 'report' / 'report.html'}")
    return result
