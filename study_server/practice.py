"""A study's practice images: the stimulus set's held-out practice images (`stimuli.read_practice`).

Never the legend icons and never a study stimulus, so practice teaches the task without showing
anyone an answer. A set built without practice images gives no practice trials (the importer says so).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path


@dataclass(frozen=True)
class PracticeImage:
    image_id: str
    """Random like a stimulus id; the file is practice/<image_id>.png."""
    label: int


def practice_images(stimulus_dir: str) -> list[PracticeImage]:
    """The set's practice images (cached per file version); [] for a set without any."""
    path = Path(stimulus_dir) / "practice" / "practice.csv"
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        return []
    return list(_read(str(path.parent.parent), stamp))


@lru_cache(maxsize=64)
def _read(root: str, _stamp: int) -> tuple[PracticeImage, ...]:
    import stimuli

    return tuple(PracticeImage(image_id, label) for image_id, label in stimuli.read_practice(root))
