"""Issue 24, points 6 and 9: the documented deployment (deploy/nginx.conf in front of gunicorn.conf.py)
keeps participants saving while hundreds of slow clients hang on, and two separate gunicorn instances
against one PostgreSQL lose, duplicate and mistake nothing when each participant's requests alternate
between them."""

from __future__ import annotations

import http.client
from collections import Counter
from pathlib import Path
from urllib.parse import urlencode

import pytest
from sqlalchemy import create_engine, func, select, text

from benchmarks.deployment import nginx_binary, start_gunicorn, start_nginx, stop
from benchmarks.slow_clients import (
    SECRET,
    SLUG,
    SlowClients,
    enter,
    percentile,
    prepare_study,
    save_latencies,
)
from study_server.models import Participant, Response

from ..conftest import require_service


@pytest.fixture
def nginx() -> str:
    binary = nginx_binary()
    how = "apt-get install nginx-light (scripts/services.sh does it as root)"
    require_service("nginx", binary is not None, how)
    assert binary is not None
    return binary


@pytest.mark.slow
def test_participants_keep_saving_behind_nginx_with_400_slow_clients(nginx, tmp_path: Path, small_set: Path):
    """Before (gunicorn.conf.py alone): 16 connections that sent headers and one byte of a body held
    all 16 threads and every other request waited 60 s. benchmarks/slow_clients.py measures the same
    against gunicorn alone for comparison."""
    url = f"sqlite:///{tmp_path / 'study.sqlite3'}"
    classes = prepare_study(url, small_set, tmp_path / "instance")
    app, app_port = start_gunicorn(url, SECRET, tmp_path / "instance", tmp_path / "gunicorn.log",
                                   STUDY_PROXY_FIX_X_FOR="1")  # fmt: skip
    front = None
    try:
        front, port = start_nginx(app_port, tmp_path / "nginx")
        pids = [enter(port) for _ in range(4)]
        crowd = SlowClients(port, 200)  # 200 slow bodies and 200 slow headers
        try:
            latencies, statuses = save_latencies(port, pids, classes, 30, n_trials=6, timeout=10)
            held = sum(s is not None for s, _ in crowd.socks)
        finally:
            crowd.close()
        # a body over the limit is refused at the door, chunked or not
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        pieces = (b"x" * 8192 for _ in range(20))
        conn.request("POST", f"/api/p/{pids[0]}/responses", body=pieces, encode_chunked=True,
                     headers={"Content-Type": "application/json"})  # fmt: skip
        assert conn.getresponse().status == 413
        conn.close()
    finally:
        stop(front)
        stop(app)
    assert held >= 390  # the slow clients were really there
    assert statuses == Counter({201: 4 * 6, 200: 4 * 24}), statuses
    assert percentile(latencies, 99) < 1.0


def _port_client(port: int) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", port, timeout=30)


def _call(port: int, method: str, path: str, body: str = "", ctype: str = "", headers: dict | None = None):
    conn = _port_client(port)
    all_headers = {**({"Content-Type": ctype} if ctype else {}), **(headers or {})}
    conn.request(method, path, body=body.encode() if body else None, headers=all_headers)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, resp.getheader("Location") or "", data


@pytest.mark.slow
@pytest.mark.postgres
def test_two_app_servers_on_one_postgresql_alternate_without_loss_or_stale_state(
    pg_schema_url: str, tmp_path: Path, small_set: Path
):
    """Each participant's requests alternate between two gunicorn instances (separate processes, as
    on two machines); every answer is also resent to the other one. Nothing is lost or stored twice,
    a participant who left is refused by both at once, and the consent rate limit and a resume
    permission hold across both (before: no limit at all, so a fourth consent was let in)."""
    classes = prepare_study(pg_schema_url, small_set, tmp_path / "instance")
    env = {"STUDY_PROXY_FIX_X_FOR": "1", "STUDY_CONSENT_MAX_PER_ADDRESS": "3", "WEB_CONCURRENCY": "2"}
    a, port_a = start_gunicorn(pg_schema_url, SECRET, tmp_path / "instance", tmp_path / "a.log", **env)
    b, port_b = None, 0
    try:
        b, port_b = start_gunicorn(pg_schema_url, SECRET, tmp_path / "instance", tmp_path / "b.log", **env)
        ports = (port_a, port_b)
        people = [enter(ports[k % 2]) for k in range(6)]
        for k, pid in enumerate(people):
            for trial in range(6):
                body = f'{{"trial_index": {trial}, "response": {classes[(k + trial) % len(classes)]}}}'
                first, second = ports[(k + trial) % 2], ports[(k + trial + 1) % 2]
                status, _, _ = _call(first, "POST", f"/api/p/{pid}/responses", body, "application/json")
                assert status == 201
                again, _, _ = _call(second, "POST", f"/api/p/{pid}/responses", body, "application/json")
                assert again == 200  # the other server sees the stored answer: a replay
            for port in ports:  # both see the participant finished
                status, location, _ = _call(port, "GET", f"/p/{pid}/trials")
                assert status == 302 and location.endswith("/debrief")

        # a participant who is told to stop on one server is refused by the other at once
        leaver = enter(port_a)
        body = f'{{"trial_index": 0, "response": {classes[0]}}}'
        assert _call(port_b, "POST", f"/api/p/{leaver}/responses", body, "application/json")[0] == 201
        engine = create_engine(pg_schema_url)
        with engine.begin() as conn:
            conn.execute(
                text("UPDATE participants SET status = 'returned' WHERE public_id = :p"), {"p": leaver}
            )
        body = f'{{"trial_index": 1, "response": {classes[0]}}}'
        for port in ports:
            assert _call(port, "POST", f"/api/p/{leaver}/responses", body, "application/json")[0] == 409

        # one address's consents count on both servers together
        form = urlencode({"agree": "yes"})
        forwarded = {"X-Forwarded-For": "203.0.113.77"}
        codes = [
            _call(ports[k % 2], "POST", f"/s/{SLUG}/", form, "application/x-www-form-urlencoded", forwarded)[
                0
            ]
            for k in range(4)
        ]
        assert codes == [302, 302, 302, 429]

        with engine.connect() as conn:
            answers = conn.scalar(select(func.count(Response.id)))
            pairs = conn.execute(select(Response.participant_id, Response.trial_index)).all()
            counted = conn.scalar(select(func.sum(Participant.n_answered)))
        engine.dispose()
        assert answers == 6 * 6 + 1 == len(set(pairs)) == counted
    finally:
        stop(b)
        stop(a)
