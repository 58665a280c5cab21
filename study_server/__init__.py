"""Flask study server: participant pages, JSON API, admin, recruiters.

Production: `gunicorn 'study_server:create_app()'` with STUDY_SECRET_KEY and STUDY_DATABASE_URL set.

Python API (what the commands call): `create_app(config)` builds the app; with it,
`prepare_database(app)` brings the schema to the newest migration, `import_study(app, set_dir,
slug=...)` creates or updates a study from a stimulus set (an `ImportReport`), `save_admin(app, user,
password)` creates an admin; `responses_frame(database_url, slug, secret_key=...)` reads the responses
export (pseudonymised) as a data frame. The recruiters have theirs in `study_server.recruiters`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask
from flask_wtf import CSRFProtect

from study_server import bodies, faults, guard
from study_server.db import configure_engine, engine_options, normalise_url
from study_server.models import db
from study_server.secret import check_secret_strength, load_or_create_secret
from study_server.sessions import LazyCookieSessionInterface

csrf = CSRFProtect()

DEFAULTS: dict[str, Any] = {
    "DATABASE_URL": None,
    "SECRET_KEY": None,
    "MAX_CONTENT_LENGTH": 64 * 1024,
    "WTF_CSRF_TIME_LIMIT": None,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "JSON_BODY_LIMIT": 16 * 1024,
    # Reverse proxies in front of the app (nginx: 1). Their X-Forwarded-For gives the client address
    # that admin login throttling counts; 0 trusts no such header (a client could forge it).
    "PROXY_FIX_X_FOR": 0,
}


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: defaults, then STUDY_* environment variables, then `config` (tests)."""
    instance = (config or {}).get("INSTANCE_PATH") or os.environ.get("STUDY_INSTANCE_PATH") or None
    app = Flask(__name__, instance_relative_config=True, instance_path=instance)
    app.config.from_mapping(DEFAULTS)
    app.config.from_prefixed_env("STUDY")
    if config:
        app.config.from_mapping(config)

    os.makedirs(app.instance_path, exist_ok=True)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = load_or_create_secret(app.instance_path)
    check_secret_strength(app.config["SECRET_KEY"], lenient=bool(app.config.get("TESTING") or app.debug))
    url = app.config.get("DATABASE_URL") or f"sqlite:///{os.path.join(app.instance_path, 'study.sqlite3')}"
    app.config["DATABASE_URL"] = normalise_url(str(url))
    app.config["SQLALCHEMY_DATABASE_URI"] = app.config["DATABASE_URL"]
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", engine_options(app.config["DATABASE_URL"]))

    hops = int(app.config.get("PROXY_FIX_X_FOR") or 0)
    if hops > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        # Flask's own docs wrap wsgi_app this way; mypy sees a method being replaced
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]

    app.session_interface = LazyCookieSessionInterface()
    db.init_app(app)
    with app.app_context():
        configure_engine(db.engine)
    bodies.init_app(app)  # before CSRF and the guard, which read the form
    csrf.init_app(app)
    guard.init_app(app)

    from study_server import admin, answer_endpoint, api, participant, recruiters
    from study_server.cli import register_cli

    app.register_blueprint(participant.bp)
    # Participant pages and API act only through the unguessable token in their URL, which a forging site
    # cannot know; and MTurk shows them in a cross-site iframe where the session cookie CSRF needs is not
    # sent. Admin forms keep CSRF protection.
    csrf.exempt(participant.bp)
    app.register_blueprint(api.bp)
    csrf.exempt(api.bp)
    app.register_blueprint(admin.bp)
    recruiters.init_app(app)
    register_cli(app)
    _register_error_pages(app)
    faults.init_app(app)
    answer_endpoint.install(app)  # last: it reads the final configuration and wraps ProxyFix too
    return app


def _register_error_pages(app: Flask) -> None:
    """JSON errors under /api/ (also for routing 404/405 and 413), short HTML pages elsewhere."""
    from flask import render_template, request
    from werkzeug.exceptions import HTTPException

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> tuple[Any, int]:
        code = exc.code or 500
        text = "request body too large" if code == 413 else (exc.description or exc.name)
        if request.path.startswith("/api/"):
            from study_server.api import json_error

            return json_error(code, text)
        return render_template("message.html", title=exc.name, text=text), code


from study_server.export import responses_frame  # noqa: E402  (needs the app factory's modules)
from study_server.studies import (  # noqa: E402
    ImportReport,
    import_study,
    prepare_database,
    save_admin,
    study_settings,
)

__all__ = [
    "ImportReport",
    "create_app",
    "csrf",
    "db",
    "import_study",
    "prepare_database",
    "responses_frame",
    "save_admin",
    "study_settings",
]
