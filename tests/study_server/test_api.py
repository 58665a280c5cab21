"""The participant JSON API: exactly-once storage, and a clear 4xx with no write for every bad input."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from study_server.models import Participant, Response, StatusEvent, db

from .helpers import enter, start, trial_labels


def n_responses(app) -> int:
    with app.app_context():
        return int(db.session.scalar(select(func.count(Response.id))) or 0)


def post(client, pid: str, body, **kw):
    return client.post(f"/api/p/{pid}/responses", json=body, **kw)


def test_whole_session_is_stored_and_completes(app, client):
    pid = enter(client)
    start(client, pid)
    trials = trial_labels(app, pid)
    # 4 sources shown once each (Latin square over regular/negative) + 2 catch trials
    assert len(trials) == 6
    for i, (_sid, label, _catch) in enumerate(trials):
        resp = post(client, pid, {"trial_index": i, "response": label, "rt_ms": 500 + i})
        assert resp.status_code == 201, resp.json
        assert resp.json["answered"] == i + 1
    assert resp.json["done"] is True
    assert resp.json["next"] == f"/p/{pid}/debrief"
    with app.app_context():
        p = db.session.scalars(select(Participant).where(Participant.public_id == pid)).one()
        assert p.status == "completed"
        rows = db.session.scalars(select(Response).where(Response.participant_id == p.id)).all()
        assert [r.trial_index for r in sorted(rows, key=lambda r: r.trial_index)] == list(range(6))
        assert all(r.correct for r in rows)
        events = db.session.scalars(select(StatusEvent).where(StatusEvent.participant_id == p.id)).all()
        assert [e.status for e in events] == ["allocated", "consented", "started", "completed"]
        assert all(e.at is not None for e in events)
        assert events[0].at <= events[-1].at
        code = p.completion_code
    debrief = client.get(f"/p/{pid}/debrief")
    assert debrief.status_code == 200
    # a plain link has nowhere to paste a code: none is shown unless the study asks for one
    assert code and code.encode() not in debrief.data and b"close this window" in debrief.data
    with app.app_context():
        from study_server.importer import import_stimulus_set
        from study_server.models import Study

        study = db.session.scalars(select(Study)).one()
        show = {"show_completion_code": True}
        import_stimulus_set(db.session, study.stimulus_dir, slug="tiny", config=show)
    assert code.encode() in client.get(f"/p/{pid}/debrief").data


def test_replay_is_idempotent_and_conflict_is_409(app, client):
    pid = enter(client)
    start(client, pid)
    first = post(client, pid, {"trial_index": 0, "response": 13, "rt_ms": 812.5})
    assert first.status_code == 201
    again = post(client, pid, {"trial_index": 0, "response": 13, "rt_ms": 999})
    assert again.status_code == 200
    assert again.json["created"] is False
    assert again.json["rt_ms"] == 812.5  # the stored result, unchanged
    conflict = post(client, pid, {"trial_index": 0, "response": 14, "rt_ms": 812.5})
    assert conflict.status_code == 409
    assert "different response" in conflict.json["error"]
    assert n_responses(app) == 1


def test_answer_before_start_is_refused(app, client):
    pid = enter(client)
    resp = post(client, pid, {"trial_index": 0, "response": 13, "rt_ms": 500})
    assert resp.status_code == 409
    assert n_responses(app) == 0


BAD_BODIES = [
    ({"trial_index": "0", "response": 13, "rt_ms": 5}, 400, "integer"),
    ({"trial_index": True, "response": 13, "rt_ms": 5}, 400, "integer"),
    ({"trial_index": 0.0, "response": 13, "rt_ms": 5}, 400, "integer"),
    ({"response": 13, "rt_ms": 5}, 400, "required"),
    ({"trial_index": 0, "response": "13", "rt_ms": 5}, 400, "integer"),
    ({"trial_index": 0, "response": 13, "rt_ms": "fast"}, 400, "finite number"),
    ({"trial_index": 0, "response": 13, "rt_ms": -1}, 400, "between"),
    ({"trial_index": 0, "response": 13, "rt_ms": 1e12}, 400, "between"),
    ({"trial_index": 0, "response": 13, "rt_ms": 5, "label": 3}, 400, "unknown field"),
    ({"trial_index": 0, "response": 42, "rt_ms": 5}, 400, "classes"),
    ({"trial_index": -1, "response": 13, "rt_ms": 5}, 400, "out of range"),
    ({"trial_index": 6, "response": 13, "rt_ms": 5}, 400, "out of range"),
    (
        {"trial_index": 0, "response": 13, "rt_ms": 5, "stimulus_id": "deadbeefdeadbeef"},
        404,
        "unknown stimulus",
    ),
    ({"trial_index": 0, "response": 13, "rt_ms": 5, "stimulus_id": 7}, 400, "string"),
    ([1, 2, 3], 400, "JSON object"),
]


@pytest.mark.parametrize(("body", "status", "words"), BAD_BODIES)
def test_bad_bodies_are_4xx_json_and_write_nothing(app, client, body, status, words):
    pid = enter(client)
    start(client, pid)
    resp = post(client, pid, body)
    assert resp.status_code == status
    assert resp.is_json and words in resp.json["error"]
    assert n_responses(app) == 0


def test_malformed_json_wrong_type_huge_body_unknown_ids(app, client):
    pid = enter(client)
    start(client, pid)
    url = f"/api/p/{pid}/responses"
    bad = client.post(url, data="{not json", content_type="application/json")
    assert bad.status_code == 400 and bad.json["error"] == "the body is not valid JSON"
    form = client.post(url, data={"trial_index": "0"})
    assert form.status_code == 415 and "application/json" in form.json["error"]
    huge = client.post(
        url, data=json.dumps({"trial_index": 0, "pad": "x" * 200_000}), content_type="application/json"
    )
    assert huge.status_code == 413 and huge.is_json and "too large" in huge.json["error"]
    medium = client.post(
        url, data=json.dumps({"trial_index": 0, "pad": "x" * 20_000}), content_type="application/json"
    )
    assert medium.status_code == 413 and medium.is_json
    unknown = post(client, "not-a-real-participant", {"trial_index": 0, "response": 13, "rt_ms": 5})
    assert unknown.status_code == 404 and unknown.json["error"] == "unknown participant"
    route = client.post("/api/nowhere", json={})
    assert route.status_code == 404 and route.is_json
    method = client.get(url)
    assert method.status_code == 405 and method.is_json
    assert n_responses(app) == 0


def test_failing_catch_trials_screens_out_politely(app, client):
    pid = enter(client)
    start(client, pid)
    trials = trial_labels(app, pid)
    catch = [i for i, (_, _, c) in enumerate(trials) if c]
    assert len(catch) == 2
    # threshold 1: the first wrong catch answer is tolerated, the second screens out
    wrong = next(cid for cid in (13, 14, 17) if cid != trials[catch[0]][1])
    r1 = post(client, pid, {"trial_index": catch[0], "response": wrong, "rt_ms": 400})
    assert r1.status_code == 201 and r1.json["status"] == "started"
    wrong2 = next(cid for cid in (13, 14, 17) if cid != trials[catch[1]][1])
    r2 = post(client, pid, {"trial_index": catch[1], "response": wrong2, "rt_ms": 400})
    assert r2.status_code == 201 and r2.json["status"] == "screened_out" and r2.json["done"]
    later = post(
        client, pid, {"trial_index": next(i for i in range(6) if i not in catch), "response": 13, "rt_ms": 1}
    )
    assert later.status_code == 409
    page = client.get(f"/p/{pid}/debrief")
    assert page.status_code == 200 and b"Thank you for your time" in page.data
    with app.app_context():
        p = db.session.scalars(select(Participant).where(Participant.public_id == pid)).one()
        assert p.status == "screened_out"
        code = p.study.config["screened_out_code"]
    assert code.encode() not in page.data  # plain link: no code to copy unless the study asks for one
    assert n_responses(app) == 2


def test_simultaneous_retries_store_once(app):
    """Six copies of the same answer arrive at once (a retry storm): one row, every reply a success."""
    import threading

    client = app.test_client()
    pid = enter(client)
    start(client, pid)
    label = trial_labels(app, pid)[0][1]
    barrier = threading.Barrier(6)
    codes: list[int] = []

    def send() -> None:
        c = app.test_client()
        barrier.wait(timeout=30)
        codes.append(post(c, pid, {"trial_index": 0, "response": label, "rt_ms": 700}).status_code)

    threads = [threading.Thread(target=send) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(codes) == [200] * 5 + [201]
    assert n_responses(app) == 1


def test_link_participants_get_their_own_completion_codes(app):
    codes = []
    for _ in range(2):
        client = app.test_client()
        pid = enter(client)
        start(client, pid)
        for i, (_sid, label, _c) in enumerate(trial_labels(app, pid)):
            assert post(client, pid, {"trial_index": i, "response": label, "rt_ms": 300}).status_code == 201
        with app.app_context():
            codes.append(
                db.session.scalars(
                    select(Participant.completion_code).where(Participant.public_id == pid)
                ).one()
            )
    assert all(len(c) == 10 for c in codes) and codes[0] != codes[1]
