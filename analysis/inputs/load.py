"""Read the three contract files and join them into one long table of trials.

Humans and models end up in the same schema (model-vs-human's convention): one row per
agent x stimulus x trial, where a model is simply one more agent. Every problem found while
joining is recorded in ``LongTable.issues``; rows are never dropped without being counted there.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

MANIFEST_REQUIRED = ("stimulus_id", "source_id", "label", "family", "condition", "catch")
RESPONSES_REQUIRED = ("participant", "stimulus_id", "response", "rt_ms", "trial_index")
PREDICTIONS_REQUIRED = ("model", "stimulus_id", "response", "confidence", "prob_true")


TIMING_TRIAL_COLUMNS = ("frames_requested", "frames_shown", "frames_dropped")
"""Per timed trial, from the export (empty for untimed trials and in older exports)."""
TIMING_PARTICIPANT_COLUMNS = ("refresh_hz", "distance_method", "viewing_distance_mm")
"""Per participant: the measured refresh rate and how the viewing distance was set (blind_spot|assumed)."""


class AnalysisInputError(ValueError):
    """A user-facing input problem: the CLI prints it as one line and exits 2."""


@dataclass(frozen=True)
class StimulusSetInfo:
    """The parts of a stimulus set the analysis needs: manifest rows and the class list."""

    root: Path
    manifest: pd.DataFrame
    class_names: dict[int, str]
    name: str
    label_groups: dict | None = None
    """stimulus_set.json's label groups (people answered among groups; see analysis.stats.fri_pairs)."""
    conditions: tuple[str, ...] = ()
    """The set's conditions in its own order (regular first), for every table and figure."""

    def order(self, conditions: Iterable[object]) -> list[str]:
        """The given conditions in the set's order; unknown ones after, alphabetically."""
        rank = {c: i for i, c in enumerate(self.conditions)}
        found = {str(c) for c in conditions}
        return sorted(found, key=lambda c: (rank.get(c, len(rank)), c))

    @property
    def n_classes(self) -> int:
        return len(self.class_names)


@dataclass
class LongTable:
    """Humans and models in one table, plus what went wrong while building it."""

    trials: pd.DataFrame
    stimuli: StimulusSetInfo
    issues: list[str] = field(default_factory=list)
    simulated: bool = False
    repeats: pd.DataFrame = field(default_factory=pd.DataFrame)
    """Second showings of repeated stimuli (the export's repeat = 1), scored like trials, kept out of
    every other analysis: they measure each participant's test-retest consistency."""


def _to_bool(series: pd.Series) -> pd.Series:
    """Contract booleans arrive as true/false strings, 1/0 or real booleans; empty means false."""

    def conv(v: object) -> bool:
        if isinstance(v, bool | np.bool_):
            return bool(v)
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return False
        return str(v).strip().lower() in {"true", "1", "yes", "t", "1.0"}

    return series.map(conv).astype(bool)


def _read_csv(path: Path, what: str) -> pd.DataFrame:
    if not path.is_file():
        raise AnalysisInputError(f"{what} file not found: {path}")
    try:
        return pd.read_csv(
            path,
            dtype={"stimulus_id": str, "participant": str, "source_id": str, "pair_id": str, "model": str},
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise AnalysisInputError(f"{what} file {path} is not a readable CSV: {exc}") from exc


def _require_columns(df: pd.DataFrame, required: tuple[str, ...], what: str, where: object) -> None:
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise AnalysisInputError(
            f"{what} {where} lacks column(s) {', '.join(missing)}; it has {', '.join(map(str, df.columns))}"
        )


def load_stimulus_info(directory: str | Path) -> StimulusSetInfo:
    """Read manifest.csv and stimulus_set.json directly (the file contract, not stimuli internals)."""
    root = Path(directory)
    if not root.is_dir():
        raise AnalysisInputError(f"stimulus set directory not found: {root}")
    meta_path = root / "stimulus_set.json"
    if not meta_path.is_file():
        raise AnalysisInputError(f"{root} is not a stimulus set: stimulus_set.json is missing")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        classes = {int(c["id"]): str(c["name"]) for c in meta["classes"]}
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise AnalysisInputError(
            f"{meta_path} is malformed (need a 'classes' list of id/name): {exc}"
        ) from exc
    if not classes:
        raise AnalysisInputError(f"{meta_path} lists no classes")
    manifest = _read_csv(root / "manifest.csv", "manifest")
    _require_columns(manifest, MANIFEST_REQUIRED, "manifest", root / "manifest.csv")
    manifest["catch"] = _to_bool(manifest["catch"])
    manifest["label"] = pd.to_numeric(manifest["label"], errors="raise").astype(int)
    for col in ("sigma", "psnr", "region_size"):
        if col in manifest.columns:
            manifest[col] = pd.to_numeric(manifest[col], errors="coerce")
    for col in ("pair_id", "fri_kind", "model", "label_name"):
        if col not in manifest.columns:
            manifest[col] = np.nan
    if manifest["stimulus_id"].duplicated().any():
        dup = manifest.loc[manifest["stimulus_id"].duplicated(), "stimulus_id"].iloc[0]
        raise AnalysisInputError(f"manifest {root / 'manifest.csv'} repeats stimulus_id {dup}")
    return StimulusSetInfo(
        root=root,
        manifest=manifest,
        class_names=classes,
        name=str(meta.get("name", "")),
        label_groups=meta.get("label_groups") or None,
        conditions=condition_order(meta, manifest),
    )


# How the builder names conditions (stimuli.builder.COLOR_CONDITIONS), in the order a reader expects.
KNOWN_ORDER = ("regular", "negative", "gray", "gray_negative")


def condition_order(meta: dict, manifest: pd.DataFrame) -> tuple[str, ...]:
    """regular first, then the conditions the set's build declared (stimulus_set.json params), then
    noise levels by sigma, then the rest alphabetically; the manifest's row order carries no meaning."""
    present = set(manifest["condition"].dropna().astype(str))
    params = meta.get("params")
    params = params if isinstance(params, dict) else {}
    declared = [str(c) for c in params.get("conditions", []) if str(c) in present]
    order = [c for c in ("regular", *declared, *KNOWN_ORDER) if c in present]
    noise = manifest.dropna(subset=["sigma"]) if "sigma" in manifest else manifest.iloc[:0]
    order += list(noise.sort_values("sigma")["condition"].astype(str).drop_duplicates())
    order += sorted(present)
    return tuple(dict.fromkeys(order))


def redact_url(url: str) -> str:
    """Never print a database password."""
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)


def is_database_url(value: str) -> bool:
    return bool(re.match(r"^[a-zA-Z][a-zA-Z0-9+.\-]*://", value))


def load_responses(source: str | Path, study: str | None = None) -> pd.DataFrame:
    """Responses from a CSV export or, for a URL, read-only through study_server's public export."""
    text = str(source)
    if is_database_url(text):
        try:
            from study_server.export import responses_frame
        except ImportError as exc:
            raise AnalysisInputError(
                f"cannot read a database URL: study_server.export is unavailable ({exc})"
            ) from exc
        try:
            df = responses_frame(text, study=study)
        except Exception as exc:  # any driver/connection failure is a user-facing input problem
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise AnalysisInputError(f"could not read responses from {redact_url(text)}: {first}") from exc
        where: object = redact_url(text)
    else:
        df = _read_csv(Path(text), "responses")
        where = text
        if study is not None and "study" in df.columns:
            df = df[df["study"].astype(str) == study]
    _require_columns(df, RESPONSES_REQUIRED, "responses", where)
    df = df.copy()
    df["participant"] = df["participant"].astype(str)
    df["stimulus_id"] = df["stimulus_id"].astype(str)
    df["simulated"] = _to_bool(df["simulated"]) if "simulated" in df.columns else False
    for col in ("catch", "status", "list_id"):
        if col not in df.columns:
            df[col] = np.nan
    # `completed` (answered every trial) comes from the study server's own lifecycle, so the analysis
    # never keeps a list of status names; older exports without it leave it unknown.
    for col in ("completed", "paid"):
        if col in df.columns:
            df[col] = _to_bool(df[col]).astype(object)
        else:
            df[col] = None
    return df


def load_predictions(paths: list[str | Path]) -> pd.DataFrame:
    """Concatenate predictions CSVs; a model appearing in two files is an error, not a merge."""
    frames = []
    seen: dict[str, Path] = {}
    for p in paths:
        path = Path(p)
        df = _read_csv(path, "predictions")
        _require_columns(df, PREDICTIONS_REQUIRED, "predictions", path)
        df["model"] = df["model"].astype(str)
        df["stimulus_id"] = df["stimulus_id"].astype(str)
        for m in df["model"].unique():
            if m in seen:
                raise AnalysisInputError(f"model {m!r} appears in both {seen[m]} and {path}")
            seen[m] = path
        frames.append(df)
    if not frames:
        return pd.DataFrame(columns=list(PREDICTIONS_REQUIRED))
    return pd.concat(frames, ignore_index=True)


def _numeric_response(
    values: pd.Series, what: str, issues: list[str], *, none_expected: bool = False
) -> pd.Series:
    """Class ids as floats (NaN = no answer); text that is not a number is reported, not guessed."""
    num = pd.to_numeric(values, errors="coerce")
    none = values.astype(str).str.strip().str.lower() == "none"  # its own answer (fooling sets)
    if none.any() and not none_expected:
        issues.append(
            f"{what}: {int(none.sum())} 'none of these' answer(s); not a class, so counted as not the "
            "label in accuracy"
        )
    bad = values.notna() & (values.astype(str).str.strip() != "") & num.isna() & ~none
    if bad.any():
        issues.append(
            f"{what}: {int(bad.sum())} response(s) are not class ids (e.g. {values[bad].iloc[0]!r}); "
            "counted as no answer (wrong)"
        )
    return num.astype(float)


def _drop_unknown_stimuli(
    df: pd.DataFrame, known: set[str], what: str, rows: str, issues: list[str]
) -> pd.DataFrame:
    """Rows whose stimulus id the manifest lists; the others are dropped and reported, never guessed."""
    unknown = ~df["stimulus_id"].isin(known)
    if unknown.any():
        ex = ", ".join(sorted(df.loc[unknown, "stimulus_id"].unique())[:3])
        issues.append(
            f"{what}: {int(unknown.sum())} {rows} name stimulus ids not in the manifest "
            f"(e.g. {ex}); these {rows.removesuffix('(s)')}s were dropped"
        )
    return df[~unknown]


def build_long_table(
    responses: pd.DataFrame,
    predictions: pd.DataFrame,
    stimuli: StimulusSetInfo,
    *,
    allow_mixed_simulated: bool = False,
) -> LongTable:
    """Join humans and models with the manifest into one row per agent x stimulus x trial."""
    issues: list[str] = []
    manifest = stimuli.manifest
    known = set(manifest["stimulus_id"])
    n_classes = stimuli.n_classes

    sim = responses["simulated"].astype(bool) if len(responses) else pd.Series([], dtype=bool)
    simulated = bool(len(sim) and sim.all())
    if len(sim) and sim.any() and not sim.all():
        n_sim = responses.loc[sim, "participant"].nunique()
        n_real = responses.loc[~sim, "participant"].nunique()
        if not allow_mixed_simulated:
            raise AnalysisInputError(
                f"responses mix {n_sim} simulated and {n_real} real participants; refusing to analyse them "
                "together (pass --allow-mixed-simulated to override, or filter the export)"
            )
        issues.append(
            f"SIMULATED and real participants mixed ({n_sim} simulated, {n_real} real) "
            "by explicit request (--allow-mixed-simulated)"
        )
        simulated = True

    if responses.empty:
        issues.append("responses: no human trials at all (the report covers the models only)")
    h = responses.copy()
    fooling = bool((manifest["family"] == "fooling").any())  # "none" is offered there, and reported apart
    h["response"] = _numeric_response(h["response"], "responses", issues, none_expected=fooling)
    h["rt_ms"] = pd.to_numeric(h["rt_ms"], errors="coerce")
    h["trial_index"] = pd.to_numeric(h["trial_index"], errors="coerce")
    h = _drop_unknown_stimuli(h, known, "responses", "trial(s)", issues)
    h = h.sort_values(["participant", "trial_index"], kind="stable")
    for col in (*TIMING_TRIAL_COLUMNS, *TIMING_PARTICIPANT_COLUMNS):  # older exports lack them
        if col not in h.columns:
            h[col] = np.nan
    for col in (*TIMING_TRIAL_COLUMNS, "refresh_hz", "viewing_distance_mm"):
        h[col] = pd.to_numeric(h[col], errors="coerce")
    is_repeat = (
        pd.to_numeric(h["repeat"], errors="coerce").fillna(0).astype(int).eq(1) if "repeat" in h else None
    )
    repeats = h[is_repeat] if is_repeat is not None else h.iloc[:0]
    if is_repeat is not None:
        h = h[~is_repeat]
    dup = h.duplicated(["participant", "stimulus_id"], keep="first")
    if dup.any():
        issues.append(
            f"responses: {int(dup.sum())} duplicate trial(s) (same participant and stimulus); "
            "kept the first by trial_index, dropped the rest"
        )
        h = h[~dup]
    h = h.rename(columns={"catch": "catch_reported"})
    h["agent"] = h["participant"]
    h["agent_type"] = "human"
    h["confidence"] = np.nan
    h["prob_true"] = np.nan

    m = predictions.copy()
    if len(m):
        m["response"] = _numeric_response(m["response"], "predictions", issues)
        m = _drop_unknown_stimuli(m, known, "predictions", "row(s)", issues)
        dup = m.duplicated(["model", "stimulus_id"], keep="first")
        if dup.any():
            issues.append(f"predictions: {int(dup.sum())} duplicate (model, stimulus) row(s); kept the first")
            m = m[~dup]
    m = m.assign(
        agent=m["model"].astype(str),
        agent_type="model",
        participant=np.nan,
        rt_ms=np.nan,
        trial_index=np.nan,
        status=np.nan,
        completed=None,
        paid=None,
        list_id=np.nan,
        simulated=False,
    )

    cols = [
        "agent",
        "agent_type",
        "participant",
        "stimulus_id",
        "response",
        "rt_ms",
        "trial_index",
        "status",
        "completed",
        "paid",
        "list_id",
        "simulated",
        "confidence",
        "prob_true",
        *TIMING_TRIAL_COLUMNS,
        *TIMING_PARTICIPANT_COLUMNS,
    ]
    for col in (*TIMING_TRIAL_COLUMNS, *TIMING_PARTICIPANT_COLUMNS):
        m[col] = np.nan
    both = pd.concat([h[cols], m[cols]], ignore_index=True)
    for col in ("response", "rt_ms", "trial_index", "confidence", "prob_true"):
        both[col] = pd.to_numeric(both[col], errors="coerce").astype(float)
    both["simulated"] = both["simulated"].astype(bool)
    out_of_range = both["response"].notna() & ~both["response"].isin(np.arange(n_classes))
    if out_of_range.any():
        for kind, grp in both[out_of_range].groupby("agent_type"):
            issues.append(
                f"{kind} answers: {len(grp)} response(s) are class ids outside 0..{n_classes - 1} "
                f"(e.g. {grp['response'].iloc[0]:g}); kept and counted as wrong"
            )
    man_cols = [c for c in manifest.columns if c != "stimulus_id"]
    trials = _scored(both.merge(manifest, on="stimulus_id", how="left", validate="many_to_one"), stimuli)
    trials = trials[
        [
            "agent",
            "agent_type",
            "stimulus_id",
            "response",
            "correct",
            "answered",
            "rt_ms",
            "trial_index",
            "participant",
            "status",
            "completed",
            "paid",
            "list_id",
            "simulated",
            "confidence",
            "prob_true",
            *TIMING_TRIAL_COLUMNS,
            *TIMING_PARTICIPANT_COLUMNS,
            *man_cols,
        ]
    ]

    conds = sorted(manifest.loc[~manifest["catch"], "condition"].dropna().unique())
    for cond in conds:
        sub = trials[(trials["condition"] == cond) & ~trials["catch"]]
        for kind in ("human", "model"):
            present = (trials["agent_type"] == kind).any()
            if present and not (sub["agent_type"] == kind).any():
                issues.append(f"condition {cond!r}: no {kind} trials (empty condition)")
    rep = repeats.drop(columns=["catch"], errors="ignore").assign(
        agent=repeats["participant"], agent_type="human"
    )
    rep = _scored(rep.merge(manifest, on="stimulus_id", how="left", validate="many_to_one"), stimuli)
    return LongTable(
        trials=trials.reset_index(drop=True),
        stimuli=stimuli,
        issues=issues,
        simulated=simulated,
        repeats=rep.reset_index(drop=True),
    )


def _scored(trials: pd.DataFrame, stimuli: StimulusSetInfo) -> pd.DataFrame:
    """Add answered and correct: a missing answer (timeout) counts as wrong, as in model-vs-human."""
    trials = trials.assign(answered=trials["response"].notna())
    trials["correct"] = (trials["response"] == trials["label"]).astype(int)
    if stimuli.label_groups:  # people answered among groups: score everyone on the groups (issue 18)
        from analysis.stats.fri_pairs import score_on_groups

        trials["correct"] = score_on_groups(trials, stimuli.label_groups)
    return trials
