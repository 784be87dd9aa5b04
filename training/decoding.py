"""Turns per-pixel class probabilities into landmark points, inside the TensorFlow graph.

This runs inside the exported SavedModel, so the service cannot drift from training.

A landmark is read at the argmax of its own channel over the whole image, so it is never
dropped (the seed took the peak only among pixels whose argmax class was that landmark, and lost
landmarks that won no pixel). The peak is then refined to sub-pixel precision by the
probability-weighted centroid of a small window around it: the seed's labels have a flat 5x5
plateau of probability 1.0, so the single argmax pixel is only good to about +-2 px. The peak
is therefore searched on a box-smoothed copy of each channel (whose maximum is the plateau's
centre, and which ignores single-pixel spikes), then refined on the raw probabilities.
"""

from __future__ import annotations

import tensorflow as tf

# Half-width of the centroid window: covers the label plateau (radius 2) and its first ring.
REFINE_RADIUS = 3
# Box filter applied before the peak search; matches the label plateau's 5x5 extent.
SMOOTHING_SIZE = 5
# Candidates closer than this (Chebyshev, pixels) to a better one are the same peak.
CANDIDATE_SUPPRESSION_RADIUS = 8


def _grid(height: int, width: int) -> tuple[tf.Tensor, tf.Tensor]:
    """Pixel index grids float32 [1, H, 1, 1] (y) and [1, 1, W, 1] (x)."""
    ys = tf.reshape(tf.range(height, dtype=tf.float32), (1, height, 1, 1))
    xs = tf.reshape(tf.range(width, dtype=tf.float32), (1, 1, width, 1))
    return ys, xs


def _argmax_points(maps: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Per-channel argmax over the image.

    Args:
        maps: float32 [N, H, W, C].

    Returns:
        points float32 [N, C, 2] as (x, y) pixel indices, and values float32 [N, C].
    """
    shape = tf.shape(maps)
    width = shape[2]
    flat = tf.reshape(tf.transpose(maps, (0, 3, 1, 2)), (shape[0], shape[3], -1))  # [N, C, HW]
    index = tf.argmax(flat, axis=-1, output_type=tf.int32)
    values = tf.reduce_max(flat, axis=-1)
    points = tf.stack([index % width, index // width], axis=-1)
    return tf.cast(points, tf.float32), values


def _values_at(maps: tf.Tensor, points: tf.Tensor) -> tf.Tensor:
    """Reads float32 [N, H, W, C] maps at integer points float32 [N, C, 2] -> [N, C]."""
    shape = tf.shape(maps)
    flat = tf.reshape(tf.transpose(maps, (0, 3, 1, 2)), (shape[0], shape[3], -1))  # [N, C, HW]
    index = tf.cast(points[..., 1], tf.int32) * shape[2] + tf.cast(points[..., 0], tf.int32)
    return tf.gather(flat, index[..., tf.newaxis], batch_dims=2)[..., 0]


def _window_mask(points: tf.Tensor, ys: tf.Tensor, xs: tf.Tensor, radius: int) -> tf.Tensor:
    """float32 [N, H, W, C]: 1 within Chebyshev `radius` of each channel's point, else 0."""
    point_x = points[:, tf.newaxis, tf.newaxis, :, 0]  # [N, 1, 1, C]
    point_y = points[:, tf.newaxis, tf.newaxis, :, 1]
    inside = tf.logical_and(
        tf.abs(xs - point_x) <= float(radius), tf.abs(ys - point_y) <= float(radius)
    )
    return tf.cast(inside, tf.float32)


def decode_landmarks(
    probabilities: tf.Tensor, refine_radius: int = REFINE_RADIUS
) -> tuple[tf.Tensor, tf.Tensor]:
    """Finds each landmark's peak and refines it.

    Args:
        probabilities: float32 [N, H, W, 7] softmax output (channel 0 background).
        refine_radius: half-width of the centroid window; 0 returns the integer argmax.

    Returns:
        landmarks float32 [N, 6, 2] as (x, y) pixel indices, and scores float32 [N, 6], each
        landmark's own probability at its peak pixel. With `refine_radius` 0 the peak is the
        raw argmax and is not refined.
    """
    landmark_maps = probabilities[..., 1:]
    if refine_radius <= 0:
        return _argmax_points(landmark_maps)
    smoothed = tf.nn.avg_pool2d(landmark_maps, SMOOTHING_SIZE, strides=1, padding="SAME")
    peaks, _ = _argmax_points(smoothed)
    scores = _values_at(landmark_maps, peaks)
    ys, xs = _grid(tf.shape(landmark_maps)[1], tf.shape(landmark_maps)[2])
    weights = landmark_maps * _window_mask(peaks, ys, xs, refine_radius)  # [N, H, W, 6]
    total = tf.reduce_sum(weights, axis=(1, 2))  # [N, 6]
    centroid_x = tf.reduce_sum(weights * xs, axis=(1, 2)) / tf.maximum(total, 1e-12)
    centroid_y = tf.reduce_sum(weights * ys, axis=(1, 2)) / tf.maximum(total, 1e-12)
    refined = tf.stack([centroid_x, centroid_y], axis=-1)
    # An all-zero window (impossible with softmax, but cheap to guard) keeps the integer peak.
    refined = tf.where((total > 0)[..., tf.newaxis], refined, peaks)
    return refined, scores


def decode_candidates(
    probabilities: tf.Tensor,
    top_k: int,
    suppression_radius: int = CANDIDATE_SUPPRESSION_RADIUS,
) -> tuple[tf.Tensor, tf.Tensor]:
    """Up to `top_k` distinct peaks per landmark channel, best first.

    A candidate must be a local maximum (equal to the 3x3 max around it) and lie farther than
    `suppression_radius` from every better candidate, so the list holds separate peaks rather
    than neighbouring pixels of one peak.

    Args:
        probabilities: float32 [N, H, W, 7].
        top_k: candidates per landmark.
        suppression_radius: Chebyshev radius suppressed around each chosen candidate.

    Returns:
        points float32 [N, 6, K, 2] as (x, y), and scores float32 [N, 6, K]; slots with no
        further peak have score 0 and repeat the best point.
    """
    landmark_maps = probabilities[..., 1:]
    pooled = tf.nn.max_pool2d(landmark_maps, ksize=3, strides=1, padding="SAME")
    remaining = tf.where(landmark_maps >= pooled, landmark_maps, tf.zeros_like(landmark_maps))
    ys, xs = _grid(tf.shape(landmark_maps)[1], tf.shape(landmark_maps)[2])
    points, scores = [], []
    best_points = None
    for _ in range(top_k):
        peak, value = _argmax_points(remaining)
        if best_points is None:
            best_points = peak
        # A channel with nothing left reports score 0 at the best point.
        exhausted = value <= 0.0
        peak = tf.where(exhausted[..., tf.newaxis], best_points, peak)
        points.append(peak)
        scores.append(tf.where(exhausted, tf.zeros_like(value), value))
        remaining = remaining * (1.0 - _window_mask(peak, ys, xs, suppression_radius))
    return tf.stack(points, axis=2), tf.stack(scores, axis=2)
