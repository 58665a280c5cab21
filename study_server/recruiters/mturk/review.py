"""Paid MTurk actions (create HIT, approve, reject, bonus, expire), each recorded in the ledger.

Every action goes through `record_action`: the ledger row is committed as "pending" before the call
and updated to "succeeded" or "failed" after it. An action whose row already succeeded is never sent
again, and MTurk's own UniqueRequestToken (the bonus token is worker + assignment) stops a second
payment even if our database was lost.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from study_server.lifecycle import set_status
from study_server.models import Participant, Study, utcnow
from study_server.recruiters import ledger
from study_server.recruiters.ledger import Outcome
from study_server.recruiters.models import MTurkHIT, PaymentLedger
from study_server.recruiters.mturk.client import MTurkError, call_with_retry, client_is_live, paginate
from study_server.recruiters.mturk.fees import (
    NO_COST,
    Cost,
    assignment_fee,
    bonus_cost,
    hit_cost,
    parse_amount,
)
from study_server.recruiters.mturk.hits import HITPlan

PAST = datetime(2015, 1, 1, tzinfo=UTC)
"""UpdateExpirationForHIT to a time in the past expires the HIT at once (MTurk API reference)."""
REVIEW_STATUSES = ["Submitted", "Approved", "Rejected"]


class ReviewError(ValueError):
    """A user error in a review command (unknown assignment, missing feedback, ...)."""


def record_action(
    session: Session, *, cost: Cost = NO_COST, **fields: Any
) -> tuple[Outcome, dict[str, Any] | None]:
    """`ledger.record_action` for MTurk: MTurk's failures mark the row failed, and NO_COST records no
    amount (an action whose price is unknown or nil)."""
    fields.setdefault("platform", "mturk")
    fields.setdefault("errors", (MTurkError,))
    return ledger.record_action(session, cost=None if cost == NO_COST else cost, **fields)


def create_hit(
    session: Session, client: Any, study: Study, plan: HITPlan, **retry: Any
) -> tuple[Outcome, MTurkHIT | None]:
    """Create the planned HIT once (retries reuse its UniqueRequestToken) and record it."""
    token = plan.params["UniqueRequestToken"]
    outcome, result = record_action(
        session,
        action="create_hit",
        token=token,
        call=lambda: call_with_retry(client, "create_hit", plan.params, **retry),
        sandbox=not client_is_live(client),
        study_id=study.id,
        cost=hit_cost(plan.reward, plan.max_assignments),
        detail=plan.params["Title"],
    )
    hit = session.scalars(select(MTurkHIT).where(MTurkHIT.request_token == token)).first()
    if result is not None:
        info = result["HIT"]
        outcome.ledger.hit_id = info["HITId"]
        hit = MTurkHIT(
            study_id=study.id,
            hit_id=info["HITId"],
            hit_type_id=info.get("HITTypeId"),
            request_token=token,
            sandbox=not client_is_live(client),
            endpoint_url=str(client.meta.endpoint_url),
            reward=plan.params["Reward"],
            max_assignments=plan.max_assignments,
            params={k: v for k, v in plan.params.items() if k != "Question"},
        )
        session.add(hit)
        session.commit()
    return outcome, hit


def study_hits(session: Session, study: Study) -> list[MTurkHIT]:
    return list(session.scalars(select(MTurkHIT).where(MTurkHIT.study_id == study.id).order_by(MTurkHIT.id)))


def list_assignments(client: Any, hit_id: str, **retry: Any) -> list[dict[str, Any]]:
    """All assignments of a HIT (every page of ListAssignmentsForHIT)."""
    return paginate(
        client,
        "list_assignments_for_hit",
        {"HITId": hit_id, "MaxResults": 100, "AssignmentStatuses": REVIEW_STATUSES},
        "Assignments",
        **retry,
    )


@dataclass(frozen=True)
class Match:
    """An MTurk assignment and the participant who did it (None: no such participant here)."""

    assignment: dict[str, Any]
    participant: Participant | None

    @property
    def assignment_id(self) -> str:
        return str(self.assignment["AssignmentId"])

    @property
    def worker_id(self) -> str:
        return str(self.assignment["WorkerId"])

    @property
    def hit_id(self) -> str:
        return str(self.assignment["HITId"])

    @property
    def status(self) -> str:
        return str(self.assignment.get("AssignmentStatus", ""))


def match_assignments(session: Session, study: Study, assignments: Iterable[dict[str, Any]]) -> list[Match]:
    """Pair assignments with participants by (workerId, assignmentId), never by worker alone."""
    people = session.scalars(
        select(Participant).where(Participant.study_id == study.id, Participant.recruiter == "mturk")
    ).all()
    by_key = {(p.external_id, (p.recruiter_data or {}).get("assignmentId")): p for p in people}
    return [Match(a, by_key.get((a.get("WorkerId"), a.get("AssignmentId")))) for a in assignments]


def marketplace_hits(session: Session, study: Study, *, live: bool) -> list[MTurkHIT]:
    """The study's HITs on one marketplace (a client reaches either the sandbox or the live one)."""
    return [h for h in study_hits(session, study) if h.sandbox != live]


def study_matches(session: Session, client: Any, study: Study, *, live: bool, **retry: Any) -> list[Match]:
    """Every assignment of the study's HITs on the client's marketplace, matched to its participant."""
    out: list[Match] = []
    for hit in marketplace_hits(session, study, live=live):
        out.extend(match_assignments(session, study, list_assignments(client, hit.hit_id, **retry)))
    return out


def failed_actions(session: Session, assignment_ids: Iterable[str]) -> int:
    """How many ledger entries of these assignments failed (a re-run retries them)."""
    return len(
        session.scalars(
            select(PaymentLedger.id).where(
                PaymentLedger.status == "failed", PaymentLedger.assignment_id.in_(list(assignment_ids))
            )
        ).all()
    )


def _reward_of(session: Session, hit_id: str) -> tuple[Decimal, int] | None:
    hit = session.scalars(select(MTurkHIT).where(MTurkHIT.hit_id == hit_id)).first()
    return (Decimal(hit.reward), hit.max_assignments) if hit else None


def approval_cost(session: Session, match: Match) -> Cost:
    known = _reward_of(session, match.hit_id)
    if known is None:
        return NO_COST
    reward, n = known
    return Cost(reward, assignment_fee(reward, n))


def approve(session: Session, client: Any, match: Match, feedback: str = "", **retry: Any) -> Outcome:
    params: dict[str, Any] = {"AssignmentId": match.assignment_id}
    if feedback:
        params["RequesterFeedback"] = feedback[:1024]
    outcome, _ = record_action(
        session,
        action="approve",
        token=match.assignment_id,
        call=lambda: call_with_retry(client, "approve_assignment", params, **retry),
        sandbox=not client_is_live(client),
        **_who(match),
        cost=approval_cost(session, match),
        detail=feedback,
    )
    _set_status(session, match, outcome, "approved")
    return outcome


def reject(session: Session, client: Any, match: Match, feedback: str, **retry: Any) -> Outcome:
    """Reject with the reason the worker will read (MTurk requires one; so do we)."""
    feedback = (feedback or "").strip()
    if not feedback:
        raise ReviewError("a rejection needs feedback that tells the worker why (--feedback)")
    outcome, _ = record_action(
        session,
        action="reject",
        token=match.assignment_id,
        call=lambda: call_with_retry(
            client,
            "reject_assignment",
            {"AssignmentId": match.assignment_id, "RequesterFeedback": feedback[:1024]},
            **retry,
        ),
        sandbox=not client_is_live(client),
        **_who(match),
        detail=feedback,
    )
    _set_status(session, match, outcome, "rejected")
    return outcome


def bonus_token(worker_id: str, assignment_id: str) -> str:
    """One bonus per (worker, assignment), ever: MTurk refuses a second SendBonus with this token."""
    return f"{worker_id}-{assignment_id}"[:64]


def bonus(session: Session, client: Any, match: Match, amount: str, reason: str, **retry: Any) -> Outcome:
    value = parse_amount(amount, what="the bonus")
    reason = (reason or "").strip()
    if not reason:
        raise ReviewError("a bonus needs a reason that the worker will read (--reason)")
    token = bonus_token(match.worker_id, match.assignment_id)
    outcome, _ = record_action(
        session,
        action="bonus",
        token=token,
        call=lambda: call_with_retry(
            client,
            "send_bonus",
            {
                "WorkerId": match.worker_id,
                "AssignmentId": match.assignment_id,
                "BonusAmount": str(value),
                "Reason": reason[:4096],
                "UniqueRequestToken": token,
            },
            **retry,
        ),
        sandbox=not client_is_live(client),
        **_who(match),
        cost=bonus_cost(value),
        detail=reason,
    )
    _set_status(session, match, outcome, "bonused")
    return outcome


def expire_hit(session: Session, client: Any, hit: MTurkHIT, **retry: Any) -> Outcome:
    """Stop new workers from accepting the HIT (ExpireAt in the past); accepted work can still finish."""
    outcome, _ = record_action(
        session,
        action="expire",
        token=f"{hit.hit_id}@{utcnow().strftime('%Y%m%dT%H%M%S')}",
        call=lambda: call_with_retry(
            client, "update_expiration_for_hit", {"HITId": hit.hit_id, "ExpireAt": PAST}, **retry
        ),
        sandbox=not client_is_live(client),
        study_id=hit.study_id,
        hit_id=hit.hit_id,
    )
    return outcome


def _who(match: Match) -> dict[str, Any]:
    p = match.participant
    return {
        "study_id": p.study_id if p else None,
        "participant_id": p.id if p else None,
        "worker_id": match.worker_id,
        "assignment_id": match.assignment_id,
        "hit_id": match.hit_id,
    }


def _set_status(session: Session, match: Match, outcome: Outcome, status: str) -> None:
    if outcome.sent and outcome.ok and match.participant is not None and match.participant.status != status:
        set_status(session, match.participant, status)
        session.commit()
