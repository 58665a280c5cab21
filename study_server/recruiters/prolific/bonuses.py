"""Prolific bonuses, paid at most once per submission.

A bonus is two calls (api-reference/bonuses/create-bonus-payments and pay-bonus-payments):
POST /submissions/bonus-payments/ {study_id, csv_bonuses} sets up a bulk bonus from
"<participant_id>,<amount>" lines and answers its id with the amount, fees, VAT and total in the
workspace's currency (pence / cents); POST /bulk-bonus-payments/{id}/pay/ pays it, "is not idempotent",
and is done asynchronously. So a bonus row goes

    pending (committed before the set-up) -> paying (committed, with the bulk id, before the pay call)
    -> submitted (the pay call was accepted) -> confirmed (the submission shows the bonus) | failed.

The pay call is sent once. Without an answer, a 5xx or a 429 (wallet contention under load) the row
stays "paying" and Prolific is asked whether the bonus arrived (GET /submissions/{id}/, `bonus_payments`);
a rerun never pays a "paying" or "submitted" row again, it reconciles it (`confirm.reconcile`) and leaves
what Prolific does not show for the researcher to resolve (`resolve_bonus`). A crash before "paying"
leaves at most an unpaid bulk bonus on Prolific; the rerun sets up a fresh one and pays that once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy.orm import Session

from study_server.models import Study, utcnow
from study_server.recruiters.ledger import find_row
from study_server.recruiters.models import PaymentLedger
from study_server.recruiters.prolific.client import ProlificClient, ProlificError
from study_server.recruiters.prolific.confirm import DONE, settle_row, submission
from study_server.recruiters.prolific.fees import CENT, Cost
from study_server.recruiters.prolific.review import Match, ReviewError, pending_row


@dataclass(frozen=True)
class BonusResult:
    row: PaymentLedger
    state: str
    """paid | already paid | confirmed paid | submitted, not yet shown on Prolific | unconfirmed | failed"""


UNSETTLED = ("failed", "unconfirmed", "submitted, not yet shown on Prolific")


def bonus_token(submission_id: str) -> str:
    """One bonus per submission, ever (as MTurk's one bonus per worker and assignment)."""
    return f"prolific-bonus-{submission_id}"


def bonus_row(session: Session, submission_id: str) -> PaymentLedger | None:
    """The ledger row of this submission's bonus, if one was ever attempted."""
    return find_row(session, "bonus", bonus_token(submission_id))


def set_up_cost(answer: dict[str, Any], currency: str) -> Cost:
    """What a bulk bonus costs, from its set-up answer (amount, fees and VAT in pence / cents:
    api-reference/bonuses/create-bonus-payments)."""
    paid, fees, vat = (Decimal(str(answer.get(k) or 0)) / 100 for k in ("amount", "fees", "vat"))
    charged = (fees + vat).quantize(CENT, rounding=ROUND_HALF_UP)  # the docs show fees like 283.34 cents
    return Cost(paid.quantize(CENT), charged, currency, source="Prolific's bonus set-up")


def _share(total: Decimal, n: int, i: int) -> Decimal:
    """Row i's share of a batch total, in cents; the first row takes the odd cents, so rows add up."""
    each = (total / n).quantize(CENT, rounding="ROUND_DOWN")
    return each + (total - each * n if i == 0 else Decimal(0))


def pay_bonuses(
    session: Session,
    client: ProlificClient,
    study: Study,
    study_id: str,
    matches: Sequence[Match],
    amount: Decimal,
    reason: str,
    currency: str,
    confirm: Callable[[Cost], None],
) -> list[BonusResult]:
    """Set up one bulk bonus for the submissions not yet bonused, show its cost (`confirm` raises to
    stop), pay it exactly once, then read each submission back."""
    results: list[BonusResult] = []
    todo: list[tuple[Match, PaymentLedger]] = []
    for m in matches:
        row = bonus_row(session, m.submission_id)
        if row is not None and row.status in DONE:
            results.append(BonusResult(row, "already paid"))
        elif row is not None and row.status in ("paying", "submitted"):
            results.append(BonusResult(row, "unconfirmed"))  # never paid again before it is settled
        else:
            row = pending_row(session, "bonus", m, study_id, None, reason, bonus_token(m.submission_id))
            row.amount = amount
            todo.append((m, row))
    if not todo:
        return results
    session.commit()  # pending: the intent is on record before anything is sent
    csv = "".join(f"{m.pid},{amount}\n" for m, _ in todo)
    try:
        answer = client.post("submissions/bonus-payments/", {"study_id": study_id, "csv_bonuses": csv}) or {}
        batch = str(answer.get("id") or "")
        if not batch:
            raise ProlificError("POST /submissions/bonus-payments/: no bulk bonus id in the answer")
    except ProlificError as exc:
        return results + _fail(session, todo, f"set-up failed: {exc}")
    cost = set_up_cost(answer, currency)
    for i, (_, row) in enumerate(todo):
        row.batch_id, row.fee = batch, _share(cost.fees, len(todo), i)
    session.commit()
    try:
        confirm(cost)
    except Exception:
        _fail(session, todo, f"not confirmed; bulk bonus {batch} stays unpaid on Prolific")
        raise
    for _, row in todo:
        row.status, row.updated_at = "paying", utcnow()
    session.commit()  # from here on, a rerun reads Prolific back before it would pay these again
    try:
        client.post(f"bulk-bonus-payments/{batch}/pay/", {}, repeatable=False)
    except ProlificError as exc:
        if exc.status is not None and 400 <= exc.status < 500 and exc.status != 429:
            return results + _fail(session, todo, f"pay refused: {exc}")  # e.g. balance too low: unpaid
        for _, row in todo:  # no answer, a 5xx or a 429: it may have been paid; stays "paying"
            row.detail, row.updated_at = f"{reason} (pay outcome unknown: {exc})"[:2000], utcnow()
        session.commit()
    else:
        for _, row in todo:
            row.status, row.updated_at = "submitted", utcnow()
        session.commit()
    for _, row in todo:
        settled = settle_row(session, row, submission(client, str(row.assignment_id)))
        results.append(BonusResult(row, "paid" if settled.state == "confirmed paid" else settled.state))
    return results


def _fail(session: Session, todo: list[tuple[Match, PaymentLedger]], why: str) -> list[BonusResult]:
    for _, row in todo:
        row.status, row.detail, row.updated_at = "failed", f"{row.detail}: {why}"[:2000], utcnow()
    session.commit()
    return [BonusResult(row, "failed") for _, row in todo]


def resolve_bonus(session: Session, study: Study, ledger_id: int, paid: bool) -> PaymentLedger:
    """The researcher checked Prolific's site for an unconfirmed bonus: record what they saw."""
    row = session.get(PaymentLedger, ledger_id)
    if row is None or row.study_id != study.id or row.platform != "prolific" or row.action != "bonus":
        raise ReviewError(f"ledger entry {ledger_id} is not a Prolific bonus of study {study.slug!r}")
    if row.status not in ("paying", "submitted"):
        raise ReviewError(f"ledger entry {ledger_id} is {row.status!r}, not an unconfirmed payment")
    row.status = "confirmed" if paid else "failed"
    row.detail = f"{row.detail} (resolved by hand: {'paid' if paid else 'not paid'})"[:2000]
    row.updated_at = utcnow()
    session.commit()
    return row
