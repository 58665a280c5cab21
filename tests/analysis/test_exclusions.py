"""The analysis's default catch rule is the study server's own screening, end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import create_engine, text

from analysis.compare import main
from analysis.stats.exclusions import SERVER_DEFAULT_CATCH_FAILURES, study_catch_rule
from study_server.settings import SETTINGS
from tests.analysis import simulate
from workflow.observer import ObserverModel
from workflow.simulate import simulate_study

SECRET = "0123456789abcdef" * 4  # 64 characters: the server refuses short keys


def test_analysis_default_equals_the_servers_default() -> None:
    assert SETTINGS["catch_fail_threshold"].default == SERVER_DEFAULT_CATCH_FAILURES


def test_rule_read_from_the_export_column() -> None:
    assert study_catch_rule(pd.DataFrame({"catch_fail_threshold": [3, 3]})).max_failures == 3
    off = study_catch_rule(pd.DataFrame({"catch_fail_threshold": [None, None]}))
    assert off.max_failures is None and not off.enabled
    assert (
        study_catch_rule(pd.DataFrame({"participant": ["a"]})).max_failures == SERVER_DEFAULT_CATCH_FAILURES
    )


@pytest.mark.slow
def test_exclusions_match_the_servers_screening(tmp_path: Path, monkeypatch, capsys) -> None:
    set_dir = simulate.build_set(tmp_path / "set")
    db = tmp_path / "study.sqlite3"
    # Careless simulated people fail a catch trial 40% of the time, through the server's real routes.
    simulate_study(
        set_dir,
        db,
        participants=14,
        seed=4,
        secret_key=SECRET,
        model=ObserverModel(p_catch=0.6),
        progress=False,
    )
    url = f"sqlite:///{db}"
    with create_engine(url).connect() as conn:
        statuses = dict(conn.execute(text("SELECT status, COUNT(*) FROM participants GROUP BY status")).all())
    screened = statuses.get("screened_out", 0)
    assert screened >= 1 and statuses.get("completed", 0) >= 1  # both outcomes occur

    monkeypatch.setenv("STUDY_SECRET_KEY", SECRET)
    out = tmp_path / "report"
    rc = main(
        ["--responses", url, "--stimuli", str(set_dir), "--out", str(out), "--bootstrap", "50", "--no-pdf"]
    )
    assert rc == 0, capsys.readouterr().err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["catch_rule_max_failures"] == SETTINGS["catch_fail_threshold"].default
    assert "the study's screening setting" in summary["catch_rule"]
    rules = pd.DataFrame(summary["tables"]["exclusions"]).set_index("rule")
    assert rules.loc["failed catch trials", "participants_excluded"] == screened
    # Nobody the server let finish is removed by the catch rule; none of the removed were paid.
    assert rules.loc["failed catch trials", "of_them_completed"] == 0
    assert rules.loc["failed catch trials", "of_them_paid"] == 0
    removed = pd.DataFrame(summary["tables"]["excluded_participants"])
    catch_removed = removed[removed["excluded_by"] == "failed catch trials"]
    assert set(catch_removed["status"]) == {"screened_out"}
    assert (catch_removed["n_catch_trials_failed"] == SETTINGS["catch_fail_threshold"].default + 1).all()
    html = (out / "report.html").read_text()
    assert f"It removed {screened} participant(s), of whom 0 completed the study and 0 were paid" in html
