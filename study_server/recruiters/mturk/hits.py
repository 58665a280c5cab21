"""Building CreateHIT requests from a study's config (pure functions: no network, no database).

Study config (`study.config["mturk"]`), with defaults:
  title, description (required), keywords ("images, classification, perception"),
  reward (required, dollars as a string: "1.50"), max_assignments (9),
  duration_minutes (30), lifetime_hours (72), auto_approval_delay_hours (72),
  min_approval_rate (95), min_approved (100), locales (["US"]; [] for none),
  sandbox_qualification_type_id / live_qualification_type_id (set by `mturk create-qualification`:
  workers who took part get it; sandbox and live have separate qualification types).
The study's `exclusion_group` (top level of the config) shares one qualification between studies.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

from study_server.recruiters.mturk.fees import parse_amount

EXTERNAL_QUESTION_SCHEMA = (
    "http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2006-07-14/ExternalQuestion.xsd"
)
# Built-in qualification type ids from the MTurk API reference (QualificationRequirement).
QUAL_APPROVAL_RATE = "000000000000000000L0"
QUAL_NUMBER_APPROVED = "00000000000000000040"
QUAL_LOCALE = "00000000000000000071"


class HITConfigError(ValueError):
    """The study's MTurk settings are missing or invalid (message names the key)."""


def external_question(url: str, frame_height: int = 0) -> str:
    """The ExternalQuestion XML: MTurk shows `url` in an iframe (height 0 = use the whole page)."""
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.netloc:
        raise HITConfigError(f"the ExternalQuestion URL must be an absolute https:// URL, got {url!r}")
    return (
        f'<ExternalQuestion xmlns="{EXTERNAL_QUESTION_SCHEMA}">'
        f"<ExternalURL>{escape(url)}</ExternalURL>"
        f"<FrameHeight>{int(frame_height)}</FrameHeight>"
        "</ExternalQuestion>"
    )


def _int(cfg: dict[str, Any], key: str, default: int, lo: int, hi: int) -> int:
    raw = cfg.get(key, default)
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        raise HITConfigError(f"mturk.{key} must be a whole number, got {raw!r}")
    try:
        value = int(raw)
    except ValueError:
        raise HITConfigError(f"mturk.{key} must be a whole number, got {raw!r}") from None
    if not lo <= value <= hi:
        raise HITConfigError(f"mturk.{key} must be between {lo} and {hi}, got {value}")
    return value


def qualification_requirements(cfg: dict[str, Any], exclusion_qualification: str | None) -> list[dict]:
    """Approval rate, number approved, locale, and 'has not taken part before' (DoesNotExist)."""
    reqs: list[dict[str, Any]] = []
    rate = _int(cfg, "min_approval_rate", 95, 0, 100)
    if rate > 0:
        reqs.append(
            {
                "QualificationTypeId": QUAL_APPROVAL_RATE,
                "Comparator": "GreaterThanOrEqualTo",
                "IntegerValues": [rate],
                "ActionsGuarded": "DiscoverPreviewAndAccept",
            }
        )
    approved = _int(cfg, "min_approved", 100, 0, 10**7)
    if approved > 0:
        reqs.append(
            {
                "QualificationTypeId": QUAL_NUMBER_APPROVED,
                "Comparator": "GreaterThanOrEqualTo",
                "IntegerValues": [approved],
                "ActionsGuarded": "DiscoverPreviewAndAccept",
            }
        )
    locales = cfg.get("locales", ["US"])
    if isinstance(locales, str):
        locales = [locales]
    if not isinstance(locales, list) or not all(isinstance(x, str) and len(x) == 2 for x in locales):
        raise HITConfigError(f"mturk.locales must be a list of 2-letter country codes, got {locales!r}")
    if locales:
        reqs.append(
            {
                "QualificationTypeId": QUAL_LOCALE,
                "Comparator": "In",
                "LocaleValues": [{"Country": c.upper()} for c in locales],
                "ActionsGuarded": "DiscoverPreviewAndAccept",
            }
        )
    if exclusion_qualification:
        reqs.append(
            {
                "QualificationTypeId": exclusion_qualification,
                "Comparator": "DoesNotExist",
                "ActionsGuarded": "DiscoverPreviewAndAccept",
            }
        )
    return reqs


@dataclass(frozen=True)
class HITPlan:
    """A ready CreateHIT request plus what it costs at most."""

    params: dict[str, Any]
    reward: Decimal
    max_assignments: int


def request_token(study_slug: str, batch: str) -> str:
    """Deterministic UniqueRequestToken (<= 64 chars): the same batch name never makes two HITs."""
    digest = hashlib.sha256(f"{study_slug}\x00{batch}".encode()).hexdigest()[:40]
    return f"hit-{digest}"


def qualification_key(live: bool) -> str:
    """Where the study config keeps the "took part" qualification type id (one per marketplace)."""
    return "live_qualification_type_id" if live else "sandbox_qualification_type_id"


def build_hit(
    study_slug: str, config: dict[str, Any], entry_url: str, *, batch: str, live: bool = False
) -> HITPlan:
    """The CreateHIT parameters for one batch of a study (raises HITConfigError with the key at fault)."""
    cfg = config.get("mturk")
    if not isinstance(cfg, dict):
        raise HITConfigError("the study has no 'mturk' settings (title, description, reward, ...)")
    for key in ("title", "description", "reward"):
        if not str(cfg.get(key, "")).strip():
            raise HITConfigError(f"mturk.{key} is required")
    try:
        reward = parse_amount(cfg["reward"], what="mturk.reward")
    except ValueError as exc:
        raise HITConfigError(str(exc)) from None
    n = _int(cfg, "max_assignments", 9, 1, 1_000_000)
    keywords = cfg.get("keywords", "images, classification, perception")
    if isinstance(keywords, list):
        keywords = ", ".join(str(k) for k in keywords)
    params = {
        "Title": str(cfg["title"])[:128],
        "Description": str(cfg["description"])[:2000],
        "Keywords": str(keywords)[:1000],
        "Reward": str(reward),
        "MaxAssignments": n,
        "AssignmentDurationInSeconds": 60 * _int(cfg, "duration_minutes", 30, 1, 60 * 24 * 365),
        "LifetimeInSeconds": 3600 * _int(cfg, "lifetime_hours", 72, 1, 24 * 365),
        "AutoApprovalDelayInSeconds": 3600 * _int(cfg, "auto_approval_delay_hours", 72, 0, 24 * 30),
        "Question": external_question(entry_url, _int(cfg, "frame_height", 0, 0, 10_000)),
        "QualificationRequirements": qualification_requirements(cfg, cfg.get(qualification_key(live))),
        "UniqueRequestToken": request_token(study_slug, batch),
        "RequesterAnnotation": f"study:{study_slug}"[:255],
    }
    return HITPlan(params=params, reward=reward, max_assignments=n)
