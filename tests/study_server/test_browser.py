"""A real headless Chromium takes the study against a real server (subprocess), end to end.

Screenshots of the consent, instructions, trial and debrief pages land in the artifact folder.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

import stimuli
from study_server import create_app
from study_server.admin import create_admin
from study_server.cli import upgrade_database
from study_server.importer import import_stimulus_set
from study_server.models import Participant, Response, db

from .conftest import OPEN, SECRET
from .live_server import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]

VIEWPORT = {"width": 1366, "height": 768}


def build_43_class_set(out: Path) -> Path:
    """Three sources in two conditions, but the full 43-class legend: the layout case."""
    src = stimuli.get_source("synthetic", split="test", n_per_class=1, seed=1)
    rows, images = [], []
    for k in range(3):
        img, label = src[k * 7]
        for condition, pixels in (("regular", img), ("negative", 1.0 - img)):
            rows.append({"source_id": f"s{k}", "label": label, "family": condition, "condition": condition})
            images.append(np.asarray(pixels, dtype=np.float32))
    legend = {c.id: src.legend_image(c.id) for c in src.classes}
    return stimuli.write_stimulus_set(
        out, rows, images, src.classes, legend, name="signs43", seed=3, source="synthetic"
    )


@pytest.fixture
def server(tmp_path: Path, small_set: Path):
    url = f"sqlite:///{tmp_path / 'live.sqlite3'}"
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": SECRET, "INSTANCE_PATH": str(tmp_path / "inst")})
    upgrade_database(url)
    with app.app_context():
        import_stimulus_set(
            db.session,
            small_set,
            slug="tiny",
            config={**OPEN, "practice_trials": 2, "show_completion_code": True, "calibration": "card"},
        )
        import_stimulus_set(
            db.session,
            build_43_class_set(tmp_path / "s43"),
            slug="signs43",
            config={
                **OPEN,
                "practice_trials": 0,
                "presentation_ms": 50,
                "mask_ms": 100,
                "calibration": "card",
            },
        )
        create_admin("ada", "correct horse battery")
        db.session.remove()
    srv = LiveServer(url, SECRET, tmp_path / "inst", tmp_path / "server.log")
    srv.start()
    srv.app = app
    yield srv
    srv.kill()
    with app.app_context():
        db.engine.dispose()


def oracle(app, pid: str) -> tuple[list[int], list[str]]:
    """True labels per trial index and the stimulus ids, from the database."""
    from study_server.models import Stimulus

    with app.app_context():
        p = db.session.scalars(select(Participant).where(Participant.public_id == pid)).one()
        stims = {
            s.stimulus_id: s.label
            for s in db.session.scalars(select(Stimulus).where(Stimulus.study_id == p.study_id))
        }
        out = [stims[sid] for sid in p.trial_order], list(p.trial_order)
        db.session.remove()
        return out


def stored(app, pid: str) -> list[Response]:
    with app.app_context():
        p = db.session.scalars(select(Participant).where(Participant.public_id == pid)).one()
        rows = list(
            db.session.scalars(
                select(Response).where(Response.participant_id == p.id).order_by(Response.trial_index)
            )
        )
        db.session.expunge_all()
        db.session.remove()
        return rows


def consent_and_instructions(page, base: str, slug: str, shots: Path | None = None) -> str:
    """Consent (which creates the participant), the card calibration at its initial size, instructions."""
    page.goto(f"{base}/s/{slug}/")
    page.wait_for_selector("#consent-submit")
    if shots:
        page.screenshot(path=str(shots / "consent.png"))
    page.check("#agree")
    page.click("#consent-submit")
    page.wait_for_url(lambda url: url.endswith(("/calibrate", "/instructions")))
    if page.url.endswith("/calibrate"):
        page.click("#card-done")
        page.wait_for_url("**/instructions")
    pid = page.url.split("/p/")[1].split("/")[0]
    return pid


def go(page) -> None:
    """The runner's start button (it asks for fullscreen: a user gesture)."""
    page.click("#go")
    page.wait_for_selector("#go-panel", state="hidden")


def begin(page) -> None:
    """Start the next trial with the button over the stimulus (the pointer leaves the answers)."""
    page.click("#next:not([hidden])")
    page.wait_for_selector(".legend-button:not([disabled])")


def answer(page, class_id: int) -> None:
    begin(page)
    page.click(f".legend-button[data-class='{class_id}']")


def test_whole_session_in_chromium(browser, server, artifact_dir):
    shots = Path(artifact_dir)
    page = browser.new_page(viewport=VIEWPORT)
    pid = consent_and_instructions(page, server.url, "tiny", shots)
    names = page.locator(".legend-static .legend-item span").all_inner_texts()
    assert sorted(names) == ["No entry", "Stop", "Yield"]
    page.screenshot(path=str(shots / "instructions.png"))
    page.click("#to-practice")
    page.wait_for_url("**/practice")
    practice = json.loads(page.locator("#runner-config").inner_text())["trials"]
    go(page)
    for item in practice:  # practice gives feedback
        answer(page, item["answer"])
        page.wait_for_selector("#feedback.ok")
    page.click("#start-main")
    page.wait_for_url("**/trials")
    go(page)
    labels, sids = oracle(server.app, pid)
    html = page.content()
    assert "negative" not in html and "regular" not in html  # no condition names in the DOM
    for i, label in enumerate(labels):
        if i == 0:
            page.wait_for_selector("#next:not([hidden])")
            assert page.evaluate("document.activeElement.id") == "next"
            page.keyboard.press(" ")  # the space bar starts a trial too
            page.wait_for_selector(".legend-button:not([disabled])")
        else:
            begin(page)
        if i == 0:
            page.screenshot(path=str(shots / "trial.png"))
        if i == 1:  # keyboard: type to filter, Enter chooses the only class left
            name = {13: "yield", 14: "stop", 17: "no entry"}[label]
            page.keyboard.type(name)
            page.keyboard.press("Enter")
        elif i == 2:  # keyboard: arrow keys move through the legend, Enter chooses
            order = [
                int(x)
                for x in page.eval_on_selector_all(".legend-button", "bs => bs.map(b => b.dataset.class)")
            ]
            for _ in range(order.index(label) + 1):
                page.keyboard.press("ArrowRight")
            page.keyboard.press("Enter")
        else:
            page.click(f".legend-button[data-class='{label}']")
    page.wait_for_url("**/debrief")
    code = page.locator("#completion-code").inner_text()  # "tiny" asks for a code (show_completion_code)
    page.screenshot(path=str(shots / "debrief.png"))
    rows = stored(server.app, pid)
    assert [r.trial_index for r in rows] == list(range(len(labels)))
    assert [r.stimulus_id for r in rows] == sids
    assert [r.response for r in rows] == labels
    assert all(r.correct for r in rows)
    assert all(r.rt_ms is not None and 5 < r.rt_ms < 30_000 for r in rows), [r.rt_ms for r in rows]
    with server.app.app_context():
        p = db.session.scalars(select(Participant).where(Participant.public_id == pid)).one()
        assert p.status == "completed" and p.completion_code == code
        db.session.remove()

    # the 43-class legend fits a 1366x768 laptop screen without scrolling
    page43 = browser.new_page(viewport=VIEWPORT)
    pid43 = consent_and_instructions(page43, server.url, "signs43")
    page43.click("#start-main")
    go(page43)
    begin(page43)
    assert page43.locator(".legend-button").count() == 43
    page43.screenshot(path=str(shots / "trial_43_classes.png"))
    # 50 ms presentation: the image gives way to a noise mask
    page43.wait_for_selector("#stimulus-box canvas, #stimulus-box .blank", timeout=5000)
    assert page43.locator("#stimulus-box img").count() == 0
    scroll_h = page43.evaluate("document.documentElement.scrollHeight")
    assert scroll_h <= VIEWPORT["height"], scroll_h
    labels43, _ = oracle(server.app, pid43)
    page43.click(f".legend-button[data-class='{labels43[0]}']")
    for label in labels43[1:]:
        answer(page43, label)
    page43.wait_for_url("**/debrief")
    page43.close()
    check_frame_timing(server.app, pid43, presentation_ms=50)

    # the admin sees the finished participant on the dashboard (real login form, with its CSRF token)
    page.goto(f"{server.url}/admin/study/tiny")
    page.wait_for_url("**/admin/login**")
    page.fill("input[name=username]", "ada")
    page.fill("input[name=password]", "correct horse battery")
    page.click("button[type=submit]")
    page.wait_for_url("**/admin/study/tiny")
    assert "completed" in page.locator("#by-status").inner_text()
    assert page.locator("#per-condition tr").count() >= 3
    page.screenshot(path=str(shots / "admin_dashboard.png"), full_page=True)
    page.close()


def check_frame_timing(app, pid: str, presentation_ms: int) -> None:
    """The refresh rate measured before the trials is stored, every timed trial stores its frames, and
    the export carries both."""
    from study_server.export import frame_from_session

    with app.app_context():
        p = db.session.scalars(select(Participant).where(Participant.public_id == pid)).one()
        display, slug = p.display, p.study.slug
        frame = frame_from_session(db.session, SECRET, slug)
        db.session.remove()
    hz = display["refresh_hz"]
    assert 20 < hz < 300, display
    rows = frame  # the study's only participant
    want = max(1, round(presentation_ms / (1000 / hz)))  # 3 frames at 60 Hz
    assert (rows["frames_requested"] == want).all(), rows["frames_requested"].tolist()
    # the runner changes to the mask on time or late, never early; late only by frames it missed
    shown, dropped = rows["frames_shown"], rows["frames_dropped"]
    assert (shown >= want).all() and (shown <= want + dropped).all(), (shown.tolist(), dropped.tolist())
    assert (rows["shown_ms"] - shown * 1000 / hz).abs().max() < 1000 / hz / 2 + 1
    assert rows["refresh_hz"].iloc[0] == pytest.approx(hz, abs=0.01)
    # integer scaling: a 32 px image drawn at a whole number of device pixels per image pixel
    assert display["image_px"] == 32 and display["scale"] == round(display["stimulus_px"] / 32)


def at_first_trial(browser, server):
    """A new participant of "tiny" past consent and practice, on the first main trial; with the labels."""
    page = browser.new_page(viewport=VIEWPORT)
    pid = consent_and_instructions(page, server.url, "tiny")
    page.click("#to-practice")
    page.wait_for_url("**/practice")
    go(page)
    for item in json.loads(page.locator("#runner-config").inner_text())["trials"]:
        answer(page, item["answer"])
        page.wait_for_selector("#feedback:not(:empty)")
    page.click("#start-main")
    page.wait_for_url("**/trials")
    go(page)
    labels, _ = oracle(server.app, pid)
    return page, pid, labels


def test_reload_and_server_crash_lose_nothing(browser, server):
    page, pid, labels = at_first_trial(browser, server)
    answer(page, labels[0])
    answer(page, labels[1])
    page.wait_for_function(f"localStorage.getItem('study-queue-{pid}') === '[]'")
    page.reload()  # resumes at the first unanswered trial (after its start button)
    go(page)
    begin(page)
    assert page.locator("#progress-text").inner_text() == f"Image 3 of {len(labels)}"
    page.click(f".legend-button[data-class='{labels[2]}']")
    page.wait_for_function(f"localStorage.getItem('study-queue-{pid}') === '[]'")
    server.kill()  # the server dies mid-study
    answer(page, labels[3])
    page.wait_for_selector("#net-status:not(:empty)")
    answer(page, labels[4])
    queued = json.loads(page.evaluate(f"localStorage.getItem('study-queue-{pid}')"))
    assert [q["trial_index"] for q in queued] == [3, 4]
    server.start()  # same port, same database
    answer(page, labels[5])
    page.wait_for_url("**/debrief", timeout=30_000)
    rows = stored(server.app, pid)
    assert [r.trial_index for r in rows] == list(range(len(labels)))  # nothing lost, nothing twice
    assert [r.response for r in rows] == labels
    assert going_back_changes_nothing(page, server.url, pid)
    page.close()


def going_back_changes_nothing(page, base: str, pid: str) -> bool:
    """Re-entering the study link or the trial page after finishing leads to the debrief, not a new list."""
    page.goto(f"{base}/s/tiny/")
    page.wait_for_url("**/debrief")
    page.goto(f"{base}/p/{pid}/trials")
    return page.url.endswith("/debrief")


def test_runner_tells_the_participant_during_a_storage_fault_and_keeps_the_answers(
    browser, server, artifact_dir
):
    """The server answers 503 "storage" for a while: after a few retries the page says, in plain words,
    that the answers are kept and will be sent; once the server works again, all of them are stored."""
    page, pid, labels = at_first_trial(browser, server)
    broken = {"error": "the study server cannot store answers at the moment", "status": 503}

    def fail(route) -> None:
        route.fulfill(status=503, json={**broken, "fault": "storage", "retry": True})

    page.route("**/api/**", fail)
    answer(page, labels[0])
    answer(page, labels[1])
    page.wait_for_selector("#net-status.problem", timeout=20_000)  # after 3 failed tries
    text = page.locator("#net-status").inner_text()
    assert "technical problem" in text and "kept in this browser" in text and "sent automatically" in text
    page.screenshot(path=str(Path(artifact_dir) / "trial_storage_fault.png"))
    page.unroute("**/api/**", fail)
    for label in labels[2:]:
        answer(page, label)
    page.wait_for_url("**/debrief", timeout=60_000)
    rows = stored(server.app, pid)
    assert [r.response for r in rows] == labels  # every answer arrived once the fault was over
    page.close()
