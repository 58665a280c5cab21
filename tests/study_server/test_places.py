"""Issue 24, points 1 (what the server draws), 2, 3 and 4: a place is held only by someone taking part,
a session belongs to the browser that started it, consent happens once, and the legend tells nothing
about the trial order or the list."""

from __future__ import annotations

import random
import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from study_server import lists, participant
from study_server.admin import create_admin
from study_server.lists import allocate_participant
from study_server.models import Participant, StatusEvent, Study, TrialList, db, utcnow

from .helpers import calibrate, enter

PID, STUDY, SESSION = "a1" * 12, "b2" * 12, "c3" * 12


def _people(app) -> list[Participant]:
    with app.app_context():
        rows = list(db.session.scalars(select(Participant).order_by(Participant.id)))
        db.session.expunge_all()
        return rows


def _configure(app, **config) -> None:
    with app.app_context():
        study = db.session.scalars(select(Study).where(Study.slug == "tiny")).one()
        study.config = {**study.config, **config}
        db.session.commit()
        db.session.remove()


def _client_at(app, address: str):
    """A new browser (no cookies) whose requests come from `address`."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


# --- point 2: places, rate limit, Prolific entries ---------------------------------------------------


def test_idle_consented_places_come_back_and_the_person_is_told_kindly(app):
    """Before: with viewers_per_stimulus=1 (2 places), two consent POSTs filled the study for good."""
    _configure(app, viewers_per_stimulus=1)
    squatters = [app.test_client() for _ in range(2)]
    for c in squatters:
        enter(c)
    late = app.test_client()
    assert late.post("/s/tiny/", data={"agree": "yes"}).status_code == 403  # full
    with app.app_context():  # 31 minutes pass (idle_release_minutes defaults to 30)
        db.session.execute(update(StatusEvent).values(at=utcnow() - timedelta(minutes=31)))
        db.session.commit()
        db.session.remove()
    assert late.get("/s/tiny/").status_code == 200  # the link says there is room again
    enter(late)
    enter(app.test_client())
    back = squatters[0].get("/s/tiny/", follow_redirects=True)
    assert back.status_code == 410 and b"inactive for too long" in back.data
    assert [p.status for p in _people(app)] == ["abandoned", "abandoned", "consented", "consented"]
    with app.app_context():
        assert sorted(db.session.scalars(select(TrialList.n_assigned))) == [1, 1]


def test_consent_posts_are_rate_limited_per_address(app):
    """Before: an anonymous client could post the consent form without limit, one place each."""
    app.config["CONSENT_MAX_PER_ADDRESS"] = 3
    for _ in range(3):
        enter(app.test_client())
    for _ in range(3):
        assert _client_at(app, "203.0.113.7").post("/s/tiny/", data={"agree": "yes"}).status_code == 302
    refused = _client_at(app, "203.0.113.7").post("/s/tiny/", data={"agree": "yes"})
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 3000
    assert _client_at(app, "198.51.100.9").post("/s/tiny/", data={"agree": "yes"}).status_code == 302
    # the three loopback entries above came through a local proxy that forwards no address: not limited
    assert len(_people(app)) == 3 + 3 + 1


@pytest.mark.parametrize(
    ("config", "query"),
    [
        ({}, f"?PROLIFIC_PID={PID}&STUDY_ID={STUDY}&SESSION_ID={SESSION}"),  # study not linked yet
        ({"prolific_study_id": STUDY}, f"?PROLIFIC_PID={PID}&STUDY_ID={'d4' * 12}&SESSION_ID={SESSION}"),
        ({"prolific_study_id": STUDY}, f"?STUDY_ID={STUDY}&SESSION_ID={SESSION}"),
    ],
)
def test_prolific_entries_need_the_pid_and_this_studys_id(app, config, query):
    """Before: a Prolific study without prolific_study_id took any made-up STUDY_ID."""
    with app.app_context():
        study = db.session.scalars(select(Study).where(Study.slug == "tiny")).one()
        study.recruiter = "prolific"
        study.config = {**study.config, **config}
        db.session.commit()
        db.session.remove()
    client = app.test_client()
    assert client.get(f"/s/tiny/{query}").status_code == 400
    assert client.post(f"/s/tiny/{query}", data={"agree": "yes"}).status_code == 400
    assert _people(app) == []


# --- point 3: a session belongs to its browser --------------------------------------------------------


def test_another_browser_with_the_same_label_is_not_let_in_until_the_researcher_allows(app):
    """Before: /s/tiny/?label=alice in any browser resumed alice's session (and took her answers)."""
    alice = app.test_client()
    pid = enter(alice, query="?label=alice")
    thief = app.test_client()
    for resp in (
        thief.get("/s/tiny/?label=alice"),
        thief.post("/s/tiny/?label=alice", data={"agree": "yes"}),
    ):
        assert resp.status_code == 409 and b"continue where you started" in resp.data
        assert pid.encode() not in resp.data and "Location" not in resp.headers
    assert enter(alice, query="?label=alice") == pid  # her own browser continues
    # the researcher lets her continue on a new device, once
    with app.app_context():
        create_admin("ada", "a long enough passphrase")
    admin = app.test_client()
    admin.post("/admin/login", data={"username": "ada", "password": "a long enough passphrase"})
    page = admin.post("/admin/study/tiny/allow-resume", data={"external_id": "alice"})
    assert page.status_code == 200 and b"may now continue" in page.data
    laptop = app.test_client()
    moved = laptop.get("/s/tiny/?label=alice")
    assert moved.status_code == 302 and f"/p/{pid}/" in moved.headers["Location"]
    assert laptop.get("/s/tiny/?label=alice").status_code == 302  # the cookie now holds it
    assert app.test_client().get("/s/tiny/?label=alice").status_code == 409  # used up
    assert len(_people(app)) == 1


def test_a_different_prolific_session_is_a_second_attempt_never_an_overwrite(app):
    """Before: a third party holding a PROLIFIC_PID replaced the stored SESSION_ID."""
    _configure(app)
    with app.app_context():
        study = db.session.scalars(select(Study).where(Study.slug == "tiny")).one()
        study.recruiter, study.config = "prolific", {**study.config, "prolific_study_id": STUDY}
        db.session.commit()
        db.session.remove()
    first = f"?PROLIFIC_PID={PID}&STUDY_ID={STUDY}&SESSION_ID={SESSION}"
    second = f"?PROLIFIC_PID={PID}&STUDY_ID={STUDY}&SESSION_ID={'e5' * 12}"
    owner = app.test_client()
    pid = enter(owner, query=first)
    assert app.test_client().get(f"/s/tiny/{second}").status_code == 409  # someone else
    assert owner.get(f"/s/tiny/{second}").status_code == 302  # the owner, returned and back
    same_session = app.test_client().get(f"/s/tiny/{first}")  # Prolific's own link, on a new device
    assert same_session.status_code == 302 and pid in same_session.headers["Location"]
    [p] = _people(app)
    assert p.recruiter_data["SESSION_ID"] == SESSION
    assert [a["SESSION_ID"] for a in p.recruiter_data["attempts"]] == ["e5" * 12]


# --- point 4: consent once, calibration before the trials ---------------------------------------------


def test_a_double_submitted_consent_form_is_one_participant(app):
    """Before: each submit of an anonymous link's consent form created a participant."""
    client = app.test_client()
    page = client.get("/s/tiny/").get_data(as_text=True)
    nonce = re.search(r'name="nonce" value="([^"]+)"', page).group(1)
    form = {"agree": "yes", "nonce": nonce}
    first = client.post("/s/tiny/", data=form)
    second = app.test_client().post("/s/tiny/", data=form)  # the same form, resent without the cookie
    assert first.headers["Location"] == second.headers["Location"]
    assert len(_people(app)) == 1
    assert app.test_client().get("/s/tiny/").get_data(as_text=True).count(nonce) == 0  # fresh per page


def test_allocation_and_consent_commit_together(app, monkeypatch):
    """Before: a crash between the allocation's commit and the consent's left an "allocated" orphan."""

    def crash(*_args, **_kwargs):
        raise RuntimeError("the worker died here")

    monkeypatch.setattr(participant, "_advance", crash)
    with pytest.raises(RuntimeError):
        app.test_client().post("/s/tiny/", data={"agree": "yes"})
    [p] = _people(app)
    assert p.status == "consented"


def test_start_is_refused_until_the_calibration_is_stored(app):
    """Before: POST /p/<token>/start straight after consent started the trials uncalibrated."""
    client = app.test_client()
    pid = enter(client)
    resp = client.post(f"/p/{pid}/start")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/calibrate")
    assert [p.status for p in _people(app)] == ["consented"]
    calibrate(client, pid)
    assert client.post(f"/p/{pid}/start").headers["Location"].endswith("/trials")


# --- point 1 (server side): the legend tells nothing about trial order or list -----------------------


def test_the_legend_order_does_not_give_away_trial_order_or_list(app, monkeypatch):
    """Before: one participant seed drove the legend (random.Random(f"legend-{seed}")) and the trial
    order (random.Random(seed)); the legend, on every page, found the seed by search, hence the trial
    order and list. Here the seed space is shrunk to 500 so the search is instant; the attack must
    still recover nothing."""
    small = random.Random(1)
    monkeypatch.setattr(lists.secrets, "randbits", lambda _bits: small.randrange(500))
    classes = [{"id": i, "name": f"c{i}"} for i in range(43)]
    with app.app_context():
        study = db.session.scalars(select(Study).where(Study.slug == "tiny")).one()
        study.classes = classes
        db.session.commit()
        tried = []
        for _ in range(6):
            p, _created = allocate_participant(db.session, study, recruiter="link")
            tried.append((list(p.legend_order), list(p.trial_order), list(p.trial_list.stimulus_ids)))
        db.session.remove()
    ids = [c["id"] for c in classes]
    recovered = 0
    for legend, trials, list_ids in tried:
        for seed in range(500):  # today's derivation, as anyone holding the code can run it
            order = list(ids)
            random.Random(f"legend-{seed}").shuffle(order)
            if order == legend:
                shuffled = list(list_ids)
                random.Random(seed).shuffle(shuffled)
                recovered += shuffled == trials
    assert recovered == 0
    legends = {tuple(legend) for legend, _t, _l in tried}
    assert len(legends) == len(tried)  # still a fresh shuffle per participant
