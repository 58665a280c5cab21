"""Prolific review and payments: submissions matched to participants, decisions from the server's own
status, bulk approval, rejection with a category, returned/timed-out places, and bonuses paid once.

Every money-moving call goes through the payment ledger (shared with MTurk, `platform="prolific"`):
the row is committed before the call and updated after it.

Bonuses are two calls (api-reference/bonuses): POST /submissions/bonus-payments/ sets up a bulk bonus
from a CSV of "<participant_id>,<amount>" lines and returns its id; POST /bulk-bonus-payments/{id}/pay/
pays it, and "is not idempotent". So a bonus row goes pending -> paying (committed, with the bulk id,
*before* the pay call) -> succeeded | failed. A rerun never pays a row that is "paying" again: it asks
Prolific (GET /submissions/{id}/, `bonus_payments` in cents) whether the money arrived, and otherwise
leaves the row for the researcher to resolve. A crash before "paying" leaves at most an unpaid bulk
bonus on Prolific, and the rerun sets up a fresh one and pays that once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from study_server.lifecycle import ACTIVE, TRANSITIONS, mark_left, set_status
from study_server.models import Participant, Study, utcnow
from study_server.recruiters.ledger import Outcome, find_row, record_action
from study_server.recruiters.models import PaymentLedger
from study_server.recruiters.prolific.client import ProlificClient, ProlificError
from study_server.recruiters.prolific.fees import Cost, FeeRates, to_cents

PLATFORM = "prolific"
REJECTION_CATEGORIES = (
    "TOO_QUICKLY",
    "TOO_SLOWLY",
    "FAILED_INSTRUCTIONS",
    "INCOMP_LONGITUDINAL",
    "FAILED_CHECK",
    "LOW_EFFORT",
    "MALINGERING",
    "NO_CODE",
    "BAD_CODE",
    "NO_DATA",
    "UNSUPP_DEVICE",
    "OTHER",
)
"""`rejection_category` values of POST /submissions/{id}/transition/ with action REJECT (the body's
fields action / message / rejection_category as in Prolific's own CLI, prolific-oss/cli
TransitionSubmissionPayload; the list of values is from memory of the API reference, not re-checked)."""
MIN_REJECT_MESSAGE = 100
"""Prolific asks for a rejection message of at least 100 characters (transition-submission; not
re-checked against the stored docs, and stricter is harmless: the participant deserves a reason)."""
BULK_APPROVE_MAX = 500


class ReviewError(ValueError):
    """A user error in a review command (unknown submission, short message, ...)."""


@dataclass(frozen=True)
class Match:
    """A Prolific submission and the participant who made it (None: nobody here matches)."""

    submission: dict[str, Any]
    participant: Participant | None

    @property
    def submission_id(self) -> str:
        return str(self.submission.get("id", ""))

    @property
    def pid(self) -> str:
        return str(self.submission.get("participant_id") or self.submission.get("participant") or "")

    @property
    def status(self) -> str:
        return str(self.submission.get("status", ""))


@dataclass(frozen=True)
class Decision:
    """What the review does with one submission, and why (the reason is recorded in the ledger)."""

    action: str
    """approve | reject | returned | abandoned | sync | none"""
    reason: str
    category: str | None = None
    local_status: str | None = None
    """For "sync": the local status Prolific's decision implies."""


def prolific_study_id(study: Study) -> str:
    sid = ((study.config or {}).get("prolific") or {}).get("study_id")
    if not sid:
        raise ReviewError(f"study {study.slug!r} has no Prolific study yet: run create-study first")
    return str(sid)


def list_submissions(client: ProlificClient, study_id: str) -> list[dict[str, Any]]:
    """Every submission of the study, all pages (GET /studies/{id}/submissions/, "List study
    submissions": `results` with id, participant id, status, started_at)."""
    return list(client.pages(f"studies/{study_id}/submissions/"))


def match_submissions(session: Session, study: Study, submissions: Iterable[dict[str, Any]]) -> list[Match]:
    """Pair submissions with participants by (PROLIFIC_PID, SESSION_ID), never by the person alone:
    the session id is the submission id Prolific put in the entry URL."""
    people = session.scalars(
        select(Participant).where(Participant.study_id == study.id, Participant.recruiter == PLATFORM)
    ).all()
    by_key = {(p.external_id, (p.recruiter_data or {}).get("SESSION_ID")): p for p in people}
    out = []
    for sub in submissions:
        pid = str(sub.get("participant_id") or sub.get("participant") or "").lower()
        out.append(Match(sub, by_key.get((pid, str(sub.get("id", "")).lower()))))
    return out


def catch_message(study: Study, p: Participant) -> str:
    threshold = (study.config or {}).get("catch_fail_threshold")
    allowed = f"more than the {threshold} allowed" if threshold is not None else "too many"
    return (
        f"You answered {p.n_catch_failed} of this study's attention-check trials wrongly ({allowed}). "
        "These trials show a clear, easy image and were explained in the instructions, so we cannot "
        "use this submission."
    )


SUBMISSION_STATUSES = (
    "RESERVED",
    "ACTIVE",
    "TIMED-OUT",
    "AWAITING REVIEW",
    "APPROVED",
    "RETURNED",
    "REJECTED",
    "SCREENED OUT",
)
"""api-reference/submissions/submission-object: RETURNED and TIMED-OUT free the place on Prolific, so
the server frees the participant's list slot too."""


def decide(study: Study, m: Match) -> Decision:
    """The server's own status decides: completed -> approve, screened out (failed catch trials) ->
    reject FAILED_CHECK, returned / timed out -> free the list slot; everything else waits for a person."""
    p, status = m.participant, m.status
    if status in ("RESERVED", "ACTIVE"):
        return Decision("none", "still taking part")
    if p is None:
        return Decision("none", "no participant here with this PROLIFIC_PID and session id: review by hand")
    if status == "AWAITING REVIEW":
        if p.status in ("completed", "submitted", "approved", "bonused"):
            return Decision("approve", f"completed every trial (status {p.status})")
        if p.status == "screened_out":
            return Decision("reject", catch_message(study, p), "FAILED_CHECK")
        return Decision("none", f"has not finished here (status {p.status}): review by hand")
    if status in ("RETURNED", "TIMED-OUT"):
        target = "returned" if status == "RETURNED" else "abandoned"
        if p.status in ACTIVE:
            return Decision(target, f"{status.lower()} on Prolific: the list slot is freed")
        return Decision("none", f"{status.lower()} on Prolific after finishing here (status {p.status})")
    implied = {"APPROVED": "approved", "REJECTED": "rejected"}.get(status)
    if implied and p.status != implied and p.status != "bonused" and implied in TRANSITIONS[p.status]:
        return Decision("sync", f"{status.lower()} on Prolific", local_status=implied)
    return Decision("none", "nothing to do")


def _who(m: Match, study_id: str) -> dict[str, Any]:
    p = m.participant
    return {
        "study_id": p.study_id if p else None,
        "participant_id": p.id if p else None,
        "worker_id": m.pid,
        "assignment_id": m.submission_id,
        "hit_id": study_id,
    }


def settle(session: Session, m: Match, status: str) -> None:
    """Follow Prolific's decision locally where the lifecycle allows that move."""
    p = m.participant
    if p is not None and p.status != status and status in TRANSITIONS.get(p.status, ()):
        set_status(session, p, status)
        session.commit()


def approve(
    session: Session,
    client: ProlificClient,
    study_id: str,
    matches: Sequence[Match],
    reason: str | dict[str, str],
    cost: Cost,
) -> list[Outcome]:
    """Approve with POST /submissions/bulk-approve/ {"submission_ids": [...]} (Prolific recommends
    submission ids over participant ids: api-reference/submissions/bulk-approve-submissions).
    `reason` (one for all, or per submission id) is recorded in the ledger."""
    outcomes: list[Outcome] = []
    todo = []
    for m in matches:
        row = find_row(session, "approve", m.submission_id)
        if row is not None and row.status == "succeeded":
            outcomes.append(Outcome(row, sent=False))
        else:
            todo.append(m)
    for start in range(0, len(todo), BULK_APPROVE_MAX):
        chunk = todo[start : start + BULK_APPROVE_MAX]
        why = {
            m.submission_id: reason.get(m.submission_id, "") if isinstance(reason, dict) else reason
            for m in chunk
        }
        rows = [_pending(session, "approve", m, study_id, cost, why[m.submission_id]) for m in chunk]
        session.commit()
        body = {"submission_ids": [m.submission_id for m in chunk]}
        try:
            client.post("submissions/bulk-approve/", body)
            status, error = "succeeded", ""
        except ProlificError as exc:
            status, error = "failed", str(exc)[:2000]
        for row in rows:
            row.status, row.updated_at = status, utcnow()
            row.detail = error or row.detail
        session.commit()
        for m, row in zip(chunk, rows, strict=True):
            if status == "succeeded":
                settle(session, m, "approved")
            outcomes.append(Outcome(row, sent=True))
    return outcomes


def rejection(message: str, category: str) -> dict[str, str]:
    """The body of a REJECT transition, checked first (so a bad one is refused before any call)."""
    message = (message or "").strip()
    if category not in REJECTION_CATEGORIES:
        raise ReviewError(f"--category must be one of {', '.join(REJECTION_CATEGORIES)}")
    if len(message) < MIN_REJECT_MESSAGE:
        raise ReviewError(
            f"a rejection message must have at least {MIN_REJECT_MESSAGE} characters (Prolific's rule; "
            f"this one has {len(message)}); it tells the participant why"
        )
    return {"action": "REJECT", "message": message, "rejection_category": category}


def reject(
    session: Session, client: ProlificClient, study_id: str, m: Match, message: str, category: str
) -> Outcome:
    """POST /submissions/{id}/transition/ {"action": "REJECT", "message", "rejection_category"}."""
    body = rejection(message, category)
    outcome, _ = record_action(
        session,
        action="reject",
        token=m.submission_id,
        call=lambda: client.post(f"submissions/{m.submission_id}/transition/", body),
        sandbox=False,
        **_who(m, study_id),
        detail=f"{category}: {body['message']}",
        platform=PLATFORM,
        errors=(ProlificError,),
    )
    if outcome.sent and outcome.ok:
        settle(session, m, "rejected")
    return outcome


def free_slot(session: Session, m: Match, status: str) -> None:
    """A returned or timed-out submission: the participant leaves through the lifecycle, which gives
    their list slot back."""
    p = m.participant
    if p is not None and p.status in ACTIVE:
        mark_left(session, p, status)
        session.commit()


@dataclass(frozen=True)
class Step:
    """One decision carried out by `carry_out`: an approval or rejection has its ledger outcome."""

    action: str
    match: Match
    decision: Decision
    outcome: Outcome | None = None


def carry_out(
    session: Session,
    client: ProlificClient,
    study_id: str,
    plan: Sequence[tuple[Match, Decision]],
    cost: Cost,
) -> list[Step]:
    """Do what `decide` said: bulk-approve the approvals, reject, free the slots of people who left and
    follow Prolific's own decisions locally ("none" is skipped); approvals come first."""
    steps: list[Step] = []
    approvals = {m.submission_id: (m, d) for m, d in plan if d.action == "approve"}
    if approvals:
        reasons = {sid: d.reason for sid, (_, d) in approvals.items()}
        matches = [m for m, _ in approvals.values()]
        for o in approve(session, client, study_id, matches, reasons, cost):
            steps.append(Step("approve", *approvals[str(o.ledger.assignment_id)], o))
    for m, d in plan:
        if d.action == "reject":
            o = reject(session, client, study_id, m, d.reason, d.category or "OTHER")
            steps.append(Step("reject", m, d, o))
        elif d.action in ("returned", "abandoned"):
            free_slot(session, m, d.action)
            steps.append(Step(d.action, m, d))
        elif d.action == "sync" and d.local_status:
            settle(session, m, d.local_status)
            steps.append(Step("sync", m, d))
    return steps


# --- bonuses ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BonusResult:
    row: PaymentLedger
    state: str
    """paid | already paid | confirmed paid | unconfirmed | failed"""


def bonus_token(submission_id: str) -> str:
    """One bonus per submission, ever (as MTurk's one bonus per worker and assignment)."""
    return f"prolific-bonus-{submission_id}"


def bonus_row(session: Session, submission_id: str) -> PaymentLedger | None:
    """The ledger row of this submission's bonus, if one was ever attempted."""
    return find_row(session, "bonus", bonus_token(submission_id))


def _pending(
    session: Session, action: str, m: Match, study_id: str, cost: Cost | None, detail: str, token: str = ""
) -> PaymentLedger:
    token = token or m.submission_id
    row = find_row(session, action, token)
    if row is None:
        row = PaymentLedger(action=action, request_token=token, platform=PLATFORM)
        session.add(row)
    for key, value in _who(m, study_id).items():
        setattr(row, key, value)
    row.amount = cost.paid if cost else None
    row.fee = cost.fees if cost else None
    row.sandbox, row.status, row.detail, row.batch_id, row.updated_at = (
        False,
        "pending",
        detail,
        None,
        utcnow(),
    )
    return row


def paid_on_prolific(client: ProlificClient, row: PaymentLedger) -> bool:
    """Whether Prolific lists this bonus on the submission (bonus_payments, in pence / cents:
    api-reference/submissions/get-submission). Payment is asynchronous, so absence proves nothing."""
    sub = client.get(f"submissions/{row.assignment_id}/") or {}
    paid = [round(float(x)) for x in (sub.get("bonus_payments") or [])]
    return row.amount is not None and to_cents(Decimal(row.amount)) in paid


def check_unconfirmed(session: Session, client: ProlificClient, study: Study) -> list[BonusResult]:
    """Rows whose pay call may have been sent: confirmed on Prolific -> succeeded; else left alone."""
    out = []
    rows = session.scalars(
        select(PaymentLedger).where(
            PaymentLedger.platform == PLATFORM,
            PaymentLedger.action == "bonus",
            PaymentLedger.study_id == study.id,
            PaymentLedger.status == "paying",
        )
    ).all()
    for row in rows:
        if paid_on_prolific(client, row):
            row.status, row.updated_at = "succeeded", utcnow()
            row.detail = f"{row.detail} (confirmed on Prolific after an interrupted run)"
            session.commit()
            out.append(BonusResult(row, "confirmed paid"))
        else:
            out.append(BonusResult(row, "unconfirmed"))
    return out


def pay_bonuses(
    session: Session,
    client: ProlificClient,
    study: Study,
    study_id: str,
    matches: Sequence[Match],
    amount: Decimal,
    reason: str,
    rates: FeeRates,
) -> list[BonusResult]:
    """Set up one bulk bonus for the submissions not yet bonused, then pay it exactly once."""
    results: list[BonusResult] = []
    todo: list[tuple[Match, PaymentLedger]] = []
    for m in matches:
        row = find_row(session, "bonus", bonus_token(m.submission_id))
        if row is not None and row.status == "succeeded":
            results.append(BonusResult(row, "already paid"))
        elif row is not None and row.status == "paying":
            results.append(BonusResult(row, "unconfirmed"))  # never paid again before it is resolved
        else:
            todo.append(
                (
                    m,
                    _pending(
                        session,
                        "bonus",
                        m,
                        study_id,
                        rates.cost(amount),
                        reason,
                        bonus_token(m.submission_id),
                    ),
                )
            )
    if not todo:
        return results
    session.commit()  # pending: the intent is on record before anything is sent
    csv = "".join(f"{m.pid},{amount}\n" for m, _ in todo)
    try:
        setup = client.post("submissions/bonus-payments/", {"study_id": study_id, "csv_bonuses": csv})
        batch = str((setup or {}).get("id") or "")
        if not batch:
            raise ProlificError("POST /submissions/bonus-payments/: no bulk bonus id in the answer")
    except ProlificError as exc:
        for _, row in todo:
            row.status, row.detail, row.updated_at = "failed", f"set-up failed: {exc}"[:2000], utcnow()
        session.commit()
        return results + [BonusResult(row, "failed") for _, row in todo]
    for _, row in todo:
        row.status, row.batch_id, row.updated_at = "paying", batch, utcnow()
    session.commit()  # from here on, a rerun checks Prolific before it would pay these again
    try:
        client.post(f"bulk-bonus-payments/{batch}/pay/", {}, repeatable=False)
    except ProlificError as exc:
        if exc.status is not None and 400 <= exc.status < 500 and exc.status != 429:
            for _, row in todo:  # refused outright (e.g. balance too low): nothing was paid
                row.status, row.detail, row.updated_at = "failed", f"pay refused: {exc}"[:2000], utcnow()
            session.commit()
            return results + [BonusResult(row, "failed") for _, row in todo]
        for _, row in todo:  # no answer or a 5xx: it may have been paid; stays "paying"
            row.detail, row.updated_at = f"{reason} (pay outcome unknown: {exc})"[:2000], utcnow()
        session.commit()
        return results + [BonusResult(row, "unconfirmed") for _, row in todo]
    for m, row in todo:
        row.status, row.updated_at = "succeeded", utcnow()
        session.commit()
        settle(session, m, "bonused")
    return results + [BonusResult(row, "paid") for _, row in todo]


def resolve_bonus(session: Session, study: Study, ledger_id: int, paid: bool) -> PaymentLedger:
    """The researcher checked Prolific's site for an unconfirmed bonus: record what they saw."""
    row = session.get(PaymentLedger, ledger_id)
    if row is None or row.study_id != study.id or row.platform != PLATFORM or row.action != "bonus":
        raise ReviewError(f"ledger entry {ledger_id} is not a Prolific bonus of study {study.slug!r}")
    if row.status != "paying":
        raise ReviewError(f"ledger entry {ledger_id} is {row.status!r}, not an unconfirmed payment")
    row.status = "succeeded" if paid else "failed"
    row.detail = f"{row.detail} (resolved by hand: {'paid' if paid else 'not paid'})"[:2000]
    row.updated_at = utcnow()
    session.commit()
    return row
