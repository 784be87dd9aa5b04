"""Garment shapes and their landmarks, built from one set of numbers.

Every garment is laid out in *garment units* in an upright, camera-facing frame: x grows to the
image's right, y grows downwards, the origin is the centre of the neckline at collar height and
the garment's shoulder half-width is about 1. The same points that outline the polygons are the
landmarks, so a landmark can never drift off the drawing.

Landmark conventions (DeepFashion, front view: odd ids on the image's left):

- collar (1, 2): the neckline's top corners, where the neckline meets the shoulder seam;
- sleeve (3, 4): the centre of the cuff opening, wherever the sleeve ends (a sleeve bent at the
  elbow ends at the forearm's cuff); for sleeveless tops, the armhole's outer end: the corner
  under the arm where the armhole edge meets the side seam (see `_add_sleeves`);
- hem (5, 6): the bottom corners at the side seams (for shirt-tails: where the side seam ends);
- lower body: waistband corners, then the hem (trousers: centre of each leg opening);
- full body (dress): collar, sleeve, waistline at the side seams, hem corners.
"""

from __future__ import annotations

import numpy as np

from training.synth.arms import ARM_STYLES
from training.synth.garment_model import (
    BACK,
    BODY,
    SLEEVE,
    TOPS,
    WORN_POSES,
    Arm,
    Garment,
    Kind,
    Part,
    Pose,
    Stroke,
)
from training.synth.lower import build_dress, build_lower
from training.synth.tops import build_top

__all__ = [
    "ARM_STYLES",
    "BACK",
    "BODY",
    "SLEEVE",
    "TOPS",
    "WORN_POSES",
    "Arm",
    "Garment",
    "Kind",
    "Part",
    "Pose",
    "Stroke",
    "build_dress",
    "build_garment",
    "build_lower",
    "build_top",
]


def build_garment(rng: np.random.Generator, kind: Kind, pose: Pose) -> Garment:
    """Samples a garment of any kind; see `build_top`, `build_lower`, `build_dress`."""
    if kind in TOPS:
        return build_top(rng, kind, pose)
    if kind is Kind.DRESS:
        return build_dress(rng, pose)
    return build_lower(rng, kind)
