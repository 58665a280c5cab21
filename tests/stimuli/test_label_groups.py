"""Label groups in stimulus_set.json, and the validator's refusal of repeated (source_id, condition) pairs."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

import stimuli
from stimuli.classes import gtsrb_classes
from stimuli.stimulus_set import compute_content_hash  # re-hash after a deliberate edit

CLASSES = [stimuli.ClassInfo(i, f"class {i}") for i in range(4)]


def _write(out, rows, **kw):
    imgs = [np.full((4, 4, 3), 0.1 * k, dtype=np.float32) for k in range(len(rows))]
    legend = {c.id: np.zeros((4, 4, 3), dtype=np.float32) for c in CLASSES}
    return stimuli.write_stimulus_set(
        out, rows, imgs, CLASSES, legend, name="t", seed=0, source="synthetic", progress=False, **kw
    )


def _row(source, condition, label=0, catch=False):
    return {"source_id": source, "label": label, "family": "fri", "condition": condition, "catch": catch}


def test_gtsrb_superclasses_are_stallkamps_six_groups():
    groups = {
        g["name"]: g["classes"]
        for g in stimuli.load_label_groups("gtsrb_superclasses", gtsrb_classes())["groups"]
    }
    # Stallkamp et al. 2012, section 2.1: the GTSRB superclasses
    assert groups == {
        "speed limits": [0, 1, 2, 3, 4, 5, 7, 8],
        "derestriction": [6, 32, 41, 42],
        "other prohibitory": [9, 10, 15, 16],
        "danger": [11, *range(18, 32)],
        "unique": [12, 13, 14, 17],
        "mandatory": list(range(33, 41)),
    }


def test_mapping_file_groups_and_errors(tmp_path):
    path = tmp_path / "map.csv"
    path.write_text("class_id,group\n0,animal\n1,animal\n2,vehicle\n3,vehicle\n")
    g = stimuli.load_label_groups(str(path), CLASSES)
    assert g == {
        "name": "map",
        "groups": [
            {"id": 0, "name": "animal", "classes": [0, 1]},
            {"id": 1, "name": "vehicle", "classes": [2, 3]},
        ],
    }
    assert stimuli.class_to_group(g) == {0: 0, 1: 0, 2: 1, 3: 1}
    path.write_text("class_id,group\n0,animal\n1,animal\n2,vehicle\n")
    with pytest.raises(stimuli.StimulusSetError, match=r"do not place classes \[3\]"):
        stimuli.load_label_groups(str(path), CLASSES)
    with pytest.raises(stimuli.StimulusSetError, match="neither a built-in"):
        stimuli.load_label_groups(str(tmp_path / "nope.csv"), CLASSES)


def test_declared_groups_round_trip_and_are_validated(tmp_path):
    groups = {
        "name": "g",
        "groups": [{"id": 0, "name": "a", "classes": [0, 1]}, {"id": 1, "name": "b", "classes": [2, 3]}],
    }
    out = _write(tmp_path / "s", [_row("s1", "fri"), _row("s1", "fri_partner")], label_groups=groups)
    assert stimuli.validate_stimulus_set(out) == []
    assert stimuli.load_stimulus_set(out).meta["label_groups"] == groups
    # a class in two groups is reported (the hash is recomputed so only the grouping is wrong)
    meta = json.loads((out / "stimulus_set.json").read_text())
    meta["label_groups"]["groups"][1]["classes"] = [1, 2, 3]
    ids = [r["stimulus_id"] for r in csv.DictReader((out / "manifest.csv").read_text().splitlines())]
    meta["content_hash"] = compute_content_hash(out, meta, ids, [0, 1, 2, 3])
    (out / "stimulus_set.json").write_text(json.dumps(meta))
    assert stimuli.validate_stimulus_set(out) == [
        "stimulus_set.json: label_groups: class 1 lies in groups 0 and 1"
    ]
    with pytest.raises(ValueError, match="lie in no group"):
        _write(
            tmp_path / "t",
            [_row("s1", "fri")],
            label_groups={
                "name": "g",
                "groups": [*groups["groups"][:1], {"id": 1, "name": "b", "classes": [2]}],
            },
        )


def test_repeated_source_and_condition_is_refused_with_a_clear_message(tmp_path):
    with pytest.raises(
        ValueError, match=r"source_id 's1' has more than one non-catch stimulus in condition 'fri'"
    ):
        _write(tmp_path / "w", [_row("s1", "fri"), _row("s1", "fri"), _row("s1", "fri_partner")])
    assert not (tmp_path / "w").exists()
    # catch trials may share a source and condition (they go into every list anyway)
    assert stimuli.validate_stimulus_set(_write(tmp_path / "c", [_row("c", "regular", catch=True)] * 2)) == []
    # a set written before this check (rows edited on disk) is refused by the validator too
    out = _write(tmp_path / "v", [_row("s1", "fri"), _row("s2", "fri")])
    text = (out / "manifest.csv").read_text().replace(",s2,", ",s1,")
    (out / "manifest.csv").write_text(text)
    problems = stimuli.validate_stimulus_set(out)
    assert any(
        "source_id 's1' has more than one non-catch stimulus in condition 'fri'" in p for p in problems
    )
