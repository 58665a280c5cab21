"""The Prolific recruiter through its API: create, publish, review, bonus, exclusion, retries.

Prolific is the local fake (tests/study_server/fake_prolific.py), which checks every request against
the documented shapes and fails the test on any deviation; the client is the real requests-based one,
the database the test app's real one (SQLite, and PostgreSQL with -m postgres).
"""

from __future__ import annotations

import json
import logging
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from study_server.importer import import_stimulus_set
from study_server.models import Participant, Study, TrialList, db
from study_server.recruiters.prolific.client import ProlificClient

from . import prolific_helpers
from .conftest import OPEN
from .fake_prolific import TOKEN
from .prolific_helpers import (
    ENTRY,
    SETTINGS,
    cli,
    join,
    ledger,
    participant,
    pid,
    set_prolific,
    use_prolific,
)

fake, sleeps = prolific_helpers.fake, prolific_helpers.sleeps  # fixtures


def study_config(app, slug: str = "tiny") -> dict:
    with app.app_context():
        return dict(db.session.scalars(select(Study.config).where(Study.slug == slug)).one())


def test_create_study_dry_run_then_create_and_publish(app, fake, sleeps, caplog):
    caplog.set_level(logging.DEBUG)
    code, out = cli(app, "create-study", "--study", "tiny", "--url", ENTRY, "--dry-run")
    assert code == 0, out
    assert fake.changes() == []  # a dry run changes nothing; it only asks the cost calculator:
    assert fake.calls == [
        ("POST", "/api/v1/study-cost-calculator/", {"reward": 200, "total_available_places": 10})
    ]
    # 10 places x £2.00 = £20.00; Prolific's one-third fee: 20.00 / 3 = 6.666... -> £6.67
    assert "£20.00 to participants + £6.67 Prolific service fee = £26.67" in out
    assert "{{%PROLIFIC_PID%}}" in out and '"reward": 200' in out

    code, out = cli(app, "create-study", "--study", "tiny", "--url", ENTRY)
    assert code == 0, out
    (sid,) = fake.studies
    sent = fake.studies[sid]
    config = study_config(app)
    assert sent["status"] == "UNPUBLISHED"
    assert sent["external_study_url"] == (
        "https://studies.example.org/s/tiny/?PROLIFIC_PID={{%PROLIFIC_PID%}}"
        "&STUDY_ID={{%STUDY_ID%}}&SESSION_ID={{%SESSION_ID%}}"
    )
    assert (sent["reward"], sent["estimated_completion_time"], sent["total_available_places"]) == (
        200,
        10,
        10,
    )
    assert sent["device_compatibility"] == ["desktop", "tablet"]
    assert sent["prolific_id_option"] == "url_parameters"
    assert sent["completion_codes"] == [
        {
            "code": config["completion_code"],
            "code_type": "COMPLETED",
            "actions": [{"action": "MANUALLY_REVIEW"}],
        },
        {
            "code": config["screened_out_code"],
            "code_type": "FAILED_ATTENTION_CHECK",
            "actions": [{"action": "MANUALLY_REVIEW"}],
        },
    ]
    assert config["completion_code"] != config["screened_out_code"]
    assert config["prolific"]["study_id"] == sid and config["prolific_study_id"] == sid
    code, out = cli(app, "create-study", "--study", "tiny", "--url", ENTRY)
    assert code == 2 and len(fake.studies) == 1  # never a second draft

    code, out = cli(app, "publish", "--study", "tiny", answer="no")
    assert code == 2 and fake.studies[sid]["status"] == "UNPUBLISHED"
    code, out = cli(app, "publish", "--study", "tiny")
    assert code == 0, out
    assert f"POST {fake.url}studies/{sid}/transition/" in out and '"action": "PUBLISH"' in out
    assert fake.studies[sid]["status"] == "ACTIVE"
    (row,) = ledger(app, "publish")
    assert (row.status, row.platform, row.amount, row.fee) == (
        "succeeded",
        "prolific",
        Decimal("20.00"),
        Decimal("6.67"),
    )
    assert TOKEN not in caplog.text


def test_bad_settings_and_missing_token_are_one_line_errors(app, fake, sleeps, monkeypatch, capsys):
    set_prolific(app, reward="1.00")  # 10 min at £1.00 = £6.00/hour: exactly the minimum, allowed
    assert cli(app, "create-study", "--study", "tiny", "--url", ENTRY, "--dry-run")[0] == 0
    set_prolific(app, reward="0.99")
    code, _ = cli(app, "create-study", "--study", "tiny", "--url", ENTRY, "--dry-run")
    assert code == 2 and "below Prolific's minimum" in capsys.readouterr().err
    set_prolific(app, reward="2.00")
    code, _ = cli(app, "create-study", "--study", "tiny", "--url", "http://host/s/tiny/")
    assert code == 2 and "https" in capsys.readouterr().err
    app.extensions.pop("prolific_client_factory")
    monkeypatch.delenv("PROLIFIC_TOKEN")
    code, _ = cli(app, "create-study", "--study", "tiny", "--url", ENTRY)
    err = capsys.readouterr().err
    assert code == 2 and "PROLIFIC_TOKEN" in err and len(err.strip().splitlines()) == 1
    assert fake.changes() == []


def test_review_decides_from_the_servers_statuses(app, fake, sleeps):
    sid = fake.add_study()
    set_prolific(app, study_id=sid)
    people = {k: (pid(), pid()) for k in "ABCDEFG"}

    def sub(key: str, status: str, session: str | None = None) -> str:
        person, session_id = people[key]
        return fake.add_submission(sid, person, status, sub_id=session or session_id)

    done = ("consented", "started", "completed")
    a = join(app, sid, *people["A"], done)
    b = join(app, sid, *people["B"], ("consented", "started", "screened_out"))
    c = join(app, sid, *people["C"], ("consented", "started"))
    d = join(app, sid, *people["D"], ("consented",))
    e = join(app, sid, *people["E"], ("consented", "started"))
    join(app, sid, *people["G"], done)
    with app.app_context():
        pb = db.session.scalars(select(Participant).where(Participant.public_id == b)).one()
        pb.n_catch_failed = 2
        db.session.commit()
        assigned_before = db.session.scalar(select(func.sum(TrialList.n_assigned)))
    subs = {
        k: sub(k, s)
        for k, s in zip(
            "ABCDEF",
            [
                "AWAITING REVIEW",
                "AWAITING REVIEW",
                "RETURNED",
                "TIMED-OUT",
                "AWAITING REVIEW",
                "AWAITING REVIEW",
            ],
            strict=True,
        )
    }
    subs["G"] = sub("G", "AWAITING REVIEW", session=pid())  # right person, another session: no match
    fake.fail_next("GET", "/submissions/$", 429, retry_after="7")
    fake.fail_next("POST", "/bulk-approve/", 503)

    code, out = cli(app, "review", "--study", "tiny", "--dry-run")
    assert code == 0, out
    assert fake.changes() == []
    assert "approvals: 1, £2.00 to participants + £0.67 Prolific service fee = £2.67" in out

    code, out = cli(app, "review", "--study", "tiny")
    assert code == 0, out
    assert sleeps[0] == 7.0  # the 429's Retry-After, honoured
    assert len(sleeps) == 2  # and one back-off for the 503 on bulk approve, which was retried
    approve_calls = [c for c in fake.calls if c[1].endswith("/bulk-approve/")]
    assert approve_calls[-1][2] == {"submission_ids": [subs["A"]]}
    assert fake.submissions[subs["A"]]["status"] == "APPROVED"
    assert fake.submissions[subs["B"]]["status"] == "REJECTED"
    (reject_call,) = [c for c in fake.calls if c[1].endswith(f"{subs['B']}/transition/")]
    assert (
        reject_call[2]["rejection_category"] == "FAILED_CHECK"
        and "2 of this study's" in reject_call[2]["message"]
    )
    for key in "EFG":
        assert fake.submissions[subs[key]]["status"] == "AWAITING REVIEW"  # left for a person
    statuses = {k: participant(app, v).status for k, v in zip("ABCDE", [a, b, c, d, e], strict=True)}
    assert statuses == {"A": "approved", "B": "rejected", "C": "returned", "D": "abandoned", "E": "started"}
    with app.app_context():  # the returned and the timed-out participant gave their list slots back
        assert db.session.scalar(select(func.sum(TrialList.n_assigned))) == assigned_before - 2
    rows = {r.assignment_id: r for r in ledger(app)}
    assert rows[subs["A"]].action == "approve" and rows[subs["A"]].status == "confirmed"
    assert rows[subs["A"]].detail == "completed every trial (status completed)"
    assert rows[subs["B"]].action == "reject" and rows[subs["B"]].detail.startswith("FAILED_CHECK: ")
    list_pages = [c for c in fake.calls if c[0] == "GET" and "/submissions/" in c[1]]
    assert len(list_pages) >= 4  # 7 submissions, 2 per page (plus the retried first page)

    changes_before = len(fake.changes())
    code, out = cli(app, "review", "--study", "tiny")
    assert code == 0, out
    assert len(fake.changes()) == changes_before  # nothing decided twice


def test_bonus_is_paid_once_and_an_unknown_outcome_is_never_repaid_blindly(app, fake, sleeps, capsys):
    sid = fake.add_study()
    set_prolific(app, study_id=sid)
    person, session_id = pid(), pid()
    join(app, sid, person, session_id, ("consented", "started", "completed", "approved"))
    sub_id = fake.add_submission(sid, person, "APPROVED", sub_id=session_id)
    args = (
        "bonus",
        "--study",
        "tiny",
        "--submission",
        sub_id,
        "--amount",
        "0.50",
        "--reason",
        "fast and right",
    )

    code, out = cli(app, *args, "--dry-run")
    assert code == 0 and fake.paid_calls() == []
    assert "£0.50 to participants + £0.17 Prolific service fee = £0.67" in out  # 0.50/3 = 0.1666 -> 0.17
    fake.fail_next("POST", "/pay/$", 502)  # the pay call fails without paying: not retried
    code, out = cli(app, *args)
    assert code == 2 and "unconfirmed" in out
    assert len(fake.paid_calls()) == 1 and fake.submissions[sub_id]["bonus_payments"] == []
    (row,) = ledger(app, "bonus")
    assert row.status == "paying" and row.batch_id in fake.bulk_bonuses

    code, out = cli(app, *args)  # Prolific shows no bonus, but it may still come: never paid blindly
    assert code == 2 and "unconfirmed" in out and len(fake.paid_calls()) == 1
    capsys.readouterr()
    assert cli(app, "resolve-bonus", "--study", "tiny", "--ledger", str(row.id), "--unpaid")[0] == 0
    code, out = cli(app, *args)
    assert code == 0, out
    assert fake.submissions[sub_id]["bonus_payments"] == [50]
    (row,) = ledger(app, "bonus")
    assert (row.status, row.amount, row.fee, row.worker_id) == (
        "confirmed",
        Decimal("0.50"),
        Decimal("0.17"),
        person,
    )
    setup = [c for c in fake.calls if c[1].endswith("/bonus-payments/")][-1]
    assert setup[2] == {"study_id": sid, "csv_bonuses": f"{person},0.50\n"}
    code, out = cli(app, *args)
    assert code == 0 and "already paid" in out
    assert fake.submissions[sub_id]["bonus_payments"] == [50]
    assert participant(app, join_public(app, person)).status == "bonused"


def join_public(app, person: str) -> str:
    with app.app_context():
        return db.session.scalars(
            select(Participant.public_id).where(Participant.external_id == person)
        ).one()


def test_exclusion_group_blocks_repeat_participants(app, fake, sleeps, small_set):
    with app.app_context():
        import_stimulus_set(
            db.session,
            small_set,
            slug="tiny2",
            recruiter="prolific",
            config={**OPEN, "exclusion_group": "signs", "prolific": dict(SETTINGS)},
        )
    use_prolific(app, exclusion_group="signs")
    code, out = cli(app, "create-group", "--study", "tiny2", "--workspace", "w" * 24)
    assert code == 0, out
    (gid,) = fake.groups
    code, out = cli(app, "create-study", "--study", "tiny2", "--url", "https://studies.example.org/s/tiny2/")
    assert code == 0, out
    earlier = study_config(app, "tiny2")["prolific"]["study_id"]

    person = pid()
    join(app, earlier, person, pid(), ("consented", "started"), slug="tiny2")
    code, out = cli(app, "sync-group", "--study", "tiny2")
    assert code == 0 and fake.groups[gid]["members"] == {person}
    assert cli(app, "sync-group", "--study", "tiny2")[1].startswith("every participant")

    code, out = cli(app, "create-study", "--study", "tiny", "--url", ENTRY)
    assert code == 0, out
    sent = fake.studies[study_config(app)["prolific"]["study_id"]]
    assert sent["filters"] == [
        {"filter_id": "participant_group_blocklist", "selected_values": [gid]},
        {"filter_id": "previous_studies_blocklist", "selected_values": [earlier]},
    ]
    for code_ in sent["completion_codes"]:
        assert {"action": "ADD_TO_PARTICIPANT_GROUP", "participant_group": gid} in code_["actions"]
    # the server refuses the repeat participant itself too, before writing anything
    resp = app.test_client().get(f"/s/tiny/?PROLIFIC_PID={person}&STUDY_ID={sent['id']}&SESSION_ID={pid()}")
    assert resp.status_code == 403 and "already taken part" in resp.get_data(as_text=True)
    with app.app_context():
        tiny = db.session.scalars(select(Study).where(Study.slug == "tiny")).one()
        assert db.session.scalars(select(Participant).where(Participant.study_id == tiny.id)).all() == []


def test_client_retries_rate_limits_and_outages_but_never_a_payment(fake):
    slept: list[float] = []
    client = ProlificClient(TOKEN, fake.url, sleep=slept.append, max_attempts=3)
    sid = fake.add_study()
    fake.fail_next("GET", "/submissions/$", 429, retry_after="3")
    fake.fail_next("GET", "/submissions/$", 500)
    assert client.collect(f"studies/{sid}/submissions/") == []
    assert slept[0] == 3.0 and 0.5 <= slept[1] <= 2.0  # Retry-After, then jittered back-off 2**1 * [0.5, 1)
    fake.fail_next("POST", "/pay/$", 429, retry_after="1")  # wallet contention: a lost answer, not resent
    before, naps = len(fake.paid_calls()), len(slept)
    with pytest.raises(Exception, match="429"):
        client.post("bulk-bonus-payments/" + "0" * 24 + "/pay/", {}, repeatable=False)
    assert len(fake.paid_calls()) == before + 1 and len(slept) == naps
    fake.fail_next("POST", "/pay/$", 503)
    before = len(fake.paid_calls())
    with pytest.raises(Exception, match="503") as err:
        client.post("bulk-bonus-payments/" + "0" * 24 + "/pay/", {}, repeatable=False)
    assert len(fake.paid_calls()) == before + 1 and TOKEN not in str(err.value)
    bad = ProlificClient("wrong", fake.url, sleep=slept.append)
    with pytest.raises(Exception, match="401"):
        bad.get(f"studies/{sid}/submissions/")
    fake.violations.clear()  # the 401 above was the point of that call
    assert TOKEN not in repr(client) and json.dumps(client.base_url)


def test_manual_approve_and_reject_and_the_submissions_listing(app, fake, sleeps, capsys):
    sid = fake.add_study()
    set_prolific(app, study_id=sid)
    (p1, s1), (p2, s2) = (pid(), pid()), (pid(), pid())
    join(app, sid, p1, s1, ("consented", "started", "completed"))
    join(app, sid, p2, s2, ("consented", "started", "completed"))
    fake.add_submission(sid, p1, "AWAITING REVIEW", sub_id=s1)
    fake.add_submission(sid, p2, "AWAITING REVIEW", sub_id=s2)

    code, out = cli(app, "submissions", "--study", "tiny")
    assert code == 0 and out.splitlines()[-1] == "2 submission(s): 2 AWAITING REVIEW"
    assert f"{s1}\t{p1}\tAWAITING REVIEW\t" in out and "approve: completed every trial" in out

    why = (
        "The answers were given in under a second each, "
        "far faster than the images can be seen and judged here."
    )
    code, _ = cli(
        app, "reject", "--study", "tiny", "--submission", s2, "--category", "TOO_QUICKLY", "--message", "no"
    )
    assert code == 2 and "at least 100 characters" in capsys.readouterr().err
    code, _ = cli(
        app, "reject", "--study", "tiny", "--submission", s2, "--category", "RUDE", "--message", why * 2
    )
    assert code == 2 and "--category must be one of" in capsys.readouterr().err
    assert [c for c in fake.calls if c[0] == "POST"] == []  # refused before anything was sent

    code, out = cli(
        app, "reject", "--study", "tiny", "--submission", s2, "--category", "TOO_QUICKLY", "--message", why
    )
    assert code == 0, out
    assert fake.submissions[s2]["status"] == "REJECTED"
    code, out = cli(app, "approve", "--study", "tiny", "--submission", s1, "--dry-run")
    assert code == 0 and "£2.00 to participants + £0.67 Prolific service fee = £2.67" in out
    assert fake.submissions[s1]["status"] == "AWAITING REVIEW"
    code, out = cli(app, "approve", "--study", "tiny", "--submission", s1)
    assert code == 0 and fake.submissions[s1]["status"] == "APPROVED"
    code, out = cli(app, "approve", "--study", "tiny", "--submission", "f" * 24)
    assert code == 2 and "no such submission" in capsys.readouterr().err
    code, out = cli(app, "ledger", "--study", "tiny")
    assert "paid (approvals and bonuses): £2.00 to participants + £0.67 Prolific service fee = £2.67" in out


def test_api_url_and_retry_after_parsing():
    from datetime import UTC, datetime, timedelta
    from email.utils import format_datetime

    from study_server.recruiters.prolific.client import ProlificError, api_url_from_env, retry_after_s

    assert api_url_from_env({}) == "https://api.prolific.com/api/v1/"
    assert (
        api_url_from_env({"PROLIFIC_API_URL": "http://127.0.0.1:5000/api/v1"})
        == "http://127.0.0.1:5000/api/v1/"
    )
    for bad in ("http://example.org/api/v1/", "https://user:pw@example.org/", "ftp://127.0.0.1/"):
        with pytest.raises(ProlificError):
            api_url_from_env({"PROLIFIC_API_URL": bad})
    assert retry_after_s("12", 1.0) == 12.0
    assert retry_after_s(None, 1.5) == 1.5 and retry_after_s("soon", 2.0) == 2.0
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 <= retry_after_s(later, 1.0) <= 30  # an HTTP date: seconds from now (RFC 9110 10.2.3)
