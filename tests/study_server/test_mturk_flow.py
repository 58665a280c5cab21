"""The MTurk recruiter end to end inside the app: entry, refusal, qualification, submit form, CLI review.

MTurk itself is the real boto3 client behind botocore's Stubber (requests validated against the
service model, parameters asserted); the database is the test app's real one.
"""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from study_server.importer import import_stimulus_set
from study_server.lifecycle import set_status
from study_server.models import Participant, Study, db
from study_server.recruiters.cli import run
from study_server.recruiters.models import MTurkHIT, PaymentLedger
from study_server.recruiters.mturk.hits import build_hit
from study_server.recruiters.mturk.review import bonus_token, record_action

from .conftest import OPEN
from .recruit_helpers import (
    ASSIGNMENT,
    ASSIGNMENT2,
    HIT,
    QUAL,
    WORKER,
    WORKER2,
    assignment,
    hit_response,
    stubbed_client,
)

SUBMIT = "https://workersandbox.mturk.com"
AGREE = {"agree": "yes"}
"""The consent form: entering the study creates the participant (a GET only shows the consent page)."""
MTURK_CONFIG = {
    "title": "Recognise traffic signs",
    "description": "Pick the class of small sign images.",
    "reward": "1.50",
    "max_assignments": 9,
    "min_approved": 0,
    "locales": [],
    "sandbox_qualification_type_id": QUAL,
}


@pytest.fixture
def mturk(app, small_set):
    """Study 'tiny' recruits on MTurk, shares exclusion group 'signs' with 'tiny2'; 'other' is apart."""
    client, stub = stubbed_client()
    live_client, live_stub = stubbed_client(live=True)
    app.extensions["mturk_client_factory"] = lambda live=False: live_client if live else client
    with app.app_context():
        study = db.session.scalars(select(Study).where(Study.slug == "tiny")).one()
        study.recruiter = "mturk"
        study.config = {**study.config, "mturk": dict(MTURK_CONFIG), "exclusion_group": "signs"}
        db.session.commit()
        for slug, group in (("tiny2", "signs"), ("other", "else")):
            import_stimulus_set(
                db.session,
                small_set,
                slug=slug,
                recruiter="mturk",
                config={**OPEN, "mturk": dict(MTURK_CONFIG), "exclusion_group": group},
            )
    return {"client": client, "stub": stub, "live_stub": live_stub}


def entry_query(worker=WORKER, assignment_id=ASSIGNMENT, hit=HIT, submit=SUBMIT) -> str:
    return f"?assignmentId={assignment_id}&hitId={hit}&workerId={worker}&turkSubmitTo={submit}"


def grant(stub, worker=WORKER) -> None:
    stub.add_response(
        "associate_qualification_with_worker",
        {},
        expected_params={
            "QualificationTypeId": QUAL,
            "WorkerId": worker,
            "IntegerValue": 1,
            "SendNotification": False,
        },
    )


def participants(app) -> list[Participant]:
    with app.app_context():
        rows = db.session.scalars(select(Participant).order_by(Participant.id)).all()
        db.session.expunge_all()
        return list(rows)


def test_preview_shows_the_advert_and_writes_nothing(app, client, mturk):
    resp = client.get(f"/s/tiny/?assignmentId=ASSIGNMENT_ID_NOT_AVAILABLE&hitId={HIT}")
    assert resp.status_code == 200
    assert b"Accept the task" in resp.data
    assert participants(app) == []
    assert "study_tiny" not in resp.headers.get("Set-Cookie", "")


def test_accept_records_ids_and_grants_the_qualification(app, client, mturk):
    grant(mturk["stub"])
    resp = client.post("/s/tiny/" + entry_query(), data={"agree": "yes"})
    assert resp.status_code == 302
    mturk["stub"].assert_no_pending_responses()
    (p,) = participants(app)
    assert p.recruiter == "mturk" and p.external_id == WORKER
    assert p.recruiter_data == {
        "assignmentId": ASSIGNMENT,
        "hitId": HIT,
        "workerId": WORKER,
        "turkSubmitTo": SUBMIT,
        "qualification": "granted",
    }


@pytest.mark.parametrize(
    "query",
    [
        f"?assignmentId={ASSIGNMENT}&hitId={HIT}&turkSubmitTo={SUBMIT}",  # no workerId
        entry_query(worker="bad id!"),
        entry_query(submit="https://evil.example"),  # the debrief would POST there
        entry_query(submit="javascript:alert(1)"),
    ],
)
def test_bad_entry_is_a_400_and_writes_nothing(app, client, mturk, query):
    resp = client.post("/s/tiny/" + query, data={"agree": "yes"})
    assert resp.status_code == 400
    assert participants(app) == []


def test_repeat_worker_in_the_exclusion_group_is_refused(app, client, mturk):
    grant(mturk["stub"])
    assert client.post("/s/tiny/" + entry_query(), data={"agree": "yes"}).status_code == 302
    fresh = app.test_client()  # no cookie: only the worker id links the two visits
    refused = fresh.post("/s/tiny2/" + entry_query(assignment_id=ASSIGNMENT2), data={"agree": "yes"})
    assert refused.status_code == 403
    assert b"already taken part" in refused.data
    assert len(participants(app)) == 1
    # a study outside the group admits the same worker
    grant(mturk["stub"])
    assert fresh.post("/s/other/" + entry_query(assignment_id=ASSIGNMENT2), data=AGREE).status_code == 302
    assert len(participants(app)) == 2
    mturk["stub"].assert_no_pending_responses()


def test_failed_grant_never_blocks_the_worker_and_sync_grants_later(app, client, mturk):
    mturk["stub"].add_client_error("associate_qualification_with_worker", "ServiceFault", "internal error")
    assert client.post("/s/tiny/" + entry_query(), data={"agree": "yes"}).status_code == 302
    (p,) = participants(app)
    assert p.recruiter_data["qualification"] == "pending"
    grant(mturk["stub"])
    out = io.StringIO()
    assert run(app, ["mturk", "sync-qualifications", "--study", "tiny"], out=out) == 0
    assert "granted the qualification to 1 worker(s)" in out.getvalue()
    assert participants(app)[0].recruiter_data["qualification"] == "granted"
    mturk["stub"].assert_no_pending_responses()


def test_debrief_posts_assignment_and_code_to_external_submit(app, client, mturk):
    grant(mturk["stub"])
    client.post("/s/tiny/" + entry_query(), data={"agree": "yes"})
    with app.app_context():
        p = db.session.scalars(select(Participant)).one()
        p.completion_code = "C0DE42"
        for step in ("started", "completed"):  # consent created the participant
            set_status(db.session, p, step)
        db.session.commit()
        pid = p.public_id
    page = client.get(f"/p/{pid}/debrief").get_data(as_text=True)
    assert f'action="{SUBMIT}/mturk/externalSubmit"' in page
    assert re.search(rf'name="assignmentId" value="{ASSIGNMENT}"', page)
    assert re.search(r'name="completion_code" value="C0DE42"', page)


def mturk_cli(app, *argv, confirm=lambda _prompt: "no"):
    out = io.StringIO()
    code = run(app, ["mturk", *argv], out=out, confirm=confirm)
    return code, out.getvalue()


def ledger(app) -> list[tuple[str, str, str | None]]:
    with app.app_context():
        rows = db.session.scalars(select(PaymentLedger).order_by(PaymentLedger.id)).all()
        return [(r.action, r.status, r.assignment_id or r.hit_id) for r in rows]


URL = "https://study.example.org/s/tiny/"


def test_create_hit_dry_run_then_once_per_batch(app, mturk):
    code, out = mturk_cli(app, "create-hit", "--study", "tiny", "--url", URL, "--batch", "b1", "--dry-run")
    assert code == 0
    # 9 x 1.50 = 13.50 to workers; fee 20% of 1.50 = 0.30 x 9 = 2.70 (fewer than 10 assignments)
    assert "$13.50 to workers + $2.70 MTurk fees = $16.20" in out
    assert "[dry run]" in out and "sandbox" in out
    assert ledger(app) == []
    with app.app_context():
        study = db.session.scalars(select(Study).where(Study.slug == "tiny")).one()
        plan = build_hit("tiny", study.config, URL, batch="b1")
    assert {
        "QualificationTypeId": QUAL,
        "Comparator": "DoesNotExist",
        "ActionsGuarded": "DiscoverPreviewAndAccept",
    } in (plan.params["QualificationRequirements"])
    mturk["stub"].add_client_error(
        "create_hit", "ThrottlingException", "Rate exceeded", expected_params=plan.params
    )
    mturk["stub"].add_response("create_hit", hit_response(), expected_params=plan.params)
    from study_server.recruiters.mturk import client as mturk_client

    orig = mturk_client.time.sleep
    mturk_client.time.sleep = lambda _s: None  # the CLI's default sleep; the retry itself is real
    try:
        code, out = mturk_cli(app, "create-hit", "--study", "tiny", "--url", URL, "--batch", "b1")
    finally:
        mturk_client.time.sleep = orig
    assert code == 0, out
    assert "MTurk endpoint: https://mturk-requester-sandbox.us-east-1.amazonaws.com (sandbox)" in out
    assert f"HIT {HIT}: created" in out
    mturk["stub"].assert_no_pending_responses()
    # same batch again: the ledger says it succeeded, nothing is sent (the Stubber has no response left)
    code, out = mturk_cli(app, "create-hit", "--study", "tiny", "--url", URL, "--batch", "b1")
    assert code == 0 and "already created" in out
    with app.app_context():
        hits = db.session.scalars(select(MTurkHIT)).all()
        assert [(h.hit_id, h.sandbox, h.reward, h.max_assignments) for h in hits] == [(HIT, True, "1.50", 9)]
        row = db.session.scalars(select(PaymentLedger)).one()
        assert (row.action, row.status, row.amount, row.fee) == (
            "create_hit",
            "succeeded",
            Decimal("13.50"),
            Decimal("2.70"),
        )


def test_live_needs_the_typed_confirmation(app, mturk):
    code, _ = mturk_cli(app, "create-hit", "--study", "tiny", "--url", URL, "--batch", "b1", "--live")
    assert code == 2  # confirm answered "no": nothing sent (the live Stubber has no responses queued)
    assert ledger(app) == []


def setup_reviewable(app, client, mturk):
    """Two workers took part through HIT; the HIT is recorded; listing returns 2 pages."""
    for worker, asg in ((WORKER, ASSIGNMENT), (WORKER2, ASSIGNMENT2)):
        grant(mturk["stub"], worker)
        app.test_client().post("/s/other/" + entry_query(worker=worker, assignment_id=asg), data=AGREE)
    with app.app_context():
        study = db.session.scalars(select(Study).where(Study.slug == "other")).one()
        db.session.add(
            MTurkHIT(
                study_id=study.id,
                hit_id=HIT,
                request_token="t",
                sandbox=True,
                endpoint_url="x",
                reward="1.50",
                max_assignments=9,
            )
        )
        db.session.commit()


def queue_listing(stub, times=1):
    base = {"HITId": HIT, "MaxResults": 100, "AssignmentStatuses": ["Submitted", "Approved", "Rejected"]}
    for _ in range(times):
        stub.add_response(
            "list_assignments_for_hit",
            {"Assignments": [assignment(ASSIGNMENT, WORKER)], "NextToken": "p2"},
            expected_params=base,
        )
        stub.add_response(
            "list_assignments_for_hit",
            {"Assignments": [assignment(ASSIGNMENT2, WORKER2)]},
            expected_params={**base, "NextToken": "p2"},
        )


def test_approve_reject_bonus_are_ledgered_and_idempotent(app, client, mturk):
    stub = mturk["stub"]
    setup_reviewable(app, client, mturk)
    queue_listing(stub)
    code, out = mturk_cli(app, "approve", "--study", "other", "--all-submitted", "--dry-run")
    assert code == 0
    # 2 x $1.50, fee 20% = $0.30 each
    assert "[dry run] total: 2 x approve, $3.00 to workers + $0.60 MTurk fees = $3.60" in out
    assert ledger(app) == []

    queue_listing(stub)
    stub.add_response("approve_assignment", {}, expected_params={"AssignmentId": ASSIGNMENT})
    code, out = mturk_cli(app, "approve", "--study", "other", "--assignment", ASSIGNMENT)
    assert code == 0, out
    queue_listing(stub)  # again: the ledger stops a second ApproveAssignment
    code, out = mturk_cli(app, "approve", "--study", "other", "--assignment", ASSIGNMENT)
    assert code == 0 and "already done" in out

    queue_listing(stub)
    code, _ = mturk_cli(app, "reject", "--study", "other", "--assignment", ASSIGNMENT2, "--feedback", "  ")
    assert code == 2  # feedback is required
    feedback = "Most catch images were answered wrongly."
    stub.add_response(
        "reject_assignment", {}, expected_params={"AssignmentId": ASSIGNMENT2, "RequesterFeedback": feedback}
    )
    code, out = mturk_cli(
        app, "reject", "--study", "other", "--assignment", ASSIGNMENT2, "--feedback", feedback
    )
    assert code == 0, out

    token = bonus_token(WORKER, ASSIGNMENT)
    params = {
        "WorkerId": WORKER,
        "AssignmentId": ASSIGNMENT,
        "BonusAmount": "0.50",
        "Reason": "Thanks!",
        "UniqueRequestToken": token,
    }
    queue_listing(stub)
    for _ in range(5):  # every attempt throttled: the ledger row ends "failed", exit code 2
        stub.add_client_error("send_bonus", "ThrottlingException", "Rate exceeded", expected_params=params)
    from study_server.recruiters.mturk import client as mturk_client

    orig = mturk_client.time.sleep
    mturk_client.time.sleep = lambda _s: None
    try:
        code, out = mturk_cli(
            app,
            "bonus",
            "--study",
            "other",
            "--assignment",
            ASSIGNMENT,
            "--amount",
            "0.5",
            "--reason",
            "Thanks!",
        )
        assert code == 2 and "failed" in out
        assert ledger(app)[-1] == ("bonus", "failed", ASSIGNMENT)
        queue_listing(stub)
        stub.add_response("send_bonus", {}, expected_params=params)  # same token on the retry
        code, out = mturk_cli(
            app,
            "bonus",
            "--study",
            "other",
            "--assignment",
            ASSIGNMENT,
            "--amount",
            "0.50",
            "--reason",
            "Thanks!",
        )
        assert code == 0 and "$0.50 to workers + $0.10 MTurk fees" in out
        queue_listing(stub)
        code, out = mturk_cli(
            app,
            "bonus",
            "--study",
            "other",
            "--assignment",
            ASSIGNMENT,
            "--amount",
            "0.50",
            "--reason",
            "Thanks!",
        )
        assert code == 0 and "already done" in out
    finally:
        mturk_client.time.sleep = orig
    stub.assert_no_pending_responses()

    assert ledger(app) == [
        ("approve", "succeeded", ASSIGNMENT),
        ("reject", "succeeded", ASSIGNMENT2),
        ("bonus", "succeeded", ASSIGNMENT),
    ]
    with app.app_context():
        status = dict(db.session.execute(select(Participant.external_id, Participant.status)).all())
        assert status == {WORKER: "bonused", WORKER2: "rejected"}
        row = db.session.scalars(select(PaymentLedger).where(PaymentLedger.action == "bonus")).one()
        assert (row.request_token, row.amount, row.fee) == (token, Decimal("0.50"), Decimal("0.10"))


def test_ledger_row_is_pending_before_the_call(app, mturk):
    seen = []

    def call():
        with app.app_context():  # a second session sees the committed row
            other = db.session.scalars(select(PaymentLedger)).one()
            seen.append(other.status)
        return {}

    with app.app_context():
        outcome, _ = record_action(db.session, action="approve", token=ASSIGNMENT, call=call, sandbox=True)
        assert outcome.ok
    assert seen == ["pending"]


def test_expire_sets_expiration_in_the_past(app, client, mturk):
    setup_reviewable(app, client, mturk)
    stub = mturk["stub"]
    stub.add_response(
        "update_expiration_for_hit",
        {},
        expected_params={"HITId": HIT, "ExpireAt": datetime(2015, 1, 1, tzinfo=UTC)},
    )
    code, out = mturk_cli(app, "expire", "--study", "other")
    assert code == 0 and f"expire {HIT}: succeeded" in out
    stub.assert_no_pending_responses()
    with app.app_context():
        assert db.session.scalar(select(func.count(PaymentLedger.id))) == 1


def test_cli_user_errors_are_one_line(app, mturk, capsys):
    assert mturk_cli(app, "approve", "--study", "nope")[0] == 2
    assert "no study with slug 'nope'" in capsys.readouterr().err
    code, _ = mturk_cli(app, "create-hit", "--study", "tiny", "--url", "http://x/", "--batch", "b")
    assert code == 2
    assert "https" in capsys.readouterr().err


def test_assignments_match_on_worker_and_assignment_together(app, client, mturk):
    setup_reviewable(app, client, mturk)
    base = {"HITId": HIT, "MaxResults": 100, "AssignmentStatuses": ["Submitted", "Approved", "Rejected"]}
    other_assignment = "3ASSIGN0000000000000000000099"  # WORKER, but not the assignment they entered with
    mturk["stub"].add_response(
        "list_assignments_for_hit",
        {"Assignments": [assignment(ASSIGNMENT, WORKER), assignment(other_assignment, WORKER)]},
        expected_params=base,
    )
    code, out = mturk_cli(app, "assignments", "--study", "other")
    assert code == 0
    lines = {line.split("\t")[0]: line.split("\t") for line in out.splitlines() if "\t" in line}
    assert lines[ASSIGNMENT][3] != "NO MATCHING PARTICIPANT" and lines[ASSIGNMENT][4] == "consented"
    assert lines[other_assignment][3] == "NO MATCHING PARTICIPANT"
    assert out.rstrip().endswith("2 assignment(s)")


def test_admit_refuses_a_worker_already_in_this_study(app, client, mturk):
    from study_server.recruiters.base import Entry, EntryRefused
    from study_server.recruiters.mturk.recruiter import MTurkRecruiter

    grant(mturk["stub"])
    assert client.post("/s/tiny/" + entry_query(), data={"agree": "yes"}).status_code == 302
    with app.app_context():
        study = db.session.scalars(select(Study).where(Study.slug == "tiny")).one()
        recruiter = MTurkRecruiter()
        with pytest.raises(EntryRefused, match="already taken part"):
            recruiter.admit(db.session, study, Entry(external_id=WORKER, data={"assignmentId": ASSIGNMENT2}))
        recruiter.admit(db.session, study, Entry(external_id=WORKER2, data={"assignmentId": ASSIGNMENT2}))


def test_returning_worker_on_a_new_assignment_through_the_study_link(app, client, mturk):
    """Unfinished: keeps the old list but hands back through the new assignment. Finished: refused."""
    grant(mturk["stub"])
    assert client.post("/s/tiny/" + entry_query(), data={"agree": "yes"}).status_code == 302
    again = client.post("/s/tiny/" + entry_query(assignment_id=ASSIGNMENT2), data={"agree": "yes"})
    assert again.status_code == 302
    (p,) = participants(app)
    assert p.recruiter_data["assignmentId"] == ASSIGNMENT2
    with app.app_context():
        row = db.session.get(Participant, p.id)
        set_status(db.session, row, "started")  # consent created the participant
        set_status(db.session, row, "completed")
        db.session.commit()
    refused = client.post("/s/tiny/" + entry_query(assignment_id=ASSIGNMENT), data={"agree": "yes"})
    assert refused.status_code == 403
    assert b"already taken part" in refused.data
    assert len(participants(app)) == 1
    assert participants(app)[0].recruiter_data["assignmentId"] == ASSIGNMENT2


def test_create_qualification_shares_the_groups_then_creates_one(app, mturk):
    """A study of a group that has a qualification reuses it (nothing sent); a lone study gets a new one."""
    with app.app_context():
        for slug in ("tiny2", "other"):
            study = db.session.scalars(select(Study).where(Study.slug == slug)).one()
            settings = dict(study.config["mturk"])
            del settings["sandbox_qualification_type_id"]
            study.config = {**study.config, "mturk": settings}
        db.session.commit()
    code, out = mturk_cli(app, "create-qualification", "--study", "tiny2")
    assert (code, out) == (0, f"qualification type: {QUAL}\n")  # no endpoint line: MTurk was not asked
    new = "3NEWQUALIFICATIONTYPE0000000"
    mturk["stub"].add_response(
        "create_qualification_type",
        {"QualificationType": {"QualificationTypeId": new}},
        expected_params={
            "Name": "took part: else",
            "Description": "Workers who started a study of 'else'; keeps them out of repeats.",
            "QualificationTypeStatus": "Active",
        },
    )
    code, out = mturk_cli(app, "create-qualification", "--study", "other")
    assert code == 0 and out.endswith(f"qualification type: {new}\n") and "sandbox" in out
    mturk["stub"].assert_no_pending_responses()
    with app.app_context():
        stored = {
            s.slug: s.config["mturk"].get("sandbox_qualification_type_id")
            for s in db.session.scalars(select(Study))
        }
    assert stored == {"tiny": QUAL, "tiny2": QUAL, "other": new}
