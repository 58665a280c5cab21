"""The participant JSON API: one POST per answered trial, stored exactly once.

Exempt from CSRF (no cookie authority): the unguessable participant token in the URL is the credential.
Every bad input is a 4xx JSON error and writes nothing.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, jsonify, request, url_for
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from werkzeug.exceptions import HTTPException

from study_server.db import write_lock
from study_server.lifecycle import is_active, set_status
from study_server.models import Participant, Study, db, utcnow
from study_server.models import Response as TrialResponse
from study_server.study_cache import ParticipantInfo, StudyInfo, participant_info, study_info

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


def json_error(status: int, message: str, **extra: Any) -> tuple[Response, int]:
    return jsonify({"error": message, "status": status, **extra}), status


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError) -> tuple[Response, int]:
    db.session.rollback()
    return json_error(exc.status, exc.message, **exc.extra)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> tuple[Response, int]:
    db.session.rollback()
    messages = {413: "request body too large"}
    return json_error(exc.code or 400, messages.get(exc.code or 0, exc.description or exc.name))


def _body() -> dict[str, Any]:
    if request.content_length is not None and request.content_length > _limit():
        raise ApiError(413, "request body too large")
    if not request.is_json:
        raise ApiError(415, "send the body as application/json")
    raw = request.get_data(cache=True)
    if len(raw) > _limit():
        raise ApiError(413, "request body too large")
    try:
        data = request.get_json(silent=True)
    except RecursionError:  # e.g. 2 KB of "[[[[": json's decoder gives up with this, not a ValueError
        raise ApiError(400, "the body is nested too deeply") from None
    if data is None:
        raise ApiError(400, "the body is not valid JSON")
    if not isinstance(data, dict):
        raise ApiError(400, "the body must be a JSON object")
    return data


def _limit() -> int:
    from flask import current_app

    return int(current_app.config.get("JSON_BODY_LIMIT") or 16 * 1024)


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
    unknown = set(data) - {"trial_index", "response", "rt_ms", "stimulus_id"}
    if unknown:
        raise ApiError(400, f"unknown field(s): {', '.join(sorted(unknown))}")
    trial_index = _int_field(data, "trial_index", required=True)
    assert trial_index is not None
    response = _int_field(data, "response", required=False)
    rt = data.get("rt_ms")
    if rt is not None:
        # an int is finite (math.isfinite(10**400) would overflow); compare before converting to float
        if isinstance(rt, bool) or not isinstance(rt, (int, float)) or not _finite(rt):
            raise ApiError(400, "'rt_ms' must be a finite number")
        if not 0 <= rt <= MAX_RT_MS:
            raise ApiError(400, f"'rt_ms' must lie between 0 and {MAX_RT_MS:.0f}")
        rt = float(rt) + 0.0  # in range, so exact enough; -0.0 becomes 0.0
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
    if response is not None and response not in study.class_ids:
        raise ApiError(400, "'response' is not one of this study's classes")
    known = study.stimuli.get(stimulus_id)
    if known is None:  # the list names a stimulus the study does not have (a damaged import)
        raise ApiError(404, "unknown stimulus for this trial")
    label, catch = known
    correct = response is not None and response == label
    return _Answer(trial_index, stimulus_id, response, rt, catch, correct)


@dataclass(frozen=True)
class _Answer:
    trial_index: int
    stimulus_id: str
    response: int | None
    rt_ms: float | None
    catch: bool
    correct: bool


def _result(
    info: ParticipantInfo, answer: _Answer, *, created: bool, answered: int, status: str
) -> dict[str, Any]:
    return {
        "stored": True,
        "created": created,
        "trial_index": answer.trial_index,
        "response": answer.response,
        "rt_ms": answer.rt_ms,
        "answered": answered,
        "total": len(info.trial_order),
        "status": status,
        "done": not is_active(status),
        "next": None if is_active(status) else url_for("participant.debrief", public_id=info.public_id),
    }


@bp.post("/p/<public_id>/responses")
def post_response(public_id: str) -> tuple[Response, int]:
    """Store one trial's answer; a replay returns the stored row (200), a different answer is a 409.

    One short write transaction with two statements: INSERT ... ON CONFLICT DO NOTHING RETURNING, then
    an UPDATE of the participant's counters (only while they are "started") RETURNING the new counts.
    The answer is acknowledged only after COMMIT. Completion and screen-out add a few statements once
    per participant. Everything else (the list, labels, classes) comes from per-process caches.
    """
    data = _body()
    info = participant_info(db.session, public_id)
    if info is None:
        raise ApiError(404, "unknown participant")
    study = study_info(db.session, info.study_id, info.stimulus_hash)
    answer = _validate(data, info, study)
    db.session.rollback()  # end the read transaction of a cache miss before taking the write lock
    with write_lock(db.session):  # SQLite: BEGIN IMMEDIATE; held for two statements and the COMMIT
        try:
            result = _store(info, answer)
        except BaseException:
            db.session.rollback()
            raise
    return result


def _store(info: ParticipantInfo, answer: _Answer) -> tuple[Response, int]:
    session = db.session
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    new_id = session.execute(
        insert(TrialResponse)
        .values(
            participant_id=info.id,
            trial_index=answer.trial_index,
            stimulus_id=answer.stimulus_id,
            response=answer.response,
            rt_ms=answer.rt_ms,
            catch=answer.catch,
            correct=answer.correct,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["participant_id", "trial_index"])
        .returning(TrialResponse.id)
    ).scalar()
    if new_id is None:
        return _replay(info, answer)
    failed_catch = answer.catch and not answer.correct
    counts = session.execute(
        update(Participant)
        .where(Participant.id == info.id, Participant.status == "started")
        .values(
            n_answered=Participant.n_answered + 1,
            n_catch_failed=Participant.n_catch_failed + int(failed_catch),
        )
        .returning(Participant.n_answered, Participant.n_catch_failed)
    ).first()
    if counts is None:  # not (or no longer) started: write nothing
        session.rollback()
        status = session.scalar(select(Participant.status).where(Participant.id == info.id))
        raise ApiError(409, f"this participant cannot answer trials now (status {status})", status_now=status)
    answered, failed = int(counts[0]), int(counts[1])
    status = _after_store(info, answered, failed, check_catch=failed_catch)
    session.commit()
    return jsonify(_result(info, answer, created=True, answered=answered, status=status)), 201


def _after_store(info: ParticipantInfo, answered: int, failed: int, *, check_catch: bool) -> str:
    """Screen out on too many failed catch trials; complete when every trial is answered. Returns the
    participant's status (inside the save's transaction; runs at most once or twice per participant)."""
    if not check_catch and answered < len(info.trial_order):
        return "started"
    session = db.session
    config = session.scalar(select(Study.config).where(Study.id == info.study_id)) or {}
    threshold = config.get("catch_fail_threshold")
    over = threshold is not None and failed > int(threshold)
    if not over and answered < len(info.trial_order):
        return "started"
    p = session.get(Participant, info.id, populate_existing=True)
    assert p is not None
    if over:
        set_status(session, p, "screened_out")
        return "screened_out"
    if not p.completion_code:
        # plain link: a code of one's own, so a researcher can check it against the database;
        # platforms (Prolific) expect the study's shared code
        shared = config.get("completion_code") if info.recruiter != "link" else None
        p.completion_code = str(shared or secrets.token_hex(5).upper())
    set_status(session, p, "completed")
    return "completed"


def _replay(info: ParticipantInfo, answer: _Answer) -> tuple[Response, int]:
    """The trial is already stored: the same answer again is acknowledged (200), another one is a 409."""
    session = db.session
    stored = session.execute(
        select(TrialResponse.response, TrialResponse.rt_ms, Participant.n_answered, Participant.status)
        .join(Participant, Participant.id == TrialResponse.participant_id)
        .where(TrialResponse.participant_id == info.id, TrialResponse.trial_index == answer.trial_index)
    ).one()
    session.rollback()
    if stored[0] != answer.response:
        raise ApiError(409, "this trial was already answered with a different response")
    kept = _Answer(answer.trial_index, answer.stimulus_id, stored[0], stored[1], answer.catch, answer.correct)
    body = _result(info, kept, created=False, answered=int(stored[2]), status=str(stored[3]))
    return jsonify(body), 200
