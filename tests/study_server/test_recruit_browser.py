"""Headless Chromium enters through a Prolific-style and an MTurk-style URL and is handed back.

The Prolific study is created through the API (against the local fake Prolific), and the browser opens
the study URL Prolific would open, its placeholders filled in; after the completion redirect the
review approves the submission. The MTurk hand-back POSTs to turkSubmitTo/mturk/externalSubmit: here a
tiny HTTP server on 127.0.0.1 records that POST. The Prolific completion URL is intercepted in the
browser (no network).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from sqlalchemy import select

from study_server import create_app
from study_server.cli import upgrade_database
from study_server.importer import import_stimulus_set
from study_server.models import Participant, Stimulus, db
from study_server.recruiters.prolific.client import ProlificClient

from .conftest import OPEN, SECRET
from .fake_prolific import TOKEN, FakeProlific
from .live_server import LiveServer
from .prolific_helpers import SETTINGS, cli

PlaywrightTimeout = pytest.importorskip("playwright.sync_api").TimeoutError

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PID, STUDY, SESSION = "5f8d0d55b54764421b7156c3", "60a7c1a4e3f0b2d9a1c3e5f7", "6123456789abcdef01234567"
WORKER, HIT, ASSIGNMENT = "A1WORKER0000001", "3HITID00000000000000000000001", "3ASSIGN0000000000000000000001"


class SubmitRecorder(BaseHTTPRequestHandler):
    """Stands in for MTurk's externalSubmit: records each POST (path and form fields)."""

    posts: list[tuple[str, dict[str, list[str]]]] = []  # noqa: RUF012 - reset per test

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        type(self).posts.append((self.path, parse_qs(body)))
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(b"<html><body id='mturk-ok'>submitted</body></html>")

    def log_message(self, *args: object) -> None:  # keep the test output clean
        pass


@pytest.fixture
def submit_server():
    SubmitRecorder.posts = []
    srv = ThreadingHTTPServer(("127.0.0.1", 0), SubmitRecorder)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def server(tmp_path: Path, small_set: Path, submit_server: str):
    url = f"sqlite:///{tmp_path / 'live.sqlite3'}"
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": SECRET, "INSTANCE_PATH": str(tmp_path / "inst")})
    upgrade_database(url)
    with app.app_context():
        base = {**OPEN, "practice_trials": 0, "completion_code": "C1A2B3", "calibration": "card"}
        prolific = {**base, "prolific": dict(SETTINGS)}
        import_stimulus_set(db.session, small_set, slug="prol", recruiter="prolific", config=prolific)
        mturk = {"title": "Signs", "description": "Pick the sign.", "reward": "1.00"}
        import_stimulus_set(
            db.session, small_set, slug="turk", recruiter="mturk", config={**base, "mturk": mturk}
        )
        db.session.remove()
    srv = LiveServer(url, SECRET, tmp_path / "inst", tmp_path / "server.log")
    srv.env["STUDY_MTURK_EXTRA_SUBMIT_ORIGINS"] = json.dumps([submit_server])
    srv.start()
    srv.app = app
    yield srv
    srv.kill()
    with app.app_context():
        db.engine.dispose()


def labels_of(app, external_id: str) -> list[int]:
    with app.app_context():
        p = db.session.scalars(select(Participant).where(Participant.external_id == external_id)).one()
        stims = {s.stimulus_id: s.label for s in db.session.scalars(select(Stimulus))}
        out = [stims[sid] for sid in p.trial_order]
        db.session.remove()
        return out


def take_study(page, server, entry: str, external_id: str) -> None:
    page.goto(server.url + entry)
    page.wait_for_selector("#consent-submit")
    page.check("#agree")
    page.click("#consent-submit")
    page.wait_for_url("**/calibrate")  # the card calibration, at its initial size
    page.click("#card-done")
    page.wait_for_url("**/instructions")
    page.click("#start-main")
    page.wait_for_url("**/trials")
    page.click("#go")
    for label in labels_of(server.app, external_id):
        page.click("#next")
        page.wait_for_selector(".legend-button:not([disabled])")
        page.click(f".legend-button[data-class='{label}']")
    page.wait_for_url("**/debrief")


def hand_back(page, arrived: str, button: str) -> None:
    """The debrief may send the participant on by itself; otherwise they press its button."""
    try:
        page.wait_for_selector(arrived, timeout=3000)
    except PlaywrightTimeout:
        page.click(button)
        page.wait_for_selector(arrived)


def test_prolific_and_mturk_participants_are_handed_back(browser, server, submit_server):
    fake = FakeProlific().start()
    server.app.extensions["prolific_client_factory"] = lambda: ProlificClient(TOKEN, fake.url)
    try:
        code, out = cli(server.app, "create-study", "--study", "prol", "--url", "https://example.org/s/prol/")
        assert code == 0, out
        ((study_id, created),) = fake.studies.items()
        # what Prolific opens for one participant: the study URL with its placeholders filled in
        entry = created["external_study_url"].replace("https://example.org", "")
        for placeholder, value in (("PROLIFIC_PID", PID), ("STUDY_ID", study_id), ("SESSION_ID", SESSION)):
            entry = entry.replace("{{%" + placeholder + "%}}", value)
        page = browser.new_page()
        completed: list[str] = []

        def prolific_site(route):  # the completion URL never leaves the browser
            completed.append(route.request.url)
            route.fulfill(status=200, content_type="text/html", body="<p id='prolific-ok'>done</p>")

        page.route("https://app.prolific.com/**", prolific_site)
        take_study(page, server, entry, PID)
        hand_back(page, "#prolific-ok", "#finish-link")
        assert completed == ["https://app.prolific.com/submissions/complete?cc=C1A2B3"]
        assert created["completion_codes"][0]["code"] == "C1A2B3"  # the code Prolific expects

        fake.add_submission(study_id, PID, "AWAITING REVIEW", sub_id=SESSION)
        code, out = cli(server.app, "review", "--study", "prol")
        assert code == 0, out
        assert fake.submissions[SESSION]["status"] == "APPROVED"
        with server.app.app_context():
            p = db.session.scalars(select(Participant).where(Participant.external_id == PID)).one()
            assert p.status == "approved"
            db.session.remove()
        assert fake.violations == []
    finally:
        fake.stop()

    # MTurk: the HIT iframe URL; the page must be served inside the worker's browser like MTurk does
    page = browser.new_page()
    entry = f"/s/turk/?assignmentId={ASSIGNMENT}&hitId={HIT}&workerId={WORKER}&turkSubmitTo={submit_server}"
    take_study(page, server, entry, WORKER)
    with server.app.app_context():
        code = db.session.scalars(
            select(Participant.completion_code).where(Participant.external_id == WORKER)
        ).one()
        db.session.remove()
    hand_back(page, "#mturk-ok", "#finish-submit")
    assert SubmitRecorder.posts == [
        ("/mturk/externalSubmit", {"assignmentId": [ASSIGNMENT], "completion_code": [code]})
    ]
    page.close()
