"""The participant JSON API: one POST per answered trial, stored exactly once.

Exempt from CSRF (no cookie authority): the unguessable participant token in the URL is the credential.
Every bad input is a 4xx JSON error and writes nothing.
"""

from __future__ import annotations

import math
import secrets
from typing import Any

from flask import Blueprint, Response, jsonify, request, url_for
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException

from study_server.db import write_lock
from study_server.lifecycle import is_active, set_status
from study_server.models import Participant, Stimulus, db
from study_server.models import Response as TrialResponse

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


def _participant(public_id: str, *, lock: bool = False) -> Participant:
    query = select(Participant).where(Participant.public_id == public_id)
    if lock:  # PostgreSQL: serialise one participant's writes so completion is counted exactly once
        query = query.with_for_update().execution_options(populate_existing=True)
    p = db.session.scalars(query).one_or_none()
    if p is None:
        raise ApiError(404, "unknown participant")
    return p


def _result(p: Participant, row: TrialResponse, *, created: bool) -> dict[str, Any]:
    answered = db.session.scalar(
        select(func.count(TrialResponse.id)).where(TrialResponse.participant_id == p.id)
    )
    return {
        "stored": True,
        "created": created,
        "trial_index": row.trial_index,
        "response": row.response,
        "rt_ms": row.rt_ms,
        "answered": int(answered or 0),
        "total": len(p.trial_order),
        "status": p.status,
        "done": not is_active(p.status),
        "next": None if is_active(p.status) else url_for("participant.debrief", public_id=p.public_id),
    }


def _after_store(p: Participant) -> None:
    """Screen out on too many failed catch trials; complete when every trial is answered."""
    study = p.study
    threshold = study.config.get("catch_fail_threshold")
    if threshold is not None:
        failed = db.session.scalar(
            select(func.count(TrialResponse.id)).where(
                TrialResponse.participant_id == p.id,
                TrialResponse.catch.is_(True),
                TrialResponse.correct.is_(False),
            )
        )
        if int(failed or 0) > int(threshold):
            set_status(db.session, p, "screened_out")
            return
    answered = db.session.scalar(
        select(func.count(TrialResponse.id)).where(TrialResponse.participant_id == p.id)
    )
    if int(answered or 0) >= len(p.trial_order):
        if not p.completion_code:
            # plain link: a code of one's own, so a researcher can check it against the database;
            # platforms (Prolific) expect the study's shared code
            shared = study.config.get("completion_code") if p.recruiter != "link" else None
            p.completion_code = str(shared or secrets.token_hex(5).upper())
        set_status(db.session, p, "completed")


@bp.post("/p/<public_id>/responses")
def post_response(public_id: str) -> tuple[Response, int]:
    """Store one trial's answer; a replay returns the stored row (200), a different answer is a 409."""
    data = _body()
    with write_lock(db.session):  # SQLite: BEGIN IMMEDIATE, so read-then-write never hits a stale snapshot
        result = _store(public_id, data)
    db.session.rollback()  # end any read-only transaction (a replay) now, releasing the write lock
    return result


def _store(public_id: str, data: dict[str, Any]) -> tuple[Response, int]:
    p = _participant(public_id, lock=True)
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
    if not 0 <= trial_index < len(p.trial_order):
        raise ApiError(400, f"'trial_index' out of range: this participant has {len(p.trial_order)} trials")
    stimulus_id = p.trial_order[trial_index]
    sent_sid = data.get("stimulus_id")
    if sent_sid is not None:
        if not isinstance(sent_sid, str):
            raise ApiError(400, "'stimulus_id' must be a string")
        if sent_sid != stimulus_id:
            raise ApiError(404, "unknown stimulus for this trial")
    class_ids = {int(c["id"]) for c in p.study.classes}
    if response is not None and response not in class_ids:
        raise ApiError(400, "'response' is not one of this study's classes")

    existing = db.session.scalars(
        select(TrialResponse).where(
            TrialResponse.participant_id == p.id, TrialResponse.trial_index == trial_index
        )
    ).one_or_none()
    if existing is not None:
        return _replay(p, existing, response)
    if p.status != "started":
        raise ApiError(
            409, f"this participant cannot answer trials now (status {p.status})", status_now=p.status
        )

    stim = db.session.scalars(
        select(Stimulus).where(Stimulus.study_id == p.study_id, Stimulus.stimulus_id == stimulus_id)
    ).one()
    row = TrialResponse(
        participant_id=p.id,
        trial_index=trial_index,
        stimulus_id=stimulus_id,
        response=response,
        rt_ms=float(rt) if rt is not None else None,
        catch=stim.catch,
        correct=response is not None and response == stim.label,
    )
    db.session.add(row)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()  # a concurrent retry stored it first
        p = _participant(public_id)
        existing = db.session.scalars(
            select(TrialResponse).where(
                TrialResponse.participant_id == p.id, TrialResponse.trial_index == trial_index
            )
        ).one()
        return _replay(p, existing, response)
    _after_store(p)
    db.session.commit()
    return jsonify(_result(p, row, created=True)), 201


def _replay(p: Participant, existing: TrialResponse, response: int | None) -> tuple[Response, int]:
    if existing.response != response:
        raise ApiError(409, "this trial was already answered with a different response")
    return jsonify(_result(p, existing, created=False)), 200
