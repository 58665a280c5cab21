"""The "none of these" answer: offered by fooling sets only, stored as its own answer (not a missing one)
and exported as the word "none"; on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from study_server.export import frame_from_session, to_csv
from study_server.importer import import_stimulus_set
from study_server.models import NONE_ANSWER, Participant, Response, Study, db
from tests.analysis.test_fooling import build_fooling_set

from .conftest import OPEN, SECRET
from .helpers import enter, start, trial_labels


@pytest.fixture
def fool_app(app, tmp_path_factory):
    with app.app_context():
        study, _ = import_stimulus_set(
            db.session,
            build_fooling_set(tmp_path_factory.mktemp("fool") / "set"),
            slug="fool",
            config={**OPEN, "practice_trials": 0},
        )
        assert study.config["allow_none"] is True
        tiny = db.session.scalars(select(Study).where(Study.slug == "tiny")).one()
        assert tiny.config["allow_none"] is False  # a regular/negative set has no "none" answer
        db.session.remove()
    return app


def post(client, pid: str, body):
    return client.post(f"/api/p/{pid}/responses", json=body)


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


def test_none_is_stored_as_its_own_answer_and_exported_as_none(fool_app):
    client = fool_app.test_client()
    pid = enter(client, "fool")
    start(client, pid)
    trials = trial_labels(fool_app, pid)
    assert len(trials) == 4 + 2  # one image per target class (encodings counterbalanced) + 2 catch
    answers = []
    for i, (_sid, label, catch) in enumerate(trials):
        answer = label if catch or i % 2 else "none"
        answers.append(answer)
        resp = post(client, pid, {"trial_index": i, "response": answer, "rt_ms": 700})
        assert resp.status_code == 201, resp.json
        assert resp.json["response"] == answer
    # a replay of "none" is the same answer (200); a class instead of it is a conflict (409)
    first_none = answers.index("none")
    again = post(client, pid, {"trial_index": first_none, "response": "none", "rt_ms": 700})
    assert again.status_code == 200 and again.json["created"] is False and again.json["response"] == "none"
    other = post(client, pid, {"trial_index": first_none, "response": trials[first_none][1]})
    assert other.status_code == 409
    rows = stored(fool_app, pid)
    assert [r.response for r in rows] == [NONE_ANSWER if a == "none" else a for a in answers]
    assert all(r.response is not None for r in rows)  # not a missing answer
    assert [r.correct for r in rows] == [a != "none" for a in answers]
    with fool_app.app_context():
        frame = frame_from_session(db.session, SECRET, "fool")
        db.session.remove()
    assert frame["response"].tolist() == answers
    csv_text = to_csv(frame)
    assert csv_text.count(",none,") == answers.count("none")


def test_none_is_refused_where_the_set_does_not_offer_it_and_bad_values_are_400(fool_app):
    client = fool_app.test_client()
    pid = enter(client, "tiny")
    start(client, pid)
    resp = post(client, pid, {"trial_index": 0, "response": "none"})
    assert resp.status_code == 400 and "no 'none' answer" in resp.json["error"]
    fpid = enter(client, "fool")
    start(client, fpid)
    for bad in ("None", "NONE", "nothing", "", -1, [None]):
        resp = post(client, fpid, {"trial_index": 0, "response": bad})
        assert resp.status_code == 400, (bad, resp.json)
    assert stored(fool_app, pid) == [] and stored(fool_app, fpid) == []


def test_the_runner_and_instructions_offer_none_only_for_fooling_sets(fool_app):
    client = fool_app.test_client()
    for slug, offered in (("fool", True), ("tiny", False)):
        pid = enter(client, slug)
        # the card and blind-spot steps come first (530 px at 3.75 px/mm: about 59 cm away)
        client.post(f"/p/{pid}/calibrate", data={"card_px": "321", "blindspot_px": "530"})
        page = client.get(f"/p/{pid}/instructions").get_data(as_text=True)
        assert ('id="none-allowed"' in page) is offered
        assert ("exactly one right answer" in page) is not offered
        client.post(f"/p/{pid}/start")
        runner = client.get(f"/p/{pid}/trials").get_data(as_text=True)
        assert f'"allow_none": {"true" if offered else "false"}' in runner


def test_allow_none_is_not_a_setting(fool_app, small_set):
    from study_server.importer import StudyImportError

    with fool_app.app_context():
        with pytest.raises(StudyImportError, match="not a setting"):
            import_stimulus_set(db.session, small_set, slug="tiny2", config={"allow_none": True})
        assert db.session.scalars(select(Study).where(Study.slug == "tiny2")).one_or_none() is None
        db.session.remove()
