"""Import a stimulus set (the `stimuli` contract) as a study: validate it, store its rows, build lists.

Re-importing the same set under the same slug changes nothing; a changed set may replace the old one
only while nobody has been allocated to the study (their lists would silently change otherwise).
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from study_server.db import AnySession
from study_server.lists import DEFAULT_VIEWERS_PER_STIMULUS, StimulusRow, check_pairs, latin_square_lists
from study_server.models import Participant, Stimulus, Study, TrialList
from study_server.settings import SETTINGS, SettingError, changed_keys, fixed_changes, validate


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
        {
            "id": int(g["id"]),
            "name": str(g["name"]),
            "legend": int(min(g["classes"])),
            "classes": [int(c) for c in g["classes"]],
        }
        for g in groups["groups"]
    ]


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1", "yes"}
    return bool(value) if value == value else False  # NaN is falsy here


def import_stimulus_set(
    session: AnySession,
    path: str | Path,
    *,
    slug: str,
    name: str | None = None,
    recruiter: str | None = None,
    config: dict[str, Any] | None = None,
) -> tuple[Study, bool]:
    """Create or update study `slug` from the stimulus set at `path`; returns (study, changed).

    `config` holds settings to change (checked against `study_server.settings`); `recruiter` None keeps
    the study's (a new study: link). A change is applied, or refused with the reason: the recruiter and
    the design settings (timing, size, legend order...) cannot change once people have taken part.
    """
    import stimuli

    if config and "allow_none" in config:
        raise StudyImportError("allow_none is not a setting: a set of family 'fooling' turns it on")

    try:
        config = validate(config or {})
    except SettingError as exc:
        raise StudyImportError(str(exc)) from None

    root = Path(path).resolve()
    if not root.is_dir():
        raise StudyImportError(f"stimulus set {root} does not exist or is not a directory")
    try:  # validates the set (and checks its content hash) once, then reads it
        sset = stimuli.load_stimulus_set(root)
    except stimuli.StimulusSetError as exc:  # "invalid stimulus set ROOT: ...": one clear line for the CLI
        raise StudyImportError(str(exc)) from None
    except Exception as exc:
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
    if study is not None:
        _check_changes(session, study, config, recruiter)
    if study is not None and study.stimulus_hash == content_hash and study.stimulus_dir == str(root):
        new_config = {**study.config, **config}
        new_recruiter = recruiter or study.recruiter
        same_name = not name or name == study.name
        if new_config == study.config and same_name and new_recruiter == study.recruiter:
            return study, False
        study.config = new_config  # same stimuli: only settings change, lists stay as they are
        study.name = name or study.name
        study.recruiter = new_recruiter
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
        merged = {s.name: s.default for s in SETTINGS.values() if s.default is not None}
        merged["completion_code"] = secrets.token_hex(4).upper()
        merged["screened_out_code"] = secrets.token_hex(4).upper()
        study = Study(slug=slug, name=name or sset.name, recruiter=recruiter or "link", config=merged)
        session.add(study)
    if "viewers_per_stimulus" not in study.config:  # pairs: the paper's 20 per crop; otherwise no cap
        default_viewers = DEFAULT_VIEWERS_PER_STIMULUS if paired else None
        study.config = {**study.config, "viewers_per_stimulus": default_viewers}
    if recruiter:
        study.recruiter = recruiter
    if config:
        study.config = {**study.config, **config}
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


def _check_changes(session: AnySession, study: Study, config: dict[str, Any], recruiter: str | None) -> None:
    """Refuse what may not change once people have taken part (their data would mix two designs)."""
    n = session.scalar(select(func.count(Participant.id)).where(Participant.study_id == study.id))
    if not n:
        return
    if recruiter and recruiter != study.recruiter:
        raise StudyImportError(
            f"study {study.slug!r} already has {n} participants recruited by {study.recruiter!r}; "
            f"it cannot switch to {recruiter!r}: import the set under a new slug"
        )
    fixed = fixed_changes(changed_keys(study.config, {**study.config, **config}))
    if fixed:
        raise StudyImportError(
            f"study {study.slug!r} already has {n} participants; changing {', '.join(fixed)} would mix two "
            "designs in one study: import the set under a new slug"
        )
