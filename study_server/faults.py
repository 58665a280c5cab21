"""Database faults as answers a participant can act on, never a 500 page or a traceback.

A fault is *transient* (busy, locked, connection lost, pool exhausted: retrying soon will work) or a
*storage* fault (disk full, read-only or broken database: it needs the researcher). Both answer 503 with
Retry-After, so nothing is acknowledged that was not committed and the runner keeps the answer and
retries; the JSON says which kind it was, so the runner can tell the participant the truth. Storage
faults are logged at ERROR, transient ones at WARNING, with the driver's message only (never the SQL
parameters, which may hold platform ids).
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any, Literal

from flask import Flask, Response, jsonify, render_template, request
from sqlalchemy import exc as sa_exc

from study_server.api import error_body, json_error
from study_server.models import db

log = logging.getLogger(__name__)

Kind = Literal["busy", "storage"]

RETRY_AFTER_S = 5
_STORAGE_SQLSTATE_PREFIXES = ("53", "58", "25006", "XX")
"""PostgreSQL: insufficient resources (disk full, out of memory), system/IO errors, a read-only
transaction, internal errors (corruption)."""
_STORAGE_SQLITE_WORDS = ("disk is full", "readonly", "read-only", "disk i/o", "malformed", "unable to open")


def classify(exc: BaseException) -> Kind:
    """Whether a database error will likely pass by itself ("busy") or needs a person ("storage")."""
    orig = getattr(exc, "orig", None)
    sqlstate = str(getattr(orig, "sqlstate", "") or getattr(orig, "pgcode", "") or "")
    if sqlstate and sqlstate.startswith(_STORAGE_SQLSTATE_PREFIXES):
        return "storage"
    text = str(orig if orig is not None else exc).lower()
    if any(word in text for word in _STORAGE_SQLITE_WORDS):
        return "storage"
    return "busy"


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    return f"{type(orig).__name__}: {str(orig).strip().splitlines()[0][:300] if str(orig).strip() else ''}"


def _rollback_quietly() -> None:
    """End the failed transaction; the connection may be gone, and the session is removed at teardown."""
    with contextlib.suppress(Exception):
        db.session.rollback()


FAULTS: tuple[type[Exception], ...] = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.TimeoutError,
    sa_exc.DisconnectionError,
)
"""The database errors answered with 503 (outage, lost connection, busy, exhausted pool, storage)."""

API_FAULT_TEXT: dict[Kind, str] = {
    "storage": "the study server cannot store answers at the moment; keep the answer and retry later",
    "busy": "the database is busy; please retry",
}
FAULT_HEADERS = {"Retry-After": str(RETRY_AFTER_S), "Cache-Control": "no-store"}
BAD_VALUE_TEXT = "a value in this request is not valid"


def log_fault(exc: BaseException, method: str, path: str) -> Kind:
    """Log a database fault at the level its kind deserves (the driver's message only); returns the kind."""
    kind = classify(exc)
    level = logging.ERROR if kind == "storage" else logging.WARNING
    log.log(level, "database %s fault on %s %s: %s", kind, method, path, _first_line(exc))
    return kind


def api_fault(kind: Kind) -> dict[str, Any]:
    """The JSON a fault answers under /api/ (status 503 with FAULT_HEADERS): the runner keeps the answer."""
    return error_body(503, API_FAULT_TEXT[kind], fault=kind, retry=True)


def log_bad_value(exc: BaseException, method: str, path: str) -> None:
    log.warning("database refused a value on %s %s: %s", method, path, _first_line(exc))


def fault_response(exc: BaseException) -> Any:
    """503 in the caller's format: JSON under /api/, a friendly page elsewhere."""
    _rollback_quietly()
    kind = log_fault(exc, request.method, request.path)
    resp: Response | str  # JSON for the runner, HTML for a page
    if request.path.startswith("/api/"):
        resp = jsonify(api_fault(kind))
    else:
        resp = render_template(
            "message.html",
            title="Please try again in a moment",
            text=(
                "The study is briefly unavailable. Nothing you have done so far is lost: please wait a "
                "moment and reload this page."
            ),
        )
    return resp, 503, FAULT_HEADERS


def init_app(app: Flask) -> None:
    """Answer database outages and faults with 503 on every route (API, pages, images)."""
    for error in FAULTS:
        app.register_error_handler(error, fault_response)
    app.register_error_handler(sa_exc.DataError, _bad_value)


def _bad_value(exc: sa_exc.DataError) -> Any:
    """The database refused a value the request carried (a backstop behind input validation)."""
    _rollback_quietly()
    log_bad_value(exc, request.method, request.path)
    if request.path.startswith("/api/"):
        return json_error(400, BAD_VALUE_TEXT)
    return render_template("message.html", title="Bad request", text=BAD_VALUE_TEXT), 400
