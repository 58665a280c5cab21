"""Issue 24, points 5 and 7: every body over its limit is a 413 (chunked included), nobody posts after
leaving the study, and a PostgreSQL outage is a 503 with Retry-After on every route, the answer
endpoint included."""

from __future__ import annotations

import http.client
import threading
import time
from collections import Counter

import pytest
from sqlalchemy import create_engine, func, select
from werkzeug.serving import make_server

from study_server import create_app
from study_server.cli import upgrade_database
from study_server.importer import import_stimulus_set
from study_server.models import Response, db

from .conftest import OPEN, SECRET
from .helpers import enter, start, trial_labels
from .tcp_proxy import CuttableProxy


def _chunked(port: int, path: str, body: bytes, content_type: str) -> tuple[int, bytes]:
    """POST `body` with Transfer-Encoding: chunked and no Content-Length, as curl -T - does."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    pieces = (body[i : i + 4096] for i in range(0, len(body), 4096))
    conn.request("POST", path, body=pieces, headers={"Content-Type": content_type}, encode_chunked=True)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, data


@pytest.fixture
def served(app):
    """The app behind werkzeug's threaded server, which decodes chunked bodies (wsgi.input_terminated)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_port
    server.shutdown()


def test_chunked_bodies_over_the_limit_are_refused_everywhere(app, client, served):
    """Before: a chunked answer with 1 MB behind it was cut at 16 KiB and stored (201)."""
    pid = enter(client)
    start(client, pid)
    label = trial_labels(app, pid)[0][1]
    pad = b" " * 1_000_000  # JSON allows trailing white space: the first 16 KiB alone are a valid answer
    answer = b'{"trial_index": 0, "response": %d}' % label
    for path in (f"/api/p/{pid}/responses", f"/api/p/{pid}/fullscreen-exits"):
        body = answer if path.endswith("responses") else b'{"count": 1}'
        status, data = _chunked(served, path, body + pad, "application/json")
        assert status == 413 and b"too large" in data, (path, data[:200])
    # Flask's form routes (limit MAX_CONTENT_LENGTH = 64 KiB), and a route that reads no body at all
    form = b"agree=yes&x=" + b"a" * 100_000
    for path in ("/s/tiny/", f"/p/{pid}/consent", f"/p/{pid}/start", "/admin/login"):
        status, _ = _chunked(served, path, form, "application/x-www-form-urlencoded")
        assert status == 413, path
    # a small chunked answer still works
    status, data = _chunked(served, f"/api/p/{pid}/responses", answer, "application/json")
    assert status == 201, data
    assert client.post(f"/p/{pid}/start", data={"x": "a" * 70_000}).status_code == 413


def test_nobody_posts_after_leaving_or_finishing(app, client):
    """Before: /fullscreen-exits accepted reports after completion."""
    pid = enter(client)
    start(client, pid)
    url = f"/api/p/{pid}/fullscreen-exits"
    assert client.post(url, json={"count": 1}).status_code == 200
    for index, (_sid, label, _catch) in enumerate(trial_labels(app, pid)):
        client.post(f"/api/p/{pid}/responses", json={"trial_index": index, "response": label})
    late = client.post(url, json={"count": 5})
    assert late.status_code == 409 and late.json["status_now"] == "completed"
    other = next(c for c in (13, 14, 17) if c != trial_labels(app, pid)[0][1])
    assert (
        client.post(f"/api/p/{pid}/responses", json={"trial_index": 0, "response": other}).status_code == 409
    )


@pytest.mark.postgres
@pytest.mark.slow
def test_postgresql_outage_under_load_is_503_never_500(pg_schema_url, tmp_path, small_set):
    """Before: 46 of 53 answers during a 10 s stop were 500s (the fast path's raw_connection let
    psycopg's OperationalError through). Participants answer in threads while the database's
    connection is cut for 2 s; every request is answered 2xx or 503 with Retry-After, and every
    answer ends up stored once."""
    upgrade_database(pg_schema_url)
    proxy = CuttableProxy(pg_schema_url)
    app = create_app(
        {
            "DATABASE_URL": proxy.url,
            "SECRET_KEY": SECRET,
            "WTF_CSRF_ENABLED": False,
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "PROPAGATE_EXCEPTIONS": False,
            "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 4, "max_overflow": 4, "pool_timeout": 2,
                                          "connect_args": {"connect_timeout": 2}},
        }
    )  # fmt: skip
    with app.app_context():
        import_stimulus_set(db.session, small_set, slug="tiny", config={**OPEN, "calibration": "none"})
        db.session.remove()
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    people = []
    for _ in range(4):
        client = app.test_client()
        pid = enter(client)
        start(client, pid)
        people.append((client, pid, trial_labels(app, pid)))

    def answer_all(client, pid, labels) -> None:
        for index, (_sid, label, _catch) in enumerate(labels):
            while True:
                resp = client.post(f"/api/p/{pid}/responses", json={"trial_index": index, "response": label})
                page = client.get(f"/p/{pid}/trials")
                with lock:
                    statuses[resp.status_code] += 1
                    statuses[page.status_code] += 1
                if resp.status_code == 503:
                    assert resp.headers["Retry-After"] and resp.json["retry"] is True
                if page.status_code == 503:
                    assert page.headers["Retry-After"]
                if resp.status_code in (200, 201):
                    break
                time.sleep(0.2)
            time.sleep(0.15)

    threads = [threading.Thread(target=answer_all, args=person) for person in people]
    for t in threads:
        t.start()
    time.sleep(0.3)
    proxy.cut()
    time.sleep(2.0)
    proxy.restore()
    for t in threads:
        t.join(timeout=120)
    proxy.close()
    assert statuses[500] == 0, statuses
    assert statuses[503] > 0, statuses  # the outage was seen
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    engine = create_engine(pg_schema_url)
    with engine.connect() as conn:
        n = conn.scalar(select(func.count(Response.id)))
    engine.dispose()
    assert n == sum(len(labels) for _c, _p, labels in people)
