"""Prolific review: submissions matched to participants, decisions from the server's own status, bulk
approval, rejection with a category, and returned / timed-out places (bonuses: `bonuses`).

Every money-moving call goes through the payment ledger (shared with MTurk, `platform="prolific"`):
the row is committed before the call and updated after it, and confirmed by reading Prolific back
(`confirm`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from study_server.lifecycle import ACTIVE, TRANSITIONS, mark_left, set_status
from study_server.models import Participant, Study, utcnow
from study_server.recruiters.ledger import Outcome, find_row, record_action
from study_server.recruiters.models import PaymentLedger
from study_server.recruiters.prolific.client import ProlificClient, ProlificError
from study_server.recruiters.prolific.confirm import DONE, settle_row
from study_server.recruiters.prolific.fees import Cost

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
    return client.collect(f"studies/{study_id}/submissions/")


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


def pending_row(
    session: Session, action: str, m: Match, study_id: str, cost: Cost | None, detail: str, token: str = ""
) -> PaymentLedger:
    """The action's ledger row (new, or an earlier failed try) set to "pending" for `m`; not committed."""
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


def approve(
    session: Session,
    client: ProlificClient,
    study_id: str,
    matches: Sequence[Match],
    reason: str | dict[str, str],
    cost: Cost,
) -> list[Outcome]:
    """Approve with POST /submissions/bulk-approve/ {"submission_ids": [...]} (Prolific recommends
    submission ids over participant ids: api-reference/submissions/bulk-approve-submissions), then read
    the study's submissions back.

    An accepted chunk is "submitted" (Prolific approves asynchronously); a submission the read-back
    shows APPROVED is "confirmed", whatever the call answered: a retried chunk that meets submissions
    approved by the first try has done its work. A refused chunk whose submissions are not approved is
    "failed" (a rerun sends it again; approving is harmless to repeat). `reason` (one for all, or per
    submission id) is recorded in the ledger.
    """
    outcomes: list[Outcome] = []
    todo = []
    for m in matches:
        row = find_row(session, "approve", m.submission_id)
        if row is not None and row.status in DONE:
            outcomes.append(Outcome(row, sent=False))
        else:
            todo.append(m)
    sent: list[tuple[Match, PaymentLedger, str]] = []
    for start in range(0, len(todo), BULK_APPROVE_MAX):
        chunk = todo[start : start + BULK_APPROVE_MAX]
        why = {
            m.submission_id: reason.get(m.submission_id, "") if isinstance(reason, dict) else reason
            for m in chunk
        }
        rows = [pending_row(session, "approve", m, study_id, cost, why[m.submission_id]) for m in chunk]
        session.commit()
        body = {"submission_ids": [m.submission_id for m in chunk]}
        try:
            client.post("submissions/bulk-approve/", body)
            status, error = "submitted", ""
        except ProlificError as exc:
            status, error = "pending", str(exc)[:1000]  # the read-back decides
        for row in rows:
            row.status, row.updated_at = status, utcnow()
        session.commit()
        sent.extend((m, row, error) for m, row in zip(chunk, rows, strict=True))
    if not sent:
        return outcomes
    try:
        shown = {str(s.get("id")): s for s in list_submissions(client, study_id)}
    except ProlificError:  # not read back now: submitted rows stay open for `reconcile`
        shown = {}
    for m, row, error in sent:
        if row.status == "pending" and error:
            row.detail = f"{row.detail} ({error})"[:2000]
        if m.submission_id in shown:
            settle_row(session, row, shown[m.submission_id])
        elif row.status == "pending":
            row.status = "failed"
            session.commit()
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
