"""stimuli: image sources, pure image transforms, and the stimulus-set contract shared by every package.

Image convention everywhere: numpy float32, RGB, HWC, values in [0, 1] (MNIST gives one channel).
Stimulus ids are 128 random bits from `secrets` and manifest rows are shuffled the same way, never seeded:
participants see ids in image URLs, so ids and row order must tell nothing, even to readers of this code.
"""

from .base import ImageSource
from .classes import ClassInfo
from .errors import DataSourceError, StimulusSetError
from .label_groups import class_to_group, load_label_groups
from .sources import get_source
from .stimulus_set import (
    MANIFEST_COLUMNS,
    StimulusSet,
    load_stimulus_set,
    read_png,
    read_practice,
    validate_stimulus_set,
    write_stimulus_set,
)

__all__ = [
    "MANIFEST_COLUMNS",
    "ClassInfo",
    "DataSourceError",
    "ImageSource",
    "StimulusSet",
    "StimulusSetError",
    "class_to_group",
    "get_source",
    "load_label_groups",
    "load_stimulus_set",
    "read_png",
    "read_practice",
    "validate_stimulus_set",
    "write_stimulus_set",
]
