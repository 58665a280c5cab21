"""Command line: `python -m study_server CMD` and `flask --app study_server CMD` run the same code.

Each command is one click function registered on `cli`; the app factory adds them to `app.cli`
(as Flask's own apps do), and `python -m study_server` runs `cli` inside the app. User errors print one
line on stderr and exit 2.
"""

from __future__ import annotations

import getpass
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import AppGroup, ScriptInfo
from sqlalchemy import func, select

import commandline
from commandline import UserError

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(database_url: str) -> Any:
    from alembic.config import Config

    # Alembic's default stdout is the sys.stdout of the moment alembic was imported, which may be a
    # redirected stream long closed since; pass today's.
    cfg = Config(stdout=sys.stdout)
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


def upgrade_database(database_url: str) -> None:
    """Bring the database schema to the newest migration (alembic upgrade head)."""
    from alembic import command

    command.upgrade(alembic_config(database_url), "head")


class OneLineErrors(commandline.OneLineErrors):
    """A command whose database errors (unreachable, no schema) are user errors too: one line, exit 2."""

    def invoke(self, ctx: click.Context) -> Any:
        from sqlalchemy.exc import SQLAlchemyError

        try:
            return super().invoke(ctx)
        except SQLAlchemyError as exc:
            first = str(exc).splitlines()[0]
            raise UserError(f"database problem ({first}); did you run init-db?") from None


class CommandGroup(commandline.OneLineGroup, AppGroup):
    """The project's one-line-error group, as a Flask AppGroup (commands run in the app context).

    The commands carry the error handling themselves because `flask --app study_server` runs them
    without this group.
    """

    def command(  # type: ignore[override]
        self, *args: Any, **kwargs: Any
    ) -> Callable[[Callable[..., Any]], click.Command]:
        kwargs.setdefault("cls", OneLineErrors)
        return super().command(*args, **kwargs)


def invoke(group: click.Group, app: Flask, argv: Sequence[str] | None, *, prog_name: str, **data: Any) -> int:
    """Run one command line of `group` inside `app` as `flask --app study_server` would; the exit code.

    `data` reaches the commands as `ScriptInfo.data` (the recruiter commands' prompt and output).
    """
    info = ScriptInfo(create_app=lambda: app, set_debug_flag=False)
    info.data.update(data)
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        with app.app_context():
            group.main(args=args, prog_name=prog_name, obj=info, standalone_mode=True)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0


def _user_errors() -> tuple[type[Exception], ...]:
    from study_server.export import ExportError
    from study_server.importer import StudyImportError

    return (StudyImportError, ExportError)


@click.group("study_server", cls=CommandGroup, user_errors=_user_errors)
def cli() -> None:
    """Set up and run studies: database, stimulus sets, admins, exports."""


@cli.command("init-db")
def init_db() -> None:
    """Create or upgrade the database schema (alembic upgrade head)."""
    upgrade_database(current_app.config["DATABASE_URL"])
    click.echo("database is at the newest schema")


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


def _settings_epilog() -> str:
    from study_server.settings import help_text

    return "\b\nstudy settings (--set KEY=VALUE):\n" + help_text()  # \b: click keeps the lines as they are


@cli.command("import-stimuli", epilog=_settings_epilog())
@click.argument("stimulus_dir")
@click.option("--slug", required=True, help="the study's URL name, e.g. negative-2026")
@click.option("--name", help="display name (default: the stimulus set's name)")
@click.option(
    "--recruiter", help="link, prolific or mturk (a new study: link; a re-import: keep the study's)"
)
@click.option(
    "--set",
    "settings",
    multiple=True,
    metavar="KEY=VALUE",
    help="a study setting, e.g. --set presentation_ms=200 (repeatable; VALUE is JSON or text; "
    "the settings are listed below)",
)
def import_stimuli(
    stimulus_dir: str, slug: str, name: str | None, recruiter: str | None, settings: Sequence[str]
) -> None:
    """Validate a stimulus set (STIMULUS_DIR: manifest.csv, stimulus_set.json, ...) and create/update a
    study from it (alias: create-study).

    Settings and recruiter are checked before anything is imported; the output says what changed.
    """
    from study_server.studies import import_study

    report = import_study(
        current_app._get_current_object(),  # type: ignore[attr-defined]
        stimulus_dir,
        slug=slug,
        name=name,
        recruiter=recruiter,
        settings=_parse_settings(settings),
    )
    click.echo(report.summary())
    for note in report.notes:
        click.echo(f"note: {note}")


cli.add_command(import_stimuli, "create-study")


@cli.command("list-studies")
def list_studies() -> None:
    """List studies with their participant counts."""
    from study_server.models import Participant, Study, db

    rows = db.session.execute(
        select(Study.slug, Study.name, Study.recruiter, func.count(Participant.id))
        .outerjoin(Participant, Participant.study_id == Study.id)
        .group_by(Study.id)
        .order_by(Study.slug)
    ).all()
    for slug, name, recruiter, n in rows:
        click.echo(f"{slug}\t{name}\t{recruiter}\t{n} participants")
    if not rows:
        click.echo("no studies yet: use import-stimuli")


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


@cli.command("create-admin")
@click.argument("username")
def create_admin(username: str) -> None:
    """Create or reset an admin user; the password comes from env STUDY_ADMIN_PASSWORD or a prompt."""
    from study_server.studies import save_admin

    try:
        save_admin(current_app._get_current_object(), username, _password())  # type: ignore[attr-defined]
    except ValueError as exc:
        raise UserError(str(exc)) from None
    click.echo(f"admin user {username} saved")


@cli.command("mark-abandoned")
@click.option("--study", "slug", required=True, help="study slug")
@click.option(
    "--hours", type=float, default=24.0, show_default=True, help="idle time since the last status change"
)
def mark_abandoned(slug: str, hours: float) -> None:
    """Mark participants idle for longer than --hours as abandoned (frees their slot)."""
    from datetime import timedelta

    from study_server.db import write_lock
    from study_server.lifecycle import mark_abandoned as mark
    from study_server.models import Study, db

    session = db.session()
    study = session.scalars(select(Study).where(Study.slug == slug)).one_or_none()
    if study is None:
        raise UserError(f"unknown study {slug!r}")
    with write_lock(session):
        n = mark(session, study.id, timedelta(hours=hours))
    click.echo(f"marked {n} participants of {study.slug} as abandoned")


@cli.command("allow-resume")
@click.option("--study", "slug", required=True, help="study slug")
@click.option("--hours", type=float, default=24.0, show_default=True, help="how long the permission lasts")
@click.argument("external_id")
def allow_resume(slug: str, hours: float, external_id: str) -> None:
    """Let the participant with EXTERNAL_ID (platform or label id) continue in another browser, once."""
    from study_server.models import Study, db
    from study_server.participant import allow_resume as allow

    study = db.session.scalars(select(Study).where(Study.slug == slug)).one_or_none()
    if study is None:
        raise UserError(f"unknown study {slug!r}")
    try:
        allow(study, external_id, hours)
    except (LookupError, ValueError) as exc:
        raise UserError(str(exc).strip('"')) from None
    click.echo(f"{external_id} may continue {study.slug} in another browser within {hours:g} h")


@cli.command("export")
@click.option("--study", "slug", help="study slug (default: all studies)")
@click.option("--out", required=True, help="output directory")
def export(slug: str | None, out: str) -> None:
    """Write responses as CSV and JSON (participants pseudonymised)."""
    from study_server.export import frame_from_session, participant_records, write_export
    from study_server.models import db

    session, secret = db.session(), current_app.config["SECRET_KEY"]
    frame = frame_from_session(session, secret, slug)
    stem = f"{slug}-responses" if slug else "responses"
    csv_path, json_path = write_export(frame, out, stem)
    people = participant_records(session, secret, slug)
    people_path = Path(out) / f"{stem.replace('responses', 'participants')}.json"
    people_path.write_text(json.dumps(people, indent=1), encoding="utf-8")
    click.echo(f"wrote {len(frame)} responses to {csv_path} and {json_path}; participants to {people_path}")


def run_command(app: Flask, argv: Sequence[str] | None) -> int:
    """Run one `python -m study_server` command line inside `app`; the exit code (2: a user error)."""
    return invoke(cli, app, argv, prog_name="python -m study_server")


def with_new_app(run: Callable[[Flask], int]) -> int:
    """Build the app from the environment, `run` it, and close its connections; the exit code.

    Shared by `python -m study_server` and `python -m study_server.recruiters`: a weak secret is one line.
    """
    from study_server import create_app
    from study_server.models import db
    from study_server.secret import WeakSecretError

    try:
        app = create_app()
    except WeakSecretError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        return run(app)
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()  # no pooled connection outlives the command


def main(argv: Sequence[str] | None = None) -> int:
    return with_new_app(lambda app: run_command(app, argv))


def register_cli(app: Flask) -> None:
    """Add every command of `cli` to `flask --app study_server ...`."""
    for name, command in cli.commands.items():
        app.cli.add_command(command, name)
