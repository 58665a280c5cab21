"""The README's main-job command end to end: build, train, predict, import, serve; a real browser takes
a few trials; Ctrl-C stops the server cleanly; the demo report is made from the same work folder."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.browser]

# One epoch on one image per class cannot reach the accuracy gate; the gate has its own test.
FAST = ["--epochs", "1", "--n-per-class", "1", "--min-accuracy", "0"]


def _lines(proc: subprocess.Popen[str]) -> queue.Queue[str]:
    out: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            out.put(line)
        out.put("")

    threading.Thread(target=pump, daemon=True).start()
    return out


def _wait_for(lines: queue.Queue[str], prefix: str, seen: list[str], timeout: float = 600) -> str:
    while True:
        line = lines.get(timeout=timeout)
        seen.append(line)
        if line == "":
            raise AssertionError("the main job ended early:\n" + "".join(seen[-40:]))
        if line.startswith(prefix):
            return line


def test_main_job_serves_a_browser_then_makes_the_report(tmp_path: Path, browser, artifact_dir: str) -> None:
    work = tmp_path / "study"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("STUDY_ADMIN_PASSWORD", None)
    proc = subprocess.Popen(
        ["bash", str(ROOT / "main.sh"), "--workdir", str(work), "--port", "0", *FAST],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=ROOT,
        start_new_session=True,
        # a test run started in the background inherits SIGINT ignored; Ctrl-C must reach the job here
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    seen: list[str] = []
    lines = _lines(proc)
    try:
        link = _wait_for(lines, "Participant link:", seen).split(": ", 1)[1].strip()
        assert any("accuracy on the" in line and "regular stimuli" in line for line in seen)
        admin = _wait_for(lines, "Admin:", seen)
        assert "password in" in admin and (work / "admin_password").stat().st_mode & 0o077 == 0

        page = browser.new_page(viewport={"width": 1366, "height": 768})
        page.goto(link)
        assert "This is a demonstration" in page.locator("#demo-note").inner_text()  # the main job's study
        page.check("#agree")
        page.click("#consent-submit")
        page.wait_for_url("**/calibrate")  # the card calibration, at its initial size
        page.click("#card-done")
        page.wait_for_selector("#blindspot-step:not([hidden])")  # then the blind spot, by default
        for _ in range(3):
            page.click("#bs-start")
            page.wait_for_timeout(2500)  # the dot moves about 3 deg/s away from the square
            page.keyboard.press(" ")
        page.wait_for_url("**/instructions")
        assert page.locator(".legend-static .legend-item").count() == 43
        page.click("#to-practice")
        page.wait_for_url("**/practice")
        page.click("#go")
        n_practice = len(json.loads(page.locator("#runner-config").inner_text())["trials"])
        for _ in range(n_practice):
            page.click("#next")
            page.wait_for_selector(".legend-button:not([disabled])")
            page.locator(".legend-button").first.click()
            page.wait_for_selector("#feedback:not(:empty)")
        page.click("#start-main")
        page.wait_for_url("**/trials")
        page.click("#go")
        for _ in range(3):
            page.click("#next")
            page.wait_for_selector(".legend-button:not([disabled])")
            page.locator(".legend-button").nth(5).click()
        page.screenshot(path=str(Path(artifact_dir) / "main_job_trial.png"))
        engine = create_engine(f"sqlite:///{work / 'study.sqlite3'}")
        deadline = time.monotonic() + 20
        while True:  # answers are POSTed asynchronously; wait until the third is acknowledged
            with engine.connect() as conn:
                n = conn.execute(text("select count(*) from responses")).scalar_one()
            if n >= 3 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        engine.dispose()
        page.close()
        assert n == 3

        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        while seen[-1:] != [""]:  # drain what the pump thread read until the pipe closed
            seen.append(lines.get(timeout=30))
        assert proc.stdout is not None
        proc.stdout.close()
    assert "Traceback" not in "".join(seen)
    assert "stopped" in "".join(seen)

    demo = subprocess.run(
        [sys.executable, "-m", "workflow", "demo", "--workdir", str(work), "--participants", "4", *FAST],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=900,
    )
    assert demo.returncode == 0, demo.stderr[-3000:]
    assert "reusing the trained network" in demo.stdout  # the second run reuses what the first built
    report = work / "simulated" / "report"
    html = (report / "report.html").read_text()
    assert "SIMULATED" in html and "<img" in html
    summary = json.loads((report / "summary.json").read_text())
    assert summary and "SIMULATED" in json.dumps(summary)
