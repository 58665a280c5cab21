"""POST /api/p/<token>/responses served straight from WSGI, ahead of Flask.

A study sends this request once per trial of every participant, hundreds of times for each page any other
route serves. Flask's per-request machinery (request and app contexts, routing, session, hooks, the
response object) was about a fifth of a saved answer's server CPU in benchmarks/server_throughput.py, so
this endpoint reads the WSGI environ itself and calls the same code the rest of the API uses:
`api.json_body` for the body, `api.save_answer` for the answer, `guard.address_problem` for control
characters, and faults.py for database faults. The URL rule stays in Flask's map (build only) so pages
build the address with url_for. Every other request goes to Flask unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from flask import Flask, url_for
from sqlalchemy import Engine
from sqlalchemy.exc import DataError
from werkzeug.exceptions import InternalServerError, MethodNotAllowed
from werkzeug.http import HTTP_STATUS_CODES

from study_server import faults
from study_server.api import ApiError, error_body, json_body, save_answer
from study_server.guard import address_problem
from study_server.models import db

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

PREFIX, SUFFIX = "/api/p/", "/responses"
ALLOW = "OPTIONS, POST"

Reply = tuple[int, dict[str, Any] | None, list[tuple[str, str]]]


class AnswerEndpoint:
    """WSGI middleware: answers the save requests, hands everything else to `inner` (Flask)."""

    def __init__(self, app: Flask, inner: WSGIApplication) -> None:
        self.app = app
        self.inner = inner
        with app.app_context():
            self.engine: Engine = db.engine  # one engine per app, made by Flask-SQLAlchemy
        self.limit = int(app.config["JSON_BODY_LIMIT"])
        self.session_cookie = str(app.config["SESSION_COOKIE_NAME"])
        propagate = app.config.get("PROPAGATE_EXCEPTIONS")
        self.propagate = bool(app.testing or app.debug) if propagate is None else bool(propagate)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        raw_path = str(environ.get("PATH_INFO") or "")
        if not (raw_path.startswith(PREFIX) and raw_path.endswith(SUFFIX)):
            return self.inner(environ, start_response)
        # as werkzeug decodes the path for Flask's routing: WSGI's latin-1 string holds UTF-8 bytes
        path = raw_path.encode("latin-1").decode("utf-8", "replace")
        public_id = path[len(PREFIX) : -len(SUFFIX)]
        if not public_id or "/" in public_id:
            return self.inner(environ, start_response)  # not this route: Flask's 404
        status, payload, headers = self._reply(environ, path, public_id)
        body = b"" if payload is None else (json.dumps(payload, separators=(",", ":")) + "\n").encode()
        start_response(
            f"{status} {HTTP_STATUS_CODES.get(status, 'Unknown')}",
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(body))),
                ("Cache-Control", "no-store"),
                *headers,
            ],
        )
        return [body] if environ.get("REQUEST_METHOD") != "HEAD" else []

    def _reply(self, environ: WSGIEnvironment, path: str, public_id: str) -> Reply:
        method = str(environ.get("REQUEST_METHOD") or "GET").upper()
        problem = address_problem(
            path,
            str(environ.get("QUERY_STRING") or "").encode("latin-1"),
            environ.get("HTTP_COOKIE"),
            self.session_cookie,
        )
        if problem:  # as the guard answers every other route
            return 400, error_body(400, problem), []
        if method == "OPTIONS":
            return 200, None, [("Allow", ALLOW)]
        if method != "POST":
            text = MethodNotAllowed.description or "method not allowed"
            return 405, error_body(405, text), [("Allow", ALLOW)]
        try:
            data = json_body(environ, self.limit)
            status, result = save_answer(
                self.engine, public_id, data, lambda pid: self._debrief_url(environ, pid)
            )
            return status, result, []
        except ApiError as exc:
            return exc.status, error_body(exc.status, exc.message, **exc.extra), []
        except faults.FAULTS as exc:
            kind = faults.log_fault(exc, method, path)
            return 503, faults.api_fault(kind), list(faults.FAULT_HEADERS.items())
        except DataError as exc:
            faults.log_bad_value(exc, method, path)
            return 400, error_body(400, faults.BAD_VALUE_TEXT), []
        except Exception:
            if self.propagate:  # tests and debug see the error, as with any Flask view
                raise
            self.app.logger.exception("Exception on %s [%s]", path, method)
            text = InternalServerError.description or "internal server error"
            return 500, error_body(500, text), []

    def _debrief_url(self, environ: WSGIEnvironment, public_id: str) -> str:
        """Where a finished participant goes next (once per participant, so Flask's url_for is fine)."""
        with self.app.request_context(environ):
            return url_for("participant.debrief", public_id=public_id)


def install(app: Flask) -> None:
    """Put the endpoint in front of the app's WSGI callable (called by the app factory)."""
    # Flask's docs wrap wsgi_app this way; mypy sees a method being replaced
    app.wsgi_app = AnswerEndpoint(app, app.wsgi_app)  # type: ignore[method-assign]
