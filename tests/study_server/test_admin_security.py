"""Admin login security (issue 10): database-backed throttling, server-side sessions, safe `next=`.

Every test runs on SQLite and PostgreSQL through the `app` fixture. Password hashing (scrypt) takes
about 0.1 s, so each test creates its admin once and keeps the number of login attempts small.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from datetime import UTC, timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select, update

from study_server.admin import SESSION_KEY, SETTINGS, _safe_next, client_address, create_admin
from study_server.models import AdminLoginFailure, AdminSession, db, utcnow

PASSWORD = "correct horse battery"
CSV = "/admin/study/tiny/responses.csv"


@pytest.fixture
def admin(app):
    with app.app_context():
        create_admin("ada", PASSWORD)
    return "ada"


def login(client, username="ada", password=PASSWORD, address="192.0.2.10", query=""):
    return client.post(
        f"/admin/login{query}",
        data={"username": username, "password": password},
        environ_base={"REMOTE_ADDR": address},
    )


def age_failures(app, minutes: float) -> None:
    """Move every recorded failure `minutes` into the past (instead of sleeping through the window)."""
    with app.app_context():  # in Python: SQLite cannot subtract an interval from its stored text
        for row in db.session.scalars(select(AdminLoginFailure)):
            at = row.at if row.at.tzinfo else row.at.replace(tzinfo=UTC)
            row.at = at - timedelta(minutes=minutes)
        db.session.commit()


def test_account_lockout_answers_429_without_checking_the_password(app, client, admin, caplog):
    """Issue 24: the lock holds the guessing address only. Before, five wrong passwords from anywhere
    locked the admin out for 15 minutes, the right password from another address included."""
    limit = SETTINGS["ADMIN_LOGIN_MAX_PER_USER"]
    caplog.set_level(logging.WARNING)
    for _ in range(limit - 1):
        assert login(client, password="wrong password 1").status_code == 401
    # a success clears the counter of this user at this address: the full number is allowed again
    assert login(client).status_code == 302
    client.post("/admin/logout")
    for _ in range(limit):
        assert login(client, password="wrong password 2").status_code == 401

    locked = login(client)  # the right password, but locked: not even checked
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) == SETTINGS["ADMIN_LOGIN_DELAY"]
    assert "Too many failed logins" in locked.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302
    # the admin at another address is not held up by someone else's guessing
    other = app.test_client()
    assert login(other, address="198.51.100.7").status_code == 302
    assert other.get(CSV).status_code == 200

    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    failed = [r.getMessage() for r in warnings if "failed admin login" in r.getMessage()]
    assert len(failed) == 2 * limit - 1
    assert all("'ada'" in m and "192.0.2.10" in m for m in failed)
    assert any("locked until" in r.getMessage() for r in warnings)
    assert any("refused" in r.getMessage() and "192.0.2.10" in r.getMessage() for r in warnings)
    for record in caplog.records:
        text = record.getMessage()
        assert "wrong password" not in text and PASSWORD not in text

    age_failures(app, SETTINGS["ADMIN_LOGIN_WINDOW"] / 60 + 1)  # the window passes: the lock lifts
    assert login(client).status_code == 302
    assert client.get(CSV).status_code == 200


def test_each_further_failure_doubles_the_wait(app, client, admin):
    limit, delay = SETTINGS["ADMIN_LOGIN_MAX_PER_USER"], SETTINGS["ADMIN_LOGIN_DELAY"]
    for _ in range(limit):
        login(client, password="wrong password")
    waits = []
    for _ in range(3):
        waits.append(int(login(client, password="wrong password").headers["Retry-After"]))
        age_failures(app, (waits[-1] + 1) / 60)  # sit out the wait, then fail once more
        assert login(client, password="wrong password").status_code == 401
    assert waits == [delay, 2 * delay, 4 * delay]


def test_guessing_one_name_from_many_addresses_spares_the_admins_own_address(app, admin):
    app.config["ADMIN_LOGIN_MAX_PER_USER_ALL"] = 6
    home = app.test_client()
    assert login(home).status_code == 302  # 192.0.2.10 is now one of ada's addresses
    for n in range(6):
        assert login(app.test_client(), password="guess", address=f"203.0.113.{n}").status_code == 401
    assert login(app.test_client(), address="203.0.113.200").status_code == 429  # a new address waits
    assert login(app.test_client()).status_code == 302  # her own does not


def test_admin_pages_cannot_be_framed_and_participant_pages_still_can(app, client, admin):
    for resp in (client.get("/admin/login"), login(client), client.get("/admin/study/tiny")):
        assert resp.headers["X-Frame-Options"] == "DENY"
        policy = resp.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in policy and "default-src 'self'" in policy
    page = app.test_client().get("/s/tiny/")  # MTurk shows the study in a cross-site frame
    assert page.status_code == 200
    assert "X-Frame-Options" not in page.headers
    assert "frame-ancestors" not in page.headers.get("Content-Security-Policy", "")


@pytest.mark.parametrize(
    ("password", "words"),
    [
        ("password", "at least 12 characters"),
        ("Password1234", "most common"),
        ("my name is ada!", "user name"),
        ("abababababababab", "too few different"),
    ],
)
def test_weak_admin_passwords_are_refused_with_a_clear_message(app, password, words):
    """Before: `create-admin` accepted "password"."""
    with app.app_context(), pytest.raises(ValueError, match=words):
        create_admin("ada", password)


def test_address_limit_counts_different_user_names(app, admin, caplog):
    limit = SETTINGS["ADMIN_LOGIN_MAX_PER_ADDRESS"]
    client = app.test_client()
    for i in range(limit):
        assert login(client, username=f"guess{i}", password="x" * 8, address="203.0.113.5").status_code == 401
    # the address is locked for every user name, even with the right password for a real account
    assert login(client, address="203.0.113.5").status_code == 429
    # another address is not
    assert login(app.test_client(), address="203.0.113.6").status_code == 302
    with app.app_context():
        # the success cleared ada's counter only; the guesses still count against their address
        n = db.session.scalar(
            select(func.count())
            .select_from(AdminLoginFailure)
            .where(AdminLoginFailure.address == "203.0.113.5")
        )
        assert n == limit
    # a user name that hides control characters and a long tail is logged escaped and cut short
    caplog.clear()
    caplog.set_level(logging.WARNING)
    assert login(client, username="evil\r\nINFO fake" + "y" * 500, address="192.0.2.99").status_code == 401
    (message,) = [r.getMessage() for r in caplog.records if "failed admin login" in r.getMessage()]
    assert "\n" not in message and "\\r\\n" in message and len(message) < 200


def test_racing_workers_never_check_more_than_the_limit(app, admin, monkeypatch):
    """Concurrent requests from one address (as gunicorn's workers serve them) share the database
    counter, and the attempt is counted before the password is checked, so at most the limit of
    passwords is ever tried."""
    import study_server.admin as admin_module

    checks, lock, codes = [], threading.Lock(), []
    real_check = admin_module.check_password_hash

    def counting(pwhash: str, password: str) -> bool:
        with lock:
            checks.append(password)
        return real_check(pwhash, password)

    monkeypatch.setattr(admin_module, "check_password_hash", counting)

    def attack(n: int) -> None:
        client = app.test_client()
        for _ in range(3):
            code = login(client, password="wrong password", address=f"192.0.2.{n}").status_code
            with lock:
                codes.append(code)

    threads = [threading.Thread(target=attack, args=(0,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(codes) == 12 and set(codes) <= {401, 429}
    assert codes.count(401) == len(checks) <= SETTINGS["ADMIN_LOGIN_MAX_PER_USER"]


def test_ipv6_clients_count_per_64(app):
    with app.test_request_context(environ_base={"REMOTE_ADDR": "2001:db8:1:2:aaaa::1"}):
        first = client_address()
    with app.test_request_context(environ_base={"REMOTE_ADDR": "2001:db8:1:2:bbbb::9"}):
        assert client_address() == first == "2001:db8:1:2::/64"
    with app.test_request_context(environ_base={"REMOTE_ADDR": "::ffff:192.0.2.1"}):
        assert client_address() == "192.0.2.1"


def test_logout_revokes_a_saved_cookie(app, client, admin):
    assert login(client).status_code == 302
    assert client.get(CSV).status_code == 200
    saved = client.get_cookie("session").value
    # the cookie holds only the token; the database only its SHA-256
    data = app.session_interface.get_signing_serializer(app).loads(saved)
    assert set(data) == {SESSION_KEY}
    with app.app_context():
        (row,) = db.session.scalars(select(AdminSession)).all()
        assert row.token_hash == hashlib.sha256(data[SESSION_KEY].encode()).hexdigest()
        assert row.token_hash != data[SESSION_KEY]

    assert client.post("/admin/logout").status_code == 302
    replay = app.test_client()
    replay.set_cookie("session", saved)
    resp = replay.get(CSV)
    assert resp.status_code == 302 and "/admin/login" in resp.headers["Location"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AdminSession)) == 0


def test_password_reset_ends_every_session_of_that_user(app, admin):
    first, second = app.test_client(), app.test_client()
    assert login(first).status_code == 302 and login(second).status_code == 302
    assert first.get(CSV).status_code == 200 and second.get("/admin/").status_code == 200
    with app.app_context():
        create_admin("ada", "a brand new passphrase")
        assert db.session.scalar(select(func.count()).select_from(AdminSession)) == 0
    for client in (first, second):
        resp = client.get(CSV)
        assert resp.status_code == 302 and "/admin/login" in resp.headers["Location"]
    assert login(first).status_code == 401
    assert login(first, password="a brand new passphrase").status_code == 302


def test_idle_and_absolute_expiry(app, client, admin):
    assert login(client).status_code == 302
    with app.app_context():
        idle = timedelta(seconds=SETTINGS["ADMIN_SESSION_IDLE"])
        db.session.execute(update(AdminSession).values(last_seen_at=utcnow() - idle - timedelta(minutes=1)))
        db.session.commit()
    assert client.get("/admin/").status_code == 302  # idle too long
    assert login(client).status_code == 302
    with app.app_context():
        db.session.execute(update(AdminSession).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    assert client.get("/admin/").status_code == 302  # past the absolute lifetime, though just used
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AdminSession)) == 0


BAD_NEXT = (
    "%0d%0aSet-Cookie:%20x=y",
    "/admin/%0d%0aLocation:%20https://evil.example",
    "//evil.example/admin/",
    "/%5Cevil.example",
    "/%5C%5Cevil.example/admin/",
    "https://x.example/admin/",
    "javascript:alert(1)",
    "/admin/../evil",
    "/elsewhere",
)


def test_next_only_leads_inside_the_admin_area(app, client, admin):
    for raw in BAD_NEXT:
        resp = login(client, query=f"?next={raw}")
        # 400: the app refused control characters before the view; otherwise the view chose the index
        assert resp.status_code in (302, 400), raw
        if resp.status_code == 302:
            location = urlsplit(resp.headers["Location"])
            assert location.netloc in ("", "localhost") and location.path == "/admin/", raw
    resp = login(client, query="?next=/admin/study/tiny")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/admin/study/tiny")
    # the view's own check, whatever runs before it
    with app.test_request_context():
        for target in ("\r\n", "/admin/\r\nX: y", "/admin/\x00", "/admin/\\x", "/admin/é", ""):
            assert _safe_next(target) == "/admin/"
        assert _safe_next("/admin/study/tiny?x=1") == "/admin/study/tiny?x=1"
