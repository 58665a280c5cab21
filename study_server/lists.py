"""Counterbalanced trial lists and their race-safe assignment.

A Latin square over the study's K conditions gives K lists: list j shows source image i in condition
conditions[(i + j) % K], so each participant sees every source image at most once and, across K
participants, every source appears in every condition. Catch trials go into every list.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from study_server.db import write_lock
from study_server.models import Participant, Study, TrialList
from study_server.status import set_status


@dataclass(frozen=True)
class StimulusRow:
    stimulus_id: str
    source_id: str
    condition: str
    catch: bool


def latin_square_lists(rows: Sequence[StimulusRow]) -> tuple[list[str], list[list[str]]]:
    """Return (conditions, lists): K lists of stimulus ids in canonical (source, then catch) order."""
    main = [r for r in rows if not r.catch]
    catch = sorted(r.stimulus_id for r in rows if r.catch)
    conditions = sorted({r.condition for r in main})
    sources = sorted({r.source_id for r in main})
    by_key: dict[tuple[str, str], str] = {}
    for r in sorted(main, key=lambda r: r.stimulus_id):
        by_key.setdefault((r.source_id, r.condition), r.stimulus_id)
    k = len(conditions)
    lists: list[list[str]] = []
    for j in range(max(k, 1)):
        chosen = []
        for i, source in enumerate(sources):
            sid = by_key.get((source, conditions[(i + j) % k])) if k else None
            if sid is not None:
                chosen.append(sid)
        lists.append(chosen + catch)
    return conditions, lists


def participant_order(stimulus_ids: Sequence[str], seed: int) -> list[str]:
    """The participant's own random trial order, reproducible from their seed."""
    order = list(stimulus_ids)
    random.Random(seed).shuffle(order)
    return order


def legend_order(class_ids: Sequence[int], seed: int) -> list[int]:
    """The participant's shuffled legend (a different stream from the trial order)."""
    order = list(class_ids)
    random.Random(f"legend-{seed}").shuffle(order)
    return order


def new_public_id() -> str:
    return secrets.token_urlsafe(24)


def allocate_participant(
    session: Session,
    study: Study,
    *,
    recruiter: str,
    external_id: str | None = None,
    recruiter_data: dict | None = None,
    simulated: bool = False,
) -> Participant:
    """Create a participant on the least-filled list and commit, race-safely.

    SQLite: the transaction starts with BEGIN IMMEDIATE, so two arrivals serialise on the write lock.
    PostgreSQL: the study's list rows are locked with SELECT ... FOR UPDATE. Either way the second
    arrival reads the counts only after the first has committed its increment.
    """
    study_id = study.id
    with write_lock(session):
        lists = (
            session.execute(
                select(TrialList)
                .where(TrialList.study_id == study_id)
                .order_by(TrialList.index)
                .with_for_update()
                .execution_options(populate_existing=True)  # fresh counts, never a stale identity-map copy
            )
            .scalars()
            .all()
        )
        if not lists:
            session.rollback()
            raise ValueError(f"study {study.slug!r} has no trial lists; import a stimulus set first")
        target = min(lists, key=lambda tl: (tl.n_assigned, tl.index))
        target.n_assigned += 1
        seed = secrets.randbits(31)
        class_ids = [int(c["id"]) for c in study.classes]
        participant = Participant(
            public_id=new_public_id(),
            study_id=study_id,
            list_id=target.id,
            recruiter=recruiter,
            external_id=external_id,
            recruiter_data=dict(recruiter_data or {}),
            simulated=simulated,
            seed=seed,
            trial_order=participant_order(target.stimulus_ids, seed),
            legend_order=legend_order(class_ids, seed),
        )
        session.add(participant)
        set_status(session, participant, "allocated")
        session.commit()
    return participant
