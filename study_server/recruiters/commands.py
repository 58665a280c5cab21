"""What every recruiter command shares: the study it names, how it asks and where it prints."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import IO

import click
from flask.cli import ScriptInfo
from sqlalchemy import select

from study_server.cli import UserError
from study_server.models import Study, db

study_option = click.option("--study", required=True, help="study slug")
"""Every recruiter command names its study."""


def prompt_and_output() -> tuple[Callable[[str], str], IO[str]]:
    """How a command asks (LIVE, YES) and where it prints: `cli.run`'s arguments, else the terminal."""
    data = click.get_current_context().ensure_object(ScriptInfo).data
    return data.get("confirm") or input, data.get("out") or sys.stdout


def find_study(slug: str, recruiter: str) -> Study:
    """The study with this slug, which must recruit with `recruiter` (one line otherwise)."""
    study = db.session.scalars(select(Study).where(Study.slug == slug)).one_or_none()
    if study is None:
        raise UserError(f"no study with slug {slug!r}")
    if study.recruiter != recruiter:
        raise UserError(f"study {study.slug!r} recruits with {study.recruiter!r}, not {recruiter}")
    return study
