"""The study's Prolific side, stored with the study: its settings, draft-study id and participant group.

This module decides what to send from the database, sends it and records what Prolific answered, so a
re-run knows what exists; the commands of prolific.commands print each request before calling it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from study_server.models import Participant, Study
from study_server.recruiters.exclusion import exclusion_group_studies
from study_server.recruiters.ledger import Outcome, record_action
from study_server.recruiters.models import PaymentLedger
from study_server.recruiters.prolific.client import ProlificClient, ProlificError
from study_server.recruiters.prolific.fees import Cost
from study_server.recruiters.prolific.studies import StudyPlan, build_study, ensure_codes

PLATFORM = "prolific"


def settings(study: Study) -> dict[str, Any]:
    """The study's `prolific` settings (a copy)."""
    return dict((study.config or {}).get("prolific") or {})


def save_settings(session: Session, study: Study, **values: Any) -> None:
    """Store `values` among the study's `prolific` settings, e.g. ids Prolific gave it."""
    config = dict(study.config or {})
    config["prolific"] = {**settings(study), **values}
    study.config = config
    session.commit()


def group_studies(session: Session, study: Study) -> list[Study]:
    """This study and every study of its exclusion group."""
    found = (session.get(Study, i) for i in exclusion_group_studies(session, study))
    return [s for s in found if s is not None]


def participant_group_id(session: Session, study: Study) -> str | None:
    """The Prolific participant group of the study's exclusion group (one per group, shared)."""
    for s in group_studies(session, study):
        gid = settings(s).get("participant_group_id")
        if gid:
            return str(gid)
    return None


def participant_group_request(study: Study, workspace: str) -> dict[str, str]:
    """The body of POST participant-groups/ for the study's exclusion group."""
    name = (study.config or {}).get("exclusion_group") or study.slug
    return {"name": f"took part: {name}"[:120], "workspace_id": str(workspace)}


def outside_group(session: Session, study: Study, group_id: str) -> list[Participant]:
    """Prolific participants of the exclusion group's studies not yet in participant group `group_id`."""
    people = session.scalars(
        select(Participant).where(
            Participant.study_id.in_([s.id for s in group_studies(session, study)]),
            Participant.recruiter == "prolific",
        )
    ).all()
    return [p for p in people if (p.recruiter_data or {}).get("participant_group") != group_id]


def mark_in_group(session: Session, people: list[Participant], group_id: str) -> None:
    """Record that Prolific added `people` to participant group `group_id`."""
    for p in people:
        p.recruiter_data = {**(p.recruiter_data or {}), "participant_group": group_id}
    session.commit()


def earlier_studies(session: Session, study: Study) -> list[str]:
    """Prolific study ids of the other studies of the exclusion group (their participants are blocklisted)."""
    ids = (settings(s).get("study_id") for s in group_studies(session, study) if s.id != study.id)
    return [str(i) for i in ids if i]


def store_config(session: Session, study: Study, config: dict[str, Any]) -> None:
    """Store a changed study config (generated completion codes, before Prolific learns them)."""
    if config != study.config:
        study.config = config
        session.commit()


def store_study_id(session: Session, study: Study, study_id: str, ledger: PaymentLedger) -> None:
    """Store the created Prolific study's id (also on its ledger entry); the entry page then refuses
    links of any other Prolific study."""
    ledger.hit_id = study_id
    save_settings(session, study, study_id=study_id)
    study.config = {**study.config, "prolific_study_id": study_id}  # ProlificRecruiter.parse_entry
    session.commit()


class SetupError(ValueError):
    """Prolific's answer leaves the study's set-up unknown or incomplete (one clear line for the CLI)."""


def plan_study(session: Session, study: Study, url: str) -> tuple[StudyPlan, dict[str, Any]]:
    """The draft study to create (its request and cost) and the study config with its completion codes;
    repeat participants are blocklisted through the exclusion group's participant group and studies."""
    others = earlier_studies(session, study)
    group = participant_group_id(session, study)
    config = ensure_codes(study.config or {})
    plan = build_study(
        study.slug,
        study.name,
        config,
        url,
        blocklist_groups=[group] if group else None,
        blocklist_studies=others or None,
    )
    return plan, config


def create_study(
    session: Session,
    client: ProlificClient,
    study: Study,
    plan: StudyPlan,
    config: dict[str, Any],
    cost: Cost | None = None,
) -> tuple[str, str]:
    """POST studies/ once (ledger "create_study", with `cost`: Prolific's quote, else the plan's
    estimate); returns (Prolific study id, its status).

    The generated completion codes are stored before Prolific learns them; a failed call raises
    ProlificError, an answer without an id SetupError."""
    store_config(session, study, config)
    outcome, result = record_action(
        session,
        action="create_study",
        token=f"create-{study.slug}"[:64],
        call=lambda: client.post("studies/", plan.payload, repeatable=False),
        sandbox=False,
        platform=PLATFORM,
        errors=(ProlificError,),
        study_id=study.id,
        cost=cost or plan.cost,
        detail=plan.payload["name"],
    )
    if not outcome.ok:
        if plan.screen_out and " HTTP 4" in outcome.ledger.detail:
            raise SetupError(
                "Prolific refused the study, which asks for fixed screen-out payments: these are offered "
                "only to some workspaces; if yours has none, remove prolific.screened_out_reward (screened-"
                f"out people are then reviewed and rejected). Prolific said: {outcome.ledger.detail}"
            )
        raise ProlificError(f"study not created: {outcome.ledger.detail}")
    sid = str((result or {}).get("id") or outcome.ledger.hit_id or "")
    if not sid:
        raise SetupError(
            f"the ledger (entry {outcome.ledger.id}) says this study was created on Prolific, but its id "
            "was not stored: find it among your Prolific drafts and set prolific.study_id"
        )
    store_study_id(session, study, sid, outcome.ledger)
    return sid, str((result or {}).get("status", "UNPUBLISHED"))


PUBLISH = {"action": "PUBLISH"}
"""The body of POST studies/{id}/transition/ that publishes a draft (api-reference/studies)."""


def publish_study(
    session: Session, client: ProlificClient, study: Study, study_id: str, cost: Cost
) -> tuple[Outcome, str]:
    """Publish the draft once (ledger "publish"); returns the outcome and the study's new status."""
    outcome, result = record_action(
        session,
        action="publish",
        token=f"publish-{study_id}",
        call=lambda: client.post(f"studies/{study_id}/transition/", PUBLISH, repeatable=False),
        sandbox=False,
        platform=PLATFORM,
        errors=(ProlificError,),
        study_id=study.id,
        hit_id=study_id,
        cost=cost,
    )
    if not outcome.ok:
        raise ProlificError(f"not published: {outcome.ledger.detail}")
    state = (result or {}).get("status", "ACTIVE") if outcome.sent else "already published (ledger)"
    return outcome, str(state)


def create_participant_group(
    session: Session, client: ProlificClient, study: Study, body: dict[str, str]
) -> str:
    """POST participant-groups/ (body from `participant_group_request`); stores and returns its id."""
    result = client.post("participant-groups/", body, repeatable=False) or {}
    gid = str(result.get("id") or "")
    if not gid:
        raise SetupError("Prolific created no participant group (no id in the answer)")
    save_settings(session, study, participant_group_id=gid)
    return gid


def add_to_group(session: Session, client: ProlificClient, people: list[Participant], group_id: str) -> int:
    """POST participant-groups/{id}/participants/ with `people`; returns how many distinct ids were sent."""
    body = group_members_request(people)
    client.post(f"participant-groups/{group_id}/participants/", body)
    mark_in_group(session, people, group_id)
    return len(body["participant_ids"])


def group_members_request(people: list[Participant]) -> dict[str, list[str]]:
    """The body of POST participant-groups/{id}/participants/."""
    return {"participant_ids": sorted({str(p.external_id) for p in people})}
