"""Shared pieces of the Prolific tests: the fake API, a study that recruits on Prolific, participants."""

from __future__ import annotations

import io
import secrets

import pytest
from sqlalchemy import select

from study_server.lifecycle import set_status
from study_server.models import Participant, Study, db
from study_server.recruiters.cli import run
from study_server.recruiters.models import PaymentLedger
from study_server.recruiters.prolific.client import ProlificClient

from .fake_prolific import TOKEN, FakeProlific
from .helpers import enter

SETTINGS = {
    "description": "Pick the traffic sign you see in each small image; about ten minutes.",
    "reward": "2.00",
    "estimated_minutes": 10,
    "places": 10,
    "devices": ["desktop", "tablet"],
    "currency": "GBP",
}
ENTRY = "https://studies.example.org/s/tiny/"


def pid() -> str:
    """A Prolific-style id (24 hex characters)."""
    return secrets.token_hex(12)


def use_prolific(app, slug: str = "tiny", **config) -> None:
    with app.app_context():
        study = db.session.scalars(select(Study).where(Study.slug == slug)).one()
        study.recruiter = "prolific"
        study.config = {**study.config, "prolific": dict(SETTINGS), **config}
        db.session.commit()


def set_prolific(app, slug: str = "tiny", **values) -> None:
    with app.app_context():
        study = db.session.scalars(select(Study).where(Study.slug == slug)).one()
        study.config = {**study.config, "prolific": {**study.config["prolific"], **values}}
        if "study_id" in values:
            study.config = {**study.config, "prolific_study_id": values["study_id"]}
        db.session.commit()


def cli(app, *argv: str, answer: str = "YES") -> tuple[int, str]:
    out = io.StringIO()
    code = run(app, ["prolific", *argv], confirm=lambda _prompt: answer, out=out)
    text = out.getvalue()
    assert TOKEN not in text
    return code, text


def join(app, study_id: str, person: str, session_id: str, statuses=(), slug: str = "tiny") -> str:
    """Enter through the Prolific URL (a browser of one's own) and walk through `statuses`."""
    public = enter(
        app.test_client(), slug, f"?PROLIFIC_PID={person}&STUDY_ID={study_id}&SESSION_ID={session_id}"
    )
    with app.app_context():
        p = db.session.scalars(select(Participant).where(Participant.public_id == public)).one()
        for status in statuses:
            if status != p.status:  # entering already consents (the participant is created on consent)
                set_status(db.session, p, status)
        db.session.commit()
    return public


def participant(app, public: str) -> Participant:
    with app.app_context():
        p = db.session.scalars(select(Participant).where(Participant.public_id == public)).one()
        db.session.expunge(p)
        return p


@pytest.fixture
def fake():
    f = FakeProlific().start()
    yield f
    f.stop()
    assert f.violations == []


@pytest.fixture
def sleeps(app, fake, monkeypatch):
    """The app's Prolific client talks to the fake; its back-off sleeps are recorded, not slept."""
    monkeypatch.setenv("PROLIFIC_TOKEN", TOKEN)
    monkeypatch.setenv("PROLIFIC_API_URL", fake.url)
    slept: list[float] = []
    app.extensions["prolific_client_factory"] = lambda: ProlificClient(TOKEN, fake.url, sleep=slept.append)
    use_prolific(app)
    return slept


def ledger(app, action: str | None = None) -> list[PaymentLedger]:
    with app.app_context():
        query = select(PaymentLedger).order_by(PaymentLedger.id)
        if action:
            query = query.where(PaymentLedger.action == action)
        rows = list(db.session.scalars(query))
        for r in rows:
            db.session.expunge(r)
        return rows
