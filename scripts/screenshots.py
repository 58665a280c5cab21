"""Regenerate the README's page screenshots (docs/images/*.png) from the current pages.

A throw-away study (the synthetic 43-class traffic signs, SQLite in a temporary folder) is served in
this process, and a headless Chromium (Playwright) takes it as a participant would: consent, card
calibration, blind spot, instructions, practice, the trials, the debrief, then the admin's study page.

    python scripts/screenshots.py                       # docs/images/, 1366x768
    python scripts/screenshots.py --out /tmp/shots --size 1920x1080 --size 1366x768
    python scripts/screenshots.py --report artifacts/study/simulated/report/report.html   # + report.png

Chromium: env STUDY_CHROMIUM, else /usr/bin/chromium.
"""

from __future__ import annotations

import os
import secrets
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
import numpy as np
from playwright.sync_api import Page, ViewportSize, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import stimuli  # noqa: E402
from study_server import create_app  # noqa: E402
from study_server.admin import create_admin  # noqa: E402
from study_server.cli import upgrade_database  # noqa: E402
from study_server.importer import import_stimulus_set  # noqa: E402
from study_server.models import db  # noqa: E402

PAGES = (
    "consent", "calibration", "blind_spot", "instructions", "trial_start", "trial_page", "practice_done",
    "debrief", "admin_study",
)  # fmt: skip
EXAMPLE_STUDY = {
    "practice_trials": 2,
    "public_title": "Traffic signs",
    "researcher_contact": "Dr A. Example, Vision Lab, Example University (a.example@example.org)",
    "ethics_approval": "Approved by the Example University ethics committee, reference EX-2026-001.",
    "show_completion_code": True,
}
ADMIN = ("screenshots", secrets.token_urlsafe(12))


def build_set(out: Path) -> Path:
    """Four sources, regular and negative, with the whole 43-class legend and two practice images."""
    src = stimuli.get_source("synthetic", split="test", n_per_class=2, seed=1)
    rows, images = [], []
    for k in range(4):
        img, label = src[k * 11]
        for condition, pixels in (("regular", img), ("negative", 1.0 - img)):
            rows.append({"source_id": f"s{k}", "label": label, "family": condition, "condition": condition})
            images.append(np.asarray(pixels, dtype=np.float32))
    legend = {c.id: src.legend_image(c.id) for c in src.classes}
    practice = [src[43 + k * 5] for k in range(2)]
    return stimuli.write_stimulus_set(
        out, rows, images, src.classes, legend, name="signs", seed=3, source="synthetic", practice=practice
    )


@contextmanager
def serve(tmp: Path) -> Iterator[str]:
    """The study server on a free local port, in a thread of this process."""
    from werkzeug.serving import WSGIRequestHandler, make_server

    class Quiet(WSGIRequestHandler):
        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            """No line per request: the script prints only the files it writes."""

    url = f"sqlite:///{tmp / 'shots.sqlite3'}"
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": secrets.token_hex(16), "INSTANCE_PATH": str(tmp)})
    upgrade_database(url)
    with app.app_context():
        import_stimulus_set(db.session, build_set(tmp / "set"), slug="signs", config=EXAMPLE_STUDY)
        create_admin(*ADMIN)
        db.session.remove()
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


def _trial(page: Page) -> None:
    """Start the next trial with the space bar and pick the first class."""
    page.wait_for_selector("#next:not([hidden])", timeout=30_000)
    page.keyboard.press(" ")
    page.wait_for_selector(".legend-button:not([disabled])")
    page.locator(".legend-button").first.click()


def take(page: Page, base: str, shot: Callable[..., None]) -> None:
    """One participant through every page; `shot(name)` saves the current screen."""
    page.goto(f"{base}/s/signs/")
    page.wait_for_selector("#consent-submit")
    shot("consent", full_page=True)
    page.check("#agree")
    page.click("#consent-submit")
    page.wait_for_url("**/calibrate")
    shot("calibration")
    page.click("#card-done")
    page.wait_for_selector("#blindspot-step:not([hidden])")
    page.click("#bs-start")
    page.wait_for_timeout(1500)
    shot("blind_spot")
    # three offsets for a plausible 57 cm (the card left at 300 px: 3.5 px/mm), sent as the page would
    page.evaluate(
        """() => { const f = (n, v) => { document.getElementById('f-' + n).value = String(v); };
        const card = parseFloat(document.getElementById('card-size').value);
        const off = 570 * Math.tan(13.5 * Math.PI / 180) * card / 85.6;
        f('card_px', card); f('blindspot_px', [off, off + 4, off - 4].join(','));
        f('screen_width', screen.width); f('screen_height', screen.height);
        f('window_width', innerWidth); f('window_height', innerHeight);
        f('device_pixel_ratio', devicePixelRatio); document.getElementById('calibration-form').submit(); }"""
    )
    page.wait_for_url("**/instructions")
    shot("instructions", full_page=True)
    page.click("#to-practice")
    page.wait_for_url("**/practice")
    page.click("#go")
    page.wait_for_selector("#next:not([hidden])")
    shot("trial_start")
    page.keyboard.press(" ")
    page.wait_for_selector(".legend-button:not([disabled])")
    page.mouse.move(5, 5)
    shot("trial_page")
    page.locator(".legend-button").first.click()
    _trial(page)
    page.wait_for_selector("#start-form:not([hidden])", timeout=30_000)
    shot("practice_done")
    page.click("#start-main")
    page.wait_for_url("**/trials")
    page.click("#go")
    n_trials = len(page.evaluate("JSON.parse(document.getElementById('runner-config').textContent).trials"))
    for _ in range(n_trials):
        _trial(page)
    page.wait_for_selector("#completion-code", timeout=30_000)
    shot("debrief")
    page.goto(f"{base}/admin/study/signs")
    page.fill("input[name=username]", ADMIN[0])
    page.fill("input[name=password]", ADMIN[1])
    page.click("button[type=submit]")
    page.wait_for_url("**/admin/study/signs")
    table = page.locator("#participants").bounding_box()  # down to the participants table
    assert table is not None
    width = page.viewport_size["width"] if page.viewport_size else 1366
    clip = {"x": 0, "y": 0, "width": width, "height": table["y"] + table["height"] + 16}
    shot("admin_study", full_page=True, clip=clip)


def take_screenshots(
    out: Path, sizes: list[tuple[int, int]], chromium: str, report: Path | None = None
) -> list[Path]:
    """Screenshots of every page at every size into `out` (`<page>.png`, or `<page>_<W>x<H>.png` when
    more than one size is asked for), and of the first screen of `report` (an analysis report.html,
    e.g. `python -m workflow demo`'s) as `report.png`; returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with tempfile.TemporaryDirectory() as tmp, serve(Path(tmp)) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium)
        for width, height in sizes:
            size: ViewportSize = {"width": width, "height": height}
            page = browser.new_page(viewport=size, screen=size)
            suffix = "" if len(sizes) == 1 else f"_{width}x{height}"

            def shot(name: str, page: Page = page, suffix: str = suffix, **options: Any) -> None:
                path = out / f"{name}{suffix}.png"
                page.screenshot(path=str(path), **options)
                written.append(path)

            take(page, base, shot)
            if report is not None:
                page.goto(report.resolve().as_uri())
                shot("report")
            page.close()
        browser.close()
    return written


def _size(text: str) -> tuple[int, int]:
    width, _, height = text.partition("x")
    return int(width), int(height)


@click.command()
@click.option("--out", type=click.Path(path_type=Path), default=ROOT / "docs" / "images", show_default=True)
@click.option("--size", "sizes", multiple=True, default=["1366x768"], show_default=True, help="WIDTHxHEIGHT")
@click.option(
    "--report",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="an analysis report.html to screenshot as report.png (e.g. the demo's)",
)
def main(out: Path, sizes: tuple[str, ...], report: Path | None) -> None:
    """Regenerate the page screenshots."""
    chromium = os.environ.get("STUDY_CHROMIUM", "/usr/bin/chromium")
    try:
        parsed = [_size(s) for s in sizes]
    except ValueError:
        raise click.BadParameter("sizes look like 1366x768", param_hint="--size") from None
    for path in take_screenshots(out, parsed, chromium, report):
        click.echo(path)


if __name__ == "__main__":
    main()
