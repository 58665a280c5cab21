"""Reading Prolific back: a ledger row is "confirmed" only once Prolific shows what it asked for.

Prolific answers a bulk approve or a bonus payment when it has *accepted* the work, and does it later
(api-reference/submissions/bulk-approve-submissions; bonuses/pay-bonus-payments). So the ledger keeps
Prolific's rows at "submitted" after an accepted call and moves them to "confirmed" only after the
submission, read back (GET /submissions/{id}/ or the study's submission list), shows the status
(APPROVED, REJECTED) or the bonus amount (`bonus_payments`, in pence / cents). `reconcile` does this for
every row of a study that is not settled yet: after a crash, a lost answer or a 429 on pay.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from study_server.lifecycle import TRANSITIONS, set_status
from study_server.models import Participant, Study, utcnow
from study_server.recruiters.models import PaymentLedger
from study_server.recruiters.prolific.client import ProlificClient
from study_server.recruiters.prolific.fees import to_cents

PLATFORM = "prolific"
OPEN = ("pending", "paying", "submitted")
"""Ledger statuses of a Prolific action whose outcome Prolific has not been seen to show yet."""
DONE = ("confirmed", "succeeded")
SHOWN = {"approve": "APPROVED", "reject": "REJECTED"}
"""The submission status that confirms each review action."""
LOCAL = {"approve": "approved", "reject": "rejected", "bonus": "bonused"}


@dataclass(frozen=True)
class Settled:
    """One ledger row after reading Prolific back, and what that showed (one line for the output)."""

    row: PaymentLedger
    state: str


def submission(client: ProlificClient, submission_id: str) -> dict[str, Any]:
    """GET /submissions/{id}/ (api-reference/submissions/get-submission): status and bonus_payments."""
    return dict(client.get(f"submissions/{submission_id}/") or {})


def bonus_shown(row: PaymentLedger, sub: Mapping[str, Any]) -> bool:
    """Whether the submission lists this row's bonus (`bonus_payments` in pence / cents)."""
    paid = [round(float(x)) for x in (sub.get("bonus_payments") or [])]
    return row.amount is not None and to_cents(Decimal(row.amount)) in paid


def _follow_locally(session: Session, row: PaymentLedger) -> None:
    """Move the participant to what Prolific now shows, where the lifecycle allows that move."""
    p = session.get(Participant, row.participant_id) if row.participant_id else None
    target = LOCAL[row.action]
    if p is not None and p.status != target and target in TRANSITIONS.get(p.status, ()):
        set_status(session, p, target)


def settle_row(session: Session, row: PaymentLedger, sub: Mapping[str, Any]) -> Settled:
    """Decide an open row from its submission as read back now; commits.

    Shown -> "confirmed". Not shown: an accepted call ("submitted") or a pay call whose outcome is
    unknown ("paying") stays open, since Prolific may still be working on it and a bonus must never be
    paid twice; a row whose call never got through ("pending") becomes "failed", so it may be sent again.
    """
    shown = bonus_shown(row, sub) if row.action == "bonus" else sub.get("status") == SHOWN[row.action]
    now_status = str(sub.get("status") or "unknown")
    if shown:
        if row.status == "paying":  # the pay call's answer was lost: say how it was settled
            row.detail = f"{row.detail} (confirmed on Prolific)"[:2000]
        row.status = "confirmed"
        _follow_locally(session, row)
        state = "confirmed paid" if row.action == "bonus" else f"confirmed {now_status}"
    elif row.status == "pending":
        row.status = "failed"
        row.detail = f"{row.detail} (not done on Prolific, which shows {now_status}; may be sent again)"[
            :2000
        ]
        state = "failed"
    elif row.status == "submitted":
        state = "submitted, not yet shown on Prolific"
    else:
        state = "unconfirmed"
    row.updated_at = utcnow()
    session.commit()
    return Settled(row, state)


def open_rows(session: Session, study: Study, actions: Iterable[str] = tuple(LOCAL)) -> list[PaymentLedger]:
    """The study's Prolific approve / reject / bonus rows that are not settled yet, oldest first."""
    return list(
        session.scalars(
            select(PaymentLedger)
            .where(
                PaymentLedger.platform == PLATFORM,
                PaymentLedger.study_id == study.id,
                PaymentLedger.action.in_(list(actions)),
                PaymentLedger.status.in_(OPEN),
            )
            .order_by(PaymentLedger.id)
        ).all()
    )


def reconcile(
    session: Session, client: ProlificClient, study: Study, actions: Iterable[str] = tuple(LOCAL)
) -> list[Settled]:
    """Read back every open row of the study (GET /submissions/{id}/) and settle it (`settle_row`)."""
    return [
        settle_row(session, r, submission(client, str(r.assignment_id)))
        for r in open_rows(session, study, actions)
    ]
