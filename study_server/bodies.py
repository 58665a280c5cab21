"""Request bodies read with a hard limit, whether the client sent Content-Length or not.

A chunked request carries no Content-Length; werkzeug then cuts the stream at the limit and the
truncated body reads like a whole one. Here a body longer than the limit is refused (413) in every case:
the declared length is checked first, then at most `limit + 1` bytes are read, so a refusal never needs
more than that. The answer endpoint (plain WSGI) and every Flask route read bodies this way.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from flask import Flask, abort, current_app, request
from werkzeug.wsgi import get_content_length

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment


class BodyTooLarge(Exception):
    """The request body is longer than its limit."""


def read_body(environ: WSGIEnvironment, limit: int) -> bytes:
    """The whole request body, at most `limit` bytes; BodyTooLarge when there is more.

    Without Content-Length the body is read only when the server ends the stream itself
    (`wsgi.input_terminated`: gunicorn and werkzeug do for chunked requests); otherwise there is none."""
    length = get_content_length(environ)
    if length is not None and length > limit:
        raise BodyTooLarge
    stream = environ["wsgi.input"]
    if length is None and not environ.get("wsgi.input_terminated"):
        return b""
    want = limit + 1 if length is None else length
    parts, got = [], 0
    while got < want:
        chunk = stream.read(want - got)
        if not chunk:
            break
        parts.append(chunk)
        got += len(chunk)
    raw = b"".join(parts)
    if len(raw) > limit:
        raise BodyTooLarge
    return raw


def enforce_limit() -> None:
    """before_request: read the body under MAX_CONTENT_LENGTH (413 beyond it) and hand the routes a
    stream of exactly those bytes, so form parsing and views never see more."""
    environ = request.environ
    if not get_content_length(environ) and not environ.get("HTTP_TRANSFER_ENCODING"):
        return  # no body (most requests)
    try:
        raw = read_body(environ, int(current_app.config["MAX_CONTENT_LENGTH"]))
    except BodyTooLarge:
        abort(413)
    environ["wsgi.input"] = io.BytesIO(raw)
    environ["CONTENT_LENGTH"] = str(len(raw))
    environ.pop("wsgi.input_terminated", None)


def init_app(app: Flask) -> None:
    """Check bodies before any other hook reads them (called by the app factory before the guard)."""
    app.before_request(enforce_limit)


__all__ = ["BodyTooLarge", "enforce_limit", "init_app", "read_body"]
