"""kill -9 the bonus command between Prolific's two bonus calls: a rerun never pays twice.

`python -m study_server.recruiters prolific bonus` runs as a real subprocess against the local fake
Prolific. The fake parks one request at a chosen point (after its effect, before its answer), the test
SIGKILLs the command there, and then runs it again:

* killed after the bulk bonus was set up on Prolific but before the ledger heard of it: the rerun sets
  up a fresh bulk bonus and pays that one once; the first stays unpaid;
* killed after the pay call ran on Prolific but before its answer: the ledger says "paying", so the
  rerun asks Prolific, finds the bonus on the submission and records it, without paying again;
* killed after Prolific accepted the payment but before the submission was read back: the ledger says
  "submitted", and `prolific reconcile` confirms it from the submission; nothing is paid again.
"""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal

import pytest
from sqlalchemy import select

from study_server.models import db
from study_server.recruiters.models import PaymentLedger

from .conftest import SECRET
from .fake_prolific import TOKEN, FakeProlific
from .prolific_helpers import join, pid, set_prolific, use_prolific


@pytest.fixture
def fake():
    f = FakeProlific().start()
    yield f
    f.stop()
    assert f.violations == []


@pytest.fixture
def bonus_case(app, fake):
    """An approved Prolific submission of study 'tiny', and the command that pays it a bonus."""
    use_prolific(app)
    sid = fake.add_study()
    set_prolific(app, study_id=sid)
    person, session_id = pid(), pid()
    join(app, sid, person, session_id, ("consented", "started", "completed", "approved"))
    sub_id = fake.add_submission(sid, person, "APPROVED", sub_id=session_id)
    env = {
        **os.environ,
        "STUDY_DATABASE_URL": app.config["DATABASE_URL"],
        "STUDY_SECRET_KEY": SECRET,
        "STUDY_INSTANCE_PATH": app.config["INSTANCE_PATH"],
        "PROLIFIC_TOKEN": TOKEN,
        "PROLIFIC_API_URL": fake.url,
    }
    argv = [sys.executable, "-m", "study_server.recruiters", "prolific", "bonus", "--study", "tiny"]
    argv += ["--submission", sub_id, "--amount", "0.50", "--reason", "all catch trials right", "--yes"]

    def start(command: list[str] = argv) -> subprocess.Popen:
        return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    return {"start": start, "sub": sub_id, "person": person, "argv": argv}


def rows(app) -> list[PaymentLedger]:
    with app.app_context():
        found = list(db.session.scalars(select(PaymentLedger).where(PaymentLedger.action == "bonus")))
        for r in found:
            db.session.expunge(r)
        db.session.remove()
        return found


def kill_at(fake: FakeProlific, start, pattern: str, method: str = "POST") -> None:
    held = fake.hold(method, pattern, after_effect=True)
    proc = start()
    try:
        assert held.arrived.wait(60), proc.communicate(timeout=5)[0]
    finally:
        proc.kill()  # SIGKILL: no cleanup, no rollback, no except clause runs
        proc.communicate(timeout=10)  # reaps it and closes its pipe
        held.release.set()


def rerun(start) -> str:
    proc = start()
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert TOKEN not in out
    return out


def test_killed_after_setup_before_pay_reruns_with_one_payment(app, fake, bonus_case):
    kill_at(fake, bonus_case["start"], r"/submissions/bonus-payments/$")
    (first,) = fake.bulk_bonuses
    assert fake.paid_calls() == [] and fake.bulk_bonuses[first]["paid"] == 0
    (row,) = rows(app)
    assert (row.status, row.batch_id) == ("pending", None)  # the set-up's answer never arrived

    out = rerun(bonus_case["start"])
    assert f"bonus {bonus_case['sub']} ({bonus_case['person']}): paid" in out
    second = next(b for b in fake.bulk_bonuses if b != first)
    assert [fake.bulk_bonuses[b]["paid"] for b in (first, second)] == [0, 1]
    assert fake.submissions[bonus_case["sub"]]["bonus_payments"] == [50]  # 50 pence, once
    (row,) = rows(app)
    assert (row.status, row.batch_id, row.amount) == ("confirmed", second, Decimal("0.50"))

    assert "already paid" in rerun(bonus_case["start"])
    assert len(fake.paid_calls()) == 1


def test_killed_while_paying_is_confirmed_on_prolific_not_paid_again(app, fake, bonus_case):
    kill_at(fake, bonus_case["start"], r"/pay/$")
    assert len(fake.paid_calls()) == 1  # Prolific ran the payment; the command never heard
    (row,) = rows(app)
    assert row.status == "paying" and row.batch_id in fake.bulk_bonuses

    out = rerun(bonus_case["start"])
    assert "confirmed paid" in out and "already paid" in out
    assert len(fake.paid_calls()) == 1
    assert fake.submissions[bonus_case["sub"]]["bonus_payments"] == [50]
    (row,) = rows(app)
    assert row.status == "confirmed" and "confirmed on Prolific" in row.detail


def test_killed_between_pay_and_confirmation_is_reconciled_not_paid_again(app, fake, bonus_case):
    sub = bonus_case["sub"]
    kill_at(fake, bonus_case["start"], rf"/submissions/{sub}/$", method="GET")  # the read-back after pay
    assert len(fake.paid_calls()) == 1 and fake.submissions[sub]["bonus_payments"] == [50]
    (row,) = rows(app)
    assert row.status == "submitted"  # Prolific accepted the payment; nobody has seen it arrive

    reconcile = [*bonus_case["argv"][:4], "reconcile", "--study", "tiny"]
    out = rerun(lambda: bonus_case["start"](reconcile))
    assert f"bonus {sub} ({bonus_case['person']}): confirmed paid" in out
    (row,) = rows(app)
    assert row.status == "confirmed"
    assert "already paid" in rerun(bonus_case["start"])
    assert len(fake.paid_calls()) == 1 and fake.submissions[sub]["bonus_payments"] == [50]
