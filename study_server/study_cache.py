"""Per-process caches of what a save needs and never changes, so a save reads nothing else.

- A participant's id, study, recruiter and trial order are fixed when they are allocated.
- A study's classes and its stimuli's labels and catch flags are a pure function of its stimulus set (a
  study with participants cannot be re-imported with another set), so they are keyed by the set's content
  hash alone; a study without one is never cached.

Both are bounded LRU maps; a miss costs one SELECT. Nothing here can be changed by another process or
another app server (several may share one PostgreSQL database), so no copy can go stale: a
participant's status, which does change, is never cached; every save reads it in the statement that
stores the answer.
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from dataclasses import dataclass
from threading import Lock
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, Engine, select

from study_server.models import Participant, Stimulus, Study

K = TypeVar("K")
V = TypeVar("V")


class _LRU(Generic[K, V]):
    def __init__(self, size: int) -> None:
        self.size = size
        self._data: OrderedDict[K, V] = OrderedDict()
        self._lock = Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


@dataclass(frozen=True)
class ParticipantInfo:
    id: int
    public_id: str
    study_id: int
    stimulus_hash: str
    recruiter: str
    trial_order: tuple[str, ...]


@dataclass(frozen=True)
class StudyInfo:
    class_ids: frozenset[int]
    stimuli: dict[str, tuple[int, bool]]
    """stimulus_id -> (right answer: the label, or its group's id if the study answers among groups, catch)"""

    allow_none: bool = False
    """The set's family offers a "none of these" answer (fooling images)."""


_participants: _LRU[tuple[int, str], tuple[weakref.ref[Engine], ParticipantInfo]] = _LRU(50_000)
"""Keyed by the engine's id (checked against the engine itself: ids are reused) and the token: one process
may serve several databases (tests). Not by `engine.url`, whose hash renders the URL as text every time
(a twentieth of a save's CPU)."""
_studies: _LRU[str, StudyInfo] = _LRU(64)


def participant_info(engine: Engine, public_id: str) -> ParticipantInfo | None:
    """The fixed facts of the participant behind a URL token (None if there is none)."""
    key = (id(engine), public_id)
    found = _participants.get(key)
    if found is not None and found[0]() is engine:
        return found[1]
    with engine.connect() as conn:
        row = _participant_row(conn, public_id)
    if row is None:
        return None
    info = ParticipantInfo(row[0], public_id, row[1], row[2], row[3], tuple(row[4]))
    _participants.put(key, (weakref.ref(engine), info))
    return info


def _participant_row(conn: Connection, public_id: str) -> Any:
    return conn.execute(
        select(
            Participant.id,
            Participant.study_id,
            Study.stimulus_hash,
            Participant.recruiter,
            Participant.trial_order,
        )
        .join(Study, Study.id == Participant.study_id)
        .where(Participant.public_id == public_id)
    ).first()


def choice_of_class(classes: list[dict[str, Any]]) -> dict[int, int]:
    """Class id -> the answer choice holding it: its label group's id when the study answers among groups
    (importer.answer_choices); classes missing here are their own choice."""
    return {int(c): int(ch["id"]) for ch in classes for c in ch.get("classes", ())}


def study_info(engine: Engine, study_id: int, stimulus_hash: str) -> StudyInfo:
    """Classes and per-stimulus label and catch flag of a study's stimulus set."""
    info = _studies.get(stimulus_hash) if stimulus_hash else None
    if info is not None:
        return info
    with engine.connect() as conn:
        classes = conn.scalar(select(Study.classes).where(Study.id == study_id)) or []
        choice_of = choice_of_class(classes)  # with label groups a stimulus's right answer is its group
        stimuli = {
            sid: (choice_of.get(int(label), int(label)), bool(catch))
            for sid, label, catch in conn.execute(
                select(Stimulus.stimulus_id, Stimulus.label, Stimulus.catch).where(
                    Stimulus.study_id == study_id
                )
            )
        }

        config = conn.scalar(select(Study.config).where(Study.id == study_id)) or {}
    info = StudyInfo(frozenset(int(c["id"]) for c in classes), stimuli, bool(config.get("allow_none")))
    if stimulus_hash:
        _studies.put(stimulus_hash, info)
    return info


def clear() -> None:
    """Forget everything (tests that rebuild a database under the same ids)."""
    _participants.clear()
    _studies.clear()
