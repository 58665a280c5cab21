"""The stimulus-set contract: write, hash, validate and load a stimulus-set directory.

Layout: manifest.csv, stimulus_set.json, images/<stimulus_id>.png, legend/<class_id>.png.

Ids and row order: every stimulus id is 128 bits from the OS's cryptographic source (`secrets`), never
from the build seed, and rows are written in a cryptographically shuffled order. A participant sees ids in
image URLs, so an id must predict nothing (condition, class, catch status, other sets' ids), even to a
reader of this code; the seed decides only the pixels: two builds with one seed hold the same images under
different ids.

Content hash (hex sha256), in this defined order, each entry fed as `relpath NUL sha256(bytes)`:
  1. "stimulus_set.json" -> its canonical JSON (sort_keys, compact) *without* the content_hash key,
  2. "manifest.csv",
  3. every images/<stimulus_id>.png in manifest row order,
  4. every legend/<class_id>.png in ascending class id order,
  5. only when the set has practice images: "practice/practice.csv", then every practice/<image_id>.png
     in its row order.

Practice images (optional): held-out images of the same source, in no manifest row and never a legend
image, for the participants' practice trials. practice/practice.csv has the columns image_id (random,
like stimulus ids) and label.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import re
import secrets
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from tqdm import tqdm

from .classes import ClassInfo
from .errors import StimulusSetError
from .label_groups import check_label_groups

GENERATOR_VERSION = "stimuli 0.1.0"
MANIFEST_COLUMNS: tuple[str, ...] = (
    "stimulus_id",
    "source_id",
    "label",
    "label_name",
    "family",
    "condition",
    "sigma",
    "psnr",
    "pair_id",
    "fri_kind",
    "region_size",
    "x",
    "y",
    "side",
    "model",
    "catch",
)
FAMILIES = frozenset({"negative", "noise", "fri", "fooling", "regular"})
META_KEYS = ("name", "classes", "generator_version", "seed", "source", "params", "content_hash")
OPTIONAL_META_KEYS = ("label_groups",)  # see stimuli/label_groups.py
ID_BYTES = 16  # 128 random bits: unguessable, and unique across every set ever built
ID_RE = re.compile(rf"^[0-9a-f]{{{2 * ID_BYTES}}}$")
_INT_COLUMNS = ("label", "region_size", "x", "y")
_FLOAT_COLUMNS = ("sigma", "psnr")
# chunks a plain image needs; anything else (tEXt, zTXt, iTXt, tIME, eXIf, ...) may carry metadata
ALLOWED_PNG_CHUNKS = frozenset({b"IHDR", b"PLTE", b"IDAT", b"IEND"})
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PRACTICE_CSV = "practice/practice.csv"


def read_practice(root: str | Path) -> list[tuple[str, int]]:
    """(image_id, label) of a set's practice images, in file order; [] when the set has none."""
    path = Path(root) / PRACTICE_CSV
    if not path.is_file():
        return []
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    if not rows or rows[0] != ["image_id", "label"]:
        raise StimulusSetError(f"{PRACTICE_CSV}: the header must be image_id,label")
    out = []
    for r in rows[1:]:
        if len(r) != 2 or not ID_RE.match(r[0]) or not r[1].lstrip("-").isdigit():
            raise StimulusSetError(f"{PRACTICE_CSV}: bad row {r!r}")
        out.append((r[0], int(r[1])))
    return out


def _practice_files(items: Sequence[tuple[str, int]]) -> list[str]:
    return [f"practice/{image_id}.png" for image_id, _ in items]


def to_uint8(img: np.ndarray) -> np.ndarray:
    """Float [0,1] image to uint8 by rounding (the quantisation every written PNG goes through)."""
    a = np.asarray(img, dtype=np.float64)
    if a.size and (not np.isfinite(a).all() or a.min() < 0 or a.max() > 1):
        raise ValueError("image values must be finite and in [0, 1]")
    return np.round(a * 255.0).astype(np.uint8)


def png_bytes(img: np.ndarray) -> bytes:
    """Encode a float [0,1] HxWxC (C in 1, 3) image as a PNG with no metadata chunks."""
    arr = to_uint8(img)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim == 2:
        pil = Image.fromarray(arr, "L")
    elif arr.ndim == 3 and arr.shape[2] == 3:
        pil = Image.fromarray(arr, "RGB")
    else:
        raise ValueError(f"image must be HxW, HxWx1 or HxWx3, got shape {arr.shape}")
    buf = io.BytesIO()
    pil.save(buf, format="PNG", compress_level=6)  # no pnginfo, no dpi: only IHDR/IDAT/IEND
    return buf.getvalue()


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """Parse a PNG into (type, payload) chunks, checking signature and CRCs."""
    if not data.startswith(PNG_SIGNATURE):
        raise ValueError("not a PNG file")
    pos, out = len(PNG_SIGNATURE), []
    while pos < len(data):
        if pos + 8 > len(data):
            raise ValueError("truncated PNG chunk header")
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        ctype = data[pos + 4 : pos + 8]
        payload = data[pos + 8 : pos + 8 + length]
        crc_bytes = data[pos + 8 + length : pos + 12 + length]
        if len(payload) != length or len(crc_bytes) != 4:
            raise ValueError("truncated PNG chunk")
        if zlib.crc32(ctype + payload) != struct.unpack(">I", crc_bytes)[0]:
            raise ValueError(f"bad CRC in PNG chunk {ctype!r}")
        out.append((ctype, payload))
        pos += 12 + length
        if ctype == b"IEND":
            break
    if pos != len(data):
        raise ValueError("data after IEND")
    return out


def read_png(path: str | Path) -> np.ndarray:
    """A PNG as float32 HxWxC in [0, 1] (C = 1 for gray-mode files, else 3)."""
    with Image.open(path) as im:
        im.load()
        if im.mode in ("L", "I", "I;16"):
            arr = np.asarray(im.convert("L"), dtype=np.float32)[:, :, None]
        else:
            arr = np.asarray(im.convert("RGB"), dtype=np.float32)
    return arr / 255.0


def _fmt(value: object) -> str:
    """Manifest cell text: empty for missing, true/false for bools, shortest repr for numbers."""
    if value is None:
        return ""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, float | np.floating):
        v = float(value)
        if math.isnan(v):
            return ""
        if math.isinf(v):
            raise ValueError("manifest numbers must be finite (leave psnr empty for an unchanged image)")
        return str(int(v)) if v.is_integer() and abs(v) < 1e15 else repr(round(v, 6))
    if isinstance(value, int | np.integer):
        return str(int(value))
    return str(value)


def _sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _meta_bytes(meta: dict) -> bytes:
    core = {k: v for k, v in meta.items() if k != "content_hash"}
    return json.dumps(core, sort_keys=True, separators=(",", ":")).encode()


def compute_content_hash(
    root: Path, meta: dict, stimulus_ids: Sequence[str], class_ids: Sequence[int]
) -> str:
    """The content hash defined in the module docstring (raises FileNotFoundError for a missing file)."""
    h = hashlib.sha256()
    entries = [
        ("stimulus_set.json", _sha(_meta_bytes(meta))),
        ("manifest.csv", _sha((root / "manifest.csv").read_bytes())),
    ]
    entries += [
        (f"images/{sid}.png", _sha((root / "images" / f"{sid}.png").read_bytes())) for sid in stimulus_ids
    ]
    entries += [
        (f"legend/{cid}.png", _sha((root / "legend" / f"{cid}.png").read_bytes()))
        for cid in sorted(class_ids)
    ]
    if (root / PRACTICE_CSV).is_file():
        entries.append((PRACTICE_CSV, _sha((root / PRACTICE_CSV).read_bytes())))
        entries += [(rel, _sha((root / rel).read_bytes())) for rel in _practice_files(read_practice(root))]
    for rel, digest in entries:
        h.update(rel.encode() + b"\0" + digest)
    return h.hexdigest()


def new_ids(n: int, nbytes: int = ID_BYTES) -> list[str]:
    """n distinct random hex ids of nbytes each, from `secrets` (the OS's cryptographic source).

    Deliberately unseeded: a seeded generator lets anyone holding the public code and a guessed seed
    recompute every id and thus each trial's row (condition, class, catch status); see the module docstring.
    """
    ids: list[str] = []
    seen: set[str] = set()
    while len(ids) < n:
        sid = secrets.token_hex(nbytes)
        if sid not in seen:
            seen.add(sid)
            ids.append(sid)
    return ids


def write_stimulus_set(
    out_dir: str | Path,
    rows: list[dict],
    images: list[np.ndarray],
    classes: list[ClassInfo],
    legend: dict[int, np.ndarray],
    *,
    name: str,
    seed: int,
    source: str,
    params: dict | None = None,
    label_groups: dict | None = None,
    progress: bool = True,
    practice: Sequence[tuple[np.ndarray, int]] = (),
) -> Path:
    """Write a stimulus set; rows carry every manifest field except stimulus_id, which is assigned here.
    `practice`: optional (image, label) pairs of held-out images for practice trials (see the module doc).

    Rows may come in any order (e.g. source x condition): they are written, images included, in a
    cryptographically shuffled order under fresh random ids, so neither a row's position nor its id tells
    its condition, class or catch status. `seed` is recorded in stimulus_set.json; it plays no part here.
    `label_groups` (stimuli.label_groups) declares the supercategories people answer among.
    The output directory must not exist or be empty, so a set never mixes with stale files.
    """
    out = Path(out_dir)
    if len(rows) != len(images):
        raise ValueError(f"{len(rows)} rows but {len(images)} images")
    if not rows:
        raise ValueError("a stimulus set needs at least one stimulus")
    class_ids = [c.id for c in classes]
    if len(set(class_ids)) != len(class_ids):
        raise ValueError("class ids must be unique")
    if set(legend) != set(class_ids):
        raise ValueError(
            f"legend must have exactly one image per class id; missing {sorted(set(class_ids) - set(legend))}"
        )
    names = {c.id: c.name for c in classes}
    fields = set().union(*(set(r) for r in rows))
    if "stimulus_id" in fields:
        raise ValueError("rows must not carry stimulus_id; it is assigned by write_stimulus_set")
    unknown = fields - set(MANIFEST_COLUMNS)
    if unknown:
        raise ValueError(f"unknown manifest fields {sorted(unknown)}")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValueError(f"output directory {out} exists and is not empty")
    if label_groups is not None and (bad := check_label_groups(label_groups, class_ids)):
        raise ValueError("; ".join(bad))
    repeated = _repeated_pairs(rows)
    if repeated:
        raise ValueError(_repeated_message(repeated))
    order = list(range(len(rows)))
    secrets.SystemRandom().shuffle(order)  # uniform, and unpredictable from the code, the seed or the rows
    rows = [rows[k] for k in order]
    images = [images[k] for k in order]  # written in this order too, so not even file times follow the input
    ids = new_ids(len(rows))
    table = []
    for sid, row in zip(ids, rows, strict=True):
        label = int(row["label"])
        if label not in names:
            raise ValueError(f"row label {label} is not a class id")
        full = {c: row.get(c) for c in MANIFEST_COLUMNS}
        full.update(
            stimulus_id=sid,
            label=label,
            label_name=row.get("label_name") or names[label],
            catch=bool(row.get("catch", False)),
        )
        if full["family"] not in FAMILIES:
            raise ValueError(f"family must be one of {sorted(FAMILIES)}, got {full['family']!r}")
        if not full["condition"]:
            raise ValueError("every row needs a condition")
        table.append([_fmt(full[c]) for c in MANIFEST_COLUMNS])
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "legend").mkdir(exist_ok=True)
    for sid, img in tqdm(
        list(zip(ids, images, strict=True)),
        desc="writing images",
        unit="img",
        disable=not progress,
        leave=False,
    ):
        (out / "images" / f"{sid}.png").write_bytes(png_bytes(img))
    for cid in sorted(class_ids):
        (out / "legend" / f"{cid}.png").write_bytes(png_bytes(legend[cid]))
    if practice:
        (out / "practice").mkdir()
        practice_ids = new_ids(len(practice))
        lines = ["image_id,label"]
        for pid, (img, label) in zip(practice_ids, practice, strict=True):
            if int(label) not in names:
                raise ValueError(f"practice label {label} is not a class id")
            (out / "practice" / f"{pid}.png").write_bytes(png_bytes(img))
            lines.append(f"{pid},{int(label)}")
        (out / PRACTICE_CSV).write_text("\n".join(lines) + "\n", encoding="utf-8")
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(MANIFEST_COLUMNS)
    writer.writerows(table)
    (out / "manifest.csv").write_bytes(buf.getvalue().encode("utf-8"))
    meta = {
        "name": str(name),
        "classes": [{"id": c.id, "name": c.name, "legend": f"legend/{c.id}.png"} for c in classes],
        "generator_version": GENERATOR_VERSION,
        "seed": int(seed),
        "source": str(source),
        "params": dict(params or {}),
    }
    if label_groups is not None:
        meta["label_groups"] = label_groups
    meta["content_hash"] = compute_content_hash(out, meta, ids, class_ids)
    (out / "stimulus_set.json").write_text(
        json.dumps(meta, indent=2, sort_keys=False) + "\n", encoding="utf-8"
    )
    return out


# ---- validation -------------------------------------------------------------------------------------------


def _repeated_pairs(rows: Sequence[dict]) -> list[tuple[str, str]]:
    """(source_id, condition) pairs that more than one non-catch row carries.

    Trial lists show each source at most once per participant and one stimulus per (source, condition)
    (study_server.lists), so a repeated pair would leave all but one of its stimuli unseen.
    """
    seen: set[tuple[str, str]] = set()
    repeated: list[tuple[str, str]] = []
    for r in rows:
        if str(r.get("catch", "")).lower() in ("true", "1"):
            continue
        key = (str(r.get("source_id", "")), str(r.get("condition", "")))
        if key in seen and key not in repeated:
            repeated.append(key)
        seen.add(key)
    return repeated


def _repeated_message(repeated: list[tuple[str, str]]) -> str:
    src, cond = repeated[0]
    more = f" (and {len(repeated) - 1} more)" if len(repeated) > 1 else ""
    return (
        f"manifest.csv: source_id {src!r} has more than one non-catch stimulus in condition {cond!r}{more}; "
        "participants would see only one of them: give each variant (e.g. each FRI pair) its own source_id"
    )


def _check_meta(meta: object) -> list[str]:
    problems = []
    if not isinstance(meta, dict):
        return ["stimulus_set.json: top level must be a JSON object"]
    for key in META_KEYS:
        if key not in meta:
            problems.append(f"stimulus_set.json: missing key {key!r}")
    extra = set(meta) - set(META_KEYS) - set(OPTIONAL_META_KEYS)
    if extra:
        problems.append(f"stimulus_set.json: unexpected keys {sorted(extra)}")
    classes = meta.get("classes")
    if not isinstance(classes, list) or not classes:
        problems.append("stimulus_set.json: 'classes' must be a non-empty list")
        return problems
    for k, c in enumerate(classes):
        if (
            not isinstance(c, dict)
            or not isinstance(c.get("id"), int)
            or isinstance(c.get("id"), bool)
            or not isinstance(c.get("name"), str)
            or c.get("legend") != f"legend/{c.get('id')}.png"
        ):
            problems.append(
                f"stimulus_set.json: class entry {k} must be {{id: int, name: str, "
                f"legend: 'legend/<id>.png'}}"
            )
    ids = [c.get("id") for c in classes if isinstance(c, dict)]
    if len(set(map(str, ids))) != len(ids):
        problems.append("stimulus_set.json: class ids are not unique")
    if not isinstance(meta.get("seed"), int):
        problems.append("stimulus_set.json: 'seed' must be an integer")
    if "label_groups" in meta:
        problems += check_label_groups(meta["label_groups"], [i for i in ids if isinstance(i, int)])
    if not isinstance(meta.get("content_hash", ""), str):
        problems.append("stimulus_set.json: 'content_hash' must be a string")
    return problems


def _check_manifest(rows: list[list[str]], class_names: dict[int, str]) -> list[str]:
    problems: list[str] = []
    if not rows or tuple(rows[0]) != MANIFEST_COLUMNS:
        return [f"manifest.csv: header must be exactly {','.join(MANIFEST_COLUMNS)}"]
    seen: set[str] = set()
    for n, values in enumerate(rows[1:], start=2):
        if len(values) != len(MANIFEST_COLUMNS):
            problems.append(f"manifest.csv line {n}: {len(values)} fields, expected {len(MANIFEST_COLUMNS)}")
            continue
        r = dict(zip(MANIFEST_COLUMNS, values, strict=True))
        sid = r["stimulus_id"]
        if not ID_RE.fullmatch(sid):
            problems.append(
                f"manifest.csv line {n}: stimulus_id {sid!r} is not {2 * ID_BYTES} lowercase hex characters "
                "(old sets with seeded 16-character ids are predictable: rebuild them)"
            )
        if sid in seen:
            problems.append(f"manifest.csv line {n}: duplicate stimulus_id {sid}")
        seen.add(sid)
        for col in _INT_COLUMNS:
            if (r[col] or col == "label") and not re.fullmatch(r"-?\d+", r[col]):
                problems.append(f"manifest.csv line {n}: {col} {r[col]!r} is not an integer")
        for col in _FLOAT_COLUMNS:
            if r[col]:
                try:
                    if not math.isfinite(float(r[col])):
                        raise ValueError
                except ValueError:
                    problems.append(f"manifest.csv line {n}: {col} {r[col]!r} is not a finite number")
        if re.fullmatch(r"-?\d+", r["label"]):
            label = int(r["label"])
            if label not in class_names:
                problems.append(f"manifest.csv line {n}: label {label} is not a class in stimulus_set.json")
            elif r["label_name"] != class_names[label]:
                problems.append(
                    f"manifest.csv line {n}: label_name {r['label_name']!r} does not match class "
                    f"{label} ({class_names[label]!r})"
                )
        if r["family"] not in FAMILIES:
            problems.append(f"manifest.csv line {n}: family {r['family']!r} not in {sorted(FAMILIES)}")
        if not r["condition"]:
            problems.append(f"manifest.csv line {n}: empty condition")
        if not r["source_id"]:
            problems.append(f"manifest.csv line {n}: empty source_id")
        if r["catch"] not in ("true", "false"):
            problems.append(f"manifest.csv line {n}: catch {r['catch']!r} must be true or false")
    body = [dict(zip(MANIFEST_COLUMNS, v, strict=True)) for v in rows[1:] if len(v) == len(MANIFEST_COLUMNS)]
    repeated = _repeated_pairs(body)
    if repeated:
        problems.append(_repeated_message(repeated))
    return problems


def _leaky_words(class_names: dict[int, str], conditions: set[str]) -> set[str]:
    """Lower-case words that must never appear in a participant-visible file name."""
    words: set[str] = set()
    for name in class_names.values():
        words.update(w for w in re.findall(r"[a-z]+", name.lower()) if len(w) >= 4)
    words.update(c.lower() for c in conditions if c)
    return words


def validate_stimulus_set(path: str | Path) -> list[str]:
    """Every problem with a stimulus set, one line each; an empty list means it is valid."""
    root = Path(path)
    if not root.is_dir():
        return [f"{root}: not a directory"]
    problems: list[str] = []
    meta_path, manifest_path = root / "stimulus_set.json", root / "manifest.csv"
    meta: dict = {}
    if not meta_path.is_file():
        problems.append("missing file: stimulus_set.json")
    else:
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            problems.append(f"stimulus_set.json: not valid JSON ({exc})")
            meta = {}
        else:
            problems += _check_meta(meta)
    rows: list[list[str]] = []
    if not manifest_path.is_file():
        problems.append("missing file: manifest.csv")
    else:
        try:
            rows = list(csv.reader(io.StringIO(manifest_path.read_bytes().decode("utf-8"))))
        except (UnicodeDecodeError, csv.Error) as exc:
            problems.append(f"manifest.csv: unreadable ({exc})")
    classes = meta.get("classes") if isinstance(meta, dict) else None
    class_names = (
        {c["id"]: c["name"] for c in classes if isinstance(c, dict) and "id" in c and "name" in c}
        if isinstance(classes, list)
        else {}
    )
    if rows:
        problems += _check_manifest(rows, class_names)
    body = [dict(zip(MANIFEST_COLUMNS, r, strict=False)) for r in rows[1:]] if rows else []
    ids = [r.get("stimulus_id", "") for r in body]
    expected = {"stimulus_set.json", "manifest.csv"}
    expected |= {f"images/{sid}.png" for sid in ids}
    expected |= {f"legend/{cid}.png" for cid in class_names}
    try:
        practice = read_practice(root)
    except StimulusSetError as exc:
        problems.append(str(exc))
        practice = []
    if practice or (root / PRACTICE_CSV).is_file():
        expected |= {PRACTICE_CSV, *_practice_files(practice)}
        bad_labels = sorted({lb for _, lb in practice if lb not in class_names})
        problems += [f"{PRACTICE_CSV}: label {lb} is not a class id" for lb in bad_labels]
    present = set()
    for p in root.rglob("*"):
        rel = p.relative_to(root).as_posix()
        if p.is_dir():
            if rel not in ("images", "legend", "practice"):
                problems.append(f"extra directory: {rel}")
            continue
        present.add(rel)
    for rel in sorted(present - expected):
        problems.append(f"extra file: {rel}")
    for rel in sorted(expected - present):
        problems.append(f"missing file: {rel}")
    words = _leaky_words(class_names, {r.get("condition", "") for r in body})
    for rel in sorted(present & expected):
        if rel.startswith("images/"):
            stem = rel[len("images/") : -4].lower()
            leaked = sorted(w for w in words if w in stem)
            if leaked:
                problems.append(f"{rel}: file name contains label/condition text {leaked}")
        if rel.endswith(".png"):
            try:
                chunks = png_chunks((root / rel).read_bytes())
            except ValueError as exc:
                problems.append(f"{rel}: invalid PNG ({exc})")
                continue
            bad = sorted({c.decode("latin-1") for c, _ in chunks if c not in ALLOWED_PNG_CHUNKS})
            if bad:
                problems.append(f"{rel}: PNG carries metadata chunks {bad}")
    # the hash is checked whenever every file it covers exists, so a changed pixel or row is reported
    # alongside any other problem (with a missing file there is nothing meaningful to compare)
    if isinstance(meta, dict) and meta and rows and not any(p.startswith("missing file") for p in problems):
        try:
            digest = compute_content_hash(root, meta, ids, list(class_names))
        except (OSError, TypeError, ValueError, StimulusSetError):
            digest = None
        if digest != meta.get("content_hash"):
            problems.append(
                "content hash mismatch: a file or manifest row was changed after the set was written"
            )
    return problems


# ---- loading ----------------------------------------------------------------------------------------------


@dataclass
class StimulusSet:
    """A validated stimulus set on disk."""

    root: Path
    manifest: pd.DataFrame
    meta: dict
    classes: list[ClassInfo]

    @property
    def name(self) -> str:
        return str(self.meta["name"])

    def image_path(self, stimulus_id: str) -> Path:
        if stimulus_id not in self._ids:
            raise KeyError(f"unknown stimulus_id {stimulus_id!r}")
        return self.root / "images" / f"{stimulus_id}.png"

    def image(self, stimulus_id: str) -> np.ndarray:
        return read_png(self.image_path(stimulus_id))

    def legend_path(self, class_id: int) -> Path:
        if int(class_id) not in {c.id for c in self.classes}:
            raise KeyError(f"unknown class id {class_id!r}")
        return self.root / "legend" / f"{int(class_id)}.png"

    @property
    def _ids(self) -> set[str]:
        if not hasattr(self, "_id_cache"):
            self._id_cache = set(self.manifest["stimulus_id"])
        return self._id_cache


def read_manifest(path: str | Path) -> pd.DataFrame:
    """manifest.csv with typed columns: ints (nullable Int64), floats (NaN = empty), catch as bool."""
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    for col in _INT_COLUMNS:
        df[col] = pd.array([int(v) if v != "" else None for v in df[col]], dtype="Int64")
    df["label"] = df["label"].astype("int64")
    for col in _FLOAT_COLUMNS:
        df[col] = pd.to_numeric(df[col].replace("", np.nan), errors="raise").astype("float64")
    df["catch"] = df["catch"] == "true"
    return df


def load_stimulus_set(path: str | Path, *, validate: bool = True) -> StimulusSet:
    """Load (and by default fully validate) a stimulus set; raises StimulusSetError on any problem."""
    root = Path(path)
    if validate:
        problems = validate_stimulus_set(root)
        if problems:
            more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
            raise StimulusSetError(f"invalid stimulus set {root}: " + "; ".join(problems[:3]) + more)
    try:
        meta = json.loads((root / "stimulus_set.json").read_text(encoding="utf-8"))
        manifest = read_manifest(root / "manifest.csv")
        classes = [ClassInfo(int(c["id"]), str(c["name"])) for c in meta["classes"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise StimulusSetError(f"cannot read stimulus set {root}: {exc}") from exc
    return StimulusSet(root=root, manifest=manifest, meta=meta, classes=classes)
