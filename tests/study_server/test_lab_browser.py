"""The participant's screen as a vision lab runs it, in a real headless Chromium against a real server:
card calibration (and the blind spot), the stimulus drawn at its size in degrees, frame-timed image and
mask with the measured on-screen time stored, breaks, fullscreen exits, the response deadline, the device
gate, and a legend whose labels are never cut off. Screenshots at 1366x768 and 1920x1080 land in
artifacts/test-run/lab_*.png.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from study_server import create_app
from study_server.cli import upgrade_database
from study_server.importer import import_stimulus_set
from study_server.models import Participant, Response, Study, db

from .conftest import OPEN, SECRET
from .live_server import LiveServer
from .test_browser import answer, begin, build_43_class_set, go, oracle

pytestmark = [pytest.mark.browser, pytest.mark.slow]

VIEWPORTS = {"1366x768": {"width": 1366, "height": 768}, "1920x1080": {"width": 1920, "height": 1080}}
CARD_PX = 321.0  # 321 / 85.6 = 3.75 px per mm
CAL = {**OPEN, "practice_trials": 2, "presentation_ms": 100, "mask_ms": 100, "breaks_every": 2,
       "calibration": "card", "stimulus_deg": 4.0, "viewing_distance_mm": 570.0,
       "show_completion_code": True}  # fmt: skip


@pytest.fixture(scope="module")
def lab(tmp_path_factory, small_set):
    tmp = tmp_path_factory.mktemp("lab")
    url = f"sqlite:///{tmp / 'lab.sqlite3'}"
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": SECRET, "INSTANCE_PATH": str(tmp / "inst")})
    upgrade_database(url)
    with app.app_context():
        for k in VIEWPORTS:
            import_stimulus_set(db.session, small_set, slug=f"cal{k}", config=CAL)
        import_stimulus_set(
            db.session, small_set, slug="deadline",
            config={**OPEN, "practice_trials": 0, "calibration": "none", "response_deadline_ms": 800},
        )  # fmt: skip
        import_stimulus_set(
            db.session,
            small_set,
            slug="blind",
            config={**OPEN, "practice_trials": 0},  # the default calibration: card, then blind spot
        )
        import_stimulus_set(
            db.session,
            build_43_class_set(tmp / "s43"),
            slug="signs43",
            config={**OPEN, "practice_trials": 0, "legend_order": "category", "calibration": "card"},
        )
        db.session.remove()
    srv = LiveServer(url, SECRET, tmp / "inst", tmp / "server.log")
    srv.start()
    srv.app = app
    yield srv
    srv.kill()
    with app.app_context():
        db.engine.dispose()


def participant(app, pid: str) -> Participant:
    with app.app_context():
        p = db.session.scalars(select(Participant).where(Participant.public_id == pid)).one()
        db.session.expunge(p)
        db.session.remove()
        return p


def rows(app, pid: str) -> list[Response]:
    with app.app_context():
        p = db.session.scalars(select(Participant).where(Participant.public_id == pid)).one()
        out = list(
            db.session.scalars(
                select(Response).where(Response.participant_id == p.id).order_by(Response.trial_index)
            )
        )
        db.session.expunge_all()
        db.session.remove()
        return out


def wait_for(predicate, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def consent(page, base: str, slug: str, shot: Path | None = None) -> str:
    page.goto(f"{base}/s/{slug}/")
    page.wait_for_selector("#consent-submit")
    if shot:
        page.screenshot(path=str(shot), full_page=True)
    page.check("#agree")
    page.click("#consent-submit")
    page.wait_for_url(lambda url: "/p/" in url)
    return page.url.split("/p/")[1].split("/")[0]


def set_card(page, px: float) -> None:
    page.wait_for_selector("#card-size")
    page.evaluate(
        "px => { const s = document.getElementById('card-size'); s.value = String(px);"
        " s.dispatchEvent(new Event('input')); }",
        px,
    )


@pytest.mark.parametrize("size", list(VIEWPORTS))
def test_calibrated_size_frame_timing_breaks_and_fullscreen(browser, lab, artifact_dir, size):
    shots = Path(artifact_dir)
    vp = VIEWPORTS[size]
    page = browser.new_page(viewport=vp, screen=vp)
    pid = consent(page, lab.url, f"cal{size}", shots / f"lab_consent_{size}.png")
    page.wait_for_url("**/calibrate")
    set_card(page, CARD_PX)
    card = page.evaluate("document.getElementById('card').getBoundingClientRect().toJSON()")
    assert card["width"] == pytest.approx(CARD_PX, abs=0.01)
    assert card["height"] == pytest.approx(CARD_PX * 53.98 / 85.60, abs=0.01)  # ID-1 aspect ratio
    page.screenshot(path=str(shots / f"lab_calibration_{size}.png"))
    page.click("#card-done")
    page.wait_for_url("**/instructions")

    # independent arithmetic: 3.75 px/mm; at 570 mm, 1 deg = 2 * 570 * tan(0.5 deg) mm
    # and 4 deg = 2 * 570 * tan(2 deg) mm
    ppm = CARD_PX / 85.6
    cal = participant(lab.app, pid).calibration
    assert cal["px_per_mm"] == pytest.approx(3.75)
    assert cal["px_per_deg"] == pytest.approx(ppm * 2 * 570 * math.tan(math.radians(0.5)), rel=1e-12)
    want_px = ppm * 2 * 570 * math.tan(math.radians(2.0))
    assert cal["stimulus_px"] == pytest.approx(want_px, rel=1e-12)
    assert cal["screen_width"] == vp["width"] and cal["window_width"] == vp["width"]
    assert 4 < cal["frame_ms"] < 60  # measured with requestAnimationFrame

    page.screenshot(path=str(shots / f"lab_instructions_{size}.png"))
    page.click("#to-practice")
    page.wait_for_url("**/practice")
    page.wait_for_selector("#go-panel:not([hidden])")
    page.screenshot(path=str(shots / f"lab_start_{size}.png"))
    go(page)
    assert page.evaluate("!!document.fullscreenElement"), "fullscreen was not entered"
    for _ in range(2):
        begin(page)
        page.locator(".legend-button").first.click()
        page.wait_for_selector("#feedback:not(:empty)")
    page.click("#start-main")
    page.wait_for_url("**/trials")
    # every change of the stimulus box, in order (a 100 ms mask is too brief to poll for)
    page.evaluate("""() => { window.__seen = []; new MutationObserver(() => {
        const c = document.getElementById('stimulus-box').firstChild;
        window.__seen.push(c ? (c.tagName + '.' + c.className) : '-'); })
        .observe(document.getElementById('stimulus-box'), {childList: true}); }""")
    go(page)
    # integer scaling: the 32 px images at the whole multiple nearest to 4 deg (149.3 px: 5 x 32 = 160)
    box = page.evaluate("document.getElementById('stimulus-box').getBoundingClientRect().toJSON()")
    assert box["width"] == box["height"] == 32 * round(want_px / 32) == 160
    assert box["left"] + box["width"] / 2 == pytest.approx(vp["width"] / 2, abs=0.5)  # centred
    assert box["top"] + box["height"] / 2 == pytest.approx(vp["height"] / 2, abs=0.5)
    page.click("#next")
    # the image is shown for 100 ms, then the noise mask for 100 ms, then the grey field
    page.wait_for_selector("#stimulus-box .blank", timeout=5000)
    assert page.evaluate("window.__seen") == ["DIV.fixation", "IMG.", "CANVAS.", "DIV.blank"]
    page.screenshot(path=str(shots / f"lab_trial_{size}.png"))
    labels, _ = oracle(lab.app, pid)
    page.click(f".legend-button[data-class='{labels[0]}']")
    answer(page, labels[1])
    page.wait_for_selector("#break-panel:not([hidden])")  # breaks_every = 2
    assert "2 of 6 images done" in page.locator("#break-panel").inner_text()
    page.screenshot(path=str(shots / f"lab_break_{size}.png"))
    page.click("#break-continue")
    # leaving fullscreen is recorded, and the next image waits until the participant returns
    begin(page)
    page.evaluate("document.exitFullscreen()")
    assert wait_for(lambda: participant(lab.app, pid).fullscreen_exits == 1)
    page.click(f".legend-button[data-class='{labels[2]}']")
    page.wait_for_selector("#fs-panel:not([hidden])")
    page.screenshot(path=str(shots / f"lab_fullscreen_exit_{size}.png"))
    page.click("#fs-resume")
    answer(page, labels[3])
    page.wait_for_selector("#break-panel:not([hidden])")  # after 4 of 6
    page.click("#break-continue")
    for label in labels[4:]:
        answer(page, label)
    page.wait_for_url("**/debrief", timeout=30_000)
    page.screenshot(path=str(shots / f"lab_debrief_{size}.png"))
    stored = rows(lab.app, pid)
    assert [r.response for r in stored] == labels
    # the angle actually shown is stored: 160 px at 3.75 px/mm and 570 mm is 2 atan(21.33 / 1140) = 4.29 deg
    display = participant(lab.app, pid).display
    assert display["stimulus_deg"] == pytest.approx(math.degrees(2 * math.atan(160 / 3.75 / 1140)))
    frame = cal["frame_ms"]
    shown = [r.shown_ms for r in stored]
    # on frames: the nearest whole number of frames to 100 ms (6 at 60 Hz), one more if a frame was late
    assert all(100 - frame <= s <= 100 + 3 * frame for s in shown), (shown, frame)
    assert sorted(shown)[len(shown) // 2] == pytest.approx(round(100 / frame) * frame, abs=frame / 2), shown
    assert participant(lab.app, pid).fullscreen_exits == 1
    page.close()


def test_response_deadline_stores_a_missing_answer(browser, lab, artifact_dir):
    page = browser.new_page(viewport=VIEWPORTS["1366x768"])
    pid = consent(page, lab.url, "deadline")
    page.wait_for_url("**/instructions")  # calibration "none": straight on
    page.click("#start-main")
    page.wait_for_url("**/trials")
    go(page)
    box = page.evaluate("document.getElementById('stimulus-box').getBoundingClientRect().width")
    assert box == 224  # the study's stimulus_px without calibration (7 x 32 px)
    page.click("#next")
    page.wait_for_selector("#feedback.bad")  # nobody answers: after 800 ms the trial times out
    assert "Too slow" in page.locator("#feedback").inner_text()
    page.screenshot(path=str(Path(artifact_dir) / "lab_deadline_1366x768.png"))
    first = wait_for(lambda: rows(lab.app, pid))
    assert first[0].trial_index == 0 and first[0].response is None and first[0].rt_ms is None
    assert not first[0].correct  # the analysis counts it wrong
    labels, _ = oracle(lab.app, pid)
    for label in labels[1:]:
        answer(page, label)
    page.wait_for_url("**/debrief", timeout=30_000)
    assert [r.response for r in rows(lab.app, pid)] == [None, *labels[1:]]
    page.close()


def test_blind_spot_estimates_the_viewing_distance(browser, lab, artifact_dir):
    page = browser.new_page(viewport=VIEWPORTS["1366x768"])
    pid = consent(page, lab.url, "blind")
    page.wait_for_url("**/calibrate")
    set_card(page, CARD_PX)
    page.click("#card-done")
    page.wait_for_selector("#blindspot-step:not([hidden])")
    for k in range(3):
        page.click("#bs-start")
        page.wait_for_timeout(2500)  # the dot moves about 3 deg/s away from the square
        if k == 1:
            page.screenshot(path=str(Path(artifact_dir) / "lab_blindspot_1366x768.png"))
        page.keyboard.press(" ")
    page.wait_for_url("**/instructions")  # (an implausible measurement would show the page again)
    cal = participant(lab.app, pid).calibration
    offsets = cal["blindspot_px"]
    assert len(offsets) == 3 and all(100 < x < 600 for x in offsets), offsets
    # distance = mean offset in mm / tan(13.5 deg) (Li et al. 2020), computed here independently
    want = sum(offsets) / 3 / (CARD_PX / 85.6) / math.tan(math.radians(13.5))
    assert cal["distance_method"] == "blind_spot" and cal["viewing_distance_mm"] == pytest.approx(want)
    assert cal["px_per_deg"] == pytest.approx(3.75 * 2 * want * math.tan(math.radians(0.5)))
    page.close()


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("phone", {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}),
        (
            "small_screen",
            {"viewport": {"width": 800, "height": 600}, "screen": {"width": 800, "height": 600}},
        ),
    ],
)
def test_small_screens_and_touch_only_devices_are_asked_for_a_computer(
    browser, lab, artifact_dir, name, options
):
    context = browser.new_context(**options)
    page = context.new_page()
    page.goto(f"{lab.url}/s/signs43/")
    page.wait_for_selector("#gate:not([hidden])")
    assert page.locator("#consent-body").is_hidden()
    assert "Please use a computer" in page.locator("#gate").inner_text()
    page.screenshot(path=str(Path(artifact_dir) / f"lab_gate_{name}.png"))
    # even a form sent anyway (the page's own measurements go with it) creates nobody
    page.evaluate(
        "document.getElementById('agree').checked = true; document.getElementById('consent-form').submit()"
    )
    page.wait_for_selector("#gate-message")
    with lab.app.app_context():
        study = db.session.scalars(select(Study).where(Study.slug == "signs43")).one()
        n = db.session.scalars(select(Participant).where(Participant.study_id == study.id)).all()
        db.session.remove()
    assert n == []
    context.close()


def clipped(page, selector: str) -> list[str]:
    """Legend entries whose label overflows its own box or the entry's box (the label text)."""
    return page.eval_on_selector_all(
        selector,
        """bs => bs.filter(b => {
            const s = b.querySelector('span'), r = s.getBoundingClientRect(), o = b.getBoundingClientRect();
            return s.scrollWidth > s.clientWidth + 1 || s.scrollHeight > s.clientHeight + 1
                || b.scrollHeight > b.clientHeight + 1
                || r.bottom > o.bottom + 0.5 || r.right > o.right + 0.5 || r.left < o.left - 0.5;
        }).map(b => b.innerText)""",
    )


@pytest.mark.parametrize("size", list(VIEWPORTS))
def test_legend_labels_are_never_cut_off_and_follow_the_category_order(browser, lab, artifact_dir, size):
    vp = VIEWPORTS[size]
    page = browser.new_page(viewport=vp, screen=vp)
    pid = consent(page, lab.url, "signs43")
    page.wait_for_url("**/calibrate")
    page.click("#card-done")
    page.wait_for_url("**/instructions")
    page.screenshot(path=str(Path(artifact_dir) / f"lab_instructions43_{size}.png"), full_page=True)
    assert clipped(page, ".legend-static .legend-item") == []
    page.click("#start-main")
    page.wait_for_url("**/trials")
    go(page)
    begin(page)
    page.screenshot(path=str(Path(artifact_dir) / f"lab_legend43_{size}.png"))
    with lab.app.app_context():
        study = db.session.scalars(select(Study).where(Study.slug == "signs43")).one()
        names = {int(c["id"]): c["name"] for c in study.classes}
        set_order = [int(c["id"]) for c in study.classes]
        db.session.remove()
    shown = [
        int(x) for x in page.eval_on_selector_all(".legend-button", "bs => bs.map(b => b.dataset.class)")
    ]
    assert shown == set_order == participant(lab.app, pid).legend_order  # by category, and stored
    assert clipped(page, ".legend-button") == []
    texts = page.locator(".legend-button span").all_inner_texts()
    assert [t.replace("\n", " ") for t in texts] == [names[c] for c in shown]  # whole names, no ellipsis
    assert "Right-of-way at the next intersection" in [t.replace("\n", " ") for t in texts]
    assert page.evaluate("document.documentElement.scrollHeight") <= vp["height"]  # fits without scrolling
    page.close()
