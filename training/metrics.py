"""Landmark metrics (NumPy only): pixel error, NE, PCK, by kind, and detection precision.

For a landmark seen in an image of width W and height H, with prediction error (dx, dy) in
that image's pixels:

- pixel error: sqrt(dx^2 + dy^2);
- normalised distance: sqrt((dx / W)^2 + (dy / H)^2);
- NE: per landmark, the mean normalised distance over the images where it is visible; overall,
  the mean of the six per-landmark figures (the mean pixel error is averaged the same way);
- PCK@t: the fraction of visible landmarks whose normalised distance is <= t, per landmark and
  pooled over all visible landmarks;
- detection: a point is right when its normalised distance is below `RIGHT_DISTANCE`;
  precision is right-and-detected over detected, recall right-and-detected over right.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from training.landmarks import LANDMARK_NAMES, NUM_LANDMARKS

PCK_THRESHOLDS: tuple[float, ...] = (0.05, 0.1, 0.2)
# A prediction is "right" when its normalised distance is below this (strictly): about a tenth
# of the garment's photo (PCK@0.1 counts distances <= 0.1; the two differ only at exactly 0.1).
RIGHT_DISTANCE = 0.1


def pixel_distances(predicted: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Euclidean distance per landmark, in pixels.

    Args:
        predicted: float [N, K, 2] (x, y).
        truth: float [N, K, 2] (x, y), the same pixel space.

    Returns:
        float64 [N, K].
    """
    difference = np.asarray(predicted, np.float64) - np.asarray(truth, np.float64)
    return np.sqrt(np.sum(difference**2, axis=-1))


def normalized_distances(
    predicted: np.ndarray, truth: np.ndarray, image_sizes: np.ndarray
) -> np.ndarray:
    """Distance per landmark with dx divided by the image width and dy by its height.

    Args:
        predicted: float [N, K, 2] (x, y) in each image's pixels.
        truth: float [N, K, 2] (x, y) in each image's pixels.
        image_sizes: float [N, 2] (width, height) of each image.

    Returns:
        float64 [N, K].
    """
    difference = np.asarray(predicted, np.float64) - np.asarray(truth, np.float64)
    scaled = difference / np.asarray(image_sizes, np.float64)[:, np.newaxis, :]
    return np.sqrt(np.sum(scaled**2, axis=-1))


def per_image_normalized_error(
    predicted: np.ndarray, truth: np.ndarray, visible: np.ndarray, image_sizes: np.ndarray
) -> np.ndarray:
    """Each image's mean normalised distance over its visible landmarks (ranks the worst).

    Args:
        predicted: float [N, K, 2] (x, y) in each image's pixels.
        truth: float [N, K, 2] (x, y) in each image's pixels.
        visible: bool [N, K].
        image_sizes: float [N, 2] (width, height).

    Returns:
        float64 [N]; NaN for an image with no visible landmark.
    """
    distances = normalized_distances(predicted, truth, image_sizes)
    return masked_mean(distances, visible, axis=1)


def masked_mean(values: np.ndarray, mask: np.ndarray, axis: int) -> np.ndarray:
    """Mean of `values` where `mask` is True along `axis`; NaN where nothing is selected."""
    counts = mask.sum(axis=axis)
    # np.where first, so a NaN at a masked-out position cannot leak into the sum.
    totals = np.where(mask, values, 0.0).sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, totals / np.maximum(counts, 1), np.nan)


def _figure(value: float | np.floating[Any]) -> float | None:
    """A JSON-safe number: None where the figure is undefined (nothing visible)."""
    number = float(value)
    return None if math.isnan(number) else number


def _check_metric_inputs(
    predicted: np.ndarray, truth: np.ndarray, visible: np.ndarray, image_sizes: np.ndarray
) -> None:
    if predicted.ndim != 3 or predicted.shape[1:] != (NUM_LANDMARKS, 2):
        raise ValueError(f"predicted must be [N, {NUM_LANDMARKS}, 2], got {predicted.shape}")
    if truth.shape != predicted.shape:
        raise ValueError(f"truth {truth.shape} and predicted {predicted.shape} differ in shape")
    if visible.shape != predicted.shape[:2] or visible.dtype != np.bool_:
        raise ValueError(
            f"visible must be bool {list(predicted.shape[:2])}, got {visible.dtype} "
            f"{list(visible.shape)}"
        )
    if image_sizes.shape != (predicted.shape[0], 2):
        raise ValueError(f"image_sizes must be [{predicted.shape[0]}, 2], got {image_sizes.shape}")
    if np.any(~(image_sizes > 0)):
        raise ValueError("image sizes must be positive (width, height)")
    if not np.all(np.isfinite(predicted[visible])) or not np.all(np.isfinite(truth[visible])):
        raise ValueError("predicted and true points must be finite wherever visible")


def compute_metrics(
    predicted: np.ndarray,
    truth: np.ndarray,
    visible: np.ndarray,
    image_sizes: np.ndarray,
) -> dict[str, Any]:
    """Landmark accuracy figures over visible landmarks (definitions in the module docstring).

    Args:
        predicted: float [N, 6, 2] (x, y) predicted points in each image's own pixels.
        truth: float [N, 6, 2] (x, y) annotated points in the same pixels.
        visible: bool [N, 6]; only True entries count.
        image_sizes: float [N, 2] (width, height) of each image.

    Returns:
        A JSON-ready dict::

            num_images, num_visible: int
            mean_pixel_error, median_pixel_error, normalized_error: float | None
            pck: {"0.05": float | None, "0.1": ..., "0.2": ...}
            per_landmark: [{id, name, num_visible, mean_pixel_error, median_pixel_error,
                            normalized_error, pck: {...}}, ...]  (6 entries, id order)

        A figure is None when no landmark it covers is visible; overall means skip such
        landmarks.

    Raises:
        ValueError: shapes disagree, a size is not positive, or a visible point is not finite.
    """
    predicted = np.asarray(predicted)
    truth = np.asarray(truth)
    visible = np.asarray(visible)
    image_sizes = np.asarray(image_sizes, np.float64)
    _check_metric_inputs(predicted, truth, visible, image_sizes)

    pixels = pixel_distances(predicted, truth)  # [N, 6]
    normalized = normalized_distances(predicted, truth, image_sizes)  # [N, 6]
    counts = visible.sum(axis=0)  # [6]
    landmark_pixel_error = masked_mean(pixels, visible, axis=0)  # [6]
    landmark_normalized_error = masked_mean(normalized, visible, axis=0)
    landmark_pck = {
        threshold: masked_mean((normalized <= threshold).astype(np.float64), visible, axis=0)
        for threshold in PCK_THRESHOLDS
    }

    per_landmark = []
    for index, name in enumerate(LANDMARK_NAMES):
        seen = pixels[visible[:, index], index]
        per_landmark.append(
            {
                "id": index + 1,
                "name": name,
                "num_visible": int(counts[index]),
                "mean_pixel_error": _figure(landmark_pixel_error[index]),
                "median_pixel_error": _figure(np.median(seen)) if seen.size else None,
                "normalized_error": _figure(landmark_normalized_error[index]),
                "pck": {
                    _pck_key(threshold): _figure(values[index])
                    for threshold, values in landmark_pck.items()
                },
            }
        )

    num_visible = int(counts.sum())
    any_seen = counts > 0
    all_pixels = pixels[visible]
    all_normalized = normalized[visible]
    return {
        "num_images": int(predicted.shape[0]),
        "num_visible": num_visible,
        # Averaged over landmarks, like NE, so one landmark seen more often does not dominate.
        "mean_pixel_error": (
            _figure(landmark_pixel_error[any_seen].mean()) if any_seen.any() else None
        ),
        "median_pixel_error": _figure(np.median(all_pixels)) if num_visible else None,
        "normalized_error": (
            _figure(landmark_normalized_error[any_seen].mean()) if any_seen.any() else None
        ),
        "pck": {
            _pck_key(threshold): (
                _figure(np.mean(all_normalized <= threshold)) if num_visible else None
            )
            for threshold in PCK_THRESHOLDS
        },
        "per_landmark": per_landmark,
    }


def _pck_key(threshold: float) -> str:
    return f"{threshold:g}"


def detection_metrics(
    scores: np.ndarray, normalized: np.ndarray, visible: np.ndarray, threshold: float
) -> dict[str, Any]:
    """How well the service's `detected` flag tells right predictions from wrong ones.

    Args:
        scores: float [N, 6] the signature's `scores`, each landmark's probability.
        normalized: float [N, 6] normalised distances (`normalized_distances`); may be NaN where
            not visible.
        visible: bool [N, 6]; only True entries count.
        threshold: detected means score >= threshold, as in the service.

    Returns:
        A JSON-ready dict::

            threshold, right_distance: float
            num_points, num_detected, num_right, num_right_detected: int
            precision: right and detected / detected (None when nothing is detected)
            recall: right and detected / right (None when nothing is right)
            detected_fraction, right_fraction: over num_points (None when it is 0)

    Raises:
        ValueError: the shapes disagree.
    """
    scores = np.asarray(scores, np.float64)
    normalized = np.asarray(normalized, np.float64)
    visible = np.asarray(visible)
    if scores.shape != normalized.shape or scores.shape != visible.shape or scores.ndim != 2:
        raise ValueError(
            f"scores {list(scores.shape)}, distances {list(normalized.shape)} and visible "
            f"{list(visible.shape)} must be the same [N, K]"
        )
    detected = visible & (scores >= threshold)
    # inf, not NaN, where a point does not count: no comparison then sees an undefined value.
    right = visible & (np.where(visible, normalized, np.inf) < RIGHT_DISTANCE)
    num_points = int(visible.sum())
    num_detected = int(detected.sum())
    num_right = int(right.sum())
    num_both = int((detected & right).sum())

    def ratio(numerator: int, denominator: int) -> float | None:
        return numerator / denominator if denominator else None

    return {
        "threshold": float(threshold),
        "right_distance": RIGHT_DISTANCE,
        "num_points": num_points,
        "num_detected": num_detected,
        "num_right": num_right,
        "num_right_detected": num_both,
        "precision": ratio(num_both, num_detected),
        "recall": ratio(num_both, num_right),
        "detected_fraction": ratio(num_detected, num_points),
        "right_fraction": ratio(num_right, num_points),
    }


def metrics_by_kind(
    kinds: Sequence[str],
    predicted: np.ndarray,
    truth: np.ndarray,
    visible: np.ndarray,
    image_sizes: np.ndarray,
    scores: np.ndarray,
    threshold: float,
) -> dict[str, dict[str, Any]]:
    """`compute_metrics` per kind, each with its `detection_metrics` under `detection`.

    Args:
        kinds: [N] each image's kind; "" (no kind) is left out of the grouping.
        predicted: float [N, 6, 2] (x, y) in each image's pixels.
        truth: float [N, 6, 2] (x, y) in each image's pixels.
        visible: bool [N, 6].
        image_sizes: float [N, 2] (width, height).
        scores: float [N, 6].
        threshold: the detection threshold.

    Returns:
        {kind: figures}, kinds in sorted order; empty when no image has a kind.
    """
    labels = np.asarray(kinds, dtype=object)
    groups: dict[str, dict[str, Any]] = {}
    for kind in sorted({kind for kind in kinds if kind}):
        rows = labels == kind
        figures = compute_metrics(predicted[rows], truth[rows], visible[rows], image_sizes[rows])
        distances = normalized_distances(predicted[rows], truth[rows], image_sizes[rows])
        figures["detection"] = detection_metrics(scores[rows], distances, visible[rows], threshold)
        groups[kind] = figures
    return groups
