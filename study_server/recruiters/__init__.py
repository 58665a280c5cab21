"""Recruiters: how people arrive at a study and how they are handed back (link, Prolific, MTurk)."""

from __future__ import annotations

from flask import Flask

from study_server.recruiters import base, link, models, mturk, prolific
from study_server.recruiters.base import get_recruiter, list_recruiters


def init_app(app: Flask) -> None:
    """Register the recruiters' blueprints and CLI commands on `app` (called by the factory)."""
    app.extensions["study_recruiters"] = list_recruiters()
    from study_server.recruiters import cli

    cli.register_cli(app)


__all__ = ["base", "get_recruiter", "init_app", "link", "list_recruiters", "models", "mturk", "prolific"]
