"""Contact sheet of a stimulus set: the class legend, then a sample of stimuli per condition."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .stimulus_set import load_stimulus_set, read_png

CELL = 64
PAD = 4
LABEL_H = 22


def _tile(img: np.ndarray) -> Image.Image:
    a = np.round(np.clip(img, 0, 1) * 255).astype(np.uint8)
    if a.shape[2] == 1:
        a = np.repeat(a, 3, axis=2)
    return Image.fromarray(a, "RGB").resize((CELL, CELL), Image.Resampling.NEAREST)


def contact_sheet(
    set_dir: str | Path, out: str | Path, *, per_condition: int = 16, seed: int = 0, columns: int = 16
) -> Path:
    """Write a PNG contact sheet; stimuli per condition are a seeded random sample (catch trials separate)."""
    ss = load_stimulus_set(set_dir)
    if per_condition < 1 or columns < 1:
        raise ValueError("per_condition and columns must be >= 1")
    m = ss.manifest
    rng = np.random.default_rng(seed)
    sections: list[tuple[str, list[tuple[Image.Image, str]]]] = [
        ("legend (class id)", [(_tile(read_png(ss.legend_path(c.id))), str(c.id)) for c in ss.classes])
    ]
    main = m[~m["catch"]]
    sigma = main.groupby("condition").sigma.max().fillna(0.0)
    # manifest rows are shuffled, so order the sections: per family regular first, then by noise sigma, name
    kinds = sorted(
        main[["family", "condition"]].drop_duplicates().itertuples(index=False),
        key=lambda fc: (fc[0], fc[1] != "regular", sigma[fc[1]], fc[1]),
    )
    groups = [(f"{cond}" + (f" ({fam})" if fam else ""), main[main.condition == cond]) for fam, cond in kinds]
    groups.append(("catch trials", m[m["catch"]]))
    for title, df in groups:
        if df.empty:
            continue
        pick = df.iloc[np.sort(rng.choice(len(df), size=min(per_condition, len(df)), replace=False))]
        sections.append(
            (
                f"{title}: {min(per_condition, len(df))} of {len(df)}",
                [(_tile(ss.image(r.stimulus_id)), str(r.label)) for r in pick.itertuples()],
            )
        )
    step = CELL + PAD
    cols = max(1, min(columns, max(len(t) for _, t in sections)))
    height = sum(LABEL_H + ((len(t) + cols - 1) // cols) * (step + 12) for _, t in sections) + PAD
    sheet = Image.new("RGB", (cols * step + PAD, height), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=14)
    small = ImageFont.load_default(size=10)
    y = PAD
    for title, tiles in sections:
        draw.text((PAD, y + 2), title, fill=(0, 0, 0), font=font)
        y += LABEL_H
        for k, (tile, caption) in enumerate(tiles):
            r, c = divmod(k, cols)
            x0, y0 = PAD + c * step, y + r * (step + 12)
            sheet.paste(tile, (x0, y0))
            draw.text((x0, y0 + CELL), caption, fill=(60, 60, 60), font=small)
        y += ((len(tiles) + cols - 1) // cols) * (step + 12)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out, format="PNG")
    return out
