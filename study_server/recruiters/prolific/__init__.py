"""Prolific: the recruiter (entry and completion redirect) and the Python API under `prolific` commands.

- `recruiter.ProlificRecruiter`: PROLIFIC_PID / STUDY_ID / SESSION_ID in, completion-URL redirect out.
- `client.ProlificClient`: the REST client (token header, retries, paging); `ProlificError` on failure.
- `studies.build_study`: the create-study body from the study's `prolific` settings.
- `setup`: the study's Prolific side stored with it (settings, study id, participant group).
- `review`: submissions matched to participants, decisions, approve / reject through the ledger.
- `bonuses`: bonuses set up, priced and paid once per submission.
- `confirm`: rows confirmed by reading Prolific back; `reconcile` settles every unconfirmed one.
- `costs.Pricer`: what an action costs, from Prolific's cost calculator for the workspace;
  `fees`: money parsing and the fixed-rate estimate used only offline.
- `commands`: the click commands, which parse options, print each request and call the above.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from study_server.recruiters.prolific import client, costs, fees, recruiter, setup, studies
from study_server.recruiters.prolific.client import ProlificClient, ProlificError
from study_server.recruiters.prolific.recruiter import ProlificRecruiter

_LAZY = ("bonuses", "commands", "confirm", "review")
"""Loaded on first use: they need the participant lifecycle, which imports the models, which load this
package (for the ledger tables) while they are being defined."""


def __getattr__(name: str) -> ModuleType:
    if name in _LAZY:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ProlificClient",
    "ProlificError",
    "ProlificRecruiter",
    "bonuses",
    "client",
    "commands",
    "confirm",
    "costs",
    "fees",
    "recruiter",
    "review",
    "setup",
    "studies",
]
