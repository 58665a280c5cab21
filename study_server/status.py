"""The one place where a participant's status changes, so every change is recorded with its time."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from study_server.models import STATUSES, Participant, StatusEvent, utcnow


def set_status(session: Session, participant: Participant, status: str) -> StatusEvent:
    """Move `participant` to `status` and append a timestamped StatusEvent (the caller commits)."""
    if status not in STATUSES:
        raise ValueError(f"unknown participant status {status!r}; known: {', '.join(STATUSES)}")
    participant.status = status
    event = StatusEvent(participant=participant, status=status, at=utcnow())
    session.add(event)
    return event


ACTIVE = ("allocated", "consented", "started")


def mark_abandoned(
    session: Session, study_id: int, older_than: timedelta, now: datetime | None = None
) -> int:
    """Mark participants idle for longer than `older_than` as abandoned and free their list slot.

    The slot goes back to the list's count so the least-filled assignment fills the gap; their answers
    stay in the database (and in the export, with status "abandoned"). Returns how many changed.
    """
    from study_server.models import TrialList

    cutoff = (now or utcnow()) - older_than
    last_event = (
        select(StatusEvent.participant_id, func.max(StatusEvent.at).label("last"))
        .group_by(StatusEvent.participant_id)
        .subquery()
    )
    idle = session.scalars(
        select(Participant)
        .join(last_event, last_event.c.participant_id == Participant.id)
        .where(Participant.study_id == study_id, Participant.status.in_(ACTIVE), last_event.c.last < cutoff)
    ).all()
    for p in idle:
        set_status(session, p, "abandoned")
        if p.list_id is not None:
            tl = session.get(TrialList, p.list_id, with_for_update=True)
            if tl is not None and tl.n_assigned > 0:
                tl.n_assigned -= 1
    session.commit()
    return len(idle)
