"""The fooling section of ``analysis.compare``: rates against hand counts and hand-computed statistics."""

from __future__ import annotations

import contextlib
import io
import json
import math
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import stimuli
from analysis.compare import main
from analysis.inputs.load import build_long_table, load_responses, load_stimulus_info
from analysis.render.style import figure_bytes
from analysis.sections.fooling import contact_sheet_figure
from analysis.stats.fooling import fooling_analysis

CLASSES = [stimuli.ClassInfo(i, f"class {i}") for i in range(4)]


def build_fooling_set(out: Path) -> Path:
    """4 target classes x {direct, cppn}, network labels = target, + 2 catch images (family fooling)."""
    rng = np.random.default_rng(0)
    rows, images, elites = [], [], {}
    for c in range(4):
        for k, cond in enumerate(("direct", "cppn")):
            rows.append(
                {
                    "source_id": f"f{c}",
                    "label": c,
                    "family": "fooling",
                    "condition": cond,
                    "model": "net",
                    "catch": False,
                }
            )
            images.append(rng.random((8, 8, 1)).astype(np.float32))
            elites[f"f{c}/{cond}"] = {"target_class": c, "confidence": 0.99 + 0.001 * c + 0.0001 * k}
    for c in (0, 1):
        rows.append(
            {"source_id": f"c{c}", "label": c, "family": "fooling", "condition": "regular", "catch": True}
        )
        images.append(np.full((8, 8, 1), 0.2 * c, dtype=np.float32))
    legend = {c.id: np.full((8, 8, 1), 0.1 * c.id, dtype=np.float32) for c in CLASSES}
    return stimuli.write_stimulus_set(
        out,
        rows,
        images,
        CLASSES,
        legend,
        name="fool-test",
        seed=0,
        source="test",
        params={"elites": elites},
        progress=False,
    )


def responses_for(set_dir: Path) -> pd.DataFrame:
    """3 people x 8 fooling images (+ 2 catch answered right). Known answers per person and image:
    person a: network class on all 4 direct, "none" on all 4 cppn;
    person b: network class on direct 0,1; "none" on direct 2,3; class (label+1)%4 on every cppn;
    person c: "none" on everything."""
    m = pd.read_csv(set_dir / "manifest.csv", dtype=str)
    rows = []
    for person in "abc":
        for t, r in enumerate(m.itertuples()):
            label = int(r.label)
            if r.catch == "true":
                ans: object = label
            elif person == "a":
                ans = label if r.condition == "direct" else "none"
            elif person == "b":
                ans = (label if label < 2 else "none") if r.condition == "direct" else (label + 1) % 4
            else:
                ans = "none"
            rows.append(
                {
                    "participant": person,
                    "stimulus_id": r.stimulus_id,
                    "response": ans,
                    "rt_ms": 900.0,
                    "trial_index": t,
                    "catch": r.catch,
                    "completed": "true",
                    "list_id": 0,
                }
            )
    return pd.DataFrame(rows)


def wilson(k: int, n: int) -> tuple[float, float]:
    """By hand: (p + z^2/2n -/+ z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n), z = 1.959963984540054."""
    z, p = 1.959963984540054, k / n
    centre, half = p + z * z / (2 * n), z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (centre - half) / (1 + z * z / n), (centre + half) / (1 + z * z / n)


def upper_tail(k: int, n: int, p: float) -> float:
    return sum(math.comb(n, j) * p**j * (1 - p) ** (n - j) for j in range(k, n + 1))


@pytest.fixture
def inputs(tmp_path: Path) -> dict[str, Path]:
    set_dir = build_fooling_set(tmp_path / "set")
    responses_for(set_dir).to_csv(tmp_path / "responses.csv", index=False)
    return {"set": set_dir, "responses": tmp_path / "responses.csv", "root": tmp_path}


def test_rates_match_hand_counts_and_hand_statistics(inputs: dict[str, Path]):
    info = load_stimulus_info(inputs["set"])
    responses = load_responses(inputs["responses"])
    table = build_long_table(
        responses, pd.DataFrame(columns=["model", "stimulus_id", "response", "confidence", "prob_true"]), info
    )
    assert table.issues == []  # "none" is expected in a fooling set, not an input problem
    res = fooling_analysis(table.trials, responses, info)
    assert res is not None
    rates = res.rates.set_index("condition")
    # direct: a 4 class, b 2 class + 2 none, c 4 none -> 6 class, 6 none of 12
    # cppn: a 4 none, b 4 other class, c 4 none -> 0 class, 8 none of 12
    assert rates.loc["direct", ["n_trials", "chose_network_class", "none"]].tolist() == [12, 6, 6]
    assert rates.loc["cppn", ["n_trials", "chose_network_class", "none"]].tolist() == [12, 0, 8]
    assert rates.loc["all", ["n_trials", "chose_network_class", "none"]].tolist() == [24, 6, 14]
    assert rates.loc["cppn", "other_class_rate"] == pytest.approx(4 / 12)
    assert (rates.loc["all", "ci_low"], rates.loc["all", "ci_high"]) == pytest.approx(wilson(6, 24))
    assert (rates.loc["all", "none_ci_low"], rates.loc["all", "none_ci_high"]) == pytest.approx(
        wilson(14, 24)
    )
    assert rates.loc["all", "chance"] == 0.25
    assert rates.loc["all", "p_vs_chance"] == pytest.approx(upper_tail(6, 24, 0.25))
    assert rates.loc["direct", "p_vs_chance"] == pytest.approx(upper_tail(6, 12, 0.25))
    # class vs none among the 20 trials answered with either: 6 vs 14, two-sided, p = 2 P(X <= 6 | 20, 1/2)
    assert rates.loc["all", "p_class_vs_none"] == pytest.approx(2 * (1 - upper_tail(7, 20, 0.5)))
    assert rates.loc["direct", "p_class_vs_none"] == pytest.approx(1.0)
    # network confidence from the set's recorded elites (no predictions given)
    net = res.network.set_index("condition")
    assert net.loc["direct", "mean_confidence"] == pytest.approx(
        np.mean([0.99 + 0.001 * c for c in range(4)])
    )
    assert net.loc["cppn", "source"] == "stimulus_set.json"
    # per image: most frequent answer
    img = res.images
    assert set(img.loc[img["condition"] == "cppn", "top_answer"]) == {"none"}
    d2 = img[(img["condition"] == "direct") & (img["network_label"] == 2)].iloc[0]
    assert (d2["top_answer"], d2["top_answer_share"], d2["n_answers"]) == ("none", pytest.approx(2 / 3), 3)


def test_compare_reports_the_fooling_section_with_predictions(inputs: dict[str, Path]):
    m = pd.read_csv(inputs["set"] / "manifest.csv", dtype=str)
    preds = pd.DataFrame(
        {
            "model": "net",
            "stimulus_id": m["stimulus_id"],
            "response": m["label"].astype(int),
            "confidence": 0.9995,
            "prob_true": 0.9995,
        }
    )
    preds.to_csv(inputs["root"] / "preds.csv", index=False)
    out = inputs["root"] / "report"
    with contextlib.redirect_stdout(io.StringIO()):
        rc = main(
            [
                "--responses",
                str(inputs["responses"]),
                "--predictions",
                str(inputs["root"] / "preds.csv"),
                "--stimuli",
                str(inputs["set"]),
                "--out",
                str(out),
                "--bootstrap",
                "20",
            ]
        )
    assert rc == 0
    html = (out / "report.html").read_text()
    assert "Fooling images (Nguyen et al. 2015)" in html
    assert (out / "figures" / "fooling_contact_sheet.png").read_bytes().startswith(b"\x89PNG")
    rates = pd.read_csv(out / "tables" / "fooling_rates.csv").set_index("condition")
    assert rates.loc["all", "none"] == 14
    net = pd.read_csv(out / "tables" / "fooling_network.csv")
    assert net["mean_confidence"].tolist() == pytest.approx([0.9995, 0.9995])
    assert set(net["source"]) == {"predictions"}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["fooling_none_rate"] == pytest.approx(14 / 24)
    assert len(summary["tables"]["fooling_images"]) == 8


# GTSRB's longest class names (stimuli's synthetic source uses the same list); two share their
# first 22 characters, which the contact sheet used to cut them to
LONG_NAMES = {
    0: "End of no passing by vehicles over 3.5 metric tons",
    1: "No passing for vehicles over 3.5 metric tons",
    2: "Right-of-way at the next intersection",
    3: "Vehicles over 3.5 metric tons prohibited",
}


def test_contact_sheet_titles_carry_full_class_names(inputs: dict[str, Path]):
    info = replace(load_stimulus_info(inputs["set"]), class_names=LONG_NAMES)
    responses = load_responses(inputs["responses"])
    no_predictions = pd.DataFrame(columns=["model", "stimulus_id", "response", "confidence", "prob_true"])
    res = fooling_analysis(build_long_table(responses, no_predictions, info).trials, responses, info)
    assert res is not None
    svg = ET.fromstring(figure_bytes(contact_sheet_figure(res, info), "svg"))
    ns = "{http://www.w3.org/2000/svg}"
    # each panel's title is one <g id="text_N"> holding a <text> per line: join its lines
    titles = []
    for g in svg.iter(f"{ns}g"):
        if (g.get("id") or "").startswith("text_"):
            lines = ["".join(t.itertext()) for t in g.iter(f"{ns}text")]
            titles.append(" ".join(line.strip() for line in lines))
    assert len(titles) == len(res.images)
    for title, row in zip(titles, res.images.itertuples(), strict=True):
        assert f"net: {row.network_label_name} (" in title
        if row.top_answer not in ("", "none"):
            assert f"people: {row.top_answer} (" in title
    assert len(set(titles)) == len(titles)
