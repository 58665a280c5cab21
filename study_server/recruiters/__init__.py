"""Recruiters: how people arrive at a study and how they are handed back (link, Prolific, MTurk).

- `base`: the one interface every recruiter implements, and the registry (`get_recruiter`).
- `link`: the plain-link recruiter.
- `prolific/`, `mturk/`: each paid platform's recruiter, client, review and payments, and commands.
- `ledger` (with the tables in `models`): every paid action, recorded before and after the call.
- `exclusion`: one person per exclusion group of studies, checked by the server itself.
- `cli`: `python -m study_server.recruiters mturk|prolific CMD`.
"""

from __future__ import annotations

from flask import Flask

from study_server.recruiters import base, ledger, link, models, mturk, prolific
from study_server.recruiters.base import get_recruiter, list_recruiters


def init_app(app: Flask) -> None:
    """Add the recruiters' commands (`flask --app study_server mturk|prolific ...`) to `app`.

    Recruiters have no pages of their own: the participant blueprint asks `get_recruiter` how a person
    enters and leaves.
    """
    from study_server.recruiters import cli

    cli.register_cli(app)


__all__ = [
    "base",
    "get_recruiter",
    "init_app",
    "ledger",
    "link",
    "list_recruiters",
    "models",
    "mturk",
    "prolific",
]
