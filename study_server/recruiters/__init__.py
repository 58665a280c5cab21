"""Recruiters: how people arrive at a study and how they are handed back (link, Prolific, MTurk)."""

from __future__ import annotations

from flask import Flask

from study_server.recruiters import base, link, models, mturk, prolific
from study_server.recruiters.base import get_recruiter, list_recruiters


def init_app(app: Flask) -> None:
    """Add the recruiters' commands (`flask --app study_server mturk|prolific ...`) to `app`.

    Recruiters have no pages of their own: the participant blueprint asks `get_recruiter` how a person
    enters and leaves.
    """
    from study_server.recruiters import cli

    cli.register_cli(app)


__all__ = ["base", "get_recruiter", "init_app", "link", "list_recruiters", "models", "mturk", "prolific"]
