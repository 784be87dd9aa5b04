"""In-graph peak search (`training.peaks`): peaks, sub-pixel centroids and candidates.

The decoders read windows and pools rather than whole maps; each is checked against the
straightforward whole-map computation it replaces (`_reference_landmarks` below, and the
module's own whole-map candidate search, which it falls back on).
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from training import peaks
from training.labels import make_label_map
from training.peaks import decode_candidates, decode_landmarks


def _reference_landmarks(probabilities: tf.Tensor, radius: int = 3) -> np.ndarray:
    """The centroid over whole maps weighted by a window mask: float32 [N, 6, 2]."""
    maps = probabilities[..., 1:]
    smoothed = tf.nn.avg_pool2d(maps, peaks.SMOOTHING_SIZE, strides=1, padding="SAME")
    peak_points, _ = peaks._argmax_points(smoothed)
    ys, xs = peaks._grid(maps.shape[1], maps.shape[2])
    weights = maps * peaks._window_mask(peak_points, ys, xs, radius)
    total = tf.reduce_sum(weights, axis=(1, 2))
    x = tf.reduce_sum(weights * xs, axis=(1, 2)) / total
    y = tf.reduce_sum(weights * ys, axis=(1, 2)) / total
    return tf.stack([x, y], axis=-1).numpy()


def _random_maps(seed: int, count: int = 3, size: int = 64, blobs: int = 12) -> tf.Tensor:
    """Softmax maps float32 [N, size, size, 7] with many Gaussian peaks per channel, some at
    the borders and corners, over noise (so most pixels are tiny local maxima)."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0.0, 0.3, (count, size, size, 7)).astype(np.float32)
    yy, xx = np.mgrid[:size, :size]
    for n in range(count):
        for c in range(1, 7):
            for b in range(blobs):
                cx, cy = rng.uniform(-2, size + 1, 2) if b else (0.0, size - 1.0)
                width = rng.uniform(1.0, 4.0)
                logits[n, :, :, c] += rng.uniform(2, 9) * np.exp(
                    -((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * width**2)
                )
    return tf.nn.softmax(tf.constant(logits), axis=-1)


def test_decode_recovers_label_points_with_subpixel_centroid() -> None:
    points = np.array([[40, 30], [200, 31], [20, 120], [230, 125], [60, 220], [190, 221]], "f4")
    labels = tf.stack([make_label_map(points), make_label_map(points[::-1].copy())])
    decoded, scores = decode_landmarks(labels)
    np.testing.assert_allclose(decoded[0].numpy(), points, atol=1e-4)
    np.testing.assert_allclose(scores.numpy(), 1.0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_window_centroid_equals_the_whole_map_centroid(seed: int) -> None:
    probabilities = _random_maps(seed)
    decoded, scores = decode_landmarks(probabilities)
    np.testing.assert_allclose(decoded.numpy(), _reference_landmarks(probabilities), atol=1e-4)
    peak_points, _ = peaks._argmax_points(
        tf.nn.avg_pool2d(probabilities[..., 1:], 5, strides=1, padding="SAME")
    )
    landmark_maps = probabilities.numpy()[..., 1:]
    for n in range(probabilities.shape[0]):
        for c in range(6):
            x, y = peak_points[n, c].numpy().astype(int)
            assert scores[n, c].numpy() == landmark_maps[n, y, x, c]


def test_window_centroid_at_a_corner_counts_only_pixels_inside() -> None:
    probabilities = np.zeros((1, 32, 32, 7), np.float32)
    probabilities[..., 0] = 1.0
    probabilities[0, 0:2, 0:2, 1] = 0.5  # a peak in the top-left corner
    probabilities[0, 31, 30:32, 2] = [0.25, 0.75]  # one on the bottom edge
    decoded, _ = decode_landmarks(tf.constant(probabilities))
    np.testing.assert_allclose(decoded[0, 0].numpy(), [0.5, 0.5], atol=1e-6)
    np.testing.assert_allclose(decoded[0, 1].numpy(), [30.75, 31.0], atol=1e-6)
    np.testing.assert_allclose(
        decoded.numpy()[:, :2], _reference_landmarks(tf.constant(probabilities))[:, :2], atol=1e-6
    )


def test_decode_never_drops_a_landmark_that_wins_no_pixel() -> None:
    probabilities = np.zeros((1, 256, 256, 7), np.float32)
    probabilities[..., 0] = 0.9
    probabilities[..., 1:] = 0.1 / 6
    probabilities[0, 100, 50, 4] = 0.3  # landmark 4 never wins, but peaks here
    probabilities[0, 100, 50, 0] = 0.9 - 0.3 + 0.1 / 6
    decoded, scores = decode_landmarks(tf.constant(probabilities), refine_radius=0)
    np.testing.assert_array_equal(decoded[0, 3].numpy(), [50, 100])
    assert scores[0, 3].numpy() == pytest.approx(0.3)


def test_candidates_are_separate_peaks_best_first() -> None:
    probabilities = np.zeros((1, 256, 256, 7), np.float32)
    probabilities[..., 0] = 1.0
    for (x, y), value in (((50, 60), 0.9), ((51, 60), 0.85), ((150, 200), 0.6), ((20, 20), 0.4)):
        probabilities[0, y, x, 1] = value
    points, scores = decode_candidates(tf.constant(probabilities), top_k=4)
    np.testing.assert_array_equal(points[0, 0, :3].numpy(), [[50, 60], [150, 200], [20, 20]])
    np.testing.assert_allclose(scores[0, 0].numpy(), [0.9, 0.6, 0.4, 0.0])
    # The exhausted slot repeats the best point, as the whole-map search does.
    np.testing.assert_array_equal(points[0, 0, 3].numpy(), [50, 60])


def _whole_map_candidates(probabilities: tf.Tensor, top_k: int) -> tuple[np.ndarray, ...]:
    maxima = peaks._local_maxima(probabilities[..., 1:])
    points, scores = peaks._candidates_from_maps(maxima, top_k, 8)
    return points.numpy(), scores.numpy()


def _pool_decides(probabilities: tf.Tensor, top_k: int, pool: int) -> np.ndarray:
    flat = peaks._channels_first(peaks._local_maxima(probabilities[..., 1:]))
    values, index = tf.math.top_k(flat, k=pool)
    points = peaks._index_to_points(index, probabilities.shape[2])
    return peaks._candidates_from_pool(values, points, top_k, 8)[2].numpy()


@pytest.mark.parametrize(("seed", "pool"), [(0, 512), (1, 512), (2, 16), (3, 4)])
def test_pooled_candidates_equal_the_whole_map_search(seed: int, pool: int) -> None:
    probabilities = _random_maps(seed)
    points, scores = decode_candidates(probabilities, top_k=5, pool=pool)
    expected_points, expected_scores = _whole_map_candidates(probabilities, 5)
    np.testing.assert_array_equal(points.numpy(), expected_points)
    np.testing.assert_array_equal(scores.numpy(), expected_scores)


def test_a_pool_too_small_to_decide_falls_back_to_the_whole_map() -> None:
    probabilities = _random_maps(4)
    # With 4 maxima per channel the pool cannot hold five separate peaks: the fallback must
    # answer, and give the whole-map search's answer.
    assert not _pool_decides(probabilities, 5, pool=4).all()
    assert _pool_decides(probabilities, 5, pool=512).all()
    points, scores = decode_candidates(probabilities, top_k=5, pool=4)
    expected_points, expected_scores = _whole_map_candidates(probabilities, 5)
    np.testing.assert_array_equal(points.numpy(), expected_points)
    np.testing.assert_array_equal(scores.numpy(), expected_scores)


def test_tied_candidates_are_taken_in_raster_order() -> None:
    # A flat plateau: every pixel is a local maximum of the same value; the whole-map search
    # takes the first in raster order, then the first outside its suppression window.
    probabilities = np.zeros((1, 40, 40, 7), np.float32)
    probabilities[..., 0] = 1.0
    probabilities[0, 5:30, 3:35, 2] = 0.5
    points, scores = decode_candidates(tf.constant(probabilities), top_k=5, pool=8)
    expected_points, expected_scores = _whole_map_candidates(tf.constant(probabilities), 5)
    np.testing.assert_array_equal(points.numpy(), expected_points)
    np.testing.assert_array_equal(scores.numpy(), expected_scores)
    np.testing.assert_array_equal(points[0, 1, 0].numpy(), [3, 5])
