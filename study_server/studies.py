"""Setting up a study from Python: the functions under `init-db`, `import-stimuli` and `create-admin`.

A notebook or `workflow` calls these with typed arguments inside an app (`create_app(...)`); the
commands parse their options, call them and print the result. Each raises `StudyImportError` (or
`ValueError`) with a one-line reason for a user's mistake.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import select

from study_server.importer import StudyImportError


@dataclass(frozen=True)
class ImportReport:
    """What `import_study` did: the study, a one-line verb ("imported", "unchanged ...") and notes."""

    slug: str
    verb: str
    n_stimuli: int
    n_lists: int
    conditions: tuple[str, ...]
    notes: tuple[str, ...] = field(default=())

    def summary(self) -> str:
        return (
            f"study {self.slug}: {self.verb}; {self.n_stimuli} stimuli, {self.n_lists} lists, "
            f"conditions {', '.join(self.conditions)}"
        )


def prepare_database(app: Flask) -> None:
    """Create or upgrade the app's database to the newest schema (alembic upgrade head)."""
    from study_server.cli import upgrade_database

    upgrade_database(app.config["DATABASE_URL"])


def import_study(
    app: Flask,
    stimulus_dir: str | Path,
    *,
    slug: str,
    name: str | None = None,
    recruiter: str | None = None,
    settings: Mapping[str, Any] | None = None,
) -> ImportReport:
    """Validate a stimulus set and create or update study `slug` from it; says what changed.

    `settings` are study settings (checked against the schema in `study_server.settings`); a recruiter
    of None keeps the study's (a new study: link).
    """
    from study_server.consent_check import consent_details_missing
    from study_server.models import Study, db
    from study_server.practice import practice_images
    from study_server.recruiters import get_recruiter
    from study_server.settings import changed_keys, effective

    if recruiter is not None:
        try:
            get_recruiter(recruiter)
        except ValueError as exc:
            raise StudyImportError(str(exc)) from None
    from study_server.importer import import_stimulus_set

    with app.app_context():
        session = db.session()  # the Session behind Flask-SQLAlchemy's scoped proxy
        old = session.scalars(select(Study).where(Study.slug == slug)).one_or_none()
        before = (dict(old.config), old.recruiter, old.stimulus_hash) if old is not None else None
        study, changed = import_stimulus_set(
            session, stimulus_dir, slug=slug, name=name, recruiter=recruiter, config=dict(settings or {})
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
        notes = []
        effective_settings = effective(study.config)
        if effective_settings["practice_trials"] and not practice_images(study.stimulus_dir):
            notes.append(
                "this stimulus set has no practice images (rebuild it with `python -m stimuli build`); "
                "participants get no practice trials"
            )
        missing = consent_details_missing(study)
        if missing:
            notes.append(
                f"the study stays closed to participants until {' and '.join(missing)} are set, e.g. "
                "--set researcher_contact='Dr A. B., ab@example.org' --set ethics_approval='Committee X, "
                "ref. 123' (or --set demo=true for a demonstration)"
            )
        elif effective_settings["demo"]:
            notes.append("a demo study (demo=true): its consent page says it is a demonstration")
        return ImportReport(
            slug=study.slug,
            verb=verb,
            n_stimuli=len(study.stimuli),
            n_lists=len(study.lists),
            conditions=tuple(study.conditions),
            notes=tuple(notes),
        )


def study_settings(app: Flask, slug: str) -> dict[str, Any] | None:
    """Study `slug`'s effective settings (the schema's defaults, then its own), or None when there is no
    such study yet."""
    from study_server.models import Study, db
    from study_server.settings import effective

    with app.app_context():
        config = db.session.scalars(select(Study.config).where(Study.slug == slug)).one_or_none()
        db.session.remove()
    return None if config is None else effective(config)


def save_admin(app: Flask, username: str, password: str) -> None:
    """Create or reset an admin user (only a password hash is stored); ValueError for a weak password."""
    from study_server.admin import create_admin

    with app.app_context():
        create_admin(username, password)
