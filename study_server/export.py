"""Responses export in the shared contract (one row per human trial), for files and for `analysis`.

Participants are pseudonymised with an HMAC of their public id keyed by the app secret, so the same
person gets the same pseudonym in every export and nobody without the secret can link it back.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Collection
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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
    "frames_requested",
    "frames_shown",
    "frames_dropped",
    "repeat",
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
    "refresh_hz",
    "distance_method",
    "viewing_distance_mm",
    "stimulus_deg",
)
"""Per trial: the answer, its timing (`shown_ms` and the frames of a timed image; empty when untimed) and
`repeat` (1 for the second showing of a stimulus the study repeats). Per participant: status, recruiter
and list, the refresh rate measured before the trials, how the viewing distance was found
(blind_spot | assumed; empty without calibration) and the stimulus width in degrees actually shown."""

PRECISION = {"rt_ms": 1, "shown_ms": 1, "refresh_hz": 2, "viewing_distance_mm": 1, "stimulus_deg": 3}
"""Decimals kept in the export: what the measurement supports (performance.now() jitter is ~0.1 ms)."""


class ExportError(ValueError):
    """The export cannot run (no secret key, unknown study)."""


def pseudonym(public_id: str, secret_key: str) -> str:
    digest = hmac.new(secret_key.encode("utf-8"), public_id.encode("utf-8"), hashlib.sha256).hexdigest()
    return "p_" + digest[:16]


def iso_utc(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)  # SQLite drops the zone; we only ever store UTC
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def frame_from_session(
    session: AnySession, secret_key: str, study: str | None = None, statuses: Collection[str] | None = None
) -> pd.DataFrame:
    """The responses table for one study (slug) or all studies, in the contract's columns; only the
    participants in `statuses` when given (the admin's filter)."""
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
    if statuses:
        query = query.where(Participant.status.in_(sorted(statuses)))
    records = []
    repeats: dict[int, list[int]] = {}
    for resp, part, slug, list_index in session.execute(query):
        if part.id not in repeats:
            repeats[part.id] = repeat_marks(part.trial_order)
        marks = repeats[part.id]
        records.append(
            {
                "participant": pseudonym(part.public_id, secret_key),
                "stimulus_id": resp.stimulus_id,
                "response": "none" if resp.response == NONE_ANSWER else resp.response,
                "rt_ms": resp.rt_ms,
                "shown_ms": resp.shown_ms,
                "frames_requested": resp.frames_requested,
                "frames_shown": resp.frames_shown,
                "frames_dropped": resp.frames_dropped,
                "repeat": marks[resp.trial_index] if resp.trial_index < len(marks) else 0,
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
                **geometry(part.calibration, part.display),
            }
        )
    frame = pd.DataFrame.from_records(records, columns=list(COLUMNS))
    for name in ("frames_requested", "frames_shown", "frames_dropped"):
        frame[name] = pd.to_numeric(frame[name]).astype("Int64")
    frame["repeat"] = frame["repeat"].astype("int64")
    for name, decimals in PRECISION.items():
        frame[name] = pd.to_numeric(frame[name]).astype("float64").round(decimals)
    # class ids as integers; "none" (its own answer) as that word; a timeout as missing
    frame["response"] = frame["response"].map(lambda v: v if v == "none" or pd.isna(v) else int(v))
    if not (frame["response"] == "none").any():
        frame["response"] = frame["response"].astype("Int64")
    frame["list_id"] = frame["list_id"].astype("Int64")
    frame["catch_fail_threshold"] = pd.to_numeric(frame["catch_fail_threshold"]).astype("Int64")
    frame["trial_index"] = frame["trial_index"].astype("int64")
    frame["catch"] = frame["catch"].astype(bool)
    frame["simulated"] = frame["simulated"].astype(bool)
    frame["completed"] = frame["completed"].astype(bool)
    frame["paid"] = frame["paid"].astype(bool)
    return frame


def repeat_marks(trial_order: list[str]) -> list[int]:
    """1 at each trial that shows a stimulus a second time (a test-retest repeat), else 0."""
    seen: set[str] = set()
    marks = []
    for sid in trial_order:
        marks.append(int(sid in seen))
        seen.add(sid)
    return marks


def geometry(calibration: dict | None, display: dict | None) -> dict[str, Any]:
    """A participant's refresh rate, viewing-distance method and distance, and the angle shown."""
    cal, shown = calibration or {}, display or {}
    method = cal.get("distance_method")
    return {
        "refresh_hz": shown.get("refresh_hz"),
        # "blindspot": how calibrations stored before the export named the method
        "distance_method": "blind_spot" if method == "blindspot" else method,
        "viewing_distance_mm": cal.get("viewing_distance_mm"),
        "stimulus_deg": shown.get("stimulus_deg", cal.get("stimulus_deg")),
    }


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


def rounded(value: Any, decimals: int = 4) -> Any:
    """Floats rounded to `decimals` places inside any JSON value (no 16.69999999999999 in an export)."""
    if isinstance(value, float):
        return round(value, decimals)
    if isinstance(value, dict):
        return {k: rounded(v, decimals) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v, decimals) for v in value]
    return value


def participant_records(
    session: AnySession, secret_key: str, study: str | None = None, statuses: Collection[str] | None = None
) -> list[dict]:
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
    if statuses:
        query = query.where(Participant.status.in_(sorted(statuses)))
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
                "calibration": rounded(part.calibration),
                "display": rounded(part.display),
                "fullscreen_exits": part.fullscreen_exits,
                "n_trials": len(part.trial_order),
                "events": [{"status": e.status, "at": iso_utc(e.at)} for e in events],
            }
        )
    return out
