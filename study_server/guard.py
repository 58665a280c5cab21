"""Refuse requests that carry control characters where no honest client puts them.

A NUL byte in a path segment, query value, cookie or form field would reach the database in a lookup
(PostgreSQL refuses NUL in text: a DataError), and CR/LF could end up in a header we send back. Such a
request gets a 400 with a clear message before any view runs: JSON under /api/, an HTML page elsewhere
(the app's HTTPException handler chooses).

What is checked: the path, every query key and value, the app's own cookies (the session cookie and the
participant cookies), and every form field. Form *values* may hold tab, CR and LF (a textarea's line
breaks); every other C0 character and DEL is refused. Cookies the app never reads (another app on the
same domain may set them) are left alone, so they cannot lock participants out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import parse_qsl

from flask import Flask, abort, current_app, request
from werkzeug.http import parse_cookie

CONTROL = re.compile(r"[\x00-\x1f\x7f]")
"""C0 control characters and DEL: never valid in a path, query, cookie or field name."""

CONTROL_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
"""The same without tab, LF and CR, which free text in a form may hold."""

FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})


def _any(pattern: re.Pattern[str], texts: Iterable[str | None]) -> bool:
    return any(pattern.search(t) for t in texts if t)  # a multipart part may come without a name


def address_problem(
    path: str, query_string: bytes, cookie_header: str | None, session_cookie: str
) -> str | None:
    """What is wrong with a request's address, query or own cookies (control characters), or None.

    On raw request parts, so that the answer endpoint, which runs without Flask's request, checks exactly
    what every other route checks."""
    from study_server.participant import COOKIE_PREFIX

    if CONTROL.search(path):
        return "The address contains control characters."
    if query_string:  # (most requests, answers among them, have no query)
        args = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True, errors="replace")
        if _any(CONTROL, (k for k, _ in args)) or _any(CONTROL, (v for _, v in args)):
            return "The query string contains control characters."
    if cookie_header:
        own = (
            v
            for k, v in parse_cookie(cookie_header).items(multi=True)
            if k == session_cookie or k.startswith(COOKIE_PREFIX)
        )
        if _any(CONTROL, own):
            return "A cookie of this site contains control characters; please clear them."
    return None


def reject_control_characters() -> None:
    """before_request: abort(400) when the address, query, own cookies or form carry control characters."""
    problem = address_problem(
        request.path,
        request.query_string,
        request.headers.get("Cookie"),
        current_app.config["SESSION_COOKIE_NAME"],
    )
    if problem:
        abort(400, description=problem)
    if request.mimetype in FORM_TYPES:
        fields = list(request.form.items(multi=True))
        if _any(CONTROL, (k for k, _ in fields)) or _any(CONTROL, request.files.keys()):
            abort(400, description="A form field name contains control characters.")
        if _any(CONTROL_IN_TEXT, (v for _, v in fields)):
            abort(400, description="A form field contains control characters.")


def init_app(app: Flask) -> None:
    """Run the check before every request (called by the app factory)."""
    app.before_request(reject_control_characters)


__all__ = ["CONTROL", "CONTROL_IN_TEXT", "address_problem", "init_app", "reject_control_characters"]
