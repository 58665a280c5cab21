"""The Prolific recruiter: id validation on entry, and the completion-URL redirect at the end."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from study_server.lifecycle import set_status
from study_server.models import Participant, Study, db
from study_server.recruiters.base import BadEntry, Finish
from study_server.recruiters.prolific.recruiter import ProlificRecruiter

PID = "5f8d0d55b54764421b7156c3"
STUDY = "60a7c1a4e3f0b2d9a1c3e5f7"
SESSION = "6123456789abcdef01234567"
QUERY = f"?PROLIFIC_PID={PID}&STUDY_ID={STUDY}&SESSION_ID={SESSION}"


class FakeStudy:  # only the attribute parse_entry reads
    def __init__(self) -> None:
        self.config: dict = {"prolific_study_id": STUDY}


def test_parse_entry_validates_the_24_hex_ids():
    r = ProlificRecruiter()
    entry = r.parse_entry(
        FakeStudy(), {"PROLIFIC_PID": PID.upper(), "STUDY_ID": STUDY, "SESSION_ID": SESSION}
    )
    assert entry.external_id == PID  # normalised to lower case
    assert entry.data == {"PROLIFIC_PID": PID, "STUDY_ID": STUDY, "SESSION_ID": SESSION}
    for bad in (
        {"PROLIFIC_PID": PID, "STUDY_ID": STUDY},
        {"PROLIFIC_PID": PID[:-1], "STUDY_ID": STUDY, "SESSION_ID": SESSION},
        {"PROLIFIC_PID": "{{%PROLIFIC_PID%}}", "STUDY_ID": STUDY, "SESSION_ID": SESSION},
    ):
        with pytest.raises(BadEntry):
            r.parse_entry(FakeStudy(), bad)
    unlinked = FakeStudy()
    unlinked.config = {}  # a study not yet created on Prolific takes nobody: anyone can make up the ids
    with pytest.raises(BadEntry, match="not open on Prolific"):
        r.parse_entry(unlinked, {"PROLIFIC_PID": PID, "STUDY_ID": STUDY, "SESSION_ID": SESSION})


@pytest.fixture
def prolific(app):
    with app.app_context():
        study = db.session.scalars(select(Study).where(Study.slug == "tiny")).one()
        study.recruiter = "prolific"
        study.config = {
            **study.config,
            "completion_code": "C1A2B3",
            "screened_out_code": "SCR999",
            "prolific_study_id": STUDY,
        }
        db.session.commit()
    return app


def finish_for(app, client, status: str) -> tuple[str, Finish]:
    resp = client.post("/s/tiny/" + QUERY, data={"agree": "yes"})
    assert resp.status_code == 302
    with app.app_context():
        p = db.session.scalars(select(Participant)).one()
        assert (p.recruiter, p.external_id) == ("prolific", PID)
        assert p.recruiter_data == {"PROLIFIC_PID": PID, "STUDY_ID": STUDY, "SESSION_ID": SESSION}
        for step in ("started", status):  # consent created the participant
            set_status(db.session, p, step)
        db.session.commit()
        return p.public_id, ProlificRecruiter().finish(p.study, p, screened_out=status == "screened_out")


def test_completed_participant_is_sent_to_the_completion_url(prolific, client):
    pid, finish = finish_for(prolific, client, "completed")
    assert finish == Finish(
        kind="redirect", code="C1A2B3", url="https://app.prolific.com/submissions/complete?cc=C1A2B3"
    )
    page = client.get(f"/p/{pid}/debrief").get_data(as_text=True)
    assert 'href="https://app.prolific.com/submissions/complete?cc=C1A2B3"' in page


def test_screened_out_participant_gets_the_distinct_code(prolific, client):
    _pid, finish = finish_for(prolific, client, "screened_out")
    assert finish.code == "SCR999"
    assert finish.url == "https://app.prolific.com/submissions/complete?cc=SCR999"


def test_bad_or_foreign_entry_is_a_400_and_writes_nothing(prolific, client):
    other_study = "0" * 24
    for query in ("?PROLIFIC_PID=abc", QUERY.replace(STUDY, other_study)):
        assert client.get("/s/tiny/" + query).status_code == 400
    with prolific.app_context():
        assert db.session.scalars(select(Participant)).all() == []
