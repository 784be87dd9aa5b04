"""Tests for `training.metrics`: NE, PCK, by kind and detection figures on hand-made arrays."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

import numpy as np
import pytest

from training.landmarks import LANDMARK_NAMES, NUM_LANDMARKS
from training.metrics import compute_metrics, detection_metrics, metrics_by_kind

# === Metrics on hand-made arrays ===

# Per-landmark offsets (dx, dy) in a 200x100 image, chosen well away from the PCK thresholds:
# normalised distances 0, 0.0854, 0.15, 0.3, 0.01, 0.04 and pixel errors 0, 10, 30, 30, 2, 4.
OFFSETS = np.array([[0, 0], [6, 8], [30, 0], [0, 30], [2, 0], [0, 4]], dtype=np.float64)
OFFSET_NORMALIZED = np.array([0.0, math.sqrt(0.03**2 + 0.08**2), 0.15, 0.3, 0.01, 0.04])
OFFSET_PIXELS = np.array([0.0, 10.0, 30.0, 30.0, 2.0, 4.0])


def _truth(num_images: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.uniform(20, 80, size=(num_images, NUM_LANDMARKS, 2)).astype(np.float32)


def _sizes(num_images: int, width: float, height: float) -> np.ndarray:
    return np.tile(np.array([[width, height]], dtype=np.float64), (num_images, 1))


def test_compute_metrics_perfect_prediction_scores_zero_error_and_full_pck() -> None:
    truth = _truth(3)
    visible = np.ones((3, NUM_LANDMARKS), dtype=bool)

    metrics = compute_metrics(truth.copy(), truth, visible, _sizes(3, 256, 256))

    assert metrics["num_images"] == 3
    assert metrics["num_visible"] == 18
    assert metrics["mean_pixel_error"] == 0.0
    assert metrics["median_pixel_error"] == 0.0
    assert metrics["normalized_error"] == 0.0
    assert metrics["pck"] == {"0.05": 1.0, "0.1": 1.0, "0.2": 1.0}
    assert [landmark["name"] for landmark in metrics["per_landmark"]] == list(LANDMARK_NAMES)
    for landmark in metrics["per_landmark"]:
        assert landmark["num_visible"] == 3
        assert landmark["normalized_error"] == 0.0
        assert landmark["pck"] == {"0.05": 1.0, "0.1": 1.0, "0.2": 1.0}


def test_compute_metrics_known_offsets_give_exact_figures() -> None:
    truth = _truth(2)
    predicted = truth + OFFSETS[np.newaxis]
    visible = np.ones((2, NUM_LANDMARKS), dtype=bool)

    metrics = compute_metrics(predicted, truth, visible, _sizes(2, 200, 100))

    per_landmark = metrics["per_landmark"]
    np.testing.assert_allclose(
        [landmark["mean_pixel_error"] for landmark in per_landmark], OFFSET_PIXELS, atol=1e-5
    )
    np.testing.assert_allclose(
        [landmark["normalized_error"] for landmark in per_landmark], OFFSET_NORMALIZED, atol=1e-7
    )
    assert [landmark["pck"]["0.05"] for landmark in per_landmark] == [1, 0, 0, 0, 1, 1]
    assert [landmark["pck"]["0.1"] for landmark in per_landmark] == [1, 1, 0, 0, 1, 1]
    assert [landmark["pck"]["0.2"] for landmark in per_landmark] == [1, 1, 1, 0, 1, 1]
    assert metrics["normalized_error"] == pytest.approx(OFFSET_NORMALIZED.mean(), abs=1e-7)
    assert metrics["mean_pixel_error"] == pytest.approx(OFFSET_PIXELS.mean(), abs=1e-5)
    assert metrics["median_pixel_error"] == pytest.approx(7.0, abs=1e-5)  # (4 + 10) / 2
    assert metrics["pck"] == pytest.approx({"0.05": 3 / 6, "0.1": 4 / 6, "0.2": 5 / 6})


def test_compute_metrics_non_square_images_scale_dx_by_width_and_dy_by_height() -> None:
    truth = np.full((1, NUM_LANDMARKS, 2), 50.0, dtype=np.float32)
    predicted = truth.copy()
    predicted[0, 0, 0] += 30  # 30 px along x of a 300-wide image: 0.1
    predicted[0, 1, 1] += 30  # 30 px along y of a 150-high image: 0.2
    visible = np.ones((1, NUM_LANDMARKS), dtype=bool)

    metrics = compute_metrics(predicted, truth, visible, np.array([[300.0, 150.0]]))

    first, second = metrics["per_landmark"][:2]
    assert first["mean_pixel_error"] == second["mean_pixel_error"] == pytest.approx(30.0)
    assert first["normalized_error"] == pytest.approx(0.1)
    assert second["normalized_error"] == pytest.approx(0.2)


def test_compute_metrics_ignores_invisible_landmarks() -> None:
    truth = _truth(2)
    predicted = truth + OFFSETS[np.newaxis]
    visible = np.ones((2, NUM_LANDMARKS), dtype=bool)
    baseline = compute_metrics(predicted, truth, visible, _sizes(2, 200, 100))

    # A wild (even non-finite) prediction where the landmark is not visible changes nothing.
    wild = predicted.copy()
    wild[1, 0] = [1e6, -1e6]
    wild[1, 2] = [np.nan, np.nan]
    hidden = visible.copy()
    hidden[1, 0] = hidden[1, 2] = False
    metrics = compute_metrics(wild, truth, hidden, _sizes(2, 200, 100))

    assert metrics["num_visible"] == 10
    assert metrics["per_landmark"][0]["num_visible"] == 1
    assert metrics["normalized_error"] == pytest.approx(baseline["normalized_error"])
    assert metrics["per_landmark"][2]["pck"] == baseline["per_landmark"][2]["pck"]


def test_compute_metrics_landmark_never_visible_is_null_and_skipped() -> None:
    truth = _truth(2)
    predicted = truth + OFFSETS[np.newaxis]
    visible = np.ones((2, NUM_LANDMARKS), dtype=bool)
    visible[:, 3] = False  # the 0.3 landmark

    metrics = compute_metrics(predicted, truth, visible, _sizes(2, 200, 100))

    never_seen = metrics["per_landmark"][3]
    assert never_seen["num_visible"] == 0
    assert never_seen["normalized_error"] is None
    assert never_seen["pck"] == {"0.05": None, "0.1": None, "0.2": None}
    expected = np.delete(OFFSET_NORMALIZED, 3).mean()
    assert metrics["normalized_error"] == pytest.approx(expected, abs=1e-7)
    assert metrics["pck"]["0.2"] == 1.0
    json.dumps(metrics, allow_nan=False)  # null, never NaN


@pytest.mark.parametrize(
    ("predicted_shape", "visible_shape", "sizes_shape"),
    [((2, 5, 2), (2, 5), (2, 2)), ((2, 6, 2), (2, 5), (2, 2)), ((2, 6, 2), (2, 6), (3, 2))],
)
def test_compute_metrics_rejects_mismatched_shapes(
    predicted_shape: Sequence[int], visible_shape: Sequence[int], sizes_shape: Sequence[int]
) -> None:
    with pytest.raises(ValueError, match="must be"):
        compute_metrics(
            np.zeros(predicted_shape),
            np.zeros(predicted_shape),
            np.ones(visible_shape, dtype=bool),
            np.ones(sizes_shape),
        )


def test_compute_metrics_rejects_non_finite_visible_prediction() -> None:
    truth = _truth(1)
    predicted = truth.copy()
    predicted[0, 4, 0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        compute_metrics(predicted, truth, np.ones((1, 6), dtype=bool), _sizes(1, 256, 256))


# === Detection figures on hand-made arrays ===


def test_detection_metrics_counts_right_and_detected_points() -> None:
    # Two images: scores against the 0.5 threshold, distances against the 0.1 bound.
    scores = np.array([[0.9, 0.9, 0.2, 0.2, 0.5, 0.9], [0.9, 0.1, 0.1, 0.1, 0.1, 0.7]])
    distances = np.array([[0.01, 0.3, 0.02, 0.4, 0.0999, 0.1], [0.05, 0.05, 0.5, 0.5, 0.5, 9.0]])
    visible = np.ones((2, NUM_LANDMARKS), dtype=bool)
    visible[1, 5] = False  # detected and wrong, but it does not count
    distances[1, 5] = np.nan  # nor can its undefined distance leak in

    figures = detection_metrics(scores, distances, visible, threshold=0.5)

    # Detected (score >= 0.5): 0, 1, 4, 5 of image 0 and 0 of image 1 -> 5.
    # Right (< 0.1; 0.1 itself is not): 0, 2, 4 of image 0 and 0, 1 of image 1 -> 5.
    # Both: 0 and 4 of image 0, 0 of image 1 -> 3.
    assert figures["num_points"] == 11
    assert (figures["num_detected"], figures["num_right"], figures["num_right_detected"]) == (
        5,
        5,
        3,
    )
    assert figures["precision"] == pytest.approx(3 / 5)
    assert figures["recall"] == pytest.approx(3 / 5)
    assert figures["detected_fraction"] == pytest.approx(5 / 11)
    assert figures["right_fraction"] == pytest.approx(5 / 11)
    assert figures["threshold"] == 0.5
    assert figures["right_distance"] == 0.1

    nothing = detection_metrics(scores, distances, visible, threshold=1.0)
    assert nothing["num_detected"] == 0
    assert nothing["precision"] is None  # undefined, not 0
    assert nothing["recall"] == 0.0
    json.dumps(nothing, allow_nan=False)


def test_metrics_by_kind_groups_rows_and_leaves_out_kindless_ones() -> None:
    truth = _truth(3)
    predicted = truth + OFFSETS[np.newaxis]
    predicted[2] = truth[2]  # the kind-"b" image is exact
    visible = np.ones((3, NUM_LANDMARKS), dtype=bool)
    scores = np.full((3, NUM_LANDMARKS), 0.9)

    groups = metrics_by_kind(
        ["a", "", "b"], predicted, truth, visible, _sizes(3, 200, 100), scores, 0.5
    )

    assert list(groups) == ["a", "b"]
    assert groups["a"]["num_images"] == 1
    assert groups["a"]["normalized_error"] == pytest.approx(OFFSET_NORMALIZED.mean(), abs=1e-6)
    assert groups["b"]["normalized_error"] == pytest.approx(0.0, abs=1e-9)
    # OFFSET_NORMALIZED has 4 of 6 below 0.1; the exact image has all 6.
    assert groups["a"]["detection"]["precision"] == pytest.approx(4 / 6)
    assert groups["b"]["detection"]["precision"] == 1.0
    assert (
        metrics_by_kind(["", "", ""], predicted, truth, visible, _sizes(3, 9, 9), scores, 0.5) == {}
    )
