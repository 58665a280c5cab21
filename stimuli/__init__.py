"""stimuli: image sources, pure image transforms, and the stimulus-set contract shared by every package.

Image convention everywhere: numpy float32, RGB, HWC, values in [0, 1] (MNIST gives one channel).
Python API (what `python -m stimuli` calls): `preset_config(preset, **overrides)` then
`build(config, out_dir)` writes a stimulus set and returns its directory; `validate_stimulus_set(dir)`
lists its problems (empty when valid); `load_stimulus_set(dir)` reads it; `contact_sheet(dir, out)`
draws a preview; `get_source(name, ...)` gives the images of a data set; `stimuli.transforms` holds the
pure image manipulations (negative, grayscale, gaussian_noise + psnr, ...); `new_ids` and `png_bytes`
are how a package that writes its own stimuli (FRI pairs, fooling images) names and encodes them.

Stimulus ids are 128 random bits from `secrets` and manifest rows are shuffled the same way, never seeded:
participants see ids in image URLs, so ids and row order must tell nothing, even to readers of this code.
"""

from . import transforms
from .base import ImageSource
from .builder import AGHDAM_SIGMAS, PRESETS, BuildConfig, build, n_catch, preset_config
from .classes import ClassInfo
from .errors import DataSourceError, StimulusSetError
from .label_groups import class_to_group, load_label_groups
from .preview import contact_sheet
from .sources import get_source
from .stimulus_set import (
    MANIFEST_COLUMNS,
    StimulusSet,
    load_stimulus_set,
    new_ids,
    png_bytes,
    read_manifest,
    read_png,
    read_practice,
    validate_stimulus_set,
    write_stimulus_set,
)

__all__ = [
    "AGHDAM_SIGMAS",
    "MANIFEST_COLUMNS",
    "PRESETS",
    "BuildConfig",
    "ClassInfo",
    "DataSourceError",
    "ImageSource",
    "StimulusSet",
    "StimulusSetError",
    "build",
    "class_to_group",
    "contact_sheet",
    "get_source",
    "load_label_groups",
    "load_stimulus_set",
    "n_catch",
    "new_ids",
    "png_bytes",
    "preset_config",
    "read_manifest",
    "read_png",
    "read_practice",
    "transforms",
    "validate_stimulus_set",
    "write_stimulus_set",
]
