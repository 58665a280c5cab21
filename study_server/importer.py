"""Import a stimulus set (the `stimuli` contract) as a study: validate it, store its rows, build lists.

Re-importing the same set under the same slug changes nothing; a changed set may replace the old one
only while nobody has been allocated to the study (their lists would silently change otherwise).
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from study_server.lists import DEFAULT_VIEWERS_PER_STIMULUS, StimulusRow, check_pairs, latin_square_lists
from study_server.models import Participant, Stimulus, Study, TrialList

DEFAULT_CONFIG: dict[str, Any] = {
    "consent_text": (
        "This is a short study about how people recognise images. You will see small images and pick, for "
        "each one, the class it shows from a fixed set of classes. It takes about 10 minutes. Your answers "
        "and response times are recorded without your name. Taking part is voluntary and you may stop at "
        "any time by closing the page."
    ),
    "public_title": "Image study",
    "practice_trials": 3,
    "presentation_ms": None,
    "catch_fail_threshold": 1,
}


class StudyImportError(ValueError):
    """The stimulus set is invalid or cannot replace the study's current one."""


def answer_choices(meta: dict[str, Any], classes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What participants answer among: the classes, or the set's label groups when it declares them.

    A group choice is ``{"id": group id, "name": group name, "legend": class id of its legend image,
    "classes": [member class ids]}``; the group's first class stands for it in the legend, and an answer
    is right when it names the group of the stimulus's class (study_server.study_cache).
    """
    groups = meta.get("label_groups")
    if not groups:
        return classes
    return [
        {"id": int(g["id"]), "name": str(g["name"]), "legend": int(min(g["classes"])),
         "classes": [int(c) for c in g["classes"]]}
        for g in groups["groups"]
    ]


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1", "yes"}
    return bool(value) if value == value else False  # NaN is falsy here


def import_stimulus_set(
    session: Session,
    path: str | Path,
    *,
    slug: str,
    name: str | None = None,
    recruiter: str = "link",
    config: dict[str, Any] | None = None,
) -> tuple[Study, bool]:
    """Create or update study `slug` from the stimulus set at `path`; returns (study, changed)."""
    import stimuli

    if config and "allow_none" in config:
        raise StudyImportError("allow_none is not a setting: a set of family 'fooling' turns it on")
    root = Path(path).resolve()
    if not root.is_dir():
        raise StudyImportError(f"stimulus set {root} does not exist or is not a directory")
    problems = stimuli.validate_stimulus_set(root)
    if problems:
        raise StudyImportError(f"invalid stimulus set {root}: " + "; ".join(map(str, problems[:5])))
    try:
        sset = stimuli.load_stimulus_set(root)
    except Exception as exc:  # StimulusSetError and friends: one clear line for the CLI
        raise StudyImportError(f"cannot load stimulus set {root}: {exc}") from exc

    content_hash = str(sset.meta.get("content_hash", ""))
    classes = answer_choices(sset.meta, [{"id": int(c.id), "name": str(c.name)} for c in sset.classes])
    rows = [
        StimulusRow(
            stimulus_id=str(r["stimulus_id"]),
            source_id=str(r["source_id"]),
            condition=str(r["condition"]),
            catch=_truthy(r["catch"]),
            pair_id=str(r.get("pair_id") or ""),
        )
        for r in sset.manifest.to_dict("records")
    ]
    conditions, lists = latin_square_lists(rows)
    try:
        check_pairs(rows, lists)
    except ValueError as exc:
        raise StudyImportError(f"stimulus set {root}: {exc}") from None
    paired = any(r.pair_id and not r.catch for r in rows)
    labels = {str(r["stimulus_id"]): int(r["label"]) for r in sset.manifest.to_dict("records")}

    study = session.scalars(select(Study).where(Study.slug == slug)).one_or_none()
    if study is not None and study.stimulus_hash == content_hash and study.stimulus_dir == str(root):
        new_config = {**study.config, **(config or {})}
        if new_config == study.config and (not name or name == study.name):
            return study, False
        study.config = new_config  # same stimuli: only settings change, lists stay as they are
        study.name = name or study.name
        session.commit()
        return study, True
    if study is not None:
        n = session.scalar(select(func.count(Participant.id)).where(Participant.study_id == study.id))
        if n:
            raise StudyImportError(
                f"study {slug!r} already has {n} participants and a different stimulus set; "
                "import the new set under a new slug"
            )
        study.stimuli.clear()
        study.lists.clear()
        session.flush()
    else:
        merged = dict(DEFAULT_CONFIG)
        merged["completion_code"] = secrets.token_hex(4).upper()
        merged["screened_out_code"] = secrets.token_hex(4).upper()
        study = Study(slug=slug, name=name or sset.name, recruiter=recruiter, config=merged)
        session.add(study)
    if "viewers_per_stimulus" not in study.config:  # pairs: the paper's 20 per crop; otherwise no cap
        default_viewers = DEFAULT_VIEWERS_PER_STIMULUS if paired else None
        study.config = {**study.config, "viewers_per_stimulus": default_viewers}
    if config:
        study.config = {**study.config, **config}
    viewers = study.config.get("viewers_per_stimulus")
    if viewers is not None and (isinstance(viewers, bool) or not isinstance(viewers, int) or viewers < 1):
        raise StudyImportError(f"viewers_per_stimulus must be a positive integer or null, got {viewers!r}")
    if name:
        study.name = name
    study.stimulus_dir = str(root)
    study.stimulus_hash = content_hash
    study.classes = classes
    study.conditions = conditions
    study.stimuli = [
        Stimulus(
            stimulus_id=r.stimulus_id,
            source_id=r.source_id,
            label=labels[r.stimulus_id],
            condition=r.condition,
            catch=r.catch,
        )
        for r in rows
    ]
    study.lists = [TrialList(index=j, n_assigned=0, stimulus_ids=ids) for j, ids in enumerate(lists)]
    # fooling images show no class at all, so people must be able to say so (Nguyen et al. 2015): a
    # property of the set (its family), never a setting, so the cache keyed by the set's hash stays right
    study.config = {**study.config, "allow_none": bool((sset.manifest["family"] == "fooling").any())}
    session.commit()
    return study, True
