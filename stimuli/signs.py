"""Canonical drawings of the 43 GTSRB sign classes (shape, colours, symbol), rendered with PIL ImageDraw.

Each class is drawn once on a transparent square canvas and cached; the synthetic source then warps,
lights and blurs that canonical drawing per sample. Coordinates below are in unit canvas space [0, 1].
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

from .classes import gtsrb_sign_specs

RED = (200, 22, 30, 255)
WHITE = (246, 246, 240, 255)
BLACK = (18, 18, 20, 255)
BLUE = (22, 70, 170, 255)
YELLOW = (245, 190, 20, 255)
GRAY = (130, 130, 130, 255)
GREEN = (30, 160, 60, 255)
AMBER = (240, 170, 0, 255)

Point = tuple[float, float]
Colour = tuple[int, int, int, int]  # RGBA, 0-255


class _Pen:
    """Draws in unit coordinates on a square canvas of `px` pixels."""

    def __init__(self, draw: ImageDraw.ImageDraw, px: int) -> None:
        self.d = draw
        self.px = px

    def p(self, u: float, v: float) -> tuple[float, float]:
        return (u * self.px, v * self.px)

    def w(self, width: float) -> int:
        return max(1, round(width * self.px))

    def poly(self, pts: list[Point], fill: Colour) -> None:
        self.d.polygon([self.p(u, v) for u, v in pts], fill=fill)

    def line(self, pts: list[Point], fill: Colour, width: float) -> None:
        self.d.line([self.p(u, v) for u, v in pts], fill=fill, width=self.w(width), joint="curve")

    def ellipse(
        self,
        cx: float,
        cy: float,
        rx: float,
        ry: float,
        fill: Colour | None = None,
        outline: Colour | None = None,
        width: float = 0.0,
    ) -> None:
        box = [self.p(cx - rx, cy - ry), self.p(cx + rx, cy + ry)]
        self.d.ellipse(box, fill=fill, outline=outline, width=self.w(width) if outline else 0)

    def rect(self, x0: float, y0: float, x1: float, y1: float, fill: Colour, radius: float = 0.0) -> None:
        self.d.rounded_rectangle([self.p(x0, y0), self.p(x1, y1)], radius=radius * self.px, fill=fill)

    def text(self, cx: float, cy: float, text: str, fill: Colour, max_w: float, max_h: float) -> None:
        """Centre `text` in the box, as large as fits (PIL's built-in scalable font, no files needed)."""
        size = max(4, round(max_h * self.px * 1.35))
        font = ImageFont.load_default(size=size)
        stroke = max(1, size // 14)
        x0, y0, x1, y1 = self.d.textbbox((0, 0), text, font=font, stroke_width=stroke)
        scale = min(max_w * self.px / max(1, x1 - x0), max_h * self.px / max(1, y1 - y0))
        if scale < 1.0:
            size = max(4, int(size * scale))
            font = ImageFont.load_default(size=size)
            stroke = max(1, size // 14)
        self.d.text(
            self.p(cx, cy), text, font=font, fill=fill, anchor="mm", stroke_width=stroke, stroke_fill=fill
        )


def _shrink(pts: list[Point], factor: float) -> list[Point]:
    cx = sum(u for u, _ in pts) / len(pts)
    cy = sum(v for _, v in pts) / len(pts)
    return [(cx + (u - cx) * factor, cy + (v - cy) * factor) for u, v in pts]


def _regular_polygon(n: int, r: float, phase: float) -> list[Point]:
    return [
        (0.5 + r * math.cos(phase + 2 * math.pi * k / n), 0.5 + r * math.sin(phase + 2 * math.pi * k / n))
        for k in range(n)
    ]


# ---- symbols: each draws inside a box centred at (cx, cy) with half-size h ----------------------------


def _car(pen: _Pen, cx: float, cy: float, h: float, fill: Colour) -> None:
    """Car seen from behind: body, cabin, wheels."""
    pen.rect(cx - 0.9 * h, cy - 0.1 * h, cx + 0.9 * h, cy + 0.55 * h, fill, radius=0.15 * h)
    pen.poly(
        [
            (cx - 0.65 * h, cy - 0.1 * h),
            (cx - 0.45 * h, cy - 0.7 * h),
            (cx + 0.45 * h, cy - 0.7 * h),
            (cx + 0.65 * h, cy - 0.1 * h),
        ],
        fill,
    )
    pen.rect(cx - 0.85 * h, cy + 0.5 * h, cx - 0.5 * h, cy + 0.85 * h, fill)
    pen.rect(cx + 0.5 * h, cy + 0.5 * h, cx + 0.85 * h, cy + 0.85 * h, fill)


def _truck(pen: _Pen, cx: float, cy: float, h: float, fill: Colour) -> None:
    """Truck in side view: cargo box, cab, two wheels."""
    pen.rect(cx - 1.0 * h, cy - 0.6 * h, cx + 0.35 * h, cy + 0.35 * h, fill)
    pen.poly(
        [
            (cx + 0.4 * h, cy - 0.3 * h),
            (cx + 0.8 * h, cy - 0.3 * h),
            (cx + 1.0 * h, cy + 0.0 * h),
            (cx + 1.0 * h, cy + 0.35 * h),
            (cx + 0.4 * h, cy + 0.35 * h),
        ],
        fill,
    )
    pen.ellipse(cx - 0.6 * h, cy + 0.5 * h, 0.2 * h, 0.2 * h, fill=fill)
    pen.ellipse(cx + 0.65 * h, cy + 0.5 * h, 0.2 * h, 0.2 * h, fill=fill)


def _band(pen: _Pen, n: int = 1, width: float = 0.06) -> None:
    """Diagonal 'end of' band(s) from upper right to lower left."""
    if n == 1:
        pen.line([(0.78, 0.22), (0.22, 0.78)], BLACK, width)
        return
    for k in range(n):
        off = (k - (n - 1) / 2) * 0.07
        pen.line([(0.8 + off, 0.2 + off), (0.2 + off, 0.8 + off)], BLACK, 0.018)


def _arrow(pen: _Pen, pts: list[Point], fill: Colour, width: float, head: float) -> None:
    """Polyline with a triangular head at its last point."""
    (u0, v0), (u1, v1) = pts[-2], pts[-1]
    ang = math.atan2(v1 - v0, u1 - u0)
    back = (u1 - head * 0.9 * math.cos(ang), v1 - head * 0.9 * math.sin(ang))
    pen.line([*pts[:-1], back], fill, width)
    left = (
        back[0] + head * 0.75 * math.cos(ang + math.pi / 2),
        back[1] + head * 0.75 * math.sin(ang + math.pi / 2),
    )
    right = (
        back[0] + head * 0.75 * math.cos(ang - math.pi / 2),
        back[1] + head * 0.75 * math.sin(ang - math.pi / 2),
    )
    tip = (u1 + head * 0.25 * math.cos(ang), v1 + head * 0.25 * math.sin(ang))
    pen.poly([tip, left, right], fill)


def _person(pen: _Pen, cx: float, top: float, height: float, fill: Colour, stride: float = 1.0) -> None:
    """Walking stick figure: head, torso, arms and legs, as thick strokes."""
    w = 0.11 * height
    pen.ellipse(cx + 0.04 * height, top + 0.1 * height, 0.1 * height, 0.1 * height, fill=fill)
    hip = (cx, top + 0.62 * height)
    neck = (cx + 0.03 * height, top + 0.24 * height)
    pen.line([neck, hip], fill, w * 1.3)
    pen.line([(neck[0], neck[1] + 0.06 * height), (cx - 0.2 * height, top + 0.5 * height)], fill, w)
    pen.line([(neck[0], neck[1] + 0.06 * height), (cx + 0.22 * height, top + 0.45 * height)], fill, w)
    pen.line([hip, (cx - 0.2 * height * stride, top + height)], fill, w)
    pen.line(
        [hip, (cx + 0.06 * height, top + 0.8 * height), (cx + 0.22 * height * stride, top + height)], fill, w
    )


def _curve(pen: _Pen, direction: int) -> None:
    """Road curving left (-1) or right (+1) in the triangle's symbol area."""
    d = direction
    pen.line(
        [(0.5 - 0.07 * d, 0.82), (0.5 - 0.07 * d, 0.64), (0.5 + 0.0 * d, 0.52), (0.5 + 0.09 * d, 0.44)],
        BLACK,
        0.07,
    )
    _arrow(pen, [(0.5 + 0.05 * d, 0.47), (0.5 + 0.13 * d, 0.4)], BLACK, 0.07, 0.09)


Draw = Callable[[_Pen], None]

# The pictograms, keyed by the `symbol` text of stimuli/data/gtsrb_classes.csv: the CSV says which class
# carries which symbol; this table says how each symbol looks. Digits and letters are read from the
# text itself (see `_symbol_drawing`).
_PICTOGRAMS: dict[str, Draw] = {}


def _pictogram(symbol: str) -> Callable[[Draw], Draw]:
    """Registers the drawing of one `symbol` text of the class table."""

    def register(draw: Draw) -> Draw:
        _PICTOGRAMS[symbol] = draw
        return draw

    return register


@_pictogram("none")
@_pictogram("none (empty white disc)")
def _nothing(pen: _Pen) -> None:
    """The plate alone carries the meaning (priority road, yield, no vehicles)."""


@_pictogram("red car (left) beside black car (right)")
def _no_passing(pen: _Pen) -> None:
    _car(pen, 0.34, 0.52, 0.15, RED)
    _car(pen, 0.66, 0.52, 0.15, BLACK)


@_pictogram("red truck (left) beside black car (right)")
def _no_passing_trucks(pen: _Pen) -> None:
    _truck(pen, 0.33, 0.52, 0.15, RED)
    _car(pen, 0.68, 0.52, 0.14, BLACK)


@_pictogram("black vertical bar crossed by a horizontal bar (thicker lower part)")
def _right_of_way(pen: _Pen) -> None:
    pen.line([(0.5, 0.38), (0.5, 0.8)], BLACK, 0.05)
    pen.line([(0.5, 0.62), (0.5, 0.8)], BLACK, 0.09)
    pen.line([(0.36, 0.55), (0.64, 0.55)], BLACK, 0.05)


@_pictogram("black truck")
def _truck_sign(pen: _Pen) -> None:
    _truck(pen, 0.5, 0.52, 0.26, BLACK)


@_pictogram("white horizontal bar")
def _no_entry(pen: _Pen) -> None:
    pen.rect(0.2, 0.43, 0.8, 0.57, WHITE)


@_pictogram("black exclamation mark")
def _caution(pen: _Pen) -> None:
    pen.line([(0.5, 0.4), (0.5, 0.7)], BLACK, 0.07)
    pen.ellipse(0.5, 0.78, 0.04, 0.04, fill=BLACK)


@_pictogram("black road curving left")
def _curve_left(pen: _Pen) -> None:
    _curve(pen, -1)


@_pictogram("black road curving right")
def _curve_right(pen: _Pen) -> None:
    _curve(pen, +1)


@_pictogram("black double bend (first to the left)")
def _double_curve(pen: _Pen) -> None:
    pen.line([(0.53, 0.82), (0.53, 0.72), (0.43, 0.62), (0.57, 0.5), (0.5, 0.4)], BLACK, 0.06)
    _arrow(pen, [(0.52, 0.43), (0.48, 0.37)], BLACK, 0.06, 0.08)


@_pictogram("black two bumps on a road line")
def _bumps(pen: _Pen) -> None:
    pen.line([(0.3, 0.78), (0.7, 0.78)], BLACK, 0.04)
    pen.d.pieslice([pen.p(0.31, 0.64), pen.p(0.49, 0.92)], 180, 360, fill=BLACK)
    pen.d.pieslice([pen.p(0.51, 0.64), pen.p(0.69, 0.92)], 180, 360, fill=BLACK)


@_pictogram("black car with skid marks")
def _slippery(pen: _Pen) -> None:
    _car(pen, 0.5, 0.52, 0.11, BLACK)
    pen.line([(0.4, 0.82), (0.44, 0.74), (0.4, 0.68)], BLACK, 0.025)
    pen.line([(0.6, 0.82), (0.56, 0.74), (0.6, 0.68)], BLACK, 0.025)


@_pictogram("two black lines with the right one bending inwards")
def _narrows(pen: _Pen) -> None:
    pen.line([(0.42, 0.82), (0.42, 0.42)], BLACK, 0.05)
    pen.line([(0.6, 0.82), (0.6, 0.62), (0.52, 0.52), (0.52, 0.42)], BLACK, 0.05)


@_pictogram("black worker with shovel and mound")
def _road_work(pen: _Pen) -> None:
    _person(pen, 0.46, 0.42, 0.34, BLACK, 0.8)
    pen.line([(0.56, 0.56), (0.66, 0.76)], BLACK, 0.03)
    pen.d.pieslice([pen.p(0.56, 0.7), pen.p(0.74, 0.9)], 180, 360, fill=BLACK)


@_pictogram("traffic light (red/yellow/green dots stacked)")
def _signals(pen: _Pen) -> None:
    pen.rect(0.43, 0.4, 0.57, 0.82, BLACK, radius=0.03)
    pen.ellipse(0.5, 0.47, 0.045, 0.045, fill=RED)
    pen.ellipse(0.5, 0.61, 0.045, 0.045, fill=AMBER)
    pen.ellipse(0.5, 0.75, 0.045, 0.045, fill=GREEN)


@_pictogram("black walking person")
def _pedestrian(pen: _Pen) -> None:
    _person(pen, 0.5, 0.42, 0.4, BLACK)


@_pictogram("black adult and child walking")
def _children(pen: _Pen) -> None:
    _person(pen, 0.43, 0.42, 0.4, BLACK)
    _person(pen, 0.6, 0.56, 0.26, BLACK)


_TRI = 0.6  # vertical centre of the symbol in an upward triangle


@_pictogram("black bicycle")
def _bicycle(pen: _Pen) -> None:
    pen.ellipse(0.39, _TRI + 0.1, 0.08, 0.08, outline=BLACK, width=0.025)
    pen.ellipse(0.61, _TRI + 0.1, 0.08, 0.08, outline=BLACK, width=0.025)
    frame = [(0.39, 0.1), (0.47, -0.02), (0.61, 0.1), (0.56, -0.04), (0.47, -0.02)]
    pen.line([(u, _TRI + dv) for u, dv in frame], BLACK, 0.025)
    pen.ellipse(0.53, _TRI - 0.13, 0.03, 0.03, fill=BLACK)


@_pictogram("black snowflake")
def _snowflake(pen: _Pen) -> None:
    for a in (math.pi / 2, math.pi / 6, -math.pi / 6):
        ends = [
            (0.5 + 0.16 * math.cos(a), _TRI + 0.16 * math.sin(a)),
            (0.5 - 0.16 * math.cos(a), _TRI - 0.16 * math.sin(a)),
        ]
        pen.line(ends, BLACK, 0.03)


@_pictogram("black leaping deer")
def _deer(pen: _Pen) -> None:
    outline = [
        (0.36, 0.8), (0.42, 0.64), (0.54, 0.6), (0.6, 0.52), (0.58, 0.42), (0.64, 0.46), (0.68, 0.5),
        (0.64, 0.56), (0.62, 0.64), (0.66, 0.8), (0.6, 0.8), (0.56, 0.68), (0.46, 0.7), (0.42, 0.8),
    ]  # fmt: skip
    pen.poly(outline, BLACK)


@_pictogram("several thin black diagonal stripes")
def _end_of_limits(pen: _Pen) -> None:
    _band(pen, 5)


@_pictogram("white arrow bending right")
def _turn_right(pen: _Pen) -> None:
    _arrow(pen, [(0.42, 0.75), (0.42, 0.45), (0.68, 0.45)], WHITE, 0.09, 0.18)


@_pictogram("white arrow bending left")
def _turn_left(pen: _Pen) -> None:
    _arrow(pen, [(0.58, 0.75), (0.58, 0.45), (0.32, 0.45)], WHITE, 0.09, 0.18)


@_pictogram("white arrow pointing up")
def _ahead(pen: _Pen) -> None:
    _arrow(pen, [(0.5, 0.8), (0.5, 0.24)], WHITE, 0.1, 0.2)


@_pictogram("white arrow up with a branch to the right")
def _straight_or_right(pen: _Pen) -> None:
    _arrow(pen, [(0.44, 0.8), (0.44, 0.24)], WHITE, 0.08, 0.16)
    _arrow(pen, [(0.44, 0.6), (0.6, 0.44), (0.72, 0.44)], WHITE, 0.08, 0.15)


@_pictogram("white arrow up with a branch to the left")
def _straight_or_left(pen: _Pen) -> None:
    _arrow(pen, [(0.56, 0.8), (0.56, 0.24)], WHITE, 0.08, 0.16)
    _arrow(pen, [(0.56, 0.6), (0.4, 0.44), (0.28, 0.44)], WHITE, 0.08, 0.15)


@_pictogram("white arrow pointing down-right")
def _keep_right(pen: _Pen) -> None:
    _arrow(pen, [(0.34, 0.34), (0.68, 0.68)], WHITE, 0.1, 0.2)


@_pictogram("white arrow pointing down-left")
def _keep_left(pen: _Pen) -> None:
    _arrow(pen, [(0.66, 0.34), (0.32, 0.68)], WHITE, 0.1, 0.2)


@_pictogram("three white arrows in a circle")
def _roundabout(pen: _Pen) -> None:
    for a in (-math.pi / 2, math.pi / 6, 5 * math.pi / 6):
        arc = [(0.5 + 0.22 * math.cos(a + d), 0.5 + 0.22 * math.sin(a + d)) for d in (0.0, 0.5, 1.0, 1.5)]
        _arrow(pen, arc, WHITE, 0.07, 0.14)


@_pictogram("gray cars crossed by a diagonal black band")
def _end_no_passing(pen: _Pen) -> None:
    _car(pen, 0.34, 0.52, 0.14, GRAY)
    _car(pen, 0.66, 0.52, 0.14, GRAY)
    _band(pen, 5)


@_pictogram("gray truck and car crossed by a diagonal black band")
def _end_no_passing_trucks(pen: _Pen) -> None:
    _truck(pen, 0.33, 0.52, 0.14, GRAY)
    _car(pen, 0.68, 0.52, 0.13, GRAY)
    _band(pen, 5)


_COLOURS = {"black": BLACK, "white": WHITE, "gray": GRAY, "red": RED}
# "digits 20", "gray digits 80 crossed by a diagonal black band", "white letters STOP"
_LETTERING = re.compile(
    r"(?:(?P<colour>black|white|gray|red) )?(?P<kind>digits|letters) (?P<text>\S+)"
    r"(?P<band> crossed by a diagonal black band)?"
)


def _symbol_drawing(symbol: str) -> Draw:
    """How one class row's `symbol` text is drawn: lettering is read from the text, pictograms by name."""
    lettering = _LETTERING.fullmatch(symbol)
    if lettering is None:
        try:
            return _PICTOGRAMS[symbol]
        except KeyError:
            raise ValueError(f"no drawing for the sign symbol {symbol!r} of gtsrb_classes.csv") from None
    text = lettering["text"]
    colour = _COLOURS[lettering["colour"] or "black"]
    # Digits fill the disc's middle; words (STOP) are wider and flatter.
    max_w, max_h = (0.56, 0.36) if lettering["kind"] == "digits" else (0.7, 0.26)
    band = lettering["band"] is not None

    def draw(pen: _Pen) -> None:
        pen.text(0.5, 0.5, text, colour, max_w, max_h)
        if band:
            _band(pen, 5)

    return draw


def _draw_plate(pen: _Pen, shape: str, fill: str, border: str) -> None:
    """The sign's outline and background colour."""
    if shape.startswith("circle"):
        if fill == "blue":
            pen.ellipse(0.5, 0.5, 0.49, 0.49, fill=WHITE)
            pen.ellipse(0.5, 0.5, 0.465, 0.465, fill=BLUE)
        elif fill == "red":
            pen.ellipse(0.5, 0.5, 0.49, 0.49, fill=WHITE)
            pen.ellipse(0.5, 0.5, 0.465, 0.465, fill=RED)
        elif border.startswith("black"):
            pen.ellipse(0.5, 0.5, 0.49, 0.49, fill=BLACK)
            pen.ellipse(0.5, 0.5, 0.47, 0.47, fill=WHITE)
        else:
            pen.ellipse(0.5, 0.5, 0.49, 0.49, fill=WHITE)
            pen.ellipse(0.5, 0.5, 0.47, 0.47, fill=RED)
            pen.ellipse(0.5, 0.5, 0.36, 0.36, fill=WHITE)
    elif shape.startswith("triangle (point up)"):
        outer = [(0.5, 0.03), (0.985, 0.9), (0.015, 0.9)]
        pen.poly(outer, WHITE)
        pen.poly(_shrink(outer, 0.94), RED)
        pen.poly(_shrink(outer, 0.64), WHITE)
    elif shape.startswith("triangle (point down)"):
        outer = [(0.015, 0.1), (0.985, 0.1), (0.5, 0.97)]
        pen.poly(outer, WHITE)
        pen.poly(_shrink(outer, 0.94), RED)
        pen.poly(_shrink(outer, 0.6), WHITE)
    elif shape.startswith("octagon"):
        outer = _regular_polygon(8, 0.49, math.pi / 8)
        pen.poly(outer, WHITE)
        pen.poly(_shrink(outer, 0.93), RED)
    elif shape.startswith("diamond"):
        outer = [(0.5, 0.01), (0.99, 0.5), (0.5, 0.99), (0.01, 0.5)]
        pen.poly(outer, BLACK)
        pen.poly(_shrink(outer, 0.96), WHITE)
        pen.poly(_shrink(outer, 0.6), YELLOW)
    else:  # pragma: no cover - the bundled CSV only has the shapes above
        raise ValueError(f"unknown sign shape {shape!r}")


@lru_cache(maxsize=256)
def canonical_sign(class_id: int, px: int = 128) -> Image.Image:
    """The clean, frontal RGBA drawing of one class on a transparent square canvas (cached).

    Drawn at 4x and downsampled, so edges are anti-aliased at any requested size.
    """
    specs = gtsrb_sign_specs()
    if not 0 <= class_id < len(specs):
        raise ValueError(f"class_id must be in 0..{len(specs) - 1}, got {class_id}")
    spec = specs[class_id]
    big = 4 * px
    img = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    pen = _Pen(ImageDraw.Draw(img), big)
    _draw_plate(pen, spec.shape, spec.fill, spec.border)
    _symbol_drawing(spec.symbol)(pen)
    return img.resize((px, px), Image.Resampling.LANCZOS)
