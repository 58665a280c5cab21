"""The participant's pages without a browser: no participant on GET, consent creates one, the device gate,
the calibration record, practice images, the consent and debrief texts, fullscreen exits, shown_ms."""

from __future__ import annotations

import math

import pytest
from sqlalchemy import func, select

import stimuli
from study_server.calibration import (
    CARD_WIDTH_MM,
    CalibrationError,
    calibration_record,
    distance_from_blind_spot,
    px_per_deg,
    px_per_mm,
)
from study_server.export import frame_from_session, participant_records
from study_server.importer import import_stimulus_set
from study_server.models import Participant, Study, db
from study_server.settings import effective

from .conftest import OPEN, SECRET
from .helpers import enter, start, trial_labels


def n_participants(app) -> int:
    with app.app_context():
        return int(db.session.scalar(select(func.count(Participant.id))) or 0)


def configure(app, small_set, **config) -> None:
    with app.app_context():
        import_stimulus_set(db.session, small_set, slug="tiny", config={**OPEN, **config})


# ---- calibration arithmetic ------------------------------------------------------------------------------


def test_card_width_gives_pixels_per_degree():
    # Hand calculation: a card outline 342.4 CSS px wide is 85.60 mm, so 4 px/mm. At 570 mm one degree
    # spans 2 * 570 * tan(0.5 deg) = 2 * 570 * 0.00872687 = 9.94863 mm, i.e. 39.7945 px.
    assert px_per_mm(342.4) == pytest.approx(4.0, rel=1e-12)
    assert px_per_deg(4.0, 570.0) == pytest.approx(39.7945, abs=1e-4)
    # the small-angle form d * tan(1 deg) = 9.94924 mm differs by under 0.01%: the exact form is used
    assert px_per_deg(4.0, 570.0) != pytest.approx(4.0 * 570.0 * math.tan(math.radians(1.0)), rel=1e-6)
    # blind spot 13.5 deg (tan = 0.2400788): an offset of 136.8449 mm (at 4 px/mm) means 570.0 mm
    assert distance_from_blind_spot(4.0 * 136.8449, 4.0) == pytest.approx(570.0, abs=0.01)


def test_calibration_record_is_recomputed_on_the_server():
    settings = effective({"stimulus_deg": 4.0, "calibration": "card"})
    rec = calibration_record({"card_px": "342.4", "frame_ms": "16.7", "screen_width": "1366"}, settings)
    assert rec["px_per_mm"] == pytest.approx(4.0)
    assert rec["viewing_distance_mm"] == 570.0 and rec["distance_method"] == "assumed"
    # 4 deg centred: 2 * 570 * tan(2 deg) = 2 * 570 * 0.0349208 = 39.8097 mm = 159.239 px
    assert rec["stimulus_px"] == pytest.approx(159.239, abs=1e-3)
    assert rec["screen_width"] == 1366 and rec["window_width"] is None
    blind = effective({"calibration": "card+blindspot"})
    rec = calibration_record({"card_px": "342.4", "blindspot_px": "540,550,552"}, blind)
    mean_mm = (540 + 550 + 552) / 3 / 4.0
    assert rec["viewing_distance_mm"] == pytest.approx(mean_mm / math.tan(math.radians(13.5)))
    assert rec["distance_method"] == "blind_spot" and rec["blindspot_px"] == [540, 550, 552]
    for bad in ({}, {"card_px": "abc"}, {"card_px": "10"}, {"card_px": "inf"}):
        with pytest.raises(CalibrationError):
            calibration_record(bad, settings)
    with pytest.raises(CalibrationError, match="implausible"):  # 5 px offset: 8 cm from the screen
        calibration_record({"card_px": "342.4", "blindspot_px": "5,5,5"}, blind)
    assert CARD_WIDTH_MM == 85.60  # ISO/IEC 7810 ID-1


# ---- entry and consent -----------------------------------------------------------------------------------


def test_opening_the_link_creates_nobody(app, client):
    for _ in range(3):  # a curl, a chat app's link preview, a reload
        page = client.get("/s/tiny/?label=ann")
        assert page.status_code == 200 and b'id="consent-submit"' in page.data
        assert "Set-Cookie" not in page.headers
    assert n_participants(app) == 0
    unticked = client.post("/s/tiny/?label=ann", data={})
    assert unticked.status_code == 200 and b"Please tick the box" in unticked.data
    assert n_participants(app) == 0
    pid = enter(client, query="?label=ann")
    assert n_participants(app) == 1
    with app.app_context():
        p = db.session.scalars(select(Participant)).one()
        assert p.public_id == pid and p.external_id == "ann" and p.status == "consented"
        assert [e.status for e in p.events] == ["allocated", "consented"]
    # the same person again (GET or a second consent): their participant, never a second one
    assert client.get("/s/tiny/?label=ann").status_code == 302
    assert enter(client, query="?label=ann") == pid
    assert n_participants(app) == 1


def test_a_repeat_worker_is_refused_before_the_consent_page(app, small_set):
    from .recruit_helpers import ASSIGNMENT, ASSIGNMENT2, HIT, WORKER

    with app.app_context():
        for slug in ("tiny", "tiny2"):
            import_stimulus_set(db.session, small_set, slug=slug, recruiter="mturk",
                                config={**OPEN, "exclusion_group": "signs"})  # fmt: skip

    def query(assignment: str) -> str:
        return f"?assignmentId={assignment}&hitId={HIT}&workerId={WORKER}&turkSubmitTo=https://workersandbox.mturk.com"

    client = app.test_client()
    assert client.post("/s/tiny/" + query(ASSIGNMENT), data={"agree": "yes"}).status_code == 302
    other = app.test_client()
    refused = other.get("/s/tiny2/" + query(ASSIGNMENT2))  # same worker, same exclusion group
    assert refused.status_code == 403 and b"consent-submit" not in refused.data
    assert other.post("/s/tiny2/" + query(ASSIGNMENT2), data={"agree": "yes"}).status_code == 403
    assert n_participants(app) == 1


def test_device_gate_refuses_small_screens_and_touch_only_devices(app, client, small_set):
    phone = {"agree": "yes", "screen_width": "390", "screen_height": "844", "touch_only": "1"}
    resp = client.post("/s/tiny/", data=phone)
    assert resp.status_code == 403 and b"Please use a computer" in resp.data
    small = {"agree": "yes", "screen_width": "800", "screen_height": "600", "touch_only": "0"}
    assert client.post("/s/tiny/", data=small).status_code == 403
    assert n_participants(app) == 0
    laptop = {"agree": "yes", "screen_width": "1366", "screen_height": "768", "touch_only": "0"}
    assert client.post("/s/tiny/", data=laptop).status_code == 302
    configure(app, small_set, allow_touch_only=True, min_screen_width=0, min_screen_height=0)
    assert app.test_client().post("/s/tiny/", data=phone).status_code == 302
    assert n_participants(app) == 2


def test_consent_and_debrief_are_the_researchers_templates(app, client, small_set):
    # a real study without contact and ethics text does not open; a demo does, and says it is one
    configure(app, small_set, researcher_contact="", ethics_approval="")
    closed = client.get("/s/tiny/")
    assert closed.status_code == 503 and "not open yet" in closed.get_data(as_text=True)
    assert client.post("/s/tiny/", data={"agree": "yes"}).status_code == 503 and n_participants(app) == 0
    configure(app, small_set, demo=True, researcher_contact="", ethics_approval="")
    page = client.get("/s/tiny/").get_data(as_text=True)
    assert 'id="demo-note"' in page and "This is a demonstration" in page
    assert "Your data" in page and "anonymous data are kept" in page  # the default retention text
    assert "Ethics approval" not in page and "Contact" not in page  # nothing invented
    configure(
        app, small_set, demo=False, researcher_contact="Dr A", ethics_approval="", ethics_not_required=True
    )
    page = client.get("/s/tiny/").get_data(as_text=True)
    assert "does not need the approval of an ethics committee" in page and "demo-note" not in page
    configure(
        app,
        small_set,
        researcher_contact="Dr Ada Lovelace, ada@example.org",
        ethics_approval="Approved by the XYZ ethics committee, ref. 2026-042",
        data_retention="Kept for five years.",
        debrief_text="Thanks. Negative images were part of it.",
    )
    page = client.get("/s/tiny/").get_data(as_text=True)
    for text in ("ada@example.org", "ref. 2026-042", "Kept for five years."):
        assert text in page
    pid = enter(client)
    start(client, pid)
    for i, (_sid, label, _c) in enumerate(trial_labels(app, pid)):
        client.post(f"/api/p/{pid}/responses", json={"trial_index": i, "response": label, "rt_ms": 500})
    debrief = client.get(f"/p/{pid}/debrief").get_data(as_text=True)
    assert "Negative images were part of it." in debrief and "ada@example.org" in debrief
    assert 'id="completion-code"' not in debrief and "close this window" in debrief


def test_calibration_is_stored_and_sizes_the_stimulus(app, client, small_set):
    configure(app, small_set, stimulus_deg=3.0, viewing_distance_mm=600.0, calibration="card")
    pid = enter(client)
    assert client.get(f"/p/{pid}/instructions").headers["Location"].endswith("/calibrate")  # not skipped
    bad = client.post(f"/p/{pid}/calibrate", data={"card_px": "nonsense"})
    assert bad.status_code == 400 and b"did not work" in bad.data
    ok = client.post(f"/p/{pid}/calibrate", data={"card_px": "321", "frame_ms": "16.6"})
    assert ok.status_code == 302 and ok.headers["Location"].endswith("/instructions")
    # 321 px / 85.6 mm = 3.75 px/mm; 3 deg at 600 mm = 2 * 600 * tan(1.5 deg) = 31.4231 mm = 117.837 px
    with app.app_context():
        cal = db.session.scalars(select(Participant)).one().calibration
    assert cal["stimulus_px"] == pytest.approx(117.837, abs=1e-3)
    assert cal["px_per_deg"] == pytest.approx(3.75 * 2 * 600 * math.tan(math.radians(0.5)))
    start(client, pid)
    trials_page = client.get(f"/p/{pid}/trials").get_data(as_text=True)
    assert f'"stimulus_px": {cal["stimulus_px"]}' in trials_page
    again = client.post(f"/p/{pid}/calibrate", data={"card_px": "400"})  # after the start: no change
    assert again.status_code == 302
    with app.app_context():
        assert db.session.scalars(select(Participant)).one().calibration == cal


def test_practice_uses_held_out_images_never_the_legend(app, client, small_set):
    configure(app, small_set, practice_trials=3, calibration="card")
    pid = enter(client)
    client.post(f"/p/{pid}/calibrate", data={"card_px": "321"})
    page = client.get(f"/p/{pid}/practice").get_data(as_text=True)
    held_out = dict(stimuli.read_practice(small_set))
    legend = {(small_set / "legend" / f"{c}.png").read_bytes() for c in (13, 14, 17)}
    urls = [part.split('"')[0] for part in page.split('"src": "')[1:]]
    assert len(urls) == 3 and all(f"/p/{pid}/practice-img/" in u for u in urls)
    for url in urls:
        image_id = url.rsplit("/", 1)[1]
        assert image_id in held_out
        body = client.get(url)
        assert body.status_code == 200 and body.data not in legend
        assert body.data == (small_set / "practice" / f"{image_id}.png").read_bytes()  # no metadata to strip
    assert client.get(f"/p/{pid}/practice-img/" + "0" * 32).status_code == 404
    sids = {s for s, *_ in trial_labels(app, pid)}
    assert client.get(f"/p/{pid}/practice-img/{next(iter(sids))}").status_code == 404  # not a stimulus
    configure(app, small_set, practice_trials=10)  # more than the set holds: all of them
    page = client.get(f"/p/{pid}/practice").get_data(as_text=True)
    assert page.count("/practice-img/") == 3


def test_legend_by_category_keeps_the_sets_order(app, small_set):
    configure(app, small_set, legend_order="category")
    pids = [enter(app.test_client()) for _ in range(3)]
    with app.app_context():
        orders = [db.session.scalars(select(Participant).where(Participant.public_id == p)).one().legend_order
                  for p in pids]  # fmt: skip
        classes = [c["id"] for c in db.session.scalars(select(Study)).one().classes]
    assert orders == [classes] * 3


def test_fullscreen_exits_and_shown_ms_are_stored_and_exported(app, client):
    pid = enter(client)
    start(client, pid)
    api = f"/api/p/{pid}/fullscreen-exits"
    assert client.post(api, json={"count": 1}).json["fullscreen_exits"] == 1
    assert client.post(api, json={"count": 1}).json["fullscreen_exits"] == 1  # a resent report counts once
    assert client.post(api, json={"count": 2}).json["fullscreen_exits"] == 2
    assert client.post(api, json={"count": 1}).json["fullscreen_exits"] == 2  # never goes back
    for bad in ({"count": -1}, {"count": "2"}, {"count": 2, "x": 1}, {}):
        assert client.post(api, json=bad).status_code == 400
    assert client.post("/api/p/nobody/fullscreen-exits", json={"count": 1}).status_code == 404
    label = trial_labels(app, pid)[0][1]
    body = {"trial_index": 0, "response": label, "rt_ms": 420.0, "shown_ms": 200.4}
    assert client.post(f"/api/p/{pid}/responses", json=body).status_code == 201
    assert client.post(f"/api/p/{pid}/responses", json={**body, "shown_ms": "x"}).status_code == 400
    timeout = {"trial_index": 1, "response": None, "rt_ms": None, "shown_ms": None}
    assert client.post(f"/api/p/{pid}/responses", json=timeout).status_code == 201
    with app.app_context():
        frame = frame_from_session(db.session, SECRET, "tiny")
        people = participant_records(db.session, SECRET, "tiny")
    assert frame["shown_ms"].tolist()[0] == 200.4 and math.isnan(frame["shown_ms"].tolist()[1])
    assert frame["response"].isna().tolist() == [False, True]  # the timeout: a missing answer
    assert people[0]["fullscreen_exits"] == 2 and "calibration" in people[0]
