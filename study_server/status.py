"""The one place where a participant's status changes, so every change is recorded with its time."""

from __future__ import annotations

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
