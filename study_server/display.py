"""What the trial page measures just before the trials: the display's refresh rate and the stimulus as it
is actually drawn.

The page sends raw measurements (requestAnimationFrame intervals, the device pixel ratio, the image's
own size and the drawn size); the server recomputes the refresh rate and, with the participant's
calibration, the visual angle actually shown, so the stored record never depends on the browser's
arithmetic (as `study_server.calibration`).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping
from typing import Any

from study_server.calibration import degrees

MIN_INTERVALS = 10
MAX_INTERVALS = 600


class DisplayError(ValueError):
    """A measurement is missing or implausible; the message names it."""


def integer_scale(target_css_px: float, image_px: int, device_pixel_ratio: float) -> int:
    """The whole number of device pixels per image pixel nearest to the target size (at least 1).

    Nearest-neighbour scaling by a whole number k draws every image pixel as a k x k block of device
    pixels; any other factor draws some image pixels one device pixel wider than others.
    """
    return max(1, round(target_css_px * device_pixel_ratio / image_px))


def _number(data: Mapping[str, Any], name: str, lo: float, hi: float) -> float:
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise DisplayError(f"{name!r} must be a finite number")
    if not lo <= value <= hi:
        raise DisplayError(f"{name!r} must lie between {lo:g} and {hi:g}")
    return float(value)


def display_record(
    data: Mapping[str, Any], calibration: Mapping[str, Any] | None, scaling: str
) -> dict[str, Any]:
    """The stored display record from the page's measurements.

    `data`: frame_intervals_ms (the requestAnimationFrame intervals measured before the first trial),
    device_pixel_ratio, image_px (the stimulus image's own width), stimulus_px (its drawn CSS width)
    and, for integer scaling, scale (device pixels per image pixel). The refresh rate is 1000 / the
    median interval (robust to the odd slow frame); the angle shown comes from the drawn width and the
    calibration (None without one).
    """
    unknown = set(data) - {"frame_intervals_ms", "device_pixel_ratio", "image_px", "stimulus_px", "scale"}
    if unknown:
        raise DisplayError(f"unknown field(s): {', '.join(sorted(unknown))}")
    raw = data.get("frame_intervals_ms")
    if not isinstance(raw, list) or not MIN_INTERVALS <= len(raw) <= MAX_INTERVALS:
        raise DisplayError(f"'frame_intervals_ms' must be a list of {MIN_INTERVALS}..{MAX_INTERVALS} numbers")
    intervals = [_number({"interval": x}, "interval", 0.5, 1000.0) for x in raw]
    frame_ms = statistics.median(intervals)
    if not 2.0 <= frame_ms <= 100.0:  # 10..500 Hz
        raise DisplayError(f"a frame interval of {frame_ms:g} ms is implausible")
    dpr = _number(data, "device_pixel_ratio", 0.1, 16.0)
    image_px = int(_number(data, "image_px", 1, 10_000))
    drawn = _number(data, "stimulus_px", 1.0, 20_000.0)
    record: dict[str, Any] = {
        "refresh_hz": 1000.0 / frame_ms,
        "frame_ms": frame_ms,
        "device_pixel_ratio": dpr,
        "image_px": image_px,
        "stimulus_px": drawn,
        "scaling": scaling,
        "scale": None,
    }
    if scaling == "integer":
        scale = int(_number(data, "scale", 1, 1_000))
        if abs(scale * image_px - drawn * dpr) > 0.5:  # the page drew what it says it drew
            raise DisplayError("'stimulus_px' is not 'scale' whole image pixels")
        record["scale"] = scale
    cal = calibration or {}
    ppm, distance = cal.get("px_per_mm"), cal.get("viewing_distance_mm")
    record["stimulus_deg"] = degrees(drawn, float(ppm), float(distance)) if ppm and distance else None
    return record
