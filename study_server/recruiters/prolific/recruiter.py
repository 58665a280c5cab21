"""The Prolific recruiter: PROLIFIC_PID / STUDY_ID / SESSION_ID in, completion-URL redirect out.

Set the study URL on Prolific to
  https://HOST/s/SLUG/?PROLIFIC_PID={{%PROLIFIC_PID%}}&STUDY_ID={{%STUDY_ID%}}&SESSION_ID={{%SESSION_ID%}}
and give Prolific the study's `completion_code` (and `screened_out_code` if you screen people out);
`python -m study_server.recruiters prolific create-study` does all of this through Prolific's API, and
`review` / `bonus` approve, reject and pay (see prolific.commands and the README).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from study_server.recruiters.base import BadEntry, Entry, EntryRefused, Finish, Recruiter, register_recruiter
from study_server.recruiters.exclusion import took_part

PROLIFIC_ID_RE = re.compile(r"^[0-9a-f]{24}$")
"""Prolific participant, study and session ids are 24 hex characters (MongoDB ObjectIds)."""
COMPLETE_URL = "https://app.prolific.com/submissions/complete"
PARAMS = ("PROLIFIC_PID", "STUDY_ID", "SESSION_ID")
REFUSAL = (
    "Our records show that you have already taken part in this study (or a closely related one), and "
    "each person may take part only once. Please return the study on Prolific; thank you for your interest."
)


@register_recruiter("prolific")
class ProlificRecruiter(Recruiter):
    session_param = "SESSION_ID"  # review matches submissions by the first one

    def parse_entry(self, study: Any, args: Mapping[str, str]) -> Entry:
        values = {}
        for key in PARAMS:
            value = args.get(key, "").strip().lower()
            if not PROLIFIC_ID_RE.match(value):
                raise BadEntry(
                    f"this page must be opened from Prolific ({key} is missing or not a Prolific id); "
                    "please go back to Prolific and open the study from there"
                )
            values[key] = value
        expected = (study.config or {}).get("prolific_study_id")
        if not expected:  # anyone could make up the three ids; the study's own id must match
            raise BadEntry("this study is not open on Prolific yet; please try again from Prolific later")
        if values["STUDY_ID"] != str(expected).lower():
            raise BadEntry("this link belongs to a different Prolific study")
        return Entry(external_id=values["PROLIFIC_PID"], data=values)

    def admit(self, session: Any, study: Any, entry: Entry) -> None:
        """Refuse a participant already seen in this study's exclusion group (Prolific's blocklist
        filters keep most of them out before they ever reach us)."""
        if took_part(session, study, self.name, entry.external_id):
            raise EntryRefused(REFUSAL)

    def finish(self, study: Any, participant: Any, *, screened_out: bool) -> Finish:
        config = study.config or {}
        if screened_out:
            code = str(config.get("screened_out_code") or "")
        else:
            code = str(config.get("completion_code") or participant.completion_code or "")
        if not code:
            return Finish(kind="code", code="")
        return Finish(kind="redirect", code=code, url=f"{COMPLETE_URL}?{urlencode({'cc': code})}")
