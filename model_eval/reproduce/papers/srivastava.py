"""Srivastava, Ben-Yosef, Boix 2019, "Minimal Images in Deep Neural Networks: Fragile Object Recognition
in Natural Images" (ICLR 2019) - "Srivastava 2019": every number it gives that this platform reproduces,
each with its section or figure, and the readings the FRI code follows.

Readings (the code follows them; the report repeats them):

- *Shift* is a one-pixel translation of the region (Section 2). "A one-pixel shift in any direction"
  (Figure 3) means any of the four one-pixel moves, left, right, up or down: the abstract says the two
  regions "only differed by one row or column of pixels", which a diagonal move (a row *and* a column)
  would not. A region is a *loose* shift FRI if one of those moves flips its correctness, a *strict* one
  if every move that stays inside the image does.
- *Shrink* is a two-pixel reduction of the side inside the region's own boundaries: the nine regions of
  side s-2 inside it.
- A flip counts in either direction: correct -> incorrect and incorrect -> correct (Section 3.1, "we
  consider a region to be an FRI when the classification changes from correct to incorrect, and also
  from incorrect to correct"). Figure 3's caption, which speaks of an incorrect classification only,
  describes its example map, not the definition.
- The human study (Section 5) shows the correctly classified FRI and its changed partner to *separate*
  groups of participants, so no participant sees both crops of a pair; people answer among 10
  supercategory labels, and "shrink FRIs" means loose shrink FRIs (the text does not say strict).

Our copy of the paper is plain text whose inline mathematics was lost, so some values it states are not
legible there (:data:`SRIVASTAVA_ILLEGIBLE`); they are listed rather than guessed.
"""

from __future__ import annotations

from typing import Any

# Section 3.1: images sampled from ImageNet's validation set within 10 supercategories, each covering a
# set of ImageNet categories (the paper does not list which).
SRIVASTAVA_SUPERCATEGORIES: tuple[str, ...] = (
    "dog",
    "snake",
    "monkey",
    "fish",
    "vegetable",
    "musical instrument",
    "boat",
    "land vehicle",
    "drinks",
    "furniture",
)

# Section 3.1 and Figures 5 / A.1: FRI rate (% of regions) against region size, per network, for the four
# FRI types; Figure 5 draws shrink FRIs ((a) loose, (b) strict), Figure A.1 shift FRIs. The curves are
# given as plots only (no values in the text). The "Inception" of the paper is Szegedy et al. 2014's;
# torchvision's closest network with ImageNet weights is Inception v3.
SRIVASTAVA_FRI: dict[str, Any] = {
    "where": "Srivastava 2019, Section 3.1, Figure 5 (shrink) and Figure A.1 (shift)",
    "dataset": "ImageNet validation set",
    "networks": ("VGG-16", "Inception", "ResNet"),
    "kinds": ("shift", "shrink"),
    "strictness": ("loose", "strict"),
    "shift_px": 1,
    "shrink_px": 2,
    "vgg16_input": 224,  # "regions of side length 224 ... removed any resizing"
    "figures": {
        "shrink": "Srivastava 2019, Figure 5 (a) loose shrink, (b) strict shrink",
        "shift": "Srivastava 2019, Figure A.1 (a) loose shift, (b) strict shift",
    },
}

# Section 5: the human study.
SRIVASTAVA_HUMAN_STUDY: dict[str, Any] = {
    "where": "Srivastava 2019, Section 5",
    "pairs": 40,  # "randomly sample 40 DNN shrink FRIs generated from ImageNet"
    "kind": "shrink",
    "participants_per_group": 20,  # "separate groups of 20 subjects in Mechanical Turk"
    "groups_per_pair": 2,  # the FRI and its changed partner, each to its own group
    "recruitment": "Amazon Mechanical Turk",
    "answer_labels": len(SRIVASTAVA_SUPERCATEGORIES),
}

# Values the paper states in inline mathematics that our text copy lost (left out, never guessed):
SRIVASTAVA_ILLEGIBLE: tuple[str, ...] = (
    "Section 5: the human success-rate gap between FRIs and their partners, and the DNN confidence gap",
    "Section 5: the side the crops were resized to for people",
    "Section 3.1: the number of images, the region-size ratios of Figure 5, the top-k of correctness",
    "Section 3.1: the 'one out of N regions' rates quoted for ResNet",
)

# What else the paper ran that this platform does not redo, and why (the report lists it):
SRIVASTAVA_NOT_REPRODUCED: tuple[str, ...] = (
    "Section 3.2 / Figure 6: CIFAR-10 AlexNet variants with crop augmentation and regularisers "
    "(dropout, weight decay, distortions); 12-pixel regions lose more than 12% of FRIs",
    "Section 4 / Figure 7: location invariance with pooling sizes from 3 px to the whole image",
    "Section 5: DNN FRIs against Ullman et al.'s human minimal images (six images)",
    "Appendix: the eccentricity-dependent network and YOLO detections",
)

# ``model_eval fri --preset srivastava``: the paper's human-study sample, and the label grouping people
# answer among. The paper's grouping is its 10 ImageNet supercategories (a study on ImageNet images
# passes them as a class_id,group CSV); a GTSRB study answers among the six GTSRB superclasses instead.
SRIVASTAVA_PRESET: dict[str, Any] = {
    "sample": SRIVASTAVA_HUMAN_STUDY["pairs"],
    "kind": SRIVASTAVA_HUMAN_STUDY["kind"],
    "viewers_per_crop": SRIVASTAVA_HUMAN_STUDY["participants_per_group"],
    "paper_groups": SRIVASTAVA_SUPERCATEGORIES,
    "gtsrb_groups": "gtsrb_superclasses",
}
PRESETS = {"srivastava": SRIVASTAVA_PRESET}
