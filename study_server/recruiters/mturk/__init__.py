"""Amazon Mechanical Turk: the recruiter (ExternalQuestion entry, externalSubmit) and the Python API
under the `mturk` commands.

- `recruiter.MTurkRecruiter`, and the "took part" qualification (`create_qualification`,
  `shared_qualification`, `sync_qualifications`).
- `client`: the boto3 client for the sandbox or the live marketplace, with retries (`MTurkError`).
- `hits.build_hit`: the CreateHIT request from the study's `mturk` settings.
- `review`: HITs and assignments matched to participants; create / approve / reject / bonus / expire
  through the ledger.
- `fees`: what an action costs (worker pay + MTurk's commission).
- `commands`: the click commands, which parse options, print and call the above.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from study_server.recruiters.mturk import client, fees, hits, recruiter
from study_server.recruiters.mturk.client import MTurkError
from study_server.recruiters.mturk.recruiter import MTurkRecruiter

_LAZY = ("commands", "review")
"""Loaded on first use: they need the participant lifecycle, which imports the models, which load this
package (for the ledger tables) while they are being defined."""


def __getattr__(name: str) -> ModuleType:
    if name in _LAZY:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["MTurkError", "MTurkRecruiter", "client", "commands", "fees", "hits", "recruiter", "review"]
