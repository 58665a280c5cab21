"""The FRI human study end to end on the CPU, as Srivastava et al. 2019 ran it: train a small network,
export a random sample of its shrink FRI pairs, import them as a study, let simulated people answer
through the real routes (between-subject groups, N viewers per crop), then `analysis.compare`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select

import stimuli
from analysis.compare import main as compare_main
from model_eval.cli import main as model_eval_main
from study_server import create_app
from study_server.cli import run_command
from study_server.export import responses_frame
from study_server.models import Participant, Stimulus, db
from tests.study_server.helpers import calibrate

pytestmark = pytest.mark.slow
VIEWERS = 3
SECRET = "fri-e2e-secret-" + "0" * 40


def _model_eval(*argv: str) -> None:
    assert model_eval_main([*argv, "--no-progress", "--device", "cpu"]) == 0


def _simulate_participant(app, slug: str, rng: np.random.Generator, group_of: dict[int, int] | None) -> str:
    """One person through the study link, consent, start and every trial's JSON answer."""
    client = app.test_client()
    assert client.get(f"/s/{slug}/").status_code == 200  # the consent page; nobody is allocated yet
    page = client.post(f"/s/{slug}/", data={"agree": "yes"})  # consent creates the participant
    assert page.status_code == 302, page.data
    pid = page.headers["Location"].split("/p/")[1].split("/")[0]
    calibrate(client, pid)
    assert client.post(f"/p/{pid}/start").status_code == 302
    assert client.get(f"/p/{pid}/trials").status_code == 200
    with app.app_context():
        p = db.session.scalars(select(Participant).where(Participant.public_id == pid)).one()
        p.simulated = True
        db.session.commit()
        stims = {
            s.stimulus_id: s
            for s in db.session.scalars(select(Stimulus).where(Stimulus.study_id == p.study_id))
        }
        order = list(p.trial_order)
        db.session.remove()
    for i, sid in enumerate(order):
        s = stims[sid]
        truth = group_of[s.label] if group_of else s.label
        # people are barely fragile: 85% right on the FRI crop, 80% on its partner; catch trials always right
        p_right = 1.0 if s.catch else (0.85 if s.condition == "fri" else 0.80)
        answer = (
            truth
            if rng.random() < p_right
            else (truth + 1) % (max(group_of.values()) + 1 if group_of else 43)
        )
        r = client.post(
            f"/api/p/{pid}/responses", json={"trial_index": i, "response": int(answer), "rt_ms": 900}
        )
        assert r.status_code in (200, 201), r.data
    return pid


@pytest.mark.parametrize("groups", [None, "gtsrb_superclasses"])
def test_fri_study_end_to_end(tmp_path: Path, groups: str | None) -> None:
    ckpt = tmp_path / "net.pt"
    _model_eval(
        "train",
        "--arch",
        "mvgg5",
        "--out",
        str(ckpt),
        "--size",
        "16",
        "--n-per-class",
        "12",
        "--epochs",
        "3",
        "--seed",
        "0",
    )
    export = tmp_path / "fri_set"
    n_pairs = 4
    _model_eval(
        "fri",
        "--model",
        str(ckpt),
        "--n-images",
        "12",
        "--image-size",
        "24",
        "--ratios",
        "0.7",
        "0.8",
        "--out",
        str(tmp_path / "maps"),
        "--export",
        str(export),
        "--sample",
        str(n_pairs),
        "--kind",
        "shrink",
        "--seed",
        "1",
        *(["--groups", groups] if groups else []),
    )
    manifest = stimuli.load_stimulus_set(export).manifest
    assert manifest["pair_id"].nunique() == n_pairs and set(manifest["fri_kind"]) == {"shrink"}
    preds = tmp_path / "predictions.csv"
    _model_eval("predict", "--model", str(ckpt), "--stimuli", str(export), "--out", str(preds))

    url = f"sqlite:///{tmp_path / 'study.sqlite3'}"
    app = create_app(
        {
            "DATABASE_URL": url,
            "SECRET_KEY": SECRET,
            "WTF_CSRF_ENABLED": False,
            "INSTANCE_PATH": str(tmp_path / "instance"),
        }
    )
    assert run_command(app, ["init-db"]) == 0
    assert (
        run_command(
            app,
            [
                "import-stimuli",
                str(export),
                "--slug",
                "fri",
                "--set",
                f"viewers_per_stimulus={VIEWERS}",
                "--set",
                "practice_trials=0",
                "--set",
                "demo=true",
            ],
        )
        == 0
    )
    meta = stimuli.load_stimulus_set(export).meta
    group_of = stimuli.class_to_group(meta["label_groups"]) if groups else None
    rng = np.random.default_rng(0)
    for _ in range(2 * VIEWERS):  # two groups (fri, fri_partner) x VIEWERS people
        _simulate_participant(app, "fri", rng, group_of)
    assert (
        app.test_client().get("/s/fri/").status_code == 403
    )  # every crop has its viewers: the study is full

    responses = responses_frame(url, secret_key=SECRET)
    responses.to_csv(tmp_path / "responses.csv", index=False)
    # every exported crop was shown, to exactly VIEWERS people, and nobody saw both crops of a pair
    shown = responses[~responses["catch"]].merge(manifest[["stimulus_id", "pair_id"]], on="stimulus_id")
    assert set(shown["stimulus_id"]) == set(manifest["stimulus_id"])
    assert (shown.groupby("stimulus_id")["participant"].nunique() == VIEWERS).all()
    assert (shown.groupby(["participant", "pair_id"]).size() == 1).all()

    out = tmp_path / "report"
    rc = compare_main(
        [
            "--responses",
            str(tmp_path / "responses.csv"),
            "--predictions",
            str(preds),
            "--stimuli",
            str(export),
            "--out",
            str(out),
            "--allow-mixed-simulated",
            "--bootstrap",
            "20",
        ]
    )
    assert rc == 0
    pairs = pd.read_csv(out / "tables" / "fri_pairs.csv")
    assert len(pairs) == n_pairs and set(pairs["pair_id"]) == set(manifest["pair_id"])
    assert (pairs["n_trials_fri"] == VIEWERS).all() and (pairs["n_trials_partner"] == VIEWERS).all()
    if groups is None:  # class-level scoring: the network is right on every FRI and wrong on every partner
        assert (pairs["model_correct_fri"] == 1).all() and (pairs["model_correct_partner"] == 0).all()
    # the network's gap is p(true) on the FRI minus on its partner, from the predictions file
    pr = pd.read_csv(preds).merge(manifest[["stimulus_id", "condition", "pair_id"]], on="stimulus_id")
    conf = pr.pivot_table(index="pair_id", columns="condition", values="prob_true", aggfunc="first")
    if groups is None:
        np.testing.assert_allclose(
            pairs.set_index("pair_id")["model_gap"].sort_index().to_numpy(),
            (conf["fri"] - conf["fri_partner"]).sort_index().to_numpy(),
            rtol=1e-6,
        )
    # the per-pair human gap is recomputed here from the export
    resp = responses.merge(manifest[["stimulus_id", "label", "condition", "pair_id"]], on="stimulus_id")
    truth = resp["label"].map(group_of) if group_of else resp["label"]
    resp["correct"] = resp["response"] == truth
    acc = resp.pivot_table(index="pair_id", columns="condition", values="correct", aggfunc="mean")
    expected = (acc["fri"] - acc["fri_partner"]).sort_index()
    got = pairs.set_index("pair_id")["human_gap"].sort_index()
    np.testing.assert_allclose(got.to_numpy(), expected.to_numpy())
    pooled = pd.read_csv(out / "tables" / "fri_pairs_pooled.csv")
    assert (
        len(pooled) == 1
        and pooled["n_pairs"].iloc[0] == n_pairs
        and pooled["n_participants"].iloc[0] == 2 * VIEWERS
    )
    assert "Fragile recognition image" in (out / "report.html").read_text()
