"""The study's Prolific side, stored with the study: its settings, draft-study id and participant group.

The commands of prolific.commands print each request and send it; this module decides what to send from the
database and records what Prolific answered, so a re-run knows what exists.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from study_server.models import Participant, Study
from study_server.recruiters.exclusion import exclusion_group_studies
from study_server.recruiters.models import PaymentLedger


def settings(study: Study) -> dict[str, Any]:
    """The study's `prolific` settings (a copy)."""
    return dict((study.config or {}).get("prolific") or {})


def save_settings(session: Session, study: Study, **values: Any) -> None:
    """Store `values` among the study's `prolific` settings, e.g. ids Prolific gave it."""
    config = dict(study.config or {})
    config["prolific"] = {**settings(study), **values}
    study.config = config
    session.commit()


def group_studies(session: Session, study: Study) -> list[Study]:
    """This study and every study of its exclusion group."""
    found = (session.get(Study, i) for i in exclusion_group_studies(session, study))
    return [s for s in found if s is not None]


def participant_group_id(session: Session, study: Study) -> str | None:
    """The Prolific participant group of the study's exclusion group (one per group, shared)."""
    for s in group_studies(session, study):
        gid = settings(s).get("participant_group_id")
        if gid:
            return str(gid)
    return None


def participant_group_request(study: Study, workspace: str) -> dict[str, str]:
    """The body of POST participant-groups/ for the study's exclusion group."""
    name = (study.config or {}).get("exclusion_group") or study.slug
    return {"name": f"took part: {name}"[:120], "workspace_id": str(workspace)}


def outside_group(session: Session, study: Study, group_id: str) -> list[Participant]:
    """Prolific participants of the exclusion group's studies not yet in participant group `group_id`."""
    people = session.scalars(
        select(Participant).where(
            Participant.study_id.in_([s.id for s in group_studies(session, study)]),
            Participant.recruiter == "prolific",
        )
    ).all()
    return [p for p in people if (p.recruiter_data or {}).get("participant_group") != group_id]


def mark_in_group(session: Session, people: list[Participant], group_id: str) -> None:
    """Record that Prolific added `people` to participant group `group_id`."""
    for p in people:
        p.recruiter_data = {**(p.recruiter_data or {}), "participant_group": group_id}
    session.commit()


def earlier_studies(session: Session, study: Study) -> list[str]:
    """Prolific study ids of the other studies of the exclusion group (their participants are blocklisted)."""
    ids = (settings(s).get("study_id") for s in group_studies(session, study) if s.id != study.id)
    return [str(i) for i in ids if i]


def store_config(session: Session, study: Study, config: dict[str, Any]) -> None:
    """Store a changed study config (generated completion codes, before Prolific learns them)."""
    if config != study.config:
        study.config = config
        session.commit()


def store_study_id(session: Session, study: Study, study_id: str, ledger: PaymentLedger) -> None:
    """Store the created Prolific study's id (also on its ledger entry); the entry page then refuses
    links of any other Prolific study."""
    ledger.hit_id = study_id
    save_settings(session, study, study_id=study_id)
    study.config = {**study.config, "prolific_study_id": study_id}  # ProlificRecruiter.parse_entry
    session.commit()
