"""The trial page's display measurement: refresh rate, integer scaling and the angle actually shown."""

from __future__ import annotations

import math

import pytest
from sqlalchemy import select

from study_server.display import DisplayError, display_record, integer_scale
from study_server.models import Participant, db

from .helpers import enter, start

CAL = {"px_per_mm": 3.75, "viewing_distance_mm": 570.0}


def test_integer_scale_is_the_nearest_whole_multiple():
    # 4 deg at 3.75 px/mm and 570 mm = 149.3 CSS px: 149.3 / 32 = 4.67 -> 5 (160 px)
    assert integer_scale(149.3, 32, 1.0) == 5
    assert integer_scale(149.3, 32, 2.0) == 9  # 298.6 device px / 32 = 9.33 -> 9 (144 CSS px)
    assert integer_scale(10.0, 32, 1.0) == 1  # never below one device pixel per image pixel


def test_record_recomputes_refresh_rate_and_angle():
    intervals = [16.6, 16.7, 16.7, 33.4, 16.7, 16.6, 16.7, 16.8, 16.7, 16.7]  # one dropped frame
    data = {"frame_intervals_ms": intervals, "device_pixel_ratio": 1, "image_px": 32, "stimulus_px": 160,
            "scale": 5}  # fmt: skip
    rec = display_record(data, CAL, "integer")
    assert rec["frame_ms"] == 16.7 and rec["refresh_hz"] == pytest.approx(1000 / 16.7)  # the median
    # 160 px / 3.75 px/mm = 42.67 mm at 570 mm: 2 atan(21.33 / 570) = 4.287 deg (hand calculation)
    assert rec["stimulus_deg"] == pytest.approx(math.degrees(2 * math.atan(160 / 3.75 / 2 / 570)))
    assert rec["stimulus_deg"] == pytest.approx(4.287, abs=1e-3)
    assert display_record({**data, "scale": None}, None, "smooth")["stimulus_deg"] is None  # no calibration
    for bad in ({"scale": 4}, {"frame_intervals_ms": [16.7] * 3}, {"image_px": "32"}, {"extra": 1}):
        with pytest.raises(DisplayError):
            display_record({**data, **bad}, CAL, "integer")


def test_display_endpoint_stores_the_record_and_refuses_bad_input(app, client):
    pid = enter(client)
    start(client, pid)
    body = {"frame_intervals_ms": [8.33] * 60, "device_pixel_ratio": 2, "image_px": 32, "stimulus_px": 144,
            "scale": 9}  # fmt: skip
    assert client.post(f"/api/p/{pid}/display", json={**body, "scale": 8}).status_code == 400
    assert client.post("/api/p/nobody/display", json=body).status_code == 404
    resp = client.post(f"/api/p/{pid}/display", json=body)
    assert resp.status_code == 200 and resp.json["refresh_hz"] == pytest.approx(120.05, abs=0.01)
    with app.app_context():
        stored = db.session.scalars(select(Participant).where(Participant.public_id == pid)).one().display
    assert stored["scale"] == 9 and stored["stimulus_px"] == 144
