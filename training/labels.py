"""Soft per-pixel label maps built from landmark points.

Each label map is float32 [H, W, 7]: channel 0 is background, channel c is landmark c. Around a
landmark, a pixel gets probability `p` for that landmark's class and `1 - p` for background,
where `p` falls off with distance according to a profile:

- `ring` (the seed's): square rings of Chebyshev distance k get `RING_PROFILE[k]`.
- `gaussian`: `exp(-d^2 / (2 sigma^2))` of the Euclidean distance, cut to 0 below `cutoff`.

Where two landmarks' neighbourhoods overlap the larger probability wins (the seed overwrote and
named that as the cause of a bad result). Everything is vectorised: one broadcast over the
[H, W, 6] grid, no Python loop over pixels.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import tensorflow as tf

from training.landmarks import IMAGE_SIZE, NUM_LANDMARKS

# The seed's ring profile: probability of the landmark class at Chebyshev distance k.
RING_PROFILE: tuple[float, ...] = (1.0, 1.0, 1.0, 0.8, 0.8, 0.7, 0.7, 0.6, 0.6, 0.5)


@dataclasses.dataclass(frozen=True)
class LabelProfile:
    """How a landmark's probability falls off around it.

    Attributes:
        kind: `ring` (square rings, the seed's) or `gaussian`.
        ring: probabilities per Chebyshev distance 0, 1, ... for `ring`.
        sigma: standard deviation in pixels for `gaussian`.
        cutoff: probabilities below this are set to 0 for `gaussian`.
    """

    kind: Literal["ring", "gaussian"] = "ring"
    ring: tuple[float, ...] = RING_PROFILE
    sigma: float = 4.0
    cutoff: float = 0.05

    def __post_init__(self) -> None:
        if self.kind not in ("ring", "gaussian"):
            raise ValueError(f"label profile kind must be 'ring' or 'gaussian', got {self.kind!r}")
        if self.kind == "ring" and (not self.ring or any(not 0 <= p <= 1 for p in self.ring)):
            raise ValueError(f"ring profile must be probabilities in [0, 1], got {self.ring}")
        if self.kind == "gaussian" and self.sigma <= 0:
            raise ValueError(f"gaussian sigma must be positive, got {self.sigma}")


def landmark_probabilities(
    points: tf.Tensor,
    profile: LabelProfile = LabelProfile(),
    height: int = IMAGE_SIZE,
    width: int = IMAGE_SIZE,
) -> tf.Tensor:
    """Each landmark's own probability at every pixel, before overlaps are resolved.

    Args:
        points: float32 [6, 2], (x, y) pixel indices; may lie outside the image.
        profile: the fall-off profile.
        height: label map height.
        width: label map width.

    Returns:
        float32 [H, W, 6].
    """
    points = tf.convert_to_tensor(points, tf.float32)
    xs = tf.range(width, dtype=tf.float32)[tf.newaxis, :, tf.newaxis]  # [1, W, 1]
    ys = tf.range(height, dtype=tf.float32)[:, tf.newaxis, tf.newaxis]  # [H, 1, 1]
    point_x = points[tf.newaxis, tf.newaxis, :, 0]  # [1, 1, 6]
    point_y = points[tf.newaxis, tf.newaxis, :, 1]
    if profile.kind == "ring":
        # Rings are defined on the integer grid, so the point is rounded first.
        dx = tf.abs(xs - tf.round(point_x))
        dy = tf.abs(ys - tf.round(point_y))
        distance = tf.cast(tf.maximum(dx, dy), tf.int32)  # [H, W, 6]
        # One extra zero so every distance past the profile reads 0.
        table = tf.constant((*profile.ring, 0.0), tf.float32)
        return tf.gather(table, tf.minimum(distance, len(profile.ring)))
    squared = tf.square(xs - point_x) + tf.square(ys - point_y)
    probability = tf.exp(-squared / (2.0 * profile.sigma**2))
    return tf.where(probability >= profile.cutoff, probability, tf.zeros_like(probability))


def make_label_map(
    points: tf.Tensor,
    profile: LabelProfile = LabelProfile(),
    height: int = IMAGE_SIZE,
    width: int = IMAGE_SIZE,
) -> tf.Tensor:
    """Builds the soft label map for one image.

    Args:
        points: float32 [6, 2], (x, y) pixel indices of landmarks 1..6.
        profile: the fall-off profile.
        height: label map height.
        width: label map width.

    Returns:
        float32 [H, W, 7]; each pixel sums to 1. Where neighbourhoods overlap, the landmark with
        the larger probability takes the pixel (ties go to the lower id).
    """
    probabilities = landmark_probabilities(points, profile, height, width)  # [H, W, 6]
    winner = tf.argmax(probabilities, axis=-1)  # [H, W]
    peak = tf.reduce_max(probabilities, axis=-1, keepdims=True)  # [H, W, 1]
    landmark_channels = tf.one_hot(winner, NUM_LANDMARKS, dtype=tf.float32) * peak
    return tf.concat([1.0 - peak, landmark_channels], axis=-1)
