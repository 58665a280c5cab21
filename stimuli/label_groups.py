"""Label groups (supercategories): a partition of a set's classes that people answer among.

Srivastava et al. 2019 let their participants answer among 10 ImageNet supercategories rather than 1000
classes; for GTSRB the usual grouping is the six superclasses of Stallkamp et al. 2012 (Neural Networks 32,
"Man vs. computer", Fig. 4 / section 2.1): speed limits, other prohibitory, derestriction, mandatory,
danger and unique signs (stimuli/data/gtsrb_superclasses.csv). Any other source takes a mapping file.

In ``stimulus_set.json`` the grouping is the optional key ``label_groups``::

    {"name": "gtsrb_superclasses",
     "groups": [{"id": 0, "name": "speed limits", "classes": [0, 1, 2, 3, 4, 5, 7, 8]}, ...]}

Every class of the set lies in exactly one group; group ids are 0..G-1 in the mapping's order of first
appearance. A mapping file is a CSV with the columns ``class_id,group`` (group = the group's name).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from .classes import ClassInfo
from .errors import StimulusSetError

BUILTIN_GROUPINGS = {"gtsrb_superclasses": "data/gtsrb_superclasses.csv"}


def _parse_mapping(text: str, where: str) -> dict[int, str]:
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or not {"class_id", "group"} <= set(reader.fieldnames):
        raise StimulusSetError(f"label-group mapping {where} needs the columns class_id,group")
    mapping: dict[int, str] = {}
    for n, row in enumerate(reader, start=2):
        try:
            cid = int(str(row["class_id"]).strip())
        except ValueError:
            raise StimulusSetError(
                f"{where} line {n}: class_id {row['class_id']!r} is not an integer"
            ) from None
        name = str(row["group"] or "").strip()
        if not name:
            raise StimulusSetError(f"{where} line {n}: empty group name")
        if cid in mapping:
            raise StimulusSetError(f"{where} line {n}: class {cid} is listed twice")
        mapping[cid] = name
    return mapping


def label_groups_from_mapping(mapping: dict[int, str], classes: Sequence[ClassInfo], name: str) -> dict:
    """The ``label_groups`` entry for ``classes`` from a class id -> group name mapping (checked)."""
    ids = [c.id for c in classes]
    missing = sorted(set(ids) - set(mapping))
    if missing:
        raise StimulusSetError(f"label groups {name!r} do not place classes {missing[:10]}")
    unknown = sorted(set(mapping) - set(ids))
    if unknown:
        raise StimulusSetError(f"label groups {name!r} name classes {unknown[:10]} the source does not have")
    order: list[str] = []
    for cid in sorted(mapping):
        if mapping[cid] not in order:
            order.append(mapping[cid])
    if len(order) < 2:
        raise StimulusSetError(f"label groups {name!r} must have at least two groups")
    groups = [
        {"id": k, "name": g, "classes": sorted(c for c in ids if mapping[c] == g)}
        for k, g in enumerate(order)
    ]
    return {"name": name, "groups": groups}


def load_label_groups(spec: str, classes: Sequence[ClassInfo]) -> dict:
    """A built-in grouping by name (``gtsrb_superclasses``) or a user's mapping CSV by path."""
    if spec in BUILTIN_GROUPINGS:
        text = resources.files("stimuli").joinpath(BUILTIN_GROUPINGS[spec]).read_text(encoding="utf-8")
        return label_groups_from_mapping(_parse_mapping(text, spec), classes, spec)
    path = Path(spec)
    if not path.is_file():
        raise StimulusSetError(
            f"label groups {spec!r}: neither a built-in grouping ({', '.join(BUILTIN_GROUPINGS)}) "
            "nor a mapping file"
        )
    return label_groups_from_mapping(
        _parse_mapping(path.read_text(encoding="utf-8"), str(path)), classes, path.stem
    )


def check_label_groups(value: Any, class_ids: Sequence[int]) -> list[str]:
    """Problems with a ``label_groups`` entry of stimulus_set.json (empty list: valid)."""
    where = "stimulus_set.json: label_groups"
    if (
        not isinstance(value, dict)
        or not isinstance(value.get("name"), str)
        or not isinstance(value.get("groups"), list)
    ):
        return [f"{where} must be {{name: str, groups: [...]}}"]
    problems: list[str] = []
    seen: dict[int, int] = {}
    names: set[str] = set()
    groups = value["groups"]
    for k, g in enumerate(groups):
        ok = (
            isinstance(g, dict)
            and g.get("id") == k
            and isinstance(g.get("name"), str)
            and g["name"].strip()
            and isinstance(g.get("classes"), list)
            and all(isinstance(c, int) and not isinstance(c, bool) for c in g["classes"])
        )
        if not ok:
            problems.append(f"{where}: group {k} must be {{id: {k}, name: str, classes: [int, ...]}}")
            continue
        if g["name"] in names:
            problems.append(f"{where}: group name {g['name']!r} is used twice")
        names.add(g["name"])
        for c in g["classes"]:
            if c in seen:
                problems.append(f"{where}: class {c} lies in groups {seen[c]} and {k}")
            seen[c] = k
    if len(groups) < 2:
        problems.append(f"{where}: needs at least two groups")
    if not problems:
        missing, extra = sorted(set(class_ids) - set(seen)), sorted(set(seen) - set(class_ids))
        if missing:
            problems.append(f"{where}: classes {missing[:10]} lie in no group")
        if extra:
            problems.append(f"{where}: classes {extra[:10]} are not classes of the set")
    return problems


def class_to_group(label_groups: dict) -> dict[int, int]:
    """class id -> group id of a (valid) ``label_groups`` entry."""
    return {int(c): int(g["id"]) for g in label_groups["groups"] for c in g["classes"]}
