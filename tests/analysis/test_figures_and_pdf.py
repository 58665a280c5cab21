"""The report's figures a journal takes (every text >= 8 pt, no two equal tick labels on an axis,
conditions in the set's order) and its PDF printed from the HTML by Chromium, every column kept."""

from __future__ import annotations

import html
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pytest

import analysis
from tests.analysis import simulate
from tests.conftest import require_service

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> analysis.ReportResult:
    root = tmp_path_factory.mktemp("figures")
    set_dir = simulate.build_set(root / "set")
    manifest = pd.read_csv(set_dir / "manifest.csv", dtype={"stimulus_id": str, "source_id": str})
    manifest["catch"] = manifest["catch"].astype(str).str.lower() == "true"
    simulate.simulate_responses(manifest, n_participants=6).to_csv(root / "responses.csv", index=False)
    simulate.simulate_predictions(manifest).to_csv(root / "predictions.csv", index=False)
    return analysis.write_report(
        root / "responses.csv",
        set_dir,
        root / "report",
        [root / "predictions.csv"],
        options=analysis.CompareOptions(
            statistics=analysis.Options(n_boot=20), pdf=shutil.which("chromium") is not None
        ),
    )


def _font_sizes(svg: ET.Element) -> list[float]:
    return [
        float(m)
        for t in svg.iter(f"{SVG}text")
        for m in re.findall(r"font-size:\s*([\d.]+)px", t.get("style", ""))
    ]


def _tick_labels(svg: ET.Element) -> list[list[str]]:
    """Per axis of every panel, the tick labels' text (a wrapped label's lines joined)."""
    axes = []
    for g in svg.iter(f"{SVG}g"):
        if not (g.get("id") or "").startswith("matplotlib.axis"):
            continue
        labels = []
        for tick in g:
            if re.match(r"[xy]tick_\d+", tick.get("id") or ""):
                text = " ".join("".join(t.itertext()) for t in tick.iter(f"{SVG}text")).strip()
                if text:
                    labels.append(text)
        axes.append(labels)
    return axes


def test_every_figure_has_8pt_text_and_distinct_tick_labels(report: analysis.ReportResult) -> None:
    svgs = sorted((report.out_dir / "figures").glob("*.svg"))
    assert {p.stem for p in svgs} >= {"accuracy", "confusions_people", "confusions_networks", "kappa_summary"}
    for path in svgs:
        svg = ET.parse(path).getroot()
        # one SVG user unit is one point: the width in pt equals the viewBox width (no scaling)
        width_pt = float(svg.get("width", "0").removesuffix("pt"))
        assert width_pt == pytest.approx(float(svg.get("viewBox", "0 0 0 0").split()[2])), path.name
        sizes = _font_sizes(svg)
        assert sizes and min(sizes) >= 8, f"{path.name}: text at {min(sizes)} pt"
        for labels in _tick_labels(svg):
            assert len(labels) == len(set(labels)), f"{path.name}: repeated tick labels {labels}"


def test_conditions_in_the_sets_order_regular_first(report: analysis.ReportResult) -> None:
    svg = ET.parse(report.figures["accuracy"]).getroot()
    x_labels = _tick_labels(svg)[0]
    assert x_labels[0] == "regular"
    assert x_labels.index("noise_s10") < x_labels.index("noise_s20") < x_labels.index("noise_s80")


# The simulated set's conditions in its own order: regular, then negative (a declared colour
# condition), noise by sigma, then the rest (the FRI pairs) alphabetically (simulate.build_set).
SET_ORDER = ["regular", "negative", "noise_s10", "noise_s20", "noise_s40", "noise_s80", "fri", "fri_partner"]


def test_every_table_lists_conditions_in_the_sets_order(report: analysis.ReportResult) -> None:
    csvs = sorted((report.out_dir / "tables").glob("*.csv"))
    checked = []
    for path in csvs:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
        if "condition" not in df.columns or df.empty:
            continue
        # rows of one agent / participant / model (the text columns left of condition) list the
        # conditions in the set's order, each condition in one run
        left = [c for c in df.columns[: list(df.columns).index("condition")] if not _numeric(df[c])]
        groups = df.groupby(left, sort=False) if left else [("all", df)]
        if left:  # each agent's (participant's, model's) rows stay together
            key = df[left].astype(str).agg("|".join, axis=1)
            assert (key != key.shift()).sum() == key.nunique(), f"{path.name}: {left} interleaved"
        for key, g in groups:
            seen = list(dict.fromkeys(g["condition"]))
            assert seen == [c for c in SET_ORDER if c in seen], f"{path.name} {key}: {seen}"
            runs = (g["condition"] != g["condition"].shift()).sum()
            assert runs == len(seen), f"{path.name} {key}: conditions interleaved"
        checked.append(path.stem)
    assert {"accuracy", "accuracy_per_participant", "people_vs_models", "human_vs_model", "power"} <= set(
        checked
    )
    assert {"error_consistency", "participant_summary", "rt_per_participant"} <= set(checked)
    html = report.report.read_text()  # the HTML shows the rows in the CSV's order
    first = html.index("tables/accuracy_per_participant.csv")
    assert html.index(">regular<", first) < html.index(">negative<", first) < html.index(">noise_s10<", first)


def _numeric(values: pd.Series) -> bool:
    return bool(pd.to_numeric(values, errors="coerce").notna().all())


def test_one_confusion_figure_per_agent_type(report: analysis.ReportResult) -> None:
    confusion_figures = [name for name in report.figures if name.startswith("confusion")]
    assert sorted(confusion_figures) == ["confusions_networks", "confusions_people"]


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Chromium to print the PDF")
def test_pdf_is_the_html_printed_with_every_column(report: analysis.ReportResult) -> None:
    assert report.pdf is not None and report.pdf.read_bytes()[:5] == b"%PDF-"
    has_pdftotext = shutil.which("pdftotext") is not None
    require_service("pdftotext", has_pdftotext, "install poppler-utils (scripts/services.sh)")
    words = _pdf_words(report.pdf)
    for name in ("people_vs_models", "within_humans", "power", "human_vs_model", "error_consistency"):
        missing = [c for c in report.tables[name].columns if c not in words]
        assert not missing, f"{name}: columns not in the PDF: {missing}"


def _pdf_words(pdf: Path) -> set[str]:
    """Every word of the PDF, with a column name that wraps after an underscore joined again: a
    header is right-aligned, so its next line is the word just below with the same right edge."""
    xhtml = subprocess.run(
        ["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    box = r'xMin="[\d.]+" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)<'
    words = [
        (page, float(x1), float(top), float(bottom), html.unescape(text))
        for page, body in enumerate(xhtml.split("<page "))
        for top, x1, bottom, text in re.findall(box, body)
    ]
    out = {w[4] for w in words}
    for page, right, _, bottom, text in words:
        while text.endswith("_"):
            below = [w for w in words if w[0] == page and abs(w[1] - right) < 0.5 and 0 <= w[2] - bottom < 3]
            if not below:
                break
            _, right, _, bottom, rest = below[0]
            text += rest
        out.add(text)
    return out


def test_without_chromium_the_pdf_is_skipped_in_one_line(tmp_path: Path, monkeypatch, report) -> None:
    monkeypatch.setenv("STUDY_CHROMIUM", str(tmp_path / "no-chromium"))
    root = report.out_dir.parent
    options = analysis.CompareOptions(statistics=analysis.Options(n_boot=0))
    result = analysis.write_report(
        root / "responses.csv", root / "set", tmp_path / "o", [root / "predictions.csv"], options=options
    )
    assert result.pdf is None and not (tmp_path / "o" / "report.pdf").exists()
    assert result.notes == [analysis.report.PDF_SKIPPED] and "PDF skipped" in result.report.read_text()
