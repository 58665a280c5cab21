"""The whole study as one command: stimuli, network, predictions, database and server.

`run` builds what is missing (each step is cached under the work folder, so a second run starts the
server at once) and then serves the study until Ctrl-C. `demo` adds simulated participants in a
database of their own and writes the human-vs-network report, so a newcomer sees what the platform
makes before recruiting anyone.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import analysis.compare
import model_eval.cli
import stimuli.cli
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
    """A step failed; its own command already printed why."""


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


def _call(main: Callable[[list[str]], int], argv: list[str]) -> None:
    code = main(argv)
    if code != 0:
        raise WorkflowError(f"step failed (exit {code}): {' '.join(argv[:1])}")


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


def build_stimuli(paths: Paths, seed: int, n_per_class: int | None) -> None:
    """The Hosseini negative-image study on synthetic signs; reused when it validates."""
    if (paths.stimuli / "stimulus_set.json").exists():
        problems = validate_stimulus_set(paths.stimuli)
        if problems:
            raise WorkflowError(
                f"{paths.stimuli} exists but fails validation ({problems[0]}); remove it to rebuild"
            )
        print(f"reusing the stimulus set in {paths.stimuli}")
        return
    argv = ["build", "--preset", "negative", "--out", str(paths.stimuli), "--seed", str(seed)]
    if n_per_class:
        argv += ["--n-per-class", str(n_per_class)]
    _call(stimuli.cli.main, argv)


def train_network(paths: Paths, seed: int, epochs: int | None, max_minutes: float | None) -> None:
    """The paper's mvgg8 on synthetic signs, trained to its epochs; a finished checkpoint is reused, a
    stopped one (Ctrl-C, --train-minutes) resumes where it stopped and is never taken as finished."""
    from model_eval.train_state import training_done

    if training_done(paths.checkpoint):
        print(f"reusing the trained network {paths.checkpoint}")
        return
    argv = ["train", "--arch", ARCH, "--out", str(paths.checkpoint), "--seed", str(seed)]
    if max_minutes is not None:
        argv += ["--max-minutes", str(max_minutes)]
    if epochs is not None:
        argv += ["--epochs", str(epochs)]
    if paths.checkpoint.exists():
        argv.append("--resume")
    paths.checkpoint.parent.mkdir(parents=True, exist_ok=True)
    code = model_eval.cli.main(argv)
    if code == 3:  # the time budget ran out: go on with the network as it is, say so, keep it resumable
        print(f"training is NOT finished ({paths.checkpoint}); the next run continues it", flush=True)
    elif code != 0:
        raise WorkflowError(f"step failed (exit {code}): train")


def predict(paths: Paths) -> None:
    """Predictions for every stimulus; redone whenever the checkpoint is newer."""
    if paths.predictions.exists() and paths.predictions.stat().st_mtime >= paths.checkpoint.stat().st_mtime:
        print(f"reusing the predictions {paths.predictions}")
        return
    argv = ["predict", "--model", str(paths.checkpoint), "--stimuli", str(paths.stimuli)]
    _call(model_eval.cli.main, [*argv, "--out", str(paths.predictions)])


def regular_accuracy(paths: Paths) -> tuple[float, int]:
    """The network's top-1 accuracy on the regular, non-catch stimuli (the number `predict` printed in
    its table), and how many there are."""
    import pandas as pd

    from model_eval.predict import accuracy_table
    from stimuli.stimulus_set import read_manifest

    manifest = read_manifest(paths.stimuli / "manifest.csv")
    table = accuracy_table(pd.read_csv(paths.predictions), manifest)
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


def validate_args(args: argparse.Namespace) -> None:
    """Refuse impossible settings at once, before any stimulus is rendered or any epoch is trained."""
    checks: list[tuple[str, float | None, float]] = [
        ("--n-per-class", args.n_per_class, 1),
        ("--epochs", args.epochs, 1),
    ]
    if args.command == "demo":
        checks.append(("--participants", args.participants, 1))
    for flag, value, least in checks:
        if value is not None and value < least:
            raise WorkflowError(f"{flag} must be at least {least:g}, got {value}")
    if not 0.0 <= args.min_accuracy <= 1.0:
        raise WorkflowError(f"--min-accuracy must lie in [0, 1], got {args.min_accuracy}")
    if args.train_minutes is not None and args.train_minutes <= 0:
        raise WorkflowError(f"--train-minutes must be positive, got {args.train_minutes}")
    if args.command == "run" and not 0 <= args.port <= 65535:
        raise WorkflowError(f"--port must lie in 0..65535, got {args.port}")
    workdir = Path(args.workdir)
    if workdir.exists() and not workdir.is_dir():
        raise WorkflowError(f"--workdir {workdir} exists and is not a folder")


def prepare(args: argparse.Namespace) -> Paths:
    validate_args(args)
    paths = Paths(Path(args.workdir))
    paths.root.mkdir(parents=True, exist_ok=True)
    _step("1/3 stimulus set (negative-image study, synthetic traffic signs)")
    build_stimuli(paths, args.seed, args.n_per_class)
    _step(f"2/3 network ({ARCH}, CPU unless a GPU is present)")
    train_network(paths, args.seed, args.epochs, args.train_minutes)
    _step("3/3 network predictions on the stimulus set")
    predict(paths)
    require_trained_network(paths, args.min_accuracy)
    return paths


def _server_app(paths: Paths, database_url: str | None) -> tuple[Flask, str]:
    from study_server import create_app
    from study_server.cli import run_command

    secret = os.environ.get("STUDY_SECRET_KEY") or _private_file(paths.secret, lambda: secrets.token_hex(32))
    url = database_url or f"sqlite:///{paths.database.resolve()}"
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": secret})
    if run_command(app, ["init-db"]) != 0:
        raise WorkflowError("study_server init-db failed")
    # the default study is a demo (its consent page says so) until the researcher makes it a real one
    # with a contact and ethics text; a later run never turns a real study back into a demo
    first = not _study_exists(app, DEFAULT_SLUG)
    argv = [
        "import-stimuli",
        str(paths.stimuli),
        "--slug",
        DEFAULT_SLUG,
        *(["--set", "demo=true"] if first else []),
    ]
    if run_command(app, argv) != 0:
        raise WorkflowError("study_server import-stimuli failed")
    return app, url


def _study_exists(app: Flask, slug: str) -> bool:
    from sqlalchemy import select

    from study_server.models import Study, db

    with app.app_context():
        found = db.session.scalar(select(Study.id).where(Study.slug == slug)) is not None
        db.session.remove()
    return found


def _is_demo(app: Flask, slug: str) -> bool:
    from sqlalchemy import select

    from study_server.models import Study, db
    from study_server.settings import effective

    with app.app_context():
        config = db.session.scalar(select(Study.config).where(Study.slug == slug))
        db.session.remove()
    return bool(effective(config)["demo"])


def _ensure_admin(app: Flask, paths: Paths) -> tuple[str, str]:
    from study_server.cli import run_command

    user = "admin"
    if os.environ.get("STUDY_ADMIN_PASSWORD"):
        password = os.environ["STUDY_ADMIN_PASSWORD"]
        where = "STUDY_ADMIN_PASSWORD"
    else:
        password = _private_file(paths.admin_password, lambda: secrets.token_urlsafe(12))
        where = str(paths.admin_password)
    os.environ["STUDY_ADMIN_PASSWORD"] = password
    try:
        if run_command(app, ["create-admin", user]) != 0:
            raise WorkflowError("could not create the admin user")
    finally:
        if where != "STUDY_ADMIN_PASSWORD":
            del os.environ["STUDY_ADMIN_PASSWORD"]
    return user, where


def cmd_run(args: argparse.Namespace) -> int:
    paths = prepare(args)
    _step("study server")
    app, url = _server_app(paths, args.database_url)
    user, where = _ensure_admin(app, paths)
    if args.no_serve:
        print(f"study '{DEFAULT_SLUG}' is ready in {url.split('://')[0]} database; not serving (--no-serve)")
        return 0
    from werkzeug.serving import make_server

    server = make_server(args.host, args.port, app, threaded=True)
    base = f"http://{args.host}:{server.server_port}"
    print(f"\nParticipant link: {base}/s/{DEFAULT_SLUG}/")
    print(f"Admin:            {base}/admin/   user '{user}', password in {where}")
    if _is_demo(app, DEFAULT_SLUG):
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
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from workflow.simulate import simulate_study

    paths = prepare(args)
    demo = paths.root / "simulated"
    _step(f"simulating {args.participants} participants (SIMULATED data, own database)")
    secret = _private_file(paths.secret, lambda: secrets.token_hex(32))
    frame = simulate_study(
        paths.stimuli,
        demo / "simulated.sqlite3",
        participants=args.participants,
        seed=args.seed,
        secret_key=secret,
    )
    responses = demo / "responses_simulated.csv"
    frame.to_csv(responses, index=False)
    _step("human-vs-network report")
    report = demo / "report"
    argv = ["--responses", str(responses), "--predictions", str(paths.predictions)]
    argv += ["--checkpoint", str(paths.checkpoint)]  # provenance: the network's training summary
    _call(analysis.compare.main, [*argv, "--stimuli", str(paths.stimuli), "--out", str(report)])
    print(f"\nReport: {report / 'report.html'}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m workflow", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, help_ in (
        ("run", "build stimuli, train, predict, import and serve the default study"),
        ("demo", "simulate participants and write the human-vs-network report"),
    ):
        p = sub.add_parser(name, help=help_, description=help_)
        p.add_argument("--workdir", default=str(DEFAULT_WORKDIR), help="where every step keeps its output")
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--n-per-class", type=int, default=None, help="source images per class (stimuli)")
        p.add_argument("--epochs", type=int, default=None, help="training epochs (default: model_eval's)")
        p.add_argument(
            "--train-minutes",
            type=float,
            default=None,
            help="stop training early after this wall time (resumable, not finished); default: none",
        )
        p.add_argument(
            "--min-accuracy",
            type=float,
            default=DEFAULT_MIN_ACCURACY,
            help="refuse to go on below this network accuracy on regular stimuli "
            f"(default {DEFAULT_MIN_ACCURACY})",
        )
        if name == "run":
            p.add_argument("--host", default="127.0.0.1")
            p.add_argument("--port", type=int, default=5000, help="0 picks a free port")
            p.add_argument("--database-url", default=None, help="default: SQLite file in the work folder")
            p.add_argument("--no-serve", action="store_true", help="prepare everything, then exit")
        else:
            p.add_argument("--participants", type=int, default=24, help="simulated participants")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return cmd_run(args) if args.command == "run" else cmd_demo(args)
    except (WorkflowError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
