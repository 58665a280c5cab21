"""Prolific as its API reference documents it: paging, screen-out codes, asynchronous approvals and
payments, and the workspace's own costs (the fake in fake_prolific.py behaves the documented way)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from study_server.recruiters.prolific.client import ProlificClient, ProlificError

from . import prolific_helpers
from .fake_prolific import TOKEN
from .prolific_helpers import ENTRY, cli, join, ledger, participant, pid, set_prolific

fake, sleeps = prolific_helpers.fake, prolific_helpers.sleeps  # fixtures
DONE = ("consented", "started", "completed")


def study_of(app, fake, n: int, status: str = "AWAITING REVIEW") -> tuple[str, list[str], list[str]]:
    """A Prolific study with `n` finished participants and their submissions (ids, public ids)."""
    sid = fake.add_study()
    set_prolific(app, study_id=sid)
    subs, publics = [], []
    for _ in range(n):
        person, session = pid(), pid()
        publics.append(join(app, sid, person, session, DONE))
        subs.append(fake.add_submission(sid, person, status, sub_id=session))
    return sid, subs, publics


def test_a_study_of_five_pages_is_approved_and_paid_exactly_once(app, fake, sleeps):
    sid, subs, publics = study_of(app, fake, 9)  # the fake gives 2 a page: 5 pages

    code, out = cli(app, "review", "--study", "tiny")
    assert code == 0, out
    (approved,) = [c[2]["submission_ids"] for c in fake.calls if c[1].endswith("/bulk-approve/")]
    assert approved == subs  # one bulk approve, every submission in it once
    first_listing = [q for path, q in fake.queries if path == f"/api/v1/studies/{sid}/submissions/"][:5]
    assert first_listing == [{"limit": "100", "offset": str(o)} for o in (0, 2, 4, 6, 8)]
    assert all(fake.submissions[s]["status"] == "APPROVED" for s in subs)
    assert [r.status for r in ledger(app, "approve")] == ["confirmed"] * 9
    assert {participant(app, p).status for p in publics} == {"approved"}

    code, out = cli(app, "bonus", "--study", "tiny", "--all-approved", "--amount", "0.50", "--reason", "r")
    assert code == 0, out
    (setup,) = [c[2] for c in fake.calls if c[1].endswith("/bonus-payments/")]
    assert len(setup["csv_bonuses"].splitlines()) == 9 and len(fake.paid_calls()) == 1
    assert [fake.submissions[s]["bonus_payments"] for s in subs] == [[50]] * 9  # 50 pence each, once
    assert [r.status for r in ledger(app, "bonus")] == ["confirmed"] * 9

    changes = len(fake.changes())
    assert cli(app, "review", "--study", "tiny")[0] == 0
    code, out = cli(app, "bonus", "--study", "tiny", "--all-approved", "--amount", "0.50", "--reason", "r")
    assert code == 0 and out.count("already paid") == 9
    assert len(fake.changes()) == changes  # nothing approved or paid twice


def test_paging_follows_limit_offset_and_the_total(fake):
    client = ProlificClient(TOKEN, fake.url, sleep=lambda _s: None)
    sid = fake.add_study()
    ids = [fake.add_submission(sid, pid(), "APPROVED") for _ in range(7)]
    path = f"studies/{sid}/submissions/"
    assert [s["id"] for s in client.collect(path, limit=3)] == ids  # pages of 2 (the server's most)
    # the next links are root-relative (/api/v1/...): joined at the host root, not below /api/v1/
    assert client.link("/api/v1/x/?limit=3&offset=2") == fake.url.replace(
        "/api/v1/", "/api/v1/x/?limit=3&offset=2"
    )
    with pytest.raises(ProlificError, match="another host"):
        client.link("https://elsewhere.example.org/api/v1/x/")

    fake.omit_next = True  # no links at all: paged by offset until meta.count
    assert [s["id"] for s in client.collect(path)] == ids
    fake.count_bias = 1  # Prolific reports 8, the pages hold 7: refused, not acted on in part
    with pytest.raises(ProlificError, match="read 7 distinct of the 8"):
        client.collect(path)


def test_review_refuses_a_list_that_falls_short_of_the_total(app, fake, sleeps, capsys):
    study_of(app, fake, 3)
    fake.count_bias = 1
    code, _ = cli(app, "review", "--study", "tiny")
    err = capsys.readouterr().err
    assert code == 2 and "read 3 distinct of the 4" in err and len(err.strip().splitlines()) == 1
    assert fake.changes() == [] and ledger(app) == []


def test_approvals_are_confirmed_only_once_prolific_shows_them(app, fake, sleeps):
    _, _, publics = study_of(app, fake, 3)
    fake.approve_lag = True  # accepted now, done later
    code, out = cli(app, "review", "--study", "tiny")
    assert code == 0 and "3 approval(s) accepted by Prolific, not yet shown" in out
    assert [r.status for r in ledger(app, "approve")] == ["submitted"] * 3
    assert {participant(app, p).status for p in publics} == {"completed"}
    assert "3 not confirmed on Prolific yet: run reconcile" in cli(app, "ledger", "--study", "tiny")[1]
    code, out = cli(app, "reconcile", "--study", "tiny")
    assert code == 2 and out.count("submitted, not yet shown on Prolific") == 3

    fake.process()
    code, out = cli(app, "reconcile", "--study", "tiny")
    assert code == 0 and out.count("confirmed APPROVED") == 3
    assert [r.status for r in ledger(app, "approve")] == ["confirmed"] * 3
    assert {participant(app, p).status for p in publics} == {"approved"}

    # a retried chunk that meets the approvals of its own lost first try has succeeded
    fake.approve_lag = False
    _, more, _ = study_of(app, fake, 2)
    fake.fail_after("POST", "/bulk-approve/$", 503)  # done on Prolific, the answer lost
    code, out = cli(app, "review", "--study", "tiny")
    assert code == 0, out
    tries = [c[2]["submission_ids"] for c in fake.calls if c[1].endswith("/bulk-approve/")][-2:]
    assert tries == [more, more]  # the retry found them approved (400 on Prolific's side)
    assert [r.status for r in ledger(app, "approve")] == ["confirmed"] * 5
    fake.violations.clear()


def test_a_429_on_pay_is_a_lost_answer_never_a_second_payment(app, fake, sleeps):
    _, (paid, unpaid), _ = study_of(app, fake, 2, status="APPROVED")

    def bonus(sub: str) -> tuple[int, str]:
        return cli(app, "bonus", "--study", "tiny", "--submission", sub, "--amount", "0.50", "--reason", "r")

    fake.fail_after("POST", "/pay/$", 429)  # wallet contention after the payment went through
    code, out = bonus(paid)
    assert code == 0 and f"bonus {paid}" in out and ": paid" in out
    assert len(fake.paid_calls()) == 1 and fake.submissions[paid]["bonus_payments"] == [50]

    fake.fail_next("POST", "/pay/$", 429)  # refused before paying: still never sent twice
    code, out = bonus(unpaid)
    assert code == 2 and "unconfirmed" in out
    assert len(fake.paid_calls()) == 2 and fake.submissions[unpaid]["bonus_payments"] == []
    code, out = cli(app, "reconcile", "--study", "tiny")
    assert code == 2 and f"bonus {unpaid}" in out and "unconfirmed" in out and len(fake.paid_calls()) == 2
    row = next(r for r in ledger(app, "bonus") if r.assignment_id == unpaid)
    assert cli(app, "resolve-bonus", "--study", "tiny", "--ledger", str(row.id), "--unpaid")[0] == 0
    assert bonus(unpaid)[0] == 0
    assert len(fake.paid_calls()) == 3 and fake.submissions[unpaid]["bonus_payments"] == [50]
    assert fake.submissions[paid]["bonus_payments"] == [50]


def test_screen_out_uses_the_documented_code_type_and_is_checked_first(app, fake, sleeps, capsys):
    set_prolific(app, screened_out_reward="2.00")  # not below the £2.00 reward: refused unsent
    code, _ = cli(app, "create-study", "--study", "tiny", "--url", ENTRY)
    assert code == 2 and "must be below the study reward" in capsys.readouterr().err
    assert fake.changes() == []

    set_prolific(app, screened_out_reward="0.40")
    fake.screen_out_payments = False
    code, _ = cli(app, "create-study", "--study", "tiny", "--url", ENTRY)
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "offered only to some workspaces" in err and "remove prolific.screened_out_reward" in err
    assert fake.studies == {}

    fake.screen_out_payments = True
    code, out = cli(app, "create-study", "--study", "tiny", "--url", ENTRY)
    assert code == 0, out
    ((_, sent),) = fake.studies.items()
    assert sent["completion_codes"][1]["code_type"] == "FIXED_SCREENOUT"
    assert sent["completion_codes"][1]["actions"] == [
        {"action": "FIXED_SCREEN_OUT_PAYMENT", "fixed_screen_out_reward": 40, "slots": 10}
    ]
    bad = {**sent, "completion_codes": [{**sent["completion_codes"][1], "code_type": "SCREENED_OUT"}]}
    bad = {k: v for k, v in bad.items() if k not in ("id", "status")}
    with pytest.raises(ProlificError, match="400"):  # the fake refuses the undocumented code type
        ProlificClient(TOKEN, fake.url).post("studies/", bad, repeatable=False)
    assert len(fake.violations) == 1 and "bad completion code" in fake.violations[0]
    fake.violations.clear()


def test_costs_come_from_prolifics_calculator_for_the_workspace(app, fake, sleeps):
    _, (sub,), _ = study_of(app, fake, 1, status="APPROVED")
    set_prolific(app, workspace_id="a" * 24)
    fake.currency, fake.fee_rate, fake.vat_rate = "USD", Decimal("0.25"), Decimal("0.20")
    code, out = cli(app, "publish", "--study", "tiny", "--dry-run")
    assert code == 0, out
    # 10 places x 200 cents = 2000; fee 25% = 500; VAT 20% of the fee = 100: $26.00 in all, in USD
    assert (
        "$20.00 to participants + $6.00 Prolific service fee = $26.00 USD (Prolific's cost calculator" in out
    )
    assert "6.67" not in out  # not the fixed one-third estimate

    args = ("bonus", "--study", "tiny", "--submission", sub, "--amount", "0.50", "--reason", "r")
    code, out = cli(app, *args, answer="no")  # the set-up's cost is shown; declined, nothing is paid
    assert code == 2 and "set up on Prolific: $0.50" in out
    assert fake.paid_calls() == [] and [b["paid"] for b in fake.bulk_bonuses.values()] == [0]
    assert [r.status for r in ledger(app, "bonus")] == ["failed"]
    code, out = cli(app, *args, "--yes")
    assert code == 0, out
    # the set-up's own answer, in cents: amount 50, fees 50 x 25% = 12.5, VAT 12.5 x 20% = 2.5: 65 cents
    assert "set up on Prolific: $0.50 to participants + $0.15 Prolific service fee = $0.65 USD" in out
    (row,) = ledger(app, "bonus")
    assert (row.amount, row.fee) == (Decimal("0.50"), Decimal("0.15"))

    def offline() -> ProlificClient:
        raise ProlificError("no answer from Prolific (ConnectionError)")

    app.extensions["prolific_client_factory"] = offline
    code, out = cli(app, "publish", "--study", "tiny", "--dry-run")
    assert code == 0, out
    # the offline fallback, and it says so: 20.00 / 3 = 6.666... -> £6.67, no VAT
    assert (
        "£20.00 to participants + £6.67 Prolific service fee = £26.67 GBP (estimate: fixed 33.33% fee" in out
    )
    assert "Prolific's calculator was not reached: no answer from Prolific" in out
