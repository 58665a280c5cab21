"""Admin login, dashboard numbers, exports in the responses contract, and CSRF on forms."""

from __future__ import annotations

import csv
import hashlib
import hmac
import io

import pandas as pd
import pytest
from sqlalchemy import select

from study_server import create_app
from study_server.admin import create_admin
from study_server.export import COLUMNS, ExportError, responses_frame
from study_server.models import Participant, db

from .conftest import OPEN, SECRET
from .helpers import enter, start, trial_labels


@pytest.fixture
def finished(app, client):
    """Two participants: one answers all 6 trials (the first main trial wrong), one answers 2."""
    pids = []
    for n_answer in (6, 2):
        c = app.test_client()
        pid = enter(c)
        start(c, pid)
        trials = trial_labels(app, pid)
        first_main = next(i for i, t in enumerate(trials) if not t[2])
        for i in range(n_answer):
            label = trials[i][1]
            if i == first_main and n_answer == 6:
                label = next(x for x in (13, 14, 17) if x != label)
            r = c.post(
                f"/api/p/{pid}/responses",
                json={"trial_index": i, "response": label, "rt_ms": 100.0 * (i + 1)},
            )
            assert r.status_code == 201
        pids.append(pid)
    with app.app_context():
        create_admin("ada", "correct horse battery")
    return pids


def pseudo(public_id: str) -> str:
    return "p_" + hmac.new(SECRET.encode(), public_id.encode(), hashlib.sha256).hexdigest()[:16]


def login(client, password="correct horse battery"):
    return client.post("/admin/login", data={"username": "ada", "password": password})


def test_admin_pages_and_exports_need_login(app, client, finished):
    for url in (
        "/admin/",
        "/admin/study/tiny",
        "/admin/study/tiny/responses.csv",
        "/admin/study/tiny/responses.json",
    ):
        resp = client.get(url)
        assert resp.status_code == 302 and "/admin/login" in resp.headers["Location"]
    assert login(client, "wrong password").status_code == 401
    assert client.get("/admin/").status_code == 302
    assert login(client).status_code == 302
    assert client.get("/admin/").status_code == 200


def test_dashboard_and_export(app, client, finished):
    login(client)
    page = client.get("/admin/study/tiny").get_data(as_text=True)
    assert "completed</td><td>1" in page and "started</td><td>1" in page
    resp = client.get("/admin/study/tiny/responses.csv")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True))))
    assert tuple(rows[0].keys()) == COLUMNS
    assert len(rows) == 8
    with app.app_context():
        ids = {p.public_id for p in db.session.scalars(select(Participant))}
    # pseudonym = HMAC-SHA256(secret, public id), computed here independently with hmac
    expected = {
        "p_" + hmac.new(SECRET.encode(), pid.encode(), hashlib.sha256).hexdigest()[:16] for pid in ids
    }
    assert {r["participant"] for r in rows} == expected
    assert not any(pid in resp.get_data(as_text=True) for pid in ids)
    assert {r["catch"] for r in rows} <= {"true", "false"} and {r["simulated"] for r in rows} == {"false"}
    assert all(r["created_at"].endswith("Z") for r in rows)
    assert all(r["study"] == "tiny" and r["recruiter"] == "link" for r in rows)
    people = client.get("/admin/study/tiny/participants.json").json
    assert {p["participant"] for p in people} == expected
    with app.app_context():
        stored = {pseudo(p.public_id): p.legend_order for p in db.session.scalars(select(Participant))}
    for person in people:
        assert person["legend_order"] == stored[person["participant"]]
        assert sorted(person["legend_order"]) == [13, 14, 17]
        assert [e["status"] for e in person["events"]][:3] == ["allocated", "consented", "started"]
    js = client.get("/admin/study/tiny/responses.json").json
    assert len(js) == 8 and set(js[0]) == set(COLUMNS)
    # the public read-only function gives the same table
    frame = responses_frame(app.config["DATABASE_URL"], "tiny", secret_key=SECRET)
    assert list(frame.columns) == list(COLUMNS)
    csv_frame = pd.read_csv(io.StringIO(resp.get_data(as_text=True)))
    assert sorted(frame["participant"]) == sorted(csv_frame["participant"])
    assert frame["rt_ms"].tolist() == csv_frame["rt_ms"].tolist()


def test_dashboard_accuracy_per_condition(app, client, finished):
    """Accuracy recomputed here from the rows the fixture wrote (one main trial answered wrong)."""
    from study_server.admin import study_summary
    from study_server.models import Study

    with app.app_context():
        study = db.session.scalars(select(Study)).one()
        s = study_summary(study)
        by = {c["condition"]: c for c in s["conditions"]}
        assert sum(c["n"] for c in s["conditions"]) == 8
        assert sum(c["n"] - c["correct"] for c in s["conditions"]) == 1
        assert by["catch"]["accuracy"] == 1.0
        assert s["by_status"] == {"completed": 1, "started": 1}
        assert s["median_rt"] == pytest.approx(
            float(pd.Series([100, 200, 300, 400, 500, 600, 100, 200]).median())
        )


def test_participant_table_status_filter_screening_and_rounding(app, client, finished):
    """A third person fails both catch trials (threshold 1: screened out at the second failure), with a
    float RT as a browser sends it; numbers below are counted by hand from the fixture's answers."""
    from study_server.admin import study_summary
    from study_server.models import Study
    from study_server.participant_table import participant_rows

    c = app.test_client()
    pid = enter(c)
    start(c, pid)
    trials = trial_labels(app, pid)
    for i, (_, label, catch) in enumerate(trials):
        wrong = next(x for x in (13, 14, 17) if x != label)
        body = {"trial_index": i, "response": wrong if catch else label, "rt_ms": 16.69999999999999}
        if c.post(f"/api/p/{pid}/responses", json=body).status_code == 409:
            break
    with app.app_context():
        study = db.session.scalars(select(Study)).one()
        assert study_summary(study)["n_responses"] == 8  # the screened-out person is not counted
        rows = {r["participant"]: r for r in participant_rows(db.session, study, SECRET)}
    done, partial, out = (rows[pseudo(p)] for p in (*finished, pid))
    assert out["status"] == "screened_out" and out["catch"] == "2 failed of 2"
    assert done["status"] == "completed" and done["catch"] == "0 failed of 2"
    assert done["accuracy"] == 0.75  # 4 non-catch trials, the first answered wrong
    assert partial["answered"] == 2 and done["timed_trials"] == 0  # untimed study
    login(client)
    page = client.get("/admin/study/tiny").get_data(as_text=True)
    assert "Counts only people who are not screened out" in page and page.count("<code>p_") == 3
    only = client.get("/admin/study/tiny?status=completed").get_data(as_text=True)
    assert only.count("<code>p_") == 1 and "status=completed" in only  # the export links follow
    csv_rows = list(csv.DictReader(io.StringIO(client.get("/admin/study/tiny/responses.csv").text)))
    assert {r["rt_ms"] for r in csv_rows if r["participant"] == pseudo(pid)} == {"16.7"}
    kept = client.get("/admin/study/tiny/responses.csv?status=completed").text
    assert {r["participant"] for r in csv.DictReader(io.StringIO(kept))} == {pseudo(finished[0])}


def test_responses_frame_needs_a_secret(app, monkeypatch):
    monkeypatch.delenv("STUDY_SECRET_KEY", raising=False)
    with pytest.raises(ExportError, match="STUDY_SECRET_KEY"):
        responses_frame(app.config["DATABASE_URL"])
    monkeypatch.setenv("STUDY_SECRET_KEY", SECRET)
    assert list(responses_frame(app.config["DATABASE_URL"]).columns) == list(COLUMNS)
    with pytest.raises(ExportError, match="unknown study"):
        responses_frame(app.config["DATABASE_URL"], "nope")


def test_csrf_on_forms_but_not_on_the_api(tmp_path, small_set, database_url):
    from study_server.cli import upgrade_database
    from study_server.importer import import_stimulus_set

    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "SECRET_KEY": SECRET,
            "INSTANCE_PATH": str(tmp_path / "i"),
        }
    )
    upgrade_database(database_url)
    with app.app_context():
        import_stimulus_set(db.session, small_set, slug="tiny", config=OPEN)
    client = app.test_client()
    assert client.post("/admin/login", data={"username": "x", "password": "y"}).status_code == 400
    pid = enter(client)
    # participant forms act through the unguessable token (and work inside MTurk's cross-site iframe)
    assert client.post(f"/p/{pid}/consent", data={"agree": "yes"}).status_code == 302
    login_page = client.get("/admin/login").get_data(as_text=True)
    token = login_page.split('name="csrf_token" value="')[1].split('"')[0]
    assert (
        client.post("/admin/login", data={"username": "x", "password": "y", "csrf_token": token}).status_code
        == 401
    )
    api = client.post(f"/api/p/{pid}/responses", json={"trial_index": 0, "response": 13, "rt_ms": 1})
    assert api.status_code == 409  # reached the API (not started yet), no CSRF 400
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_responses_frame_cannot_write(app, finished):
    """The analysis entry point opens the database read-only (SQLite mode=ro / PostgreSQL READ ONLY)."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    from study_server.db import make_engine

    engine = make_engine(app.config["DATABASE_URL"], readonly=True)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM responses")).scalar() == 8
            with pytest.raises(DBAPIError):
                conn.execute(text("DELETE FROM responses"))
    finally:
        engine.dispose()
    assert len(responses_frame(app.config["DATABASE_URL"], "tiny", secret_key=SECRET)) == 8
