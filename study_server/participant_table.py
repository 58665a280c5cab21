"""The admin's per-participant view of a running study: where each person is, how their screen was
measured, whether the browser kept time, their catch record, accuracy and time taken.

One row per participant, from one aggregate query over the responses; the same status filter narrows
this table and the exports (`statuses`).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Integer, and_, case, func, or_, select

from study_server.db import AnySession
from study_server.export import geometry, pseudonym
from study_server.models import Participant, StatusEvent, Study, TrialList
from study_server.models import Response as TrialResponse

TIMING_TOLERANCE_FRAMES = 1
"""A timed trial is off when the image stayed more than this many frames longer or shorter than asked."""


def _count(condition: Any) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0).cast(Integer)


def _aware(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)  # SQLite drops the zone; only UTC is stored


def participant_rows(
    session: AnySession, study: Study, secret_key: str, statuses: Collection[str] | None = None
) -> list[dict[str, Any]]:
    """One dict per participant of `study` (only those in `statuses` when given), oldest first."""
    r = TrialResponse
    off = or_(
        r.frames_shown - r.frames_requested > TIMING_TOLERANCE_FRAMES,
        r.frames_requested - r.frames_shown > TIMING_TOLERANCE_FRAMES,
    )
    per_person = (
        select(
            r.participant_id.label("pid"),
            func.count(r.id).label("answered"),
            _count(r.catch).label("n_catch"),
            _count(and_(r.catch, ~r.correct)).label("catch_failed"),
            _count(~r.catch).label("n_main"),
            _count(and_(~r.catch, r.correct)).label("main_correct"),
            _count(r.frames_requested.is_not(None)).label("timed"),
            _count(off).label("timing_off"),
            _count(r.frames_dropped > 0).label("dropped"),
            func.max(r.created_at).label("last_answer"),
        )
        .group_by(r.participant_id)
        .subquery()
    )
    started = (
        select(StatusEvent.participant_id.label("pid"), func.min(StatusEvent.at).label("at"))
        .where(StatusEvent.status == "started")
        .group_by(StatusEvent.participant_id)
        .subquery()
    )
    query = (
        select(Participant, TrialList.index, per_person, started.c.at)
        .outerjoin(TrialList, Participant.list_id == TrialList.id)
        .outerjoin(per_person, per_person.c.pid == Participant.id)
        .outerjoin(started, started.c.pid == Participant.id)
        .where(Participant.study_id == study.id)
        .order_by(Participant.id)
    )
    if statuses:
        query = query.where(Participant.status.in_(sorted(statuses)))
    rows = []
    for part, list_index, *agg, started_at in session.execute(query):
        a = dict(zip(per_person.c.keys(), agg, strict=True))
        cal = part.calibration or {}
        geo = geometry(part.calibration, part.display)
        start, last = _aware(started_at), _aware(a["last_answer"])
        n_main, n_catch = int(a["n_main"] or 0), int(a["n_catch"] or 0)
        rows.append(
            {
                "participant": pseudonym(part.public_id, secret_key),
                "status": part.status,
                "list": list_index,
                "answered": int(a["answered"] or 0),
                "trials": len(part.trial_order),
                "calibration": "card" if cal.get("px_per_mm") else "none",
                "distance_method": geo["distance_method"],
                "viewing_distance_cm": _round(geo["viewing_distance_mm"], 0.1, 1),
                "refresh_hz": _round(geo["refresh_hz"], 1.0, 1),
                "stimulus_deg": _round(geo["stimulus_deg"], 1.0, 2),
                "timed_trials": int(a["timed"] or 0),
                "timing_off": int(a["timing_off"] or 0),
                "dropped_frames": int(a["dropped"] or 0),
                "catch": f"{int(a['catch_failed'] or 0)} failed of {n_catch}" if n_catch else "none yet",
                "accuracy": round(int(a["main_correct"]) / n_main, 3) if n_main else None,
                "minutes": round((last - start).total_seconds() / 60, 1) if start and last else None,
                "fullscreen_exits": part.fullscreen_exits,
            }
        )
    return rows


def _round(value: float | None, scale: float, decimals: int) -> float | None:
    return None if value is None else round(float(value) * scale, decimals)
