"""The participant JSON API: one POST per answered trial, stored exactly once.

Exempt from CSRF (no cookie authority): the unguessable participant token in the URL is the credential.
Every bad input is a 4xx JSON error and writes nothing.
"""

from __future__ import annotations

import dataclasses
import json
import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, cast

from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy import Connection, Engine, Table, bindparam, case, select, text, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException

from study_server.bodies import BodyTooLarge, read_body
from study_server.db import Prepared, driver_value, write_lock
from study_server.display import DisplayError, display_record
from study_server.group_commit import committer_for
from study_server.lifecycle import ACTIVE, is_active, set_status
from study_server.models import NONE_ANSWER, Participant, Study, db, utcnow
from study_server.models import Response as TrialResponse
from study_server.settings import effective
from study_server.study_cache import ParticipantInfo, StudyInfo, participant_info, study_info

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

bp = Blueprint("api", __name__, url_prefix="/api")

MAX_RT_MS = 3_600_000.0
MAX_INT = 2**31 - 1
"""Largest integer field accepted (a 32-bit INTEGER column on every backend)."""


class ApiError(Exception):
    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra


def error_body(status: int, message: str, **extra: Any) -> dict[str, Any]:
    """The JSON of every error under /api/: what went wrong, the status, and any details."""
    return {"error": message, "status": status, **extra}


def json_error(status: int, message: str, **extra: Any) -> tuple[Response, int]:
    return jsonify(error_body(status, message, **extra)), status


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError) -> tuple[Response, int]:
    db.session.rollback()
    return json_error(exc.status, exc.message, **exc.extra)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> tuple[Response, int]:
    db.session.rollback()
    messages = {413: "request body too large"}
    return json_error(exc.code or 400, messages.get(exc.code or 0, exc.description or exc.name))


def json_body(environ: WSGIEnvironment, limit: int) -> dict[str, Any]:
    """The request's body as a JSON object; ApiError 413, 415 or 400 otherwise.

    Read from the WSGI environ, so the answer endpoint (which runs without Flask's request) and the
    Flask routes check bodies the same way."""
    mimetype = str(environ.get("CONTENT_TYPE") or "").split(";", 1)[0].strip().lower()
    json_type = mimetype == "application/json" or (
        mimetype.startswith("application/") and mimetype.endswith("+json")
    )  # as Flask's request.is_json
    try:
        raw = read_body(environ, limit)  # first: a body over the limit is a 413 whatever its type
    except BodyTooLarge:
        raise ApiError(413, "request body too large") from None
    if not json_type:
        raise ApiError(415, "send the body as application/json")
    try:
        data = json.loads(raw)
    except RecursionError:  # e.g. 2 KB of "[[[[": json's decoder gives up with this, not a ValueError
        raise ApiError(400, "the body is nested too deeply") from None
    except ValueError:  # not JSON, or not UTF-8/16/32
        raise ApiError(400, "the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "the body must be a JSON object")
    return data


def _int_field(data: dict[str, Any], name: str, *, required: bool) -> int | None:
    value = data.get(name)
    if value is None:
        if required:
            raise ApiError(400, f"{name!r} is required")
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(400, f"{name!r} must be an integer")
    if not -MAX_INT <= value <= MAX_INT:  # 10**400 parses; keep it away from the database's integers
        raise ApiError(400, f"{name!r} out of range")
    return value


def _finite(value: int | float) -> bool:
    return isinstance(value, int) or math.isfinite(value)


def _validate(data: dict[str, Any], info: ParticipantInfo, study: StudyInfo) -> _Answer:
    """Check one answer against the participant's list and the study's classes (no database access)."""
    unknown = set(data) - {"trial_index", "response", "rt_ms", "stimulus_id", "shown_ms", *FRAME_FIELDS}
    if unknown:
        raise ApiError(400, f"unknown field(s): {', '.join(sorted(unknown))}")
    trial_index = _int_field(data, "trial_index", required=True)
    assert trial_index is not None
    none_answer = data.get("response") == "none"
    if none_answer and not study.allow_none:
        raise ApiError(400, "this study has no 'none' answer")
    response = NONE_ANSWER if none_answer else _int_field(data, "response", required=False)
    rt = _ms_field(data, "rt_ms")
    shown = _ms_field(data, "shown_ms")
    frames = tuple(_frames_field(data, name) for name in FRAME_FIELDS)
    total = len(info.trial_order)
    if not 0 <= trial_index < total:
        raise ApiError(400, f"'trial_index' out of range: this participant has {total} trials")
    stimulus_id = info.trial_order[trial_index]
    sent_sid = data.get("stimulus_id")
    if sent_sid is not None:
        if not isinstance(sent_sid, str):
            raise ApiError(400, "'stimulus_id' must be a string")
        if sent_sid != stimulus_id:
            raise ApiError(404, "unknown stimulus for this trial")
    if response is not None and not none_answer and response not in study.class_ids:
        raise ApiError(400, "'response' is not one of this study's classes")
    known = study.stimuli.get(stimulus_id)
    if known is None:  # the list names a stimulus the study does not have (a damaged import)
        raise ApiError(404, "unknown stimulus for this trial")
    label, catch = known
    correct = response is not None and response == label
    return _Answer(trial_index, stimulus_id, response, rt, catch, correct, shown, *frames)


FRAME_FIELDS = ("frames_requested", "frames_shown", "frames_dropped")
"""A timed trial's display frames, as the page counted them (see study_server.display)."""


def _frames_field(data: dict[str, Any], name: str) -> int | None:
    value = _int_field(data, name, required=False)
    if value is not None and not 0 <= value <= 100_000:
        raise ApiError(400, f"{name!r} out of range")
    return value


def _ms_field(data: dict[str, Any], name: str) -> float | None:
    """An optional duration in ms, 0..MAX_RT_MS."""
    value = data.get(name)
    if value is None:
        return None
    # an int is finite (math.isfinite(10**400) would overflow); compare before converting to float
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not _finite(value):
        raise ApiError(400, f"{name!r} must be a finite number")
    if not 0 <= value <= MAX_RT_MS:
        raise ApiError(400, f"{name!r} must lie between 0 and {MAX_RT_MS:.0f}")
    return float(value) + 0.0  # in range, so exact enough; -0.0 becomes 0.0


@dataclass(frozen=True)
class _Answer:
    trial_index: int
    stimulus_id: str
    response: int | None
    rt_ms: float | None
    catch: bool
    correct: bool
    shown_ms: float | None = None
    """Measured on-screen time of a timed image (display frames), from the page."""
    frames_requested: int | None = None
    frames_shown: int | None = None
    frames_dropped: int | None = None

    @property
    def failed_catch(self) -> int:
        """1 for a catch trial answered wrongly (or not at all), else 0: a counter increment."""
        return int(self.catch and not self.correct)

    def row(self, participant_id: int, created_at: Any) -> dict[str, Any]:
        """The `responses` row of this answer."""
        return {
            "participant_id": participant_id,
            "trial_index": self.trial_index,
            "stimulus_id": self.stimulus_id,
            "response": self.response,
            "rt_ms": self.rt_ms,
            "catch": self.catch,
            "correct": self.correct,
            "shown_ms": self.shown_ms,
            "frames_requested": self.frames_requested,
            "frames_shown": self.frames_shown,
            "frames_dropped": self.frames_dropped,
            "created_at": created_at,
        }


def _result(
    info: ParticipantInfo,
    answer: _Answer,
    *,
    created: bool,
    answered: int,
    status: str,
    debrief_url: Callable[[str], str],
) -> dict[str, Any]:
    return {
        "stored": True,
        "created": created,
        "trial_index": answer.trial_index,
        "response": "none" if answer.response == NONE_ANSWER else answer.response,
        "rt_ms": answer.rt_ms,
        "answered": answered,
        "total": len(info.trial_order),
        "status": status,
        "done": not is_active(status),
        "next": None if is_active(status) else debrief_url(info.public_id),
    }


bp.add_url_rule("/p/<public_id>/responses", endpoint="post_response", methods=["POST"], build_only=True)
"""Served by study_server.answer_endpoint (without Flask's request machinery); the rule lets pages build
its address with url_for("api.post_response", ...)."""


def save_answer(
    engine: Engine, public_id: str, data: dict[str, Any], debrief_url: Callable[[str], str]
) -> tuple[int, dict[str, Any]]:
    """Store one trial's answer; (201, result) when new, (200, result) for a replay of the stored answer.
    A different answer to a stored trial is a 409 (ApiError), as is an answer while not "started".

    The answer is acknowledged only once it is committed. The participant's list and the study's
    labels, catch flags and classes come from per-process caches; completion and screen-out add a few
    statements once per participant.
    - SQLite: an UPDATE of the participant's counters (only while "started"), then INSERT ... ON
      CONFLICT DO NOTHING RETURNING, in a transaction shared with the answers that arrive at the same
      moment (group commit: one disk flush for all of them).
    - PostgreSQL: the same as one statement (a data-modifying CTE that locks the participant's row),
      in autocommit: one round trip.
    """
    info = participant_info(engine, public_id)
    if info is None:
        raise ApiError(404, "unknown participant")
    study = study_info(engine, info.study_id, info.stimulus_hash)
    answer = _validate(data, info, study)
    if engine.dialect.name == "postgresql":
        created, answered, status, stored = _store_postgresql(engine, info, answer)
    else:
        created, answered, status, stored = committer_for(engine).run(
            partial(_store, info=info, answer=answer)
        )
    if stored.response != answer.response:
        raise ApiError(409, "this trial was already answered with a different response")
    result = _result(info, stored, created=created, answered=answered, status=status, debrief_url=debrief_url)
    return (201 if created else 200), result


# A declarative class's __table__ is typed as a FromClause; these models map plain Tables.
_RESPONSES = cast(Table, TrialResponse.__table__)
_PARTICIPANTS = cast(Table, Participant.__table__)
_COUNT_ANSWER = Prepared(
    lambda _dialect: (
        update(_PARTICIPANTS)
        .where(_PARTICIPANTS.c.id == bindparam("who"), _PARTICIPANTS.c.status == "started")
        .values(
            n_answered=_PARTICIPANTS.c.n_answered + bindparam("step"),
            n_catch_failed=_PARTICIPANTS.c.n_catch_failed + bindparam("failed"),
        )
        .returning(_PARTICIPANTS.c.n_answered, _PARTICIPANTS.c.n_catch_failed)
    )
)
"""Count an answer (step 1) or take it back (step -1), only while the participant is "started"."""

_ANSWER_COLUMNS = (
    "participant_id", "trial_index", "stimulus_id", "response", "rt_ms", "catch", "correct", "shown_ms",
    *FRAME_FIELDS, "created_at",
)  # fmt: skip
_INSERT_ANSWER = Prepared(
    lambda _dialect: (
        sqlite_insert(_RESPONSES)
        .values({c: bindparam(c) for c in _ANSWER_COLUMNS})
        .on_conflict_do_nothing(index_elements=["participant_id", "trial_index"])
        .returning(_RESPONSES.c.id)
    )
)
"""INSERT ... ON CONFLICT (participant, trial) DO NOTHING RETURNING id: no row back for a replay."""


def _store(conn: Connection, *, info: ParticipantInfo, answer: _Answer) -> tuple[bool, int, str, _Answer]:
    """Count and insert one answer; returns (created, answered, status, the stored answer).

    The counters are updated first, and only while the participant is "started"; then the answer is
    inserted unless the trial is already stored (a replay), in which case the count is taken back.
    Nothing raises after a write, so the answer can share a group commit with others.
    """
    failed = answer.failed_catch
    counts = _COUNT_ANSWER.fetchone(conn, {"who": info.id, "step": 1, "failed": failed})
    if counts is None:  # not started (or no longer): a replay of a stored answer, or a refusal
        return _replay(_stored_or_refuse(conn, info, answer), answer)
    created_at = driver_value(conn.dialect, _RESPONSES.c.created_at.type, utcnow())
    if _INSERT_ANSWER.fetchone(conn, answer.row(info.id, created_at)) is None:
        _COUNT_ANSWER.fetchone(conn, {"who": info.id, "step": -1, "failed": -failed})
        return _replay(_stored_or_refuse(conn, info, answer), answer)  # the conflict says it is stored
    answered, n_failed = int(counts[0]), int(counts[1])
    status = _after_store(conn, info, answered, n_failed, check_catch=bool(failed))
    return True, answered, status, answer


_STATUS = select(_PARTICIPANTS.c.status).where(_PARTICIPANTS.c.id == bindparam("who"))
_STORED = Prepared(
    lambda _dialect: (
        select(
            _RESPONSES.c.response,
            _RESPONSES.c.rt_ms,
            _PARTICIPANTS.c.n_answered,
            _PARTICIPANTS.c.status,
            _PARTICIPANTS.c.n_catch_failed,
        )
        .join(_PARTICIPANTS, _PARTICIPANTS.c.id == _RESPONSES.c.participant_id)
        .where(
            _RESPONSES.c.participant_id == bindparam("who"), _RESPONSES.c.trial_index == bindparam("trial")
        )
    )
)
"""What is stored for one trial, with the participant's count and status (for a replay)."""


_SAVE_POSTGRESQL = Prepared(
    lambda _dialect: text(
        """
        WITH p AS (
            SELECT id FROM participants WHERE id = :who AND status = 'started' FOR UPDATE
        ), ins AS (
            INSERT INTO responses
                (participant_id, trial_index, stimulus_id, response, rt_ms, catch, correct, shown_ms,
                frames_requested, frames_shown, frames_dropped, created_at)
            SELECT id, CAST(:trial_index AS INTEGER), CAST(:stimulus_id AS VARCHAR),
                CAST(:response AS INTEGER), CAST(:rt_ms AS DOUBLE PRECISION),
                CAST(:catch AS BOOLEAN), CAST(:correct AS BOOLEAN), CAST(:shown_ms AS DOUBLE PRECISION),
                CAST(:frames_requested AS INTEGER), CAST(:frames_shown AS INTEGER),
                CAST(:frames_dropped AS INTEGER), CAST(:created_at AS TIMESTAMP WITH TIME ZONE)
            FROM p
            ON CONFLICT (participant_id, trial_index) DO NOTHING
            RETURNING id
        ), counted AS (
            UPDATE participants
            SET n_answered = n_answered + 1, n_catch_failed = n_catch_failed + CAST(:failed AS INTEGER)
            WHERE id = :who AND EXISTS (SELECT 1 FROM ins)
            RETURNING n_answered, n_catch_failed
        )
        SELECT (SELECT count(*) FROM p), (SELECT id FROM ins),
            (SELECT n_answered FROM counted), (SELECT n_catch_failed FROM counted)
        """
    )
)
"""One answer in one statement: lock the participant's row while "started", insert unless stored,
count it only if inserted. Atomic in autocommit, so the counters always equal the stored answers."""


def _store_postgresql(
    engine: Engine, info: ParticipantInfo, answer: _Answer
) -> tuple[bool, int, str, _Answer]:
    failed = answer.failed_catch
    params = {**answer.row(info.id, utcnow()), "who": info.id, "failed": failed}
    row = _SAVE_POSTGRESQL.fetchone_autocommit(engine, params)
    assert row is not None
    started, inserted = int(row[0]), row[1]
    stored = None
    if inserted is None:  # a replay, or a refusal
        with engine.connect() as conn:
            stored = _stored_or_refuse(conn, info, answer)
    if stored is None:  # inserted and counted
        answered, n_failed = int(row[2]), int(row[3])
        if not failed and answered < len(info.trial_order):
            return True, answered, "started", answer
        with engine.begin() as tx:
            return (
                True,
                answered,
                _after_store(tx, info, answered, n_failed, check_catch=bool(failed)),
                answer,
            )
    if started:
        # if the answer was stored but its completion or screen-out never ran (the process died in
        # between), the page resends the unacknowledged answer, and this replay settles it
        with engine.begin() as tx:
            status = _after_store(tx, info, int(stored[2]), int(stored[4]), check_catch=True)
        stored = (*stored[:3], status)
    return _replay(stored, answer)


def _after_store(
    conn: Connection, info: ParticipantInfo, answered: int, failed: int, *, check_catch: bool
) -> str:
    """Screen out on too many failed catch trials; complete when every trial is answered. Returns the
    participant's status (inside the save's transaction; runs at most once or twice per participant)."""
    if not check_catch and answered < len(info.trial_order):
        return "started"
    with Session(bind=conn, join_transaction_mode="create_savepoint") as session:
        config = session.scalar(select(Study.config).where(Study.id == info.study_id)) or {}
        threshold = config.get("catch_fail_threshold")
        over = threshold is not None and failed > int(threshold)
        if not over and answered < len(info.trial_order):
            return "started"
        p = session.get(Participant, info.id, with_for_update=True, populate_existing=True)
        assert p is not None
        if p.status != "started":  # settled already (a concurrent replay of the last answer)
            return p.status
        if over:
            set_status(session, p, "screened_out")
        else:
            if not p.completion_code:
                # plain link: a code of one's own, so a researcher can check it against the database;
                # platforms (Prolific) expect the study's shared code
                shared = config.get("completion_code") if info.recruiter != "link" else None
                p.completion_code = str(shared or secrets.token_hex(5).upper())
            set_status(session, p, "completed")
        status = p.status
        session.commit()  # releases the savepoint; the save's transaction commits the whole
    return status


def _stored_or_refuse(conn: Connection, info: ParticipantInfo, answer: _Answer) -> tuple[Any, ...]:
    """What is stored for this trial; a 409 when nothing is and the participant may not answer now."""
    stored = _STORED.fetchone(conn, {"who": info.id, "trial": answer.trial_index})
    if stored is None:
        status = conn.execute(_STATUS, {"who": info.id}).scalar()  # a refusal: rare, no need to hurry
        raise ApiError(409, f"this participant cannot answer trials now (status {status})", status_now=status)
    return stored


def _replay(row: Any, answer: _Answer) -> tuple[bool, int, str, _Answer]:
    """The trial is already stored: report what is stored (the caller answers 200, or 409 if it differs)."""
    kept = dataclasses.replace(answer, response=row[0], rt_ms=row[1])
    return False, int(row[2]), str(row[3]), kept


@bp.post("/p/<public_id>/fullscreen-exits")
def fullscreen_exits(public_id: str) -> tuple[Response, int]:
    """Record that the participant left fullscreen. The page sends its running total (`count`, which
    starts from the stored one), and the stored value only ever grows to it: a resent report counts once."""
    data = json_body(request.environ, int(current_app.config["JSON_BODY_LIMIT"]))
    unknown = set(data) - {"count"}
    if unknown:
        raise ApiError(400, f"unknown field(s): {', '.join(sorted(unknown))}")
    count = _int_field(data, "count", required=True)
    assert count is not None
    if not 0 <= count <= 100_000:
        raise ApiError(400, "'count' out of range")
    info = participant_info(db.engine, public_id)
    if info is None:
        raise ApiError(404, "unknown participant")
    col = Participant.fullscreen_exits
    with write_lock(db.session):
        db.session.execute(
            update(Participant)
            .where(Participant.id == info.id, Participant.status.in_(sorted(ACTIVE)))
            .values(fullscreen_exits=case((col < count, count), else_=col))
        )
        stored, status = db.session.execute(
            select(col, Participant.status).where(Participant.id == info.id)
        ).one()
        db.session.commit()
    if status not in ACTIVE:  # finished, left or screened out: nothing more is recorded
        raise ApiError(409, f"this participant cannot report now (status {status})", status_now=status)
    return jsonify({"fullscreen_exits": stored}), 200


@bp.post("/p/<public_id>/display")
def display(public_id: str) -> tuple[Response, int]:
    """Store what the trial page measured before the trials (refresh rate, the stimulus as drawn; see
    `study_server.display`). A reload measures again, and the latest measurement is kept."""
    data = json_body(request.environ, int(current_app.config["JSON_BODY_LIMIT"]))
    p = db.session.scalars(select(Participant).where(Participant.public_id == public_id)).one_or_none()
    if p is None:
        raise ApiError(404, "unknown participant")
    try:
        record = display_record(data, p.calibration, effective(p.study.config)["stimulus_scaling"])
    except DisplayError as exc:
        raise ApiError(400, str(exc)) from None
    with write_lock(db.session):
        db.session.execute(update(Participant).where(Participant.id == p.id).values(display=record))
        db.session.commit()
    return jsonify(record), 200
