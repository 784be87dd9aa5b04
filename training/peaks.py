"""Turns per-pixel class probabilities into landmark points, inside the TensorFlow graph.

This runs inside the exported SavedModel, so the service cannot drift from training.

A landmark is read at the argmax of its own channel over the whole image, so it is never
dropped (the seed took the peak only among pixels whose argmax class was that landmark, and lost
landmarks that won no pixel). The peak is then refined to sub-pixel precision by the
probability-weighted centroid of a small window around it: the seed's labels have a flat 5x5
plateau of probability 1.0, so the single argmax pixel is only good to about +-2 px. The peak
is therefore searched on a box-smoothed copy of each channel (whose maximum is the plateau's
centre, and which ignores single-pixel spikes), then refined on the raw probabilities.

Both searches read only a few pixels per channel after one pass over the maps: the centroid
gathers its (2r+1)^2 window around the peak, and the candidates run their suppression over the
channel's best local maxima rather than over whole maps (see `decode_candidates`). In a
mirror-averaged signature these searches run three times per image, so their cost is a real
share of the model's.
"""

from __future__ import annotations

import tensorflow as tf

from training.landmarks import NUM_LANDMARKS

# Half-width of the centroid window: covers the label plateau (radius 2) and its first ring.
REFINE_RADIUS = 3
# Box filter applied before the peak search; matches the label plateau's 5x5 extent.
SMOOTHING_SIZE = 5
# Candidates closer than this (Chebyshev, pixels) to a better one are the same peak.
CANDIDATE_SUPPRESSION_RADIUS = 8
# Local maxima per channel that the candidate search considers before falling back to the
# whole map; enough that a fallback needs more than this many maxima crowded round the peaks.
CANDIDATE_POOL = 512


def _channels_first(maps: tf.Tensor) -> tf.Tensor:
    """float32 [N, H, W, C] -> [N, C, H*W]: one row per channel, pixels in raster order."""
    shape = tf.shape(maps)
    return tf.reshape(tf.transpose(maps, (0, 3, 1, 2)), (shape[0], shape[3], -1))


def _index_to_points(index: tf.Tensor, width: tf.Tensor) -> tf.Tensor:
    """Raster indices int32 [...] -> float32 [..., 2] as (x, y)."""
    return tf.cast(tf.stack([index % width, index // width], axis=-1), tf.float32)


def _grid(height: int, width: int) -> tuple[tf.Tensor, tf.Tensor]:
    """Pixel index grids float32 [1, H, 1, 1] (y) and [1, 1, W, 1] (x)."""
    ys = tf.reshape(tf.range(height, dtype=tf.float32), (1, height, 1, 1))
    xs = tf.reshape(tf.range(width, dtype=tf.float32), (1, 1, width, 1))
    return ys, xs


def _argmax_points(maps: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Per-channel argmax over the image (the first pixel in raster order among ties).

    Args:
        maps: float32 [N, H, W, C].

    Returns:
        points float32 [N, C, 2] as (x, y) pixel indices, and values float32 [N, C].
    """
    flat = _channels_first(maps)  # [N, C, HW]
    index = tf.argmax(flat, axis=-1, output_type=tf.int32)
    values = tf.reduce_max(flat, axis=-1)
    return _index_to_points(index, tf.shape(maps)[2]), values


def _window_mask(points: tf.Tensor, ys: tf.Tensor, xs: tf.Tensor, radius: int) -> tf.Tensor:
    """float32 [N, H, W, C]: 1 within Chebyshev `radius` of each channel's point, else 0."""
    point_x = points[:, tf.newaxis, tf.newaxis, :, 0]  # [N, 1, 1, C]
    point_y = points[:, tf.newaxis, tf.newaxis, :, 1]
    inside = tf.logical_and(
        tf.abs(xs - point_x) <= float(radius), tf.abs(ys - point_y) <= float(radius)
    )
    return tf.cast(inside, tf.float32)


def _pixel_major(maps: tf.Tensor) -> tf.Tensor:
    """float32 [N, H, W, C] -> [N, H*W*C]: the same memory, read by (raster pixel, channel)."""
    return tf.reshape(maps, (tf.shape(maps)[0], -1))


def _channel_argmax(maps: tf.Tensor) -> tf.Tensor:
    """int32 [N, C]: each channel's argmax as a raster index (the first one among ties)."""
    shape = tf.shape(maps)
    return tf.argmax(tf.reshape(maps, (shape[0], -1, shape[3])), axis=1, output_type=tf.int32)


def _window_centroid(maps: tf.Tensor, index: tf.Tensor, radius: int) -> tuple[tf.Tensor, tf.Tensor]:
    """Probability-weighted centroid of the window around each channel's peak.

    Gathers only the window's pixels: the same sum as weighting the whole map by a window
    mask, at a cost that does not grow with the image.

    Args:
        maps: float32 [N, H, W, C].
        index: int32 [N, C], raster index of each channel's peak.
        radius: Chebyshev half-width of the window; pixels outside the image count 0.

    Returns:
        centroids float32 [N, C, 2] as (x, y), and the window's total weight float32 [N, C].
    """
    shape = tf.shape(maps)
    height, width, channels = shape[1], shape[2], shape[3]
    side = 2 * radius + 1
    offsets = tf.range(-radius, radius + 1, dtype=tf.int32)
    xs = (index % width)[..., tf.newaxis] + tf.tile(offsets, [side])  # [N, C, side^2]
    ys = (index // width)[..., tf.newaxis] + tf.repeat(offsets, side)
    inside = (xs >= 0) & (xs < width) & (ys >= 0) & (ys < height)
    pixel = tf.clip_by_value(ys, 0, height - 1) * width + tf.clip_by_value(xs, 0, width - 1)
    channel = tf.range(channels, dtype=tf.int32)[tf.newaxis, :, tf.newaxis]
    values = tf.gather(_pixel_major(maps), pixel * channels + channel, batch_dims=1)
    weights = tf.where(inside, values, tf.zeros_like(values))
    total = tf.reduce_sum(weights, axis=-1)
    safe_total = tf.maximum(total, 1e-12)
    centroid = tf.stack(
        [
            tf.reduce_sum(weights * tf.cast(xs, tf.float32), axis=-1) / safe_total,
            tf.reduce_sum(weights * tf.cast(ys, tf.float32), axis=-1) / safe_total,
        ],
        axis=-1,
    )
    return centroid, total


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
    width = tf.shape(landmark_maps)[2]
    smoothed = tf.nn.avg_pool2d(landmark_maps, SMOOTHING_SIZE, strides=1, padding="SAME")
    index = _channel_argmax(smoothed)  # [N, 6]
    channel = tf.range(NUM_LANDMARKS, dtype=tf.int32)[tf.newaxis, :]
    flat_index = index * NUM_LANDMARKS + channel
    scores = tf.gather(_pixel_major(landmark_maps), flat_index, batch_dims=1)
    refined, total = _window_centroid(landmark_maps, index, refine_radius)
    # An all-zero window (impossible with softmax, but cheap to guard) keeps the integer peak.
    peaks = _index_to_points(index, width)
    refined = tf.where((total > 0)[..., tf.newaxis], refined, peaks)
    return refined, scores


def _local_maxima(landmark_maps: tf.Tensor) -> tf.Tensor:
    """float32 [N, H, W, C]: each pixel that equals the 3x3 maximum around it, others 0."""
    pooled = tf.nn.max_pool2d(landmark_maps, ksize=3, strides=1, padding="SAME")
    return tf.where(landmark_maps >= pooled, landmark_maps, tf.zeros_like(landmark_maps))


def _candidates_from_maps(
    maxima: tf.Tensor, top_k: int, suppression_radius: int
) -> tuple[tf.Tensor, tf.Tensor]:
    """The candidate search over whole maps: `top_k` rounds of argmax and suppression.

    Args:
        maxima: float32 [N, H, W, 6], `_local_maxima`'s output.

    Returns:
        As `decode_candidates`.
    """
    remaining = maxima
    ys, xs = _grid(tf.shape(maxima)[1], tf.shape(maxima)[2])
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


def _candidates_from_pool(
    values: tf.Tensor, points: tf.Tensor, top_k: int, suppression_radius: int
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """The same search over each channel's best local maxima, sorted best first.

    Greedy suppression in sorted order picks exactly what the whole-map search picks, as long
    as it finishes inside the pool: each pick is then the best unsuppressed maximum, and every
    better one is in the pool (`tf.math.top_k` orders ties by raster index, as argmax does).

    Args:
        values: float32 [N, 6, P], the P best local maxima, descending.
        points: float32 [N, 6, P, 2], where they are.

    Returns:
        points float32 [N, 6, K, 2], scores float32 [N, 6, K], and bool [N, 6]: whether the
        pool decided the answer (K picks, or no positive maximum left outside it).
    """
    alive = values > 0.0  # [N, 6, P]
    best_points = points[:, :, 0]  # argmax of the local maxima: the whole-map search's first
    picked_points, picked_scores = [], []
    for _ in range(top_k):
        slot = tf.argmax(tf.cast(alive, tf.int32), axis=-1, output_type=tf.int32)  # first alive
        found = tf.reduce_any(alive, axis=-1)  # [N, 6]
        peak = tf.gather(points, slot[..., tf.newaxis], batch_dims=2)[:, :, 0]  # [N, 6, 2]
        value = tf.gather(values, slot[..., tf.newaxis], batch_dims=2)[..., 0]
        peak = tf.where(found[..., tf.newaxis], peak, best_points)
        picked_points.append(peak)
        picked_scores.append(tf.where(found, value, tf.zeros_like(value)))
        distance = tf.reduce_max(tf.abs(points - peak[:, :, tf.newaxis]), axis=-1)  # [N, 6, P]
        # A channel with nothing alive stays so: its picks repeat the best point at score 0.
        alive = alive & (distance > float(suppression_radius))
    # The pool ran dry early while positive maxima lay beyond it: it cannot vouch for the rest.
    decided = tf.logical_or(picked_scores[-1] > 0.0, values[..., -1] <= 0.0)
    return tf.stack(picked_points, axis=2), tf.stack(picked_scores, axis=2), decided


def decode_candidates(
    probabilities: tf.Tensor,
    top_k: int,
    suppression_radius: int = CANDIDATE_SUPPRESSION_RADIUS,
    pool: int = CANDIDATE_POOL,
) -> tuple[tf.Tensor, tf.Tensor]:
    """Up to `top_k` distinct peaks per landmark channel, best first.

    A candidate must be a local maximum (equal to the 3x3 max around it) and lie farther than
    `suppression_radius` from every better candidate, so the list holds separate peaks rather
    than neighbouring pixels of one peak. The search runs over each channel's `pool` best
    local maxima; a batch in which that cannot decide some channel's list (more than `pool`
    maxima crowded within the suppression radius of the picks) is searched over whole maps,
    so the answer never depends on `pool`.

    Args:
        probabilities: float32 [N, H, W, 7].
        top_k: candidates per landmark.
        suppression_radius: Chebyshev radius suppressed around each chosen candidate.
        pool: local maxima per channel considered before falling back to whole maps.

    Returns:
        points float32 [N, 6, K, 2] as (x, y), and scores float32 [N, 6, K]; slots with no
        further peak have score 0 and repeat the best point.
    """
    maxima = _local_maxima(probabilities[..., 1:])
    shape = tf.shape(maxima)
    flat = _channels_first(maxima)  # [N, 6, HW]
    values, index = tf.math.top_k(flat, k=tf.minimum(pool, shape[1] * shape[2]))
    points, scores, decided = _candidates_from_pool(
        values, _index_to_points(index, shape[2]), top_k, suppression_radius
    )
    return tf.cond(
        tf.reduce_all(decided),
        lambda: (points, scores),
        lambda: _candidates_from_maps(maxima, top_k, suppression_radius),
    )
