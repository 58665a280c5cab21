"""Related studies share an "exclusion_group" (study config): a person may take part in only one.

Each platform enforces it on its own side too (MTurk: a "took part" qualification; Prolific: a
participant group blocklist and the previous-studies blocklist); this module is the server's own check,
run before a participant is created.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from study_server.models import Participant, Study


def exclusion_group_studies(session: Any, study: Study) -> list[int]:
    """Ids of this study and of every study sharing its config "exclusion_group"."""
    group = (study.config or {}).get("exclusion_group")
    if not group:
        return [study.id]
    studies = session.scalars(select(Study)).all()
    return sorted({study.id} | {s.id for s in studies if (s.config or {}).get("exclusion_group") == group})


def took_part(session: Any, study: Study, recruiter: str, external_id: str | None) -> bool:
    """Whether this platform id already has a participant in the study or its exclusion group."""
    if external_id is None:
        return False
    seen = session.scalars(
        select(Participant.id)
        .where(
            Participant.recruiter == recruiter,
            Participant.external_id == external_id,
            Participant.study_id.in_(exclusion_group_studies(session, study)),
        )
        .limit(1)
    ).first()
    return seen is not None
