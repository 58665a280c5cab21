"""The participant lifecycle in one place: statuses, their groups, the allowed transitions, and the
only function that changes a status (so every change is checked and recorded with its time).

Routes, the admin, recruiters, the CLI and the export read the groups from here; nothing else spells
out which statuses count as "finished" or "paid".

    allocated -> consented -> started -> completed -> submitted -> approved -> bonused
                                      \\-> screened_out             \\-> rejected
    any active status -> returned | abandoned (the person left, or was idle too long)
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select

from study_server.db import AnySession
from study_server.models import Participant, StatusEvent, TrialList, utcnow

STATUSES = (
    "allocated",
    "consented",
    "started",
    "completed",
    "submitted",
    "approved",
    "rejected",
    "screened_out",
    "returned",
    "abandoned",
    "bonused",
)

ACTIVE = frozenset({"allocated", "consented", "started"})
"""Still taking part: may go on to the next page, and may time out as abandoned."""
FINISHED = frozenset({"completed", "submitted", "approved", "rejected", "bonused"})
"""Answered every trial (whatever the later review decided)."""
PAID = frozenset({"approved", "bonused"})
"""The platform paid them (review accepted)."""
LEFT = frozenset({"returned", "abandoned"})
"""Left before the end; their list slot is free again."""
COUNTS_FOR_LIST = frozenset({"completed", "submitted", "approved", "bonused"})
"""A usable, finished data set on the participant's list (the dashboard's per-list count)."""

_REVIEWED = {"approved", "rejected", "bonused"}
TRANSITIONS: dict[str, frozenset[str]] = {
    # The platform's review may also settle an assignment submitted before the last trial (a worker
    # can submit an MTurk assignment at any time), hence the reviewed statuses from every active one.
    "allocated": frozenset({"consented", *LEFT, *_REVIEWED}),
    "consented": frozenset({"started", *LEFT, *_REVIEWED}),
    "started": frozenset({"completed", "screened_out", *LEFT, *_REVIEWED}),
    "completed": frozenset({"submitted", *_REVIEWED}),
    "submitted": frozenset(_REVIEWED),
    "approved": frozenset({"bonused", "rejected"}),
    "rejected": frozenset({"approved", "bonused"}),  # MTurk lets a rejection be overridden
    "bonused": frozenset({"bonused"}),  # several bonuses
    # A screened-out or departed person may still be paid or rejected by the platform's review.
    "screened_out": frozenset(_REVIEWED),
    "returned": frozenset(_REVIEWED),
    "abandoned": frozenset(_REVIEWED),
}
"""Allowed moves; `set_status` refuses everything else (e.g. completed -> started)."""


class IllegalTransition(ValueError):
    """A status change the lifecycle does not allow."""


def is_active(status: str) -> bool:
    return status in ACTIVE


def is_finished(status: str) -> bool:
    return status in FINISHED


def is_paid(status: str) -> bool:
    return status in PAID


def set_status(session: AnySession, participant: Participant, status: str) -> StatusEvent:
    """Move `participant` to `status` and append a timestamped StatusEvent (the caller commits).

    A new participant (no status yet) may only enter as "allocated"; any other move must be listed
    in TRANSITIONS.
    """
    if status not in STATUSES:
        raise ValueError(f"unknown participant status {status!r}; known: {', '.join(STATUSES)}")
    current = participant.status  # None until the new row is flushed
    if current is None:
        if status != "allocated":
            raise IllegalTransition(f"a new participant starts as 'allocated', not {status!r}")
    elif status not in TRANSITIONS[current]:
        raise IllegalTransition(f"a participant cannot go from {current!r} to {status!r}")
    participant.status = status
    event = StatusEvent(participant=participant, status=status, at=utcnow())
    session.add(event)
    return event


def mark_abandoned(
    session: AnySession, study_id: int, older_than: timedelta, now: datetime | None = None
) -> int:
    """Mark participants idle for longer than `older_than` as abandoned and free their list slot.

    The slot goes back to the list's count so the least-filled assignment fills the gap; their answers
    stay in the database (and in the export, with status "abandoned"). Returns how many changed.
    The caller opens the transaction (`db.write_lock`); this commits it.
    """
    idle = idle_participants(session, study_id, ACTIVE, (now or utcnow()) - older_than)
    for p in idle:
        mark_left(session, p, "abandoned")
    session.commit()
    return len(idle)


NOT_STARTED = frozenset({"allocated", "consented"})
"""Holding a list place without answering yet: released after the study's idle_release_minutes."""


def idle_participants(
    session: AnySession, study_id: int, statuses: frozenset[str], cutoff: datetime, *, lock: bool = True
) -> list[Participant]:
    """The study's participants in `statuses` whose last status change is older than `cutoff`
    (rows locked FOR UPDATE on PostgreSQL unless `lock` is False)."""
    last_event = (
        select(StatusEvent.participant_id, func.max(StatusEvent.at).label("last"))
        .group_by(StatusEvent.participant_id)
        .subquery()
    )
    query = (
        select(Participant)
        .join(last_event, last_event.c.participant_id == Participant.id)
        .where(
            Participant.study_id == study_id,
            Participant.status.in_(sorted(statuses)),
            last_event.c.last < cutoff,
        )
    )
    if lock:
        query = query.with_for_update(of=Participant).execution_options(populate_existing=True)
    return list(session.scalars(query).all())


def release_idle(session: AnySession, study_id: int, minutes: int | None, now: datetime | None = None) -> int:
    """Give back the list places of participants who consented but did not start within `minutes`
    (None: never); the caller holds the write lock and commits. Returns how many were released."""
    if minutes is None:
        return 0
    idle = idle_participants(session, study_id, NOT_STARTED, (now or utcnow()) - timedelta(minutes=minutes))
    for p in idle:
        mark_left(session, p, "abandoned")
    return len(idle)


def mark_left(session: AnySession, participant: Participant, status: str) -> StatusEvent:
    """Move an active participant to "returned" or "abandoned" and give their list slot back, so the
    least-filled assignment fills the gap (the caller commits). Their answers stay in the database."""
    if status not in LEFT:
        raise ValueError(f"mark_left takes one of {', '.join(sorted(LEFT))}, not {status!r}")
    event = set_status(session, participant, status)
    if participant.list_id is not None:
        tl = session.get(TrialList, participant.list_id, with_for_update=True)
        if tl is not None and tl.n_assigned > 0:
            tl.n_assigned -= 1
    return event
