"""Screen calibration arithmetic: card width to pixels per mm, blind spot to viewing distance, and the
stimulus size in pixels for a size in degrees of visual angle.

The page measures; the server recomputes everything from the raw measurements here, so the stored
record never depends on the browser's arithmetic.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping
from typing import Any

CARD_WIDTH_MM = 85.60
"""ISO/IEC 7810 ID-1 (credit cards, most ID cards): 85.60 mm x 53.98 mm."""
CARD_HEIGHT_MM = 53.98
BLIND_SPOT_DEG = 13.5
"""Horizontal eccentricity of the blind spot's centre assumed by the virtual chinrest (Li, Joo, Yeatman
& Reinecke 2020, Sci. Rep. 10:904, Methods); jsPsych's virtual-chinrest plugin uses the same 13.5 deg."""


class CalibrationError(ValueError):
    """The measurements are missing or implausible; the page asks the participant to measure again."""


def px_per_mm(card_px: float) -> float:
    """CSS pixels per millimetre from the on-screen width of the card outline."""
    return card_px / CARD_WIDTH_MM


def size_mm(deg: float, distance_mm: float) -> float:
    """Width on screen of something `deg` wide, centred in view at `distance_mm`: 2 d tan(deg / 2)."""
    return 2.0 * distance_mm * math.tan(math.radians(deg) / 2.0)


def degrees(px: float, ppm: float, distance_mm: float) -> float:
    """Visual angle (deg) of something `px` CSS px wide, centred in view: the inverse of `size_mm`."""
    return math.degrees(2.0 * math.atan((px / ppm) / (2.0 * distance_mm)))


def px_per_deg(ppm: float, distance_mm: float) -> float:
    """Pixels per degree at the centre of view, exactly 2 d tan(0.5 deg) x px/mm (not the d tan(1 deg)
    small-angle form, which differs by less than 0.01%)."""
    return ppm * size_mm(1.0, distance_mm)


def distance_from_blind_spot(offset_px: float, ppm: float) -> float:
    """Viewing distance (mm) from the fixation-to-blind-spot distance on screen: offset / tan(13.5 deg)."""
    return (offset_px / ppm) / math.tan(math.radians(BLIND_SPOT_DEG))


def _number(form: Mapping[str, Any], name: str, lo: float, hi: float) -> float:
    raw = form.get(name)
    try:
        value = float(raw)  # type: ignore[arg-type]  # None or a non-number is caught just below
    except (TypeError, ValueError):
        raise CalibrationError(f"{name} is missing") from None
    if not math.isfinite(value) or not lo <= value <= hi:
        raise CalibrationError(f"{name} {value:g} is outside {lo:g}..{hi:g}")
    return value


def calibration_record(form: Mapping[str, Any], settings: Mapping[str, Any]) -> dict[str, Any]:
    """The stored calibration from the page's raw measurements and the study's settings.

    `form`: card_px, optionally blindspot_px (comma-separated repetitions), frame_ms, screen and window
    sizes, device_pixel_ratio. Raises CalibrationError when a measurement is implausible (a card narrower
    than 1 px/mm or a viewing distance outside 20-150 cm).
    """
    card = _number(form, "card_px", 40.0, 4000.0)
    ppm = px_per_mm(card)
    if not 1.0 <= ppm <= 40.0:
        raise CalibrationError("the card size is implausible")
    record: dict[str, Any] = {"card_px": card, "px_per_mm": ppm}
    method = "assumed"
    distance = float(settings["viewing_distance_mm"])
    if settings.get("calibration") == "card+blindspot":
        raw = str(form.get("blindspot_px") or "")
        try:
            offsets = [float(x) for x in raw.split(",") if x.strip()]
        except ValueError:
            raise CalibrationError("blindspot_px is not a list of numbers") from None
        if not offsets or not all(math.isfinite(x) and x > 0 for x in offsets):
            raise CalibrationError("the blind-spot measurement is missing")
        distance = distance_from_blind_spot(statistics.mean(offsets), ppm)
        if not 200.0 <= distance <= 1500.0:
            raise CalibrationError(f"a viewing distance of {distance / 10:.0f} cm is implausible")
        record["blindspot_px"] = offsets
        method = "blind_spot"
    record["viewing_distance_mm"] = distance
    record["distance_method"] = method
    record["px_per_deg"] = px_per_deg(ppm, distance)
    record["stimulus_deg"] = float(settings["stimulus_deg"])
    record["stimulus_px"] = ppm * size_mm(float(settings["stimulus_deg"]), distance)
    for name, lo, hi in (
        ("frame_ms", 1.0, 200.0),
        ("screen_width", 1, 100_000),
        ("screen_height", 1, 100_000),
        ("window_width", 1, 100_000),
        ("window_height", 1, 100_000),
        ("device_pixel_ratio", 0.1, 16.0),
    ):
        try:
            record[name] = _number(form, name, lo, hi)
        except CalibrationError:
            record[name] = None  # context only: a missing value does not make the calibration invalid
    return record
