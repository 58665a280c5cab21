"""Command line: `python -m study_server CMD` and `flask --app study_server CMD` run the same code.

Commands: init-db, import-stimuli, list-studies, create-admin, export. User errors print one line on
stderr and exit non-zero.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
from flask import Flask
from sqlalchemy import func, select

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(database_url: str) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


def upgrade_database(database_url: str) -> None:
    """Bring the database schema to the newest migration (alembic upgrade head)."""
    from alembic import command

    command.upgrade(alembic_config(database_url), "head")


def build_parser() -> argparse.ArgumentParser:
    from study_server.settings import help_text as settings_help

    parser = argparse.ArgumentParser(prog="study_server", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("init-db", help="create or upgrade the database schema (alembic upgrade head)")
    imp = sub.add_parser(
        "import-stimuli",
        aliases=["create-study"],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="study settings (--set KEY=VALUE):\n" + settings_help(),
        help="validate a stimulus set and create/update a study from it (alias: create-study)",
    )
    imp.add_argument("stimulus_dir", help="stimulus set directory (manifest.csv, stimulus_set.json, ...)")
    imp.add_argument("--slug", required=True, help="the study's URL name, e.g. negative-2026")
    imp.add_argument("--name", help="display name (default: the stimulus set's name)")
    imp.add_argument(
        "--recruiter", help="link, prolific or mturk (a new study: link; a re-import: keep the study's)"
    )
    imp.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a study setting, e.g. --set presentation_ms=200 (repeatable; VALUE is JSON or text; "
        "the settings are listed below)",
    )
    sub.add_parser("list-studies", help="list studies with their participant counts")
    adm = sub.add_parser(
        "create-admin",
        help="create or reset an admin user; the password comes from env STUDY_ADMIN_PASSWORD or a prompt",
    )
    adm.add_argument("username")
    ab = sub.add_parser(
        "mark-abandoned",
        help="mark participants idle for longer than --hours as abandoned (frees their slot)",
    )
    ab.add_argument("--study", required=True, help="study slug")
    ab.add_argument("--hours", type=float, default=24.0, help="idle time since the last status change")
    exp = sub.add_parser("export", help="write responses as CSV and JSON (participants pseudonymised)")
    exp.add_argument("--study", help="study slug (default: all studies)")
    exp.add_argument("--out", required=True, help="output directory")
    return parser


class UserError(Exception):
    pass


def _parse_settings(items: Sequence[str]) -> dict[str, Any]:
    """`--set KEY=VALUE` items, each checked against the settings schema (one line naming a bad one)."""
    from study_server.settings import SettingError, parse_assignment

    out: dict[str, Any] = {}
    for item in items:
        try:
            key, value = parse_assignment(item)
        except SettingError as exc:
            raise UserError(f"--set: {exc}") from None
        out[key] = value
    return out


def _import(args: argparse.Namespace) -> None:
    """import-stimuli: settings and recruiter are checked first; the output says what changed."""
    from study_server.importer import import_stimulus_set
    from study_server.models import Study, db
    from study_server.practice import practice_images
    from study_server.recruiters import get_recruiter
    from study_server.settings import changed_keys, effective

    config = _parse_settings(args.set)
    if args.recruiter is not None:
        try:
            get_recruiter(args.recruiter)
        except ValueError as exc:
            raise UserError(str(exc)) from None
    old = db.session.scalars(select(Study).where(Study.slug == args.slug)).one_or_none()
    before = (dict(old.config), old.recruiter, old.stimulus_hash) if old is not None else None
    study, changed = import_stimulus_set(
        db.session, args.stimulus_dir, slug=args.slug, name=args.name, recruiter=args.recruiter, config=config
    )
    if before is None:
        verb = "imported"
    elif not changed:
        verb = "unchanged (same stimulus set, settings and recruiter)"
    else:
        keys = changed_keys(before[0], study.config)
        parts = [f"{k} {before[0].get(k)!r} -> {study.config.get(k)!r}" for k in keys]
        if before[1] != study.recruiter:
            parts.append(f"recruiter {before[1]} -> {study.recruiter}")
        if before[2] != study.stimulus_hash:
            parts.append("new stimulus set")
        verb = "imported, updated " + ("; ".join(parts) or "name")
    print(
        f"study {study.slug}: {verb}; {len(study.stimuli)} stimuli, {len(study.lists)} lists, "
        f"conditions {', '.join(study.conditions)}"
    )
    settings = effective(study.config)
    if settings["practice_trials"] and not practice_images(study.stimulus_dir):
        print("note: this stimulus set has no practice images (rebuild it with `python -m stimuli build`); "
              "participants get no practice trials")
    if not str(settings["researcher_contact"]).strip():
        print("note: researcher_contact is empty; participants see no contact on the consent page "
              "(--set researcher_contact='Dr A. B., ab@example.org')")


def _password() -> str:
    pw = os.environ.get("STUDY_ADMIN_PASSWORD")
    if pw:
        return pw
    if not sys.stdin.isatty():
        raise UserError("no password: set STUDY_ADMIN_PASSWORD or run in a terminal to be prompted")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Repeat password: "):
        raise UserError("the passwords do not match")
    return first


def run_command(app: Flask, argv: Sequence[str] | None) -> int:
    """Parse argv and run the command inside `app`'s context."""
    args = build_parser().parse_args(argv)
    from study_server.admin import create_admin
    from study_server.export import ExportError, frame_from_session, participant_records, write_export
    from study_server.importer import StudyImportError
    from study_server.models import Participant, Study, db

    try:
        with app.app_context():
            if args.command == "init-db":
                upgrade_database(app.config["DATABASE_URL"])
                print("database is at the newest schema")
            elif args.command in ("import-stimuli", "create-study"):
                _import(args)
            elif args.command == "list-studies":
                rows = db.session.execute(
                    select(Study.slug, Study.name, Study.recruiter, func.count(Participant.id))
                    .outerjoin(Participant, Participant.study_id == Study.id)
                    .group_by(Study.id)
                    .order_by(Study.slug)
                ).all()
                for slug, name, recruiter, n in rows:
                    print(f"{slug}\t{name}\t{recruiter}\t{n} participants")
                if not rows:
                    print("no studies yet: use import-stimuli")
            elif args.command == "create-admin":
                try:
                    create_admin(args.username, _password())
                except ValueError as exc:
                    raise UserError(str(exc)) from None
                print(f"admin user {args.username} saved")
            elif args.command == "mark-abandoned":
                from datetime import timedelta

                from study_server.db import write_lock
                from study_server.lifecycle import mark_abandoned

                study = db.session.scalars(select(Study).where(Study.slug == args.study)).one_or_none()
                if study is None:
                    raise UserError(f"unknown study {args.study!r}")
                with write_lock(db.session):
                    n = mark_abandoned(db.session, study.id, timedelta(hours=args.hours))
                print(f"marked {n} participants of {study.slug} as abandoned")
            elif args.command == "export":
                frame = frame_from_session(db.session, app.config["SECRET_KEY"], args.study)
                stem = f"{args.study}-responses" if args.study else "responses"
                csv_path, json_path = write_export(frame, args.out, stem)
                people = participant_records(db.session, app.config["SECRET_KEY"], args.study)
                people_path = Path(args.out) / f"{stem.replace('responses', 'participants')}.json"
                people_path.write_text(json.dumps(people, indent=1), encoding="utf-8")
                print(
                    f"wrote {len(frame)} responses to {csv_path} and {json_path}; "
                    f"participants to {people_path}"
                )
    except (UserError, StudyImportError, ExportError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # database unreachable, schema missing: one line, not a traceback
        from sqlalchemy.exc import SQLAlchemyError

        if isinstance(exc, SQLAlchemyError):
            first = str(exc).splitlines()[0]
            print(f"error: database problem ({first}); did you run init-db?", file=sys.stderr)
            return 2
        raise
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    from study_server import create_app
    from study_server.models import db
    from study_server.secret import WeakSecretError

    try:
        app = create_app()
    except WeakSecretError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        return run_command(app, argv)
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()  # no pooled connection outlives the command


COMMANDS = (
    "init-db",
    "import-stimuli",
    "create-study",
    "list-studies",
    "create-admin",
    "mark-abandoned",
    "export",
)


def register_cli(app: Flask) -> None:
    """Expose the same commands through `flask --app study_server ...`."""
    for name in COMMANDS:

        def make(cmd: str) -> click.Command:
            @click.command(
                cmd,
                context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
                add_help_option=False,
                help=f"see `python -m study_server {cmd} --help`",
            )
            @click.argument("args", nargs=-1, type=click.UNPROCESSED)
            def command(args: tuple[str, ...]) -> None:
                code = run_command(app, [cmd, *args])
                if code:
                    raise SystemExit(code)

            return command

        app.cli.add_command(make(name))
