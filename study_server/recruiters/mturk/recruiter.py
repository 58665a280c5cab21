"""The MTurk recruiter: ExternalQuestion entry, repeat-worker refusal, externalSubmit at the end.

MTurk opens our entry URL in an iframe with assignmentId, hitId, workerId and turkSubmitTo. While a
worker only previews the HIT, assignmentId is ASSIGNMENT_ID_NOT_AVAILABLE: we show the advert and
write nothing. The debrief POSTs the assignment back to turkSubmitTo/mturk/externalSubmit.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from flask import current_app, has_app_context
from sqlalchemy import select
from sqlalchemy.orm import Session

from study_server.models import Participant, Study
from study_server.recruiters.base import BadEntry, Entry, EntryRefused, Finish, Recruiter, register_recruiter
from study_server.recruiters.exclusion import exclusion_group_studies, took_part
from study_server.recruiters.mturk.client import (
    LIVE_SUBMIT,
    SANDBOX_SUBMIT,
    MTurkError,
    call_with_retry,
    make_client,
)
from study_server.recruiters.mturk.hits import qualification_key

log = logging.getLogger(__name__)

PREVIEW_ASSIGNMENT = "ASSIGNMENT_ID_NOT_AVAILABLE"
MTURK_ID_RE = re.compile(r"^[A-Z0-9]{8,64}$")
"""MTurk worker, assignment and HIT ids are upper-case letters and digits."""
OFFICIAL_SUBMIT_ORIGINS = (LIVE_SUBMIT, SANDBOX_SUBMIT)
REFUSAL = (
    "Our records show that you have already taken part in this study (or a closely related one), and "
    "each person may take part only once. Please return the HIT; you have not been charged anything."
)


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.netloc or parts.username or parts.password:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def allowed_submit_origins() -> tuple[str, ...]:
    """MTurk's two sites, plus app.config["MTURK_EXTRA_SUBMIT_ORIGINS"] (tests, compatible platforms)."""
    extra: tuple[str, ...] = ()
    if has_app_context():
        extra = tuple(
            str(o).rstrip("/").lower() for o in current_app.config.get("MTURK_EXTRA_SUBMIT_ORIGINS", ())
        )
    return OFFICIAL_SUBMIT_ORIGINS + extra


def client_factory() -> Callable[..., Any]:
    """How the app gets an mturk client; tests put a Stubber-backed one in app.extensions."""
    if has_app_context():
        return current_app.extensions.get("mturk_client_factory", make_client)
    return make_client


def participant_is_sandbox(participant: Participant) -> bool:
    """A worker who came from the worker sandbox is granted qualifications on the sandbox (the default)."""
    submit = str((participant.recruiter_data or {}).get("turkSubmitTo", ""))
    return _origin(submit) != LIVE_SUBMIT


@register_recruiter("mturk")
class MTurkRecruiter(Recruiter):
    session_param = "assignmentId"
    new_session_replaces = True  # a re-accepted HIT is the live assignment

    def parse_entry(self, study: Any, args: Mapping[str, str]) -> Entry:
        assignment = args.get("assignmentId", "")
        if assignment == PREVIEW_ASSIGNMENT:
            return Entry(external_id=None, preview=True)
        values = {}
        for key in ("assignmentId", "hitId", "workerId"):
            value = args.get(key, "")
            if not MTURK_ID_RE.match(value):
                raise BadEntry(
                    f"this page must be opened from the Mechanical Turk HIT ({key} is missing or invalid)"
                )
            values[key] = value
        submit = args.get("turkSubmitTo", "").rstrip("/")
        if _origin(submit) not in allowed_submit_origins() or submit.lower() != _origin(submit):
            raise BadEntry("this page must be opened from the Mechanical Turk HIT (turkSubmitTo is invalid)")
        values["turkSubmitTo"] = submit
        return Entry(external_id=values["workerId"], data=values)

    def admit(self, session: Any, study: Any, entry: Entry) -> None:
        """Refuse a worker who already has a participant in this study or in its exclusion group."""
        if took_part(session, study, self.name, entry.external_id):
            raise EntryRefused(REFUSAL)

    def on_start(self, session: Any, participant: Any) -> None:
        """Give the worker the study's "took part" qualification, so later HITs exclude them.

        A failure never blocks the participant: it is noted in recruiter_data and
        `mturk sync-qualifications` grants it later.
        """
        live = not participant_is_sandbox(participant)
        qual = ((participant.study.config or {}).get("mturk") or {}).get(qualification_key(live))
        if not qual:
            return
        data = dict(participant.recruiter_data or {})
        try:
            client = client_factory()(live=live)
            grant_qualification(client, qual, participant.external_id, max_attempts=2, base_delay=0.2)
            data["qualification"] = "granted"
        except Exception as exc:  # no credentials, network down: never a 500 for the worker
            log.warning(
                "could not grant qualification to participant %s: %s",
                participant.public_id,
                type(exc).__name__,
            )
            data["qualification"] = "pending"
        participant.recruiter_data = data

    def finish(self, study: Any, participant: Any, *, screened_out: bool) -> Finish:
        config = study.config or {}
        code = str(
            (config.get("screened_out_code") if screened_out else None)
            or participant.completion_code
            or config.get("completion_code")
            or ""
        )
        data = participant.recruiter_data or {}
        url = str(data.get("turkSubmitTo", SANDBOX_SUBMIT)).rstrip("/") + "/mturk/externalSubmit"
        fields = {"assignmentId": str(data.get("assignmentId", "")), "completion_code": code}
        if screened_out:
            fields["screened_out"] = "1"
        return Finish(kind="post_form", code=code, url=url, fields=fields)


def grant_qualification(client: Any, qualification_type_id: str, worker_id: str, **retry: Any) -> None:
    call_with_retry(
        client,
        "associate_qualification_with_worker",
        {
            "QualificationTypeId": qualification_type_id,
            "WorkerId": worker_id,
            "IntegerValue": 1,
            "SendNotification": False,
        },
        **retry,
    )


def set_mturk_setting(session: Session, study: Study, key: str, value: Any) -> None:
    """Store one key of the study's `mturk` settings (e.g. a qualification id MTurk gave it)."""
    config = dict(study.config or {})
    config["mturk"] = {**(config.get("mturk") or {}), key: value}
    study.config = config
    session.commit()


def shared_qualification(session: Session, study: Study, *, live: bool) -> str | None:
    """The study's 'took part' qualification, or else one of its exclusion group's (then stored on it too).

    One qualification per group is what keeps a worker out of every study of the group.
    """
    key = qualification_key(live)
    existing = (study.config.get("mturk") or {}).get(key)
    if existing:
        return str(existing)
    for sid in exclusion_group_studies(session, study):
        other = session.get(Study, sid)
        shared = ((other.config or {}).get("mturk") or {}).get(key) if other else None
        if shared:
            set_mturk_setting(session, study, key, shared)
            return str(shared)
    return None


def create_qualification(session: Session, client: Any, study: Study, *, live: bool) -> str:
    """Create the group's 'took part' qualification on MTurk and store its id with the study."""
    group = study.config.get("exclusion_group") or study.slug
    result = call_with_retry(
        client,
        "create_qualification_type",
        {
            "Name": f"took part: {group}"[:120],
            "Description": f"Workers who started a study of '{group}'; keeps them out of repeats.",
            "QualificationTypeStatus": "Active",
        },
    )
    qid = str(result["QualificationType"]["QualificationTypeId"])
    set_mturk_setting(session, study, qualification_key(live), qid)
    return qid


def ensure_qualification(session: Session, study: Study, client: Callable[[], Any], *, live: bool) -> str:
    """The study's 'took part' qualification: its own, its exclusion group's, or a new one (only then
    is `client()` called, so a study that has one talks to nobody)."""
    shared = shared_qualification(session, study, live=live)
    return shared or create_qualification(session, client(), study, live=live)


def sync_qualifications(
    session: Session, client: Any, study: Study, qualification_type_id: str, *, live: bool
) -> tuple[int, list[tuple[str, MTurkError]]]:
    """Grant the qualification to the study's workers whose grant failed at entry (on this marketplace).

    Returns how many were granted now and (participant public id, error) for those still pending.
    """
    people = session.scalars(
        select(Participant).where(Participant.study_id == study.id, Participant.recruiter == "mturk")
    ).all()
    done, pending = 0, []
    for p in people:
        data = dict(p.recruiter_data or {})
        if data.get("qualification") == "granted" or participant_is_sandbox(p) == live:
            continue
        try:
            grant_qualification(client, qualification_type_id, str(p.external_id))
        except MTurkError as exc:
            pending.append((p.public_id, exc))
            continue
        data["qualification"] = "granted"
        p.recruiter_data = data
        session.commit()
        done += 1
    return done, pending
