"""The one typed schema of a study's settings: type, range, default and help of every key.

The importer and `import-stimuli --set` validate through it, the admin lists it, and the participant pages
and the trial runner read a study's effective settings (`effective(study.config)`) from it, so a bad value
is refused with its setting's name before anything is stored, and no page ever sees a string where a
number belongs.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["int", "float", "bool", "str", "text", "choice", "object"]


class SettingError(ValueError):
    """A setting's name or value is not acceptable; the message names the setting."""


@dataclass(frozen=True)
class Setting:
    name: str
    kind: Kind
    default: Any
    help: str
    group: str
    minimum: float | None = None
    maximum: float | None = None
    nullable: bool = False
    choices: tuple[str, ...] = ()
    pattern: str | None = None
    max_length: int = 20_000
    fixed_once_started: bool = False
    """Part of the design: changing it once people have taken part would mix two designs in one study."""
    extra: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        """Type and range in words, for --help, errors and the admin."""
        if self.kind == "choice":
            text = "one of " + ", ".join(self.choices)
        elif self.kind in ("int", "float"):
            lo = "" if self.minimum is None else f"{self.minimum:g}"
            hi = "" if self.maximum is None else f"{self.maximum:g}"
            text = f"{'integer' if self.kind == 'int' else 'number'} {lo}..{hi}"
        elif self.kind == "bool":
            text = "true/false"
        elif self.kind == "object":
            text = "JSON object"
        else:
            text = "text"
        return text + (" or null" if self.nullable else "")


_CODE = r"^[A-Za-z0-9_-]{1,64}$"

DEFAULT_CONSENT = (
    "This is a short study about how people recognise images. You will see small images and pick, for "
    "each one, the class it shows from a fixed set of classes. It takes about 10 minutes. Taking part is "
    "voluntary and you may stop at any time by closing the page; nothing you have answered is then used."
)
DEFAULT_RETENTION = (
    "Your answers and response times are stored without your name or any other detail that identifies "
    "you, together with your screen size and the calibration you make. The anonymous data are kept for "
    "at least ten years and may be shared with other researchers or published in a public data archive."
)
DEFAULT_DEBRIEF = (
    "The study compares how people and computer vision systems recognise images that have been changed "
    "(for example inverted or noisy). Your answers help us understand where they differ."
)

_LIST: tuple[Setting, ...] = (
    # --- what the participant sees on each trial (timing and size) ---
    Setting("presentation_ms", "int", None, "how long each image is shown, in ms, timed on display frames "
            "(null: until the participant answers)", "trial", 10, 10_000, nullable=True,
            fixed_once_started=True),
    Setting("mask_ms", "int", 200, "noise mask after a timed image, in ms on display frames (0: none; "
            "only with presentation_ms)", "trial", 0, 5_000, fixed_once_started=True),
    Setting("response_deadline_ms", "int", None, "time to answer from image onset, in ms; a trial not "
            "answered in time is stored as a missing answer (null: no deadline)", "trial", 500, 600_000,
            nullable=True, fixed_once_started=True),
    Setting("stimulus_deg", "float", 4.0, "width of the stimulus in degrees of visual angle (with "
            "calibration)", "trial", 0.5, 40.0, fixed_once_started=True),
    Setting("stimulus_scaling", "choice", "integer", "integer: the image is drawn at a whole multiple of "
            "its pixels with nearest-neighbour scaling, so stimulus_deg is rounded to the nearest multiple "
            "and the angle actually shown is stored; smooth: drawn at exactly stimulus_deg with the "
            "browser's smooth (bilinear) resampling", "trial", choices=("integer", "smooth"),
            fixed_once_started=True),
    Setting("calibration", "choice", "card+blindspot", "screen calibration before the instructions: "
            "card+blindspot (resize a credit-card outline, then measure the viewing distance with the "
            "blind spot, Li et al. 2020), card (card only; viewing_distance_mm is assumed), none "
            "(stimulus_px)", "trial", choices=("card+blindspot", "card", "none"), fixed_once_started=True),
    Setting("viewing_distance_mm", "float", 570.0, "viewing distance assumed when it is not measured "
            "(calibration card or none), in mm (at 57 cm, 1 cm on screen is about 1 degree)", "trial",
            200.0, 2_000.0, fixed_once_started=True),
    Setting("stimulus_px", "int", 224, "stimulus width in CSS pixels when calibration is none", "trial",
            16, 2_048, fixed_once_started=True),
    Setting("legend_order", "choice", "shuffled", "legend order: shuffled per participant, or category "
            "(the stimulus set's class order, e.g. speed limits together); the order is stored either way",
            "trial", choices=("shuffled", "category"), fixed_once_started=True),
    Setting("practice_trials", "int", 3, "practice trials with feedback, on held-out images of the source "
            "(not the legend icons)", "trial", 0, 100),
    Setting("breaks_every", "int", 50, "a break screen after every N trials (0: none)", "trial", 0, 100_000),
    Setting("fullscreen", "bool", True, "ask for fullscreen at the start of practice and trials; exits "
            "are recorded", "trial"),
    Setting("min_screen_width", "int", 1024, "smallest screen width (CSS px) allowed to take part; 0: any",
            "trial", 0, 10_000),
    Setting("min_screen_height", "int", 600, "smallest screen height (CSS px) allowed; 0: any", "trial",
            0, 10_000),
    Setting("allow_touch_only", "bool", False, "let touch-only devices (phones, tablets) take part",
            "trial"),
    Setting("viewers_per_stimulus", "int", None, "at most N people per trial list, so every stimulus is "
            "seen by N people (null: no cap; sets with FRI pairs: 20, as Srivastava et al.)", "trial", 1,
            100_000, nullable=True, fixed_once_started=True),
    Setting("idle_release_minutes", "int", 30, "a participant who consented but has not started the "
            "trials within N minutes gives their list place back (they are told so if they return); null: "
            "never", "trial", 1, 100_000, nullable=True),
    Setting("repeat_fraction", "float", 0.0, "fraction of the non-catch stimuli each participant sees a "
            "second time, in the second half of the session, for test-retest consistency (the export marks "
            "repeat=1; 0: none)", "trial", 0.0, 0.5, fixed_once_started=True),
    Setting("catch_fail_threshold", "int", 1, "screened out when failed catch trials exceed this (null: "
            "never)", "trial", 0, 100_000, nullable=True, fixed_once_started=True),
    # --- the pages around the trials ---
    Setting("public_title", "str", "Image study", "the title participants see (the internal name is "
            "never shown)", "pages", max_length=200),
    Setting("consent_text", "text", DEFAULT_CONSENT, "what the study is, on the consent page (blank lines "
            "separate paragraphs)", "pages"),
    Setting("researcher_contact", "text", "", "who runs the study and how to reach them (consent and "
            "debrief pages); a study that is not a demo opens only once it is set", "pages"),
    Setting("ethics_approval", "text", "", "ethics approval, e.g. the committee and reference number",
            "pages"),
    Setting("ethics_not_required", "bool", False, "the researcher states that this study needs no ethics "
            "approval (a study opens only with ethics_approval set or this on)", "pages"),
    Setting("demo", "bool", False, "a demonstration, not a real study: the consent page says so, and it "
            "opens without researcher_contact and ethics_approval", "pages"),
    Setting("data_retention", "text", DEFAULT_RETENTION, "what is stored, for how long, and who may see it",
            "pages"),
    Setting("debrief_text", "text", DEFAULT_DEBRIEF, "what the study was about, on the last page",
            "pages"),
    Setting("show_completion_code", "bool", False, "plain link: show a completion code to copy (off: the "
            "debrief just thanks the participant); platforms always get theirs", "pages"),
    # --- recruiting (read by the recruiters) ---
    Setting("completion_code", "str", None, "the study's completion code (Prolific, MTurk); generated at "
            "import", "recruiting", nullable=True, pattern=_CODE),
    Setting("screened_out_code", "str", None, "the code for people screened out by catch trials; generated "
            "at import", "recruiting", nullable=True, pattern=_CODE),
    Setting("prolific_study_id", "str", None, "refuse Prolific links of other studies (24 hex characters)",
            "recruiting", nullable=True, pattern=r"^[0-9a-fA-F]{24}$"),
    Setting("exclusion_group", "str", None, "people who took part in any study of the group are refused "
            "(Prolific participant group, MTurk qualification)", "recruiting", nullable=True, max_length=64),
    Setting("prolific", "object", None, "Prolific study settings: reward, places, devices... (see the "
            "recruiting section of the README)", "recruiting", nullable=True),
    Setting("mturk", "object", None, "MTurk HIT settings (see the recruiting section of the README)",
            "recruiting", nullable=True),
)  # fmt: skip

SETTINGS: dict[str, Setting] = {s.name: s for s in _LIST}


def _unknown(name: str) -> SettingError:
    return SettingError(f"unknown study setting {name!r}; known: {', '.join(SETTINGS)}")


def coerce(name: str, value: Any) -> Any:
    """The setting's value in its type, or SettingError naming the setting (JSON values and text)."""
    spec = SETTINGS.get(name)
    if spec is None:
        raise _unknown(name)
    where = f"setting {name!r} ({spec.describe()})"
    # "null"/"none" as text means null only where text is not a value ("none" is a calibration choice)
    nullword = isinstance(value, str) and value.strip().lower() in ("null", "none")
    if value is None or (nullword and spec.kind in ("int", "float", "bool", "object")):
        if spec.nullable:
            return None
        raise SettingError(f"{where} may not be null")
    if spec.kind == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "yes", "1", "on"):
            return True
        if text in ("false", "no", "0", "off"):
            return False
        raise SettingError(f"{where}: {value!r} is not true or false")
    if spec.kind in ("int", "float"):
        return _number(spec, value, where)
    if spec.kind == "object":
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                raise SettingError(f"{where}: {value[:40]!r} is not JSON") from None
        if not isinstance(value, dict):
            raise SettingError(f"{where}: must be a JSON object")
        return value
    if not isinstance(value, str):
        raise SettingError(f"{where}: {value!r} is not text")
    if spec.kind == "choice":
        if value not in spec.choices:
            raise SettingError(f"{where}: {value!r} is not one of {', '.join(spec.choices)}")
        return value
    if len(value) > spec.max_length:
        raise SettingError(f"{where}: longer than {spec.max_length} characters")
    if spec.pattern and not re.match(spec.pattern, value):
        raise SettingError(f"{where}: {value!r} does not match {spec.pattern}")
    return value


def _number(spec: Setting, value: Any, where: str) -> int | float:
    if isinstance(value, bool):
        raise SettingError(f"{where}: {value!r} is not a number")
    if isinstance(value, str):
        try:
            value = float(value) if spec.kind == "float" else int(value.strip())
        except ValueError:
            raise SettingError(
                f"{where}: {value!r} is not {'a number' if spec.kind == 'float' else 'an integer'}"
            ) from None
    if spec.kind == "int":
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int):
            raise SettingError(f"{where}: {value!r} is not an integer")
    else:
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            raise SettingError(f"{where}: {value!r} is not a finite number")
        value = float(value)
    if (spec.minimum is not None and value < spec.minimum) or (
        spec.maximum is not None and value > spec.maximum
    ):
        raise SettingError(f"{where}: {value!r} is out of range")
    return value


def parse_assignment(item: str) -> tuple[str, Any]:
    """One `--set KEY=VALUE`: VALUE is JSON or plain text (`--set public_title=Signs` works unquoted)."""
    key, sep, raw = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise SettingError(f"--set expects KEY=VALUE, got {item!r}")
    if key not in SETTINGS:
        raise _unknown(key)
    try:
        value: Any = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    if SETTINGS[key].kind in ("str", "text", "choice") and not isinstance(value, str) and value is not None:
        value = raw  # e.g. a numeric completion code 123456 stays the text "123456"
    return key, coerce(key, value)


def validate(config: Mapping[str, Any]) -> dict[str, Any]:
    """Every known key checked and typed; an unknown key is an error (a typo must not pass silently)."""
    return {name: coerce(name, value) for name, value in config.items()}


def effective(config: Mapping[str, Any] | None) -> dict[str, Any]:
    """A study's settings as pages read them: the defaults, then the stored values that are valid."""
    out = {s.name: s.default for s in _LIST}
    for name, value in (config or {}).items():
        if name in SETTINGS:
            # a value stored before this schema existed and now invalid: the default stands (admin shows it)
            with contextlib.suppress(SettingError):
                out[name] = coerce(name, value)
        else:
            out[name] = value
    return out


def changed_keys(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Keys whose effective value differs between two stored configs."""
    a, b = effective(old), effective(new)
    return sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))


def fixed_changes(keys: list[str]) -> list[str]:
    return [k for k in keys if k in SETTINGS and SETTINGS[k].fixed_once_started]


def help_text() -> str:
    """All settings, one line each, for `import-stimuli --help` and the README."""
    return "\n".join(
        f"  {s.name} ({s.describe()}; default {json.dumps(s.default)[:30]}): {s.help}" for s in _LIST
    )


def settings_table(config: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """One row per setting for the admin: effective value, whether it is the default, type and help,
    and the stored value when it is invalid (kept from before this schema; the default applies)."""
    stored = dict(config or {})
    values = effective(stored)
    rows = []
    for s in _LIST:
        invalid = None
        if s.name in stored:
            try:
                coerce(s.name, stored[s.name])
            except SettingError as exc:
                invalid = str(exc)
        rows.append(
            {
                "name": s.name,
                "value": values[s.name],
                "default": values[s.name] == s.default,
                "type": s.describe(),
                "help": s.help,
                "group": s.group,
                "fixed": s.fixed_once_started,
                "invalid": invalid,
            }
        )
    return rows
