"""End to end in a real Chromium: a fooling set made by ``model_eval fool`` is served, a participant
answers "none of these" on some images, and that answer reaches the database, the export and the
``analysis.compare`` report."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pandas as pd
import pytest
import torch
from sqlalchemy import select

import stimuli
from analysis.compare import main as compare_main
from model_eval.fooling.report import export_fooling_set, run_fooling
from model_eval.fooling.search import FoolConfig
from model_eval.nets.checkpoint import build_members, load_checkpoint, save_checkpoint
from model_eval.nets.registry import Preprocessing
from study_server import create_app
from study_server.cli import upgrade_database
from study_server.export import frame_from_session, to_csv
from study_server.importer import import_stimulus_set
from study_server.models import NONE_ANSWER, Participant, Response, db
from tests.model_eval.digits import write_mnist_like

from .conftest import OPEN, SECRET
from .live_server import LiveServer
from .test_browser import VIEWPORT, consent_and_instructions, go, oracle

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def make_fooling_set(tmp: Path) -> Path:
    """A LeNet-5 (untrained weights: enough to fool) on MNIST-format digits, 2 generations per encoding."""
    root = write_mnist_like(tmp / "digits", n_train=20, n_test=30)
    src = stimuli.get_source("mnist", root=root, split="test", size=32, seed=0)
    torch.manual_seed(0)
    members = build_members("lenet5", 1, num_classes=10, in_channels=1, input_size=32)
    classes = [{"id": c.id, "name": c.name} for c in src.classes]
    path = save_checkpoint(
        tmp / "lenet5.pt",
        arch="lenet5",
        name="lenet5",
        members=members,
        num_classes=10,
        in_channels=1,
        preprocessing=Preprocessing(32, (0.5,), (0.5,)),
        classes=classes,
        config={"source": "mnist", "root": str(root)},
        source="mnist",
    )
    ckpt = load_checkpoint(path)
    configs = [FoolConfig(encoding=e, generations=2, population=8) for e in ("direct", "cppn", "gradient")]
    results = run_fooling(ckpt, configs, tmp / "run", device=torch.device("cpu"), progress=False)
    return export_fooling_set(tmp / "set", results, src, model_name="lenet5", seed=0, progress=False)


@pytest.fixture
def server(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'live.sqlite3'}"
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": SECRET, "INSTANCE_PATH": str(tmp_path / "inst")})
    upgrade_database(url)
    set_dir = make_fooling_set(tmp_path)
    with app.app_context():
        import_stimulus_set(
            db.session, set_dir, slug="fool", config={**OPEN, "practice_trials": 0, "calibration": "card"}
        )
        db.session.remove()
    srv = LiveServer(url, SECRET, tmp_path / "inst", tmp_path / "server.log")
    srv.start()
    srv.app = app
    srv.set_dir = set_dir
    yield srv
    srv.kill()
    with app.app_context():
        db.engine.dispose()


def test_none_flows_from_the_browser_to_the_export_and_the_report(browser, server, artifact_dir, tmp_path):
    shots = Path(artifact_dir)
    page = browser.new_page(viewport=VIEWPORT)
    pid = consent_and_instructions(page, server.url, "fool")
    assert "None of these / I cannot recognise it" in page.locator("#none-allowed").inner_text()
    page.screenshot(path=str(shots / "instructions_fooling.png"))
    page.click("#start-main")
    page.wait_for_url("**/trials")
    go(page)
    labels, sids = oracle(server.app, pid)
    catch = set(stimuli.load_stimulus_set(server.set_dir).manifest.query("catch")["stimulus_id"])
    expected = []
    for i, (label, sid) in enumerate(zip(labels, sids, strict=True)):
        page.click("#next")
        page.wait_for_selector("#none-button:not([disabled])")
        if i == 0:
            page.screenshot(path=str(shots / "trial_fooling_none_button.png"))
        if sid in catch or i % 3 == 2:
            page.click(f".legend-button[data-class='{label}']")
            expected.append(label)
        elif i % 3 == 0:
            page.click("#none-button")
            expected.append("none")
        else:  # keyboard: type to filter down to the none button, Enter chooses it
            page.keyboard.type("none of")
            page.keyboard.press("Enter")
            expected.append("none")
    page.wait_for_url("**/debrief")
    with server.app.app_context():
        p = db.session.scalars(select(Participant).where(Participant.public_id == pid)).one()
        rows = db.session.scalars(
            select(Response).where(Response.participant_id == p.id).order_by(Response.trial_index)
        ).all()
        assert p.status == "completed"
        assert [r.response for r in rows] == [NONE_ANSWER if e == "none" else e for e in expected]
        frame = frame_from_session(db.session, SECRET, "fool")
        db.session.remove()
    page.close()
    assert frame["response"].tolist() == expected
    to_csv(frame, tmp_path / "responses.csv")
    out = tmp_path / "report"
    with contextlib.redirect_stdout(io.StringIO()):
        rc = compare_main(
            [
                "--responses",
                str(tmp_path / "responses.csv"),
                "--stimuli",
                str(server.set_dir),
                "--out",
                str(out),
                "--bootstrap",
                "20",
                "--no-rt-exclusion",
            ]
        )
    assert rc == 0
    rates = pd.read_csv(out / "tables" / "fooling_rates.csv").set_index("condition")
    main_expected = [e for e, sid in zip(expected, sids, strict=True) if sid not in catch]
    assert rates.loc["all", "n_trials"] == len(main_expected) == 10
    assert rates.loc["all", "none"] == main_expected.count("none")
    assert rates.loc["all", "chose_network_class"] == len(main_expected) - main_expected.count("none")
    html = (out / "report.html").read_text()
    assert "Fooling images (Nguyen et al. 2015)" in html and "none of these" in html
