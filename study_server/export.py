"""Responses export in the shared contract (one row per human trial), for files and for `analysis`.

Participants are pseudonymised with an HMAC of their public id keyed by the app secret, so the same
person gets the same pseudonym in every export and nobody without the secret can link it back.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from study_server.db import AnySession, make_engine
from study_server.lifecycle import is_finished, is_paid
from study_server.models import NONE_ANSWER, Participant, Response, Study, TrialList
from study_server.settings import effective

COLUMNS = (
    "participant",
    "stimulus_id",
    "response",
    "rt_ms",
    "shown_ms",
    "trial_index",
    "catch",
    "created_at",
    "status",
    "completed",
    "paid",
    "catch_fail_threshold",
    "recruiter",
    "list_id",
    "study",
    "simulated",
)


class ExportError(ValueError):
    """The export cannot run (no secret key, unknown study)."""


def pseudonym(public_id: str, secret_key: str) -> str:
    digest = hmac.new(secret_key.encode("utf-8"), public_id.encode("utf-8"), hashlib.sha256).hexdigest()
    return "p_" + digest[:16]


def iso_utc(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)  # SQLite drops the zone; we only ever store UTC
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def frame_from_session(session: AnySession, secret_key: str, study: str | None = None) -> pd.DataFrame:
    """The responses table for one study (slug) or all studies, in the contract's columns."""
    if study is not None and session.scalar(select(Study.id).where(Study.slug == study)) is None:
        raise ExportError(f"unknown study {study!r}")
    # the study's screening setting, read once per study, so the analysis applies the server's own rule
    thresholds = {
        slug: effective(config)["catch_fail_threshold"]
        for slug, config in session.execute(select(Study.slug, Study.config))
    }
    query = (
        select(Response, Participant, Study.slug, TrialList.index)
        .join(Participant, Response.participant_id == Participant.id)
        .join(Study, Participant.study_id == Study.id)
        .outerjoin(TrialList, Participant.list_id == TrialList.id)
        .order_by(Study.slug, Participant.id, Response.trial_index)
    )
    if study is not None:
        query = query.where(Study.slug == study)
    records = []
    for resp, part, slug, list_index in session.execute(query):
        records.append(
            {
                "participant": pseudonym(part.public_id, secret_key),
                "stimulus_id": resp.stimulus_id,
                "response": "none" if resp.response == NONE_ANSWER else resp.response,
                "rt_ms": resp.rt_ms,
                "shown_ms": resp.shown_ms,
                "trial_index": resp.trial_index,
                "catch": bool(resp.catch),
                "created_at": iso_utc(resp.created_at),
                "status": part.status,
                "completed": is_finished(part.status),
                "paid": is_paid(part.status),
                "catch_fail_threshold": thresholds[slug],
                "recruiter": part.recruiter,
                "list_id": list_index,
                "study": slug,
                "simulated": bool(part.simulated),
            }
        )
    frame = pd.DataFrame.from_records(records, columns=list(COLUMNS))
    # class ids as integers; "none" (its own answer) as that word; a timeout as missing
    frame["response"] = frame["response"].map(lambda v: v if v == "none" or pd.isna(v) else int(v))
    if not (frame["response"] == "none").any():
        frame["response"] = frame["response"].astype("Int64")
    frame["list_id"] = frame["list_id"].astype("Int64")
    frame["catch_fail_threshold"] = pd.to_numeric(frame["catch_fail_threshold"]).astype("Int64")
    frame["trial_index"] = frame["trial_index"].astype("int64")
    frame["rt_ms"] = frame["rt_ms"].astype("float64")
    frame["shown_ms"] = frame["shown_ms"].astype("float64")
    frame["catch"] = frame["catch"].astype(bool)
    frame["simulated"] = frame["simulated"].astype(bool)
    frame["completed"] = frame["completed"].astype(bool)
    frame["paid"] = frame["paid"].astype(bool)
    return frame


def responses_frame(
    database_url: str, study: str | None = None, *, secret_key: str | None = None
) -> pd.DataFrame:
    """Read-only access to the responses for `analysis` (secret from env STUDY_SECRET_KEY unless passed)."""
    key = secret_key or os.environ.get("STUDY_SECRET_KEY")
    if not key:
        raise ExportError(
            "STUDY_SECRET_KEY is not set: it keys the participant pseudonyms; set it to the server's secret"
        )
    engine = make_engine(database_url, readonly=True)
    try:
        with Session(engine) as session:
            return frame_from_session(session, key, study)
    finally:
        engine.dispose()


def write_export(frame: pd.DataFrame, out_dir: str | Path, stem: str = "responses") -> tuple[Path, Path]:
    """Write `<stem>.csv` and `<stem>.json` (records) into out_dir; returns both paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    csv_path = out / f"{stem}.csv"
    json_path = out / f"{stem}.json"
    to_csv(frame, csv_path)
    json_path.write_text(to_json(frame), encoding="utf-8")
    return csv_path, json_path


def to_csv(frame: pd.DataFrame, path: str | Path | None = None) -> str:
    out = frame.copy()
    for col in ("catch", "simulated"):
        out[col] = out[col].map({True: "true", False: "false"})
    text = out.to_csv(index=False)
    if path is not None:
        Path(path).write_text(text, encoding="utf-8")
    return text


def to_json(frame: pd.DataFrame) -> str:
    records = json.loads(frame.to_json(orient="records"))
    return json.dumps(records, indent=1)


def participant_records(session: AnySession, secret_key: str, study: str | None = None) -> list[dict]:
    """Per-participant details that do not fit the long responses table: list, legend order, and every
    status change with its time (pseudonymised like the responses)."""
    from study_server.models import StatusEvent

    query = (
        select(Participant, Study.slug, TrialList.index)
        .join(Study, Participant.study_id == Study.id)
        .outerjoin(TrialList, Participant.list_id == TrialList.id)
        .order_by(Study.slug, Participant.id)
    )
    if study is not None:
        query = query.where(Study.slug == study)
    out = []
    for part, slug, list_index in session.execute(query):
        events = session.scalars(
            select(StatusEvent).where(StatusEvent.participant_id == part.id).order_by(StatusEvent.id)
        ).all()
        out.append(
            {
                "participant": pseudonym(part.public_id, secret_key),
                "study": slug,
                "status": part.status,
                "recruiter": part.recruiter,
                "list_id": list_index,
                "simulated": bool(part.simulated),
                "legend_order": list(part.legend_order),
                "calibration": part.calibration,
                "fullscreen_exits": part.fullscreen_exits,
                "n_trials": len(part.trial_order),
                "events": [{"status": e.status, "at": iso_utc(e.at)} for e in events],
            }
        )
    return out
