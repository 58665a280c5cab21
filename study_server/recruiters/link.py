"""The plain-link recruiter: anyone with the URL may take part; the debrief shows a completion code.

An optional `label` query parameter (e.g. a class roster id) is kept as the participant's external id.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from study_server.recruiters.base import BadEntry, Entry, Finish, Recruiter, register_recruiter

LABEL_RE = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")


@register_recruiter("link")
class LinkRecruiter(Recruiter):
    def parse_entry(self, study: Any, args: Mapping[str, str]) -> Entry:
        label = args.get("label")
        if label is None or label == "":
            return Entry(external_id=None)
        if not LABEL_RE.match(label):
            raise BadEntry("the label may only hold 1-64 letters, digits and _ . @ -")
        return Entry(external_id=label)

    def finish(self, study: Any, participant: Any, *, screened_out: bool) -> Finish:
        config = study.config or {}
        if screened_out:
            code = str(config.get("screened_out_code") or participant.completion_code or "")
        else:
            code = str(participant.completion_code or config.get("completion_code") or "")
        return Finish(kind="code", code=code)
