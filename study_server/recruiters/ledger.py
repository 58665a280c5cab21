"""The payment ledger's one write path, shared by MTurk and Prolific (the table is in `models`).

Every money-moving action goes through `record_action`: the ledger row is committed as "pending"
before the platform call and updated to "succeeded" or "failed" after it, so a crash or a failed call
never leaves money moving without a record. An action whose row already succeeded is never sent again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from study_server.models import Study, utcnow
from study_server.recruiters.models import PaymentLedger


class Priced(Protocol):
    """An MTurk or a Prolific cost: money to the people, and the platform's fees."""

    @property
    def paid(self) -> Decimal: ...

    @property
    def fees(self) -> Decimal: ...


@dataclass(frozen=True)
class Outcome:
    """What happened to one action: sent now, skipped because it already succeeded, or failed."""

    ledger: PaymentLedger
    sent: bool

    @property
    def ok(self) -> bool:
        return self.ledger.status in ("succeeded", "confirmed")


def find_row(session: Session, action: str, token: str) -> PaymentLedger | None:
    """The ledger row of (action, request token), if that action was ever attempted."""
    return session.scalars(
        select(PaymentLedger).where(PaymentLedger.action == action, PaymentLedger.request_token == token)
    ).one_or_none()


def record_action(
    session: Session,
    *,
    action: str,
    token: str,
    call: Callable[[], Any],
    sandbox: bool,
    platform: str,
    errors: tuple[type[Exception], ...],
    study_id: int | None = None,
    participant_id: int | None = None,
    worker_id: str | None = None,
    assignment_id: str | None = None,
    hit_id: str | None = None,
    cost: Priced | None = None,
    detail: str = "",
) -> tuple[Outcome, Any]:
    """Write the ledger row (pending) and commit, make the call, then store its outcome and commit.

    `cost` None records no amount; `errors` are the platform's failures that mark the row "failed"
    instead of propagating. Returns the outcome and the call's answer (None when not sent or failed).
    """
    row = find_row(session, action, token)
    if row is not None and row.status == "succeeded":
        return Outcome(row, sent=False), None
    if row is None:
        row = PaymentLedger(action=action, request_token=token, platform=platform)
        session.add(row)
    row.study_id, row.participant_id = study_id, participant_id
    row.worker_id, row.assignment_id, row.hit_id = worker_id, assignment_id, hit_id
    row.amount = cost.paid if cost is not None else None
    row.fee = cost.fees if cost is not None else None
    row.sandbox, row.status, row.detail, row.updated_at = sandbox, "pending", detail, utcnow()
    session.commit()
    try:
        result = call()
    except errors as exc:
        row.status, row.detail, row.updated_at = "failed", str(exc)[:2000], utcnow()
        session.commit()
        return Outcome(row, sent=True), None
    row.status, row.updated_at = "succeeded", utcnow()
    session.commit()
    return Outcome(row, sent=True), result


def study_rows(session: Session, study: Study, platform: str | None = None) -> list[PaymentLedger]:
    """The study's ledger, oldest first (one platform's rows when `platform` is given)."""
    query = select(PaymentLedger).where(PaymentLedger.study_id == study.id)
    if platform is not None:
        query = query.where(PaymentLedger.platform == platform)
    return list(session.scalars(query.order_by(PaymentLedger.id)).all())
