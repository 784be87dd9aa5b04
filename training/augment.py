"""Training-time augmentation of an image and its landmark points, in the TensorFlow graph.

Every transform moves the points with the pixels:
- horizontal flip, which mirrors x and swaps each left/right landmark pair (1<->2, 3<->4, 5<->6);
- a small random similarity transform (scale, shift, rotation), retried never: when it would
  push a landmark outside the image, the image is left as it was;
- photometric jitter (brightness, contrast, saturation, hue) and a little sensor noise.
"""

from __future__ import annotations

import dataclasses
import math

import tensorflow as tf

from training.landmarks import FLIP_PERMUTATION, IMAGE_SIZE


@dataclasses.dataclass(frozen=True)
class AugmentOptions:
    """Ranges of the random transforms (all symmetric around no change)."""

    flip_probability: float = 0.5
    max_scale_change: float = 0.15
    max_shift_fraction: float = 0.08
    max_rotation_degrees: float = 12.0
    brightness: float = 0.15
    contrast: float = 0.25
    saturation: float = 0.3
    hue: float = 0.04
    noise_stddev: float = 4.0
    # A transformed landmark must stay this many pixels inside the border.
    margin: float = 2.0


def flip_horizontal(image: tf.Tensor, points: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Mirrors an image and its landmarks.

    Args:
        image: [H, W, 3] any dtype.
        points: float32 [6, 2] (x, y) pixel indices.

    Returns:
        The mirrored image and points, with left/right landmark ids swapped so that landmark 1
        is still the one on the image's left.
    """
    width = tf.cast(tf.shape(image)[1], tf.float32)
    mirrored = tf.stack([width - 1.0 - points[:, 0], points[:, 1]], axis=-1)
    return tf.image.flip_left_right(image), tf.gather(mirrored, FLIP_PERMUTATION)


def _similarity_matrix(
    scale: tf.Tensor, angle: tf.Tensor, shift: tf.Tensor, size: float
) -> tf.Tensor:
    """Forward 3x3 matrix mapping source pixel centres to output ones, about the image centre."""
    centre = (size - 1.0) / 2.0
    cos, sin = tf.cos(angle) * scale, tf.sin(angle) * scale
    tx = centre + shift[0] - (cos * centre - sin * centre)
    ty = centre + shift[1] - (sin * centre + cos * centre)
    return tf.stack(
        [tf.stack([cos, -sin, tx]), tf.stack([sin, cos, ty]), tf.constant([0.0, 0.0, 1.0])]
    )


def random_similarity(
    image: tf.Tensor, points: tf.Tensor, options: AugmentOptions, seed: tf.Tensor
) -> tuple[tf.Tensor, tf.Tensor]:
    """Scales, shifts and rotates an image and its points, keeping every point inside.

    Args:
        image: float32 [S, S, 3].
        points: float32 [6, 2].
        options: the ranges.
        seed: int32 [2] stateless seed.

    Returns:
        The transformed image and points (unchanged when a point would leave the image).
    """
    size = float(IMAGE_SIZE)
    draws = tf.random.stateless_uniform([4], seed, minval=-1.0, maxval=1.0)
    scale = 1.0 + draws[0] * options.max_scale_change
    angle = draws[1] * options.max_rotation_degrees * math.pi / 180.0
    shift = draws[2:] * options.max_shift_fraction * size
    forward = _similarity_matrix(scale, angle, shift, size)
    homogeneous = tf.concat([points, tf.ones([tf.shape(points)[0], 1])], axis=-1)
    moved = tf.matmul(homogeneous, forward, transpose_b=True)[:, :2]
    inside = tf.reduce_all((moved >= options.margin) & (moved <= size - 1.0 - options.margin))

    # ImageProjectiveTransform wants the inverse map (output pixel -> input pixel), flattened.
    inverse = tf.linalg.inv(forward)
    transform = tf.reshape(inverse, [9])[:8][tf.newaxis]
    warped = tf.raw_ops.ImageProjectiveTransformV3(
        images=image[tf.newaxis],
        transforms=transform,
        output_shape=tf.constant([IMAGE_SIZE, IMAGE_SIZE]),
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="REFLECT",
    )[0]
    return (
        tf.cond(inside, lambda: warped, lambda: image),
        tf.cond(inside, lambda: moved, lambda: points),
    )


def photometric_jitter(image: tf.Tensor, options: AugmentOptions, seed: tf.Tensor) -> tf.Tensor:
    """Random brightness, contrast, saturation, hue and noise on float32 [S, S, 3] in 0..255."""
    seeds = tf.random.split(seed, 5)
    unit = image / 255.0
    unit = tf.image.stateless_random_brightness(unit, options.brightness, seeds[0])
    unit = tf.image.stateless_random_contrast(
        unit, 1.0 - options.contrast, 1.0 + options.contrast, seeds[1]
    )
    unit = tf.image.stateless_random_saturation(
        tf.clip_by_value(unit, 0.0, 1.0),
        1.0 - options.saturation,
        1.0 + options.saturation,
        seeds[2],
    )
    unit = tf.image.stateless_random_hue(unit, options.hue, seeds[3])
    noise = tf.random.stateless_normal(
        tf.shape(unit), seeds[4], stddev=options.noise_stddev / 255.0
    )
    return tf.clip_by_value(unit + noise, 0.0, 1.0) * 255.0


def augment(
    image: tf.Tensor, points: tf.Tensor, seed: tf.Tensor, options: AugmentOptions = AugmentOptions()
) -> tuple[tf.Tensor, tf.Tensor]:
    """Applies every augmentation.

    Args:
        image: float32 [256, 256, 3] in 0..255.
        points: float32 [6, 2].
        seed: int32/int64 [2] stateless seed (one per sample, from the dataset's seeded stream).
        options: the ranges.

    Returns:
        float32 [256, 256, 3] image and float32 [6, 2] points.
    """
    seeds = tf.random.split(tf.cast(seed, tf.int64), 3)
    flip = tf.random.stateless_uniform([], seeds[0]) < options.flip_probability
    image, points = tf.cond(flip, lambda: flip_horizontal(image, points), lambda: (image, points))
    image, points = random_similarity(image, points, options, seeds[1])
    return photometric_jitter(image, options, seeds[2]), points
