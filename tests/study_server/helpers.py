"""Small helpers that walk a participant through the pages with Flask's test client."""

from __future__ import annotations

from sqlalchemy import select

from study_server.models import Participant, Stimulus, db


def enter(client, slug: str = "tiny", query: str = "") -> str:
    """Open the study link and give consent (which creates the participant); return its public id."""
    resp = client.post(f"/s/{slug}/{query}", data={"agree": "yes"})
    assert resp.status_code == 302, resp.data
    location = resp.headers["Location"]
    assert "/p/" in location
    return location.split("/p/")[1].split("/")[0]


def start(client, pid: str) -> None:
    assert client.post(f"/p/{pid}/consent", data={"agree": "yes"}).status_code == 302
    calibrate(client, pid)
    assert client.post(f"/p/{pid}/start").status_code == 302


CARD = {"card_px": "340", "blindspot_px": "540"}
"""A plausible calibration: a 340 px card is 3.97 px/mm; 540 px to the blind spot is about 57 cm away."""


def calibrate(client, pid: str) -> None:
    """Store a calibration when the study asks for one (the page redirects away when it does not)."""
    assert client.post(f"/p/{pid}/calibrate", data=CARD).status_code == 302


def trial_labels(app, pid: str) -> list[tuple[str, int, bool]]:
    """(stimulus_id, true label, catch) per trial index, read from the database (the test's oracle)."""
    with app.app_context():
        p = db.session.scalars(select(Participant).where(Participant.public_id == pid)).one()
        stims = {
            s.stimulus_id: s
            for s in db.session.scalars(select(Stimulus).where(Stimulus.study_id == p.study_id))
        }
        return [(sid, stims[sid].label, stims[sid].catch) for sid in p.trial_order]
