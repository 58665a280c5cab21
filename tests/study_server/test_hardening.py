"""Issue 10's probes: race-free entry, images only for their participant, the lifecycle in one place,
honest 503s during outages and storage faults, a refused weak secret, and the Secure cookie."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text

from study_server import create_app
from study_server.cli import alembic_config, upgrade_database
from study_server.importer import import_stimulus_set
from study_server.lifecycle import (
    ACTIVE,
    FINISHED,
    STATUSES,
    TRANSITIONS,
    IllegalTransition,
    set_status,
)
from study_server.models import Participant, Study, db
from study_server.secret import WeakSecretError

from .conftest import OPEN, SECRET
from .helpers import CARD, enter, start, trial_labels

SUBMIT = "https://workersandbox.mturk.com"


def at_once(n: int, fn: Callable[[int], object]) -> list[object]:
    """Run fn(0..n-1) in n threads released by one barrier; re-raise the first error."""
    barrier = threading.Barrier(n)
    results: list[object] = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = fn(i)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    if errors:
        raise errors[0]
    return results


def participants(app, **where) -> list[tuple[str, str | None, str]]:
    with app.app_context():
        query = select(Participant.public_id, Participant.external_id, Participant.recruiter)
        for key, value in where.items():
            query = query.where(getattr(Participant, key) == value)
        rows = [tuple(r) for r in db.session.execute(query)]
        db.session.remove()
        return rows


def test_same_label_entering_ten_times_at_once_is_one_participant(app):
    def go(i: int) -> str:
        return enter(app.test_client(), query=f"?label=person{i % 3}")

    pids = at_once(12, go)
    rows = participants(app)
    assert len(rows) == 3, rows  # one per label, never a duplicate
    by_label = {ext: pid for pid, ext, _ in rows}
    assert all(pid == by_label[f"person{i % 3}"] for i, pid in enumerate(pids))


def test_same_prolific_link_opened_at_once_is_one_participant(app):
    pid_, study_, session_ = "a" * 24, "b" * 24, "c" * 24
    with app.app_context():
        study = db.session.scalars(select(Study).where(Study.slug == "tiny")).one()
        study.recruiter = "prolific"
        study.config = {**study.config, "prolific_study_id": study_}
        db.session.commit()
        db.session.remove()
    query = f"?PROLIFIC_PID={pid_}&STUDY_ID={study_}&SESSION_ID={session_}"
    pids = at_once(8, lambda _i: enter(app.test_client(), query=query))
    assert len(set(pids)) == 1
    assert len(participants(app)) == 1


def test_repeat_worker_racing_into_two_studies_of_one_exclusion_group_gets_one_place(app, small_set):
    """The same MTurk worker accepts assignments of two studies sharing an exclusion group at once:
    exactly one participant exists afterwards, and every other entry is refused or resumed."""
    with app.app_context():
        study = db.session.scalars(select(Study).where(Study.slug == "tiny")).one()
        study.recruiter, study.config = "mturk", {**study.config, "exclusion_group": "signs"}
        db.session.commit()
        import_stimulus_set(
            db.session,
            small_set,
            slug="tiny2",
            recruiter="mturk",
            config={**OPEN, "exclusion_group": "signs"},
        )
        db.session.remove()

    def go(i: int) -> int:
        slug = ("tiny", "tiny2")[i % 2]
        query = (
            f"?assignmentId=3ASSIGN{i:022d}&hitId=3HIT{i % 2:025d}"
            f"&workerId=A1WORKER0000001&turkSubmitTo={SUBMIT}"
        )
        return app.test_client().post(f"/s/{slug}/{query}", data={"agree": "yes"}).status_code

    codes = at_once(10, go)
    assert set(codes) <= {302, 403}, codes
    assert len(participants(app, recruiter="mturk")) == 1


def test_unique_constraint_backs_up_the_entry_lock(app):
    enter(app.test_client(), query="?label=alice")
    with app.app_context():
        study = db.session.scalars(select(Study).where(Study.slug == "tiny")).one()
        first = db.session.scalars(select(Participant)).one()
        twin = Participant(
            public_id="x" * 32,
            study_id=study.id,
            recruiter="link",
            external_id="alice",
            seed=1,
            list_id=first.list_id,
        )
        db.session.add(twin)
        with pytest.raises(Exception, match=r"(?i)unique"):
            db.session.commit()
        db.session.rollback()
        db.session.remove()


def test_images_are_served_only_to_a_participant_whose_list_holds_them(app, client):
    a, b = app.test_client(), app.test_client()
    pa, pb = enter(a), enter(b)
    with app.app_context():
        order = {p.public_id: set(p.trial_order) for p in db.session.scalars(select(Participant))}
        db.session.remove()
    assert order[pa] != order[pb]  # two lists (Latin square over regular/negative)
    for sid in order[pa]:
        assert a.get(f"/p/{pa}/img/{sid}").status_code == 200
    foreign = order[pb] - order[pa]
    assert foreign
    for sid in foreign:
        assert a.get(f"/p/{pa}/img/{sid}").status_code == 404  # not in this participant's list
        assert a.get(f"/p/{pb}x/img/{sid}").status_code == 404


def test_lifecycle_refuses_illegal_moves_and_groups_are_disjoint(app, client):
    pid = enter(client)
    with app.app_context():
        p = db.session.scalars(select(Participant).where(Participant.public_id == pid)).one()
        with pytest.raises(IllegalTransition):
            set_status(db.session, p, "completed")  # allocated -> completed skips consent and trials
        with pytest.raises(ValueError):
            set_status(db.session, p, "finished")  # not a status
        db.session.rollback()
        db.session.remove()
    assert not ACTIVE & FINISHED
    assert set(TRANSITIONS) == set(STATUSES)
    assert all(targets <= set(STATUSES) for targets in TRANSITIONS.values())
    start(client, pid)
    assert client.post(f"/p/{pid}/consent", data={"agree": "yes"}).status_code == 302  # no second event
    with app.app_context():
        p = db.session.scalars(select(Participant).where(Participant.public_id == pid)).one()
        assert [e.status for e in p.events] == ["allocated", "consented", "started"]
        db.session.remove()


def test_departed_participant_sees_an_ended_page_not_a_redirect_loop(app, client):
    pid = enter(client)
    with app.app_context():
        p = db.session.scalars(select(Participant).where(Participant.public_id == pid)).one()
        set_status(db.session, p, "abandoned")
        db.session.commit()
        db.session.remove()
    for path in ("consent", "trials", "debrief"):
        resp = client.get(f"/p/{pid}/{path}", follow_redirects=True)
        assert resp.status_code == 410 and b"session has ended" in resp.data


@pytest.mark.parametrize("key", ["dev", "x", "a" * 31])
def test_short_secret_key_is_refused_outside_testing(tmp_path, key):
    config = {
        "SECRET_KEY": key,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'k.db'}",
        "INSTANCE_PATH": str(tmp_path),
    }
    with pytest.raises(WeakSecretError, match="too short"):
        create_app(config)
    assert create_app({**config, "TESTING": True}).config["SECRET_KEY"] == key  # tests may use short keys


def test_weak_secret_is_one_clear_line_from_the_cli(tmp_path, monkeypatch, capsys):
    from study_server.cli import main

    monkeypatch.setenv("STUDY_SECRET_KEY", "dev")
    monkeypatch.setenv("STUDY_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("STUDY_DATABASE_URL", f"sqlite:///{tmp_path / 'k.db'}")
    assert main(["list-studies"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: STUDY_SECRET_KEY is too short") and "Traceback" not in err


def test_participant_cookie_is_secure_when_configured(app, client):
    assert "Secure" not in client.post("/s/tiny/", data={"agree": "yes"}).headers["Set-Cookie"]
    app.config["SESSION_COOKIE_SECURE"] = True
    cookie = app.test_client().post("/s/tiny/", data={"agree": "yes"}).headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie


def test_database_outage_is_a_503_page_and_json_not_a_500(tmp_path, caplog):
    """Nothing listens on the PostgreSQL port: pages, images and the API answer 503 with Retry-After."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: connection refused
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": SECRET,
            "INSTANCE_PATH": str(tmp_path),
            "DATABASE_URL": f"postgresql+psycopg://u:p@127.0.0.1:{port}/none?connect_timeout=2",
        }
    )
    client = app.test_client()
    with caplog.at_level(logging.WARNING, logger="study_server.faults"):
        for path in ("/s/tiny/", "/p/" + "a" * 32 + "/consent", "/p/" + "a" * 32 + "/img/" + "0" * 32):
            resp = client.get(path)
            assert resp.status_code == 503 and resp.headers["Retry-After"]
            assert b"try again in a moment" in resp.data and b"Traceback" not in resp.data
        api = client.post("/api/p/" + "a" * 32 + "/responses", json={"trial_index": 0, "response": 13})
        assert api.status_code == 503 and api.get_json()["fault"] == "busy"
    assert any("busy fault" in r.getMessage() for r in caplog.records)
    assert "u:p@" not in caplog.text  # the URL's password never reaches the log


def test_read_only_database_is_reported_as_a_storage_fault(tmp_path, small_set, caplog):
    url = f"sqlite:///{tmp_path / 'ro.sqlite3'}"
    writable = create_app(
        {"TESTING": True, "SECRET_KEY": SECRET, "INSTANCE_PATH": str(tmp_path), "DATABASE_URL": url}
    )
    upgrade_database(url)
    with writable.app_context():
        import_stimulus_set(db.session, small_set, slug="tiny", config=OPEN)
        db.session.remove()
    pid = enter(writable.test_client())
    start(writable.test_client(), pid)
    with writable.app_context():
        db.engine.dispose()
    ro = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": SECRET,
            "INSTANCE_PATH": str(tmp_path),
            "DATABASE_URL": f"sqlite:///file:{tmp_path / 'ro.sqlite3'}?mode=ro&uri=true",
        }
    )
    with caplog.at_level(logging.WARNING, logger="study_server.faults"):
        resp = ro.test_client().post(
            f"/api/p/{pid}/responses", json={"trial_index": 0, "response": 13, "rt_ms": 5}
        )
    assert resp.status_code == 503
    body = resp.get_json()
    assert body["fault"] == "storage" and "cannot store answers" in body["error"]
    assert any(r.levelno == logging.ERROR and "storage fault" in r.getMessage() for r in caplog.records)
    with ro.app_context():
        db.engine.dispose()


def test_migration_keeps_earlier_duplicates_under_a_marked_id(tmp_path):
    """A database from before the unique constraint, with a raced duplicate, upgrades cleanly."""
    from alembic import command

    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    command.upgrade(alembic_config(url), "0002_mturk")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO studies (id, slug, name, recruiter, config, stimulus_dir, stimulus_hash, "
                "classes, conditions, created_at) "
                "VALUES (1, 's', 's', 'link', '{}', '', '', '[]', '[]', '2026-01-01')"
            )
        )
        for i in (1, 2):
            conn.execute(
                text(
                    "INSERT INTO participants (id, public_id, study_id, status, recruiter, external_id, "
                    "recruiter_data, simulated, seed, trial_order, legend_order, created_at) VALUES "
                    f"({i}, 'pub{i}', 1, 'allocated', 'link', 'alice', '{{}}', 0, 0, '[]', '[]', "
                    "'2026-01-01')"
                )
            )
    upgrade_database(url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, external_id FROM participants ORDER BY id")).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [(1, "alice"), (2, "alice#dup2")]


@pytest.mark.slow
def test_hundred_participants_at_once_through_consent_and_start_on_sqlite(tmp_path: Path, small_set: Path):
    """A real threaded server on SQLite: 100 people enter, consent and start at the same moment; no
    "database is locked", no 5xx, and every one of them ends up started exactly once."""
    import http.client
    from urllib.parse import urlencode, urlsplit

    from .live_server import LiveServer

    url = f"sqlite:///{tmp_path / 'many.sqlite3'}"
    setup = create_app(
        {"TESTING": True, "SECRET_KEY": SECRET, "INSTANCE_PATH": str(tmp_path / "i"), "DATABASE_URL": url}
    )
    upgrade_database(url)
    with setup.app_context():
        import_stimulus_set(db.session, small_set, slug="tiny", config=OPEN)
        db.session.remove()
        db.engine.dispose()
    srv = LiveServer(url, SECRET, tmp_path / "i", tmp_path / "server.log")
    srv.start()
    host = urlsplit(srv.url)

    def request(method: str, path: str, body: str | None = None) -> tuple[int, str]:
        conn = http.client.HTTPConnection(host.hostname, host.port, timeout=60)
        headers = {"Content-Type": "application/x-www-form-urlencoded"} if body is not None else {}
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        resp.read()
        conn.close()
        return resp.status, resp.getheader("Location") or ""

    def person(i: int) -> list[int]:
        code, location = request("POST", f"/s/tiny/?label=p{i}", "agree=yes")
        pid = location.split("/p/")[1].split("/")[0]
        consent, _ = request("POST", f"/p/{pid}/consent", "agree=yes")
        request("POST", f"/p/{pid}/calibrate", urlencode(CARD))
        started, _ = request("POST", f"/p/{pid}/start")
        return [code, consent, started]

    try:
        codes = at_once(100, person)
    finally:
        srv.kill()
    assert all(c == [302, 302, 302] for c in codes), [c for c in codes if c != [302, 302, 302]][:5]
    check = create_app(
        {"TESTING": True, "SECRET_KEY": SECRET, "INSTANCE_PATH": str(tmp_path / "i"), "DATABASE_URL": url}
    )
    with check.app_context():
        statuses = db.session.scalars(select(Participant.status)).all()
        db.session.remove()
        db.engine.dispose()
    assert sorted(statuses) == ["started"] * 100
    assert "database is locked" not in (tmp_path / "server.log").read_text()


def test_export_says_completed_and_paid_from_the_lifecycle(app, client):
    from study_server.export import frame_from_session

    pid = enter(client)
    start(client, pid)
    with app.app_context():
        p = db.session.scalars(select(Participant).where(Participant.public_id == pid)).one()
        for i, (_sid, label, _catch) in enumerate(trial_labels(app, pid)):
            assert (
                client.post(f"/api/p/{pid}/responses", json={"trial_index": i, "response": label}).status_code
                == 201
            )
        db.session.rollback()  # the answers were written on other connections: see them afresh
        frame = frame_from_session(db.session, SECRET, "tiny")
        assert frame["completed"].all() and not frame["paid"].any()
        db.session.rollback()  # a fresh snapshot before writing (SQLite refuses to upgrade a stale one)
        p = db.session.scalars(select(Participant).where(Participant.public_id == pid)).one()
        set_status(db.session, p, "approved")
        db.session.commit()
        frame = frame_from_session(db.session, SECRET, "tiny")
        assert frame["completed"].all() and frame["paid"].all()
        db.session.remove()


def test_proxy_fix_gives_the_forwarded_client_address_only_when_configured(app):
    from flask import request

    @app.get("/_addr")
    def _addr() -> str:
        return request.remote_addr or ""

    headers = {"X-Forwarded-For": "203.0.113.9"}
    assert app.test_client().get("/_addr", headers=headers).data == b"127.0.0.1"
    behind = create_app({**app.config, "PROXY_FIX_X_FOR": 1})
    behind.add_url_rule("/_addr", view_func=_addr)
    assert behind.test_client().get("/_addr", headers=headers).data == b"203.0.113.9"
