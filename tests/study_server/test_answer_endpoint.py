"""The answer endpoint runs ahead of Flask (study_server/answer_endpoint.py): it must answer exactly as a
Flask route would: methods, control characters, unexpected errors and lost PostgreSQL connections."""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text

from study_server import answer_endpoint, create_app
from study_server.cli import upgrade_database
from study_server.importer import import_stimulus_set
from study_server.models import Response, db

from .conftest import OPEN
from .helpers import enter, start, trial_labels


def n_responses(app) -> int:
    with app.app_context():
        return int(db.session.scalar(select(func.count(Response.id))) or 0)


def make_app(url: str, instance: Path, small_set: Path, **config):
    """An app on `url` with the small set imported as "tiny"."""
    app = create_app(
        {
            "DATABASE_URL": url,
            "SECRET_KEY": "test-secret-key-not-for-production",
            "WTF_CSRF_ENABLED": False,
            "INSTANCE_PATH": str(instance),
            "TESTING": True,
            **config,
        }
    )
    upgrade_database(url)
    with app.app_context():
        import_stimulus_set(db.session, small_set, slug="tiny", config=OPEN)
        db.session.remove()
    return app


def test_pages_build_the_address_the_endpoint_serves(app, client):
    pid = enter(client)
    start(client, pid)
    page = client.get(f"/p/{pid}/trials")
    assert page.status_code == 200
    assert f"/api/p/{pid}/responses".encode() in page.data  # url_for of the build-only rule
    label = trial_labels(app, pid)[0][1]
    resp = client.post(f"/api/p/{pid}/responses", json={"trial_index": 0, "response": label})
    assert resp.status_code == 201 and resp.json["created"] is True
    assert resp.mimetype == "application/json" and resp.headers["Cache-Control"] == "no-store"


def test_other_methods_get_405_with_allow_and_options_answers(app, client):
    pid = enter(client)
    start(client, pid)
    for method in ("GET", "PUT", "DELETE", "PATCH"):
        resp = client.open(f"/api/p/{pid}/responses", method=method, json={"trial_index": 0})
        assert resp.status_code == 405, method
        assert resp.headers["Allow"] == "OPTIONS, POST"
        assert "not allowed" in resp.json["error"]
    head = client.head(f"/api/p/{pid}/responses")
    assert head.status_code == 405 and head.data == b""
    options = client.options(f"/api/p/{pid}/responses")
    assert options.status_code == 200 and options.headers["Allow"] == "OPTIONS, POST"
    assert n_responses(app) == 0


def test_unknown_and_odd_tokens(app, client):
    resp = client.post("/api/p/nobody/responses", json={"trial_index": 0, "response": 13})
    assert resp.status_code == 404 and resp.json["error"] == "unknown participant"
    # a slash in the token is another address: Flask's JSON 404
    resp = client.post("/api/p/a%2Fb/responses", json={"trial_index": 0, "response": 13})
    assert resp.status_code == 404 and resp.is_json
    resp = client.post("/api/p/\u00e9t\u00e9/responses", json={"trial_index": 0, "response": 13})
    assert resp.status_code == 404 and resp.json["error"] == "unknown participant"


def test_control_characters_in_query_or_own_cookie_are_refused_and_write_nothing(app):
    client = app.test_client(use_cookies=False)
    pid = enter(client)
    start(client, pid)
    label = trial_labels(app, pid)[0][1]
    body = {"trial_index": 0, "response": label}
    url = f"/api/p/{pid}/responses"
    resp = client.post(url, json=body, query_string="next=a%00b")
    assert resp.status_code == 400 and "query string contains control characters" in resp.json["error"]
    resp = client.post(url, json=body, headers={"Cookie": 'study_tiny="a\\000b"'})
    assert resp.status_code == 400 and "cookie" in resp.json["error"]
    assert n_responses(app) == 0
    # another app's cookie is not ours to judge; an ordinary query is ignored
    resp = client.post(url, json=body, headers={"Cookie": 'other="a\\000b"'}, query_string="x=1")
    assert resp.status_code == 201
    assert n_responses(app) == 1


def test_unexpected_error_is_a_logged_json_500_without_traceback(tmp_path, small_set, monkeypatch, caplog):
    url = f"sqlite:///{tmp_path / 'study.sqlite3'}"
    # not TESTING: as in production, an error is answered, not raised (and the key must be strong)
    app = make_app(url, tmp_path / "instance", small_set, TESTING=False, SECRET_KEY=secrets.token_urlsafe(48))
    client = app.test_client()
    pid = enter(client)
    start(client, pid)

    def broken(*_args, **_kwargs):
        raise RuntimeError("a bug, with a secret-looking detail")

    monkeypatch.setattr(answer_endpoint, "save_answer", broken)
    with caplog.at_level(logging.ERROR):
        resp = client.post(f"/api/p/{pid}/responses", json={"trial_index": 0, "response": 13})
    assert resp.status_code == 500 and resp.is_json and resp.json["status"] == 500
    assert b"Traceback" not in resp.data and b"secret-looking" not in resp.data
    assert any("Exception on /api/p/" in r.getMessage() for r in caplog.records)
    with app.app_context():
        db.engine.dispose()


@pytest.mark.postgres
def test_lost_postgresql_connections_are_a_503_then_answers_resume(
    pg_schema_url, postgres_url, tmp_path, small_set
):
    """Backends killed under the pool (a database restart): the save on a dead connection is a 503 that
    the page retries, every pooled connection is replaced, and the retry is stored once. Pooled
    connections go back to the pool out of autocommit, so other requests still get transactions."""
    name = "answers-" + secrets.token_hex(4)
    url = f"{pg_schema_url}&application_name={name}"
    app = make_app(url, tmp_path / "instance", small_set)
    client = app.test_client()
    pid = enter(client)
    start(client, pid)
    labels = [label for _sid, label, _catch in trial_labels(app, pid)]
    assert (
        client.post(f"/api/p/{pid}/responses", json={"trial_index": 0, "response": labels[0]}).status_code
        == 201
    )
    with app.app_context():
        with db.engine.connect() as conn:  # the pool's connection, as the save left it
            assert conn.connection.driver_connection.autocommit is False
        db.session.remove()

    admin = create_engine(postgres_url)
    with admin.begin() as conn:
        killed = conn.execute(
            text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = :n"),
            {"n": name},
        ).scalar()
    admin.dispose()
    assert killed >= 1

    body = {"trial_index": 1, "response": labels[1]}
    first = client.post(f"/api/p/{pid}/responses", json=body)
    assert first.status_code == 503 and first.json["retry"] is True and first.headers["Retry-After"]
    again = client.post(f"/api/p/{pid}/responses", json=body)
    assert again.status_code == 201, again.json
    assert again.json["answered"] == 2
    assert n_responses(app) == 2
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_body_rules_hold_for_every_json_route(app, client):
    """json_body serves the answer endpoint and the Flask routes alike."""
    pid = enter(client)
    start(client, pid)
    for url in (f"/api/p/{pid}/responses", f"/api/p/{pid}/fullscreen-exits"):
        assert client.post(url, data="x", content_type="text/plain").status_code == 415
        assert client.post(url, data="{", content_type="application/json").status_code == 400
        big = '{"count": 1, "pad": "' + "x" * 20_000 + '"}'
        assert client.post(url, data=big, content_type="application/json").status_code == 413
        nested = client.post(url, data="[" * 5000, content_type="application/json")
        assert nested.status_code == 400 and "nested" in nested.json["error"]
    assert client.post(f"/api/p/{pid}/fullscreen-exits", json={"count": 2}).json == {"fullscreen_exits": 2}
    assert n_responses(app) == 0


def test_sqlite_default_needs_nothing_but_the_app(tmp_path: Path, small_set):
    """The endpoint takes the app's own engine: a second app on another file saves into its own file."""
    apps = []
    for k in range(2):
        url = f"sqlite:///{tmp_path / f'study{k}.sqlite3'}"
        app = make_app(url, tmp_path / f"instance{k}", small_set)
        apps.append(app)
    client = apps[1].test_client()
    pid = enter(client)
    start(client, pid)
    label = trial_labels(apps[1], pid)[0][1]
    assert (
        client.post(f"/api/p/{pid}/responses", json={"trial_index": 0, "response": label}).status_code == 201
    )
    assert (n_responses(apps[0]), n_responses(apps[1])) == (0, 1)
    for app in apps:
        with app.app_context():
            db.engine.dispose()
