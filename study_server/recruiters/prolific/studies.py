"""Build the Prolific study (the body of POST /api/v1/studies/) from a study's config, and check it.

Study config (`study.config["prolific"]`), with defaults:
    name (the study's name), description (required), reward (required, e.g. "2.00" in the study
    currency), estimated_minutes (required), places (required), devices (["desktop"]),
    maximum_allowed_minutes (none: Prolific's default), currency ("GBP"), approve ("manual" | "auto"),
    screened_out_reward (none: screened-out submissions are reviewed, see below; set: a fixed
    screen-out payment below the reward, code type FIXED_SCREENOUT, offered only to some workspaces),
    project (none), workspace_id (the workspace's currency for costs; participant groups),
    fee_rate / vat_rate (the offline cost estimate, see prolific.fees).
The study's own `completion_code` / `screened_out_code` (what the debrief redirects with) become the
study's completion codes; missing ones are generated and stored before anything is sent.

Field shapes follow docs.prolific.com/api-reference/studies (create a study): `reward` in pence /
cents, `estimated_completion_time` and `maximum_allowed_time` in minutes, `prolific_id_option`
"url_parameters" with the {{%PROLIFIC_PID%}}, {{%STUDY_ID%}}, {{%SESSION_ID%}} placeholders in
`external_study_url`, `device_compatibility` from desktop/tablet/mobile, and `completion_codes` as
[{code, code_type, actions: [{action, ...}]}]. Repeat participants are kept out with the
`participant_group_blocklist` and `previous_studies_blocklist` filters (api-reference/participant-groups,
filters: {filter_id, selected_values}), the way MTurk HITs exclude the "took part" qualification.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from study_server.recruiters.prolific.fees import Cost, FeeRates, minimum_reward, parse_money, to_cents

PLACEHOLDERS = "PROLIFIC_PID={{%PROLIFIC_PID%}}&STUDY_ID={{%STUDY_ID%}}&SESSION_ID={{%SESSION_ID%}}"
DEVICES = ("desktop", "tablet", "mobile")
CODE_RE = re.compile(r"^[A-Z0-9]{4,32}$")
PROLIFIC_ID_RE = re.compile(r"^[0-9a-f]{24}$")


SCREEN_OUT_CODE = "FIXED_SCREENOUT"
"""The documented code type of a fixed screen-out payment (api-reference/studies, completion_codes:
COMPLETED, FAILED_ATTENTION_CHECK, FOLLOW_UP_STUDY, GIVE_BONUS, INCOMPATIBLE_DEVICE, NO_CONSENT, OTHER,
FIXED_SCREENOUT), whose action is FIXED_SCREEN_OUT_PAYMENT {fixed_screen_out_reward (cents), slots}."""


class StudyConfigError(ValueError):
    """The study's prolific settings are incomplete or invalid (one clear line for the CLI)."""


@dataclass(frozen=True)
class StudyPlan:
    payload: dict[str, Any]
    reward: Decimal
    places: int
    cost: Cost
    """The most the study can cost: every place paid the full reward, plus fees."""
    screen_out: bool = False
    """Whether it asks for fixed screen-out payments (offered only to some workspaces)."""


def new_code() -> str:
    """A completion code participants cannot guess (8 characters of A-Z0-9)."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(8))


def _int(prolific: dict[str, Any], key: str, *, low: int, high: int, default: int | None = None) -> int:
    raw = prolific.get(key, default)
    if raw is None:
        raise StudyConfigError(f"the study's prolific settings need {key!r}")
    if isinstance(raw, bool) or not isinstance(raw, int | str) or not str(raw).strip().isdigit():
        raise StudyConfigError(f"prolific.{key} must be a whole number, got {raw!r}")
    value = int(raw)
    if not low <= value <= high:
        raise StudyConfigError(f"prolific.{key} must lie between {low} and {high}, got {value}")
    return value


def entry_url(url: str, slug: str) -> str:
    """The study's public entry URL with Prolific's three placeholders appended."""
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.netloc or parts.query or parts.fragment:
        raise StudyConfigError(f"--url must be the study's public https entry, e.g. https://host/s/{slug}/")
    if not parts.path.rstrip("/").endswith(f"/s/{slug}"):
        raise StudyConfigError(f"--url must end in /s/{slug}/ (the entry of study {slug!r})")
    return f"{url.rstrip('/')}/?{PLACEHOLDERS}"


def screen_out_reward(prolific: dict[str, Any], reward: Decimal) -> Decimal:
    """The fixed screen-out payment, checked before anything is sent: an amount above 0 and below the
    study reward (a screened-out person answered a few questions, not the study)."""
    try:
        fixed = parse_money(prolific["screened_out_reward"], what="prolific.screened_out_reward")
    except ValueError as exc:
        raise StudyConfigError(str(exc)) from None
    if fixed >= reward:
        raise StudyConfigError(
            f"prolific.screened_out_reward ({fixed}) must be below the study reward ({reward}): "
            "it pays for the screening questions only"
        )
    return fixed


def ensure_codes(config: dict[str, Any]) -> dict[str, Any]:
    """The study config with completion_code and screened_out_code set (generated when missing)."""
    out = dict(config)
    for key in ("completion_code", "screened_out_code"):
        code = str(out.get(key) or "").strip().upper()
        if not code:
            code = new_code()
        if not CODE_RE.match(code):
            raise StudyConfigError(f"{key} must be 4-32 upper-case letters or digits, got {code!r}")
        out[key] = code
    if out["completion_code"] == out["screened_out_code"]:
        raise StudyConfigError("completion_code and screened_out_code must differ")
    return out


def build_study(
    slug: str,
    name: str,
    config: dict[str, Any],
    url: str,
    *,
    blocklist_groups: list[str] | None = None,
    blocklist_studies: list[str] | None = None,
) -> StudyPlan:
    """The create-study body; raises StudyConfigError before anything could be sent."""
    prolific = config.get("prolific") or {}
    if not isinstance(prolific, dict):
        raise StudyConfigError("the study config's 'prolific' must be a mapping")
    try:
        rates = FeeRates.from_config(prolific)
        if prolific.get("reward") is None:
            raise StudyConfigError("the study's prolific settings need 'reward' (e.g. \"2.00\")")
        reward = parse_money(prolific["reward"], what="prolific.reward")
    except ValueError as exc:
        raise StudyConfigError(str(exc)) from None
    minutes = _int(prolific, "estimated_minutes", low=1, high=24 * 60)
    places = _int(prolific, "places", low=1, high=100_000)
    floor = minimum_reward(minutes, rates.currency)
    if reward < floor:
        raise StudyConfigError(
            f"a reward of {reward} {rates.currency} for {minutes} min is below Prolific's minimum "
            f"({floor} {rates.currency}, i.e. {rates.currency} {minimum_reward(60, rates.currency)}/hour)"
        )
    description = str(prolific.get("description") or "").strip()
    if not description:
        raise StudyConfigError("the study's prolific settings need a 'description' participants read")
    devices = prolific.get("devices", ["desktop"])
    if not isinstance(devices, list) or not devices or any(d not in DEVICES for d in devices):
        raise StudyConfigError(f"prolific.devices must be a non-empty list from {', '.join(DEVICES)}")
    approve = str(prolific.get("approve", "manual"))
    if approve not in ("manual", "auto"):
        raise StudyConfigError(f"prolific.approve must be 'manual' or 'auto', got {approve!r}")
    codes = ensure_codes(config)
    group_actions = [
        {"action": "ADD_TO_PARTICIPANT_GROUP", "participant_group": g} for g in (blocklist_groups or [])[:1]
    ]
    completed = {
        "code": codes["completion_code"],
        "code_type": "COMPLETED",
        "actions": [
            {"action": "AUTOMATICALLY_APPROVE" if approve == "auto" else "MANUALLY_REVIEW"},
            *group_actions,
        ],
    }
    if prolific.get("screened_out_reward") is not None:
        fixed = screen_out_reward(prolific, reward)
        screen_action = {
            "action": "FIXED_SCREEN_OUT_PAYMENT",
            "fixed_screen_out_reward": to_cents(fixed),
            "slots": places,
        }
        screened = {"code": codes["screened_out_code"], "code_type": SCREEN_OUT_CODE}
    else:  # failed catch trials: reviewed (and rejected with FAILED_CHECK) by `prolific review`
        screen_action = {"action": "MANUALLY_REVIEW"}
        screened = {"code": codes["screened_out_code"], "code_type": "FAILED_ATTENTION_CHECK"}
    screened["actions"] = [screen_action, *group_actions]
    filters: list[dict[str, Any]] = []
    if blocklist_groups:
        filters.append({"filter_id": "participant_group_blocklist", "selected_values": blocklist_groups})
    if blocklist_studies:
        filters.append({"filter_id": "previous_studies_blocklist", "selected_values": blocklist_studies})
    payload: dict[str, Any] = {
        "name": str(prolific.get("name") or name)[:255],
        "internal_name": slug,
        "description": description,
        "external_study_url": entry_url(url, slug),
        "prolific_id_option": "url_parameters",
        "completion_codes": [completed, screened],
        "total_available_places": places,
        "estimated_completion_time": minutes,
        "reward": to_cents(reward),
        "device_compatibility": devices,
        "filters": filters,
    }
    if prolific.get("maximum_allowed_minutes") is not None:
        longest = _int(prolific, "maximum_allowed_minutes", low=minutes, high=24 * 60)
        payload["maximum_allowed_time"] = longest
    if prolific.get("project"):
        payload["project"] = str(prolific["project"])
    return StudyPlan(
        payload=payload,
        reward=reward,
        places=places,
        cost=rates.cost(reward * places),
        screen_out=screened["code_type"] == SCREEN_OUT_CODE,
    )
