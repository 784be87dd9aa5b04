"""Per-pixel class-weighted categorical cross-entropy, and a landmark-distance metric.

Keras 3's `class_weight` argument weights whole samples by their (single) class and does not
apply to per-pixel soft targets, so the seed's class weights (background 1, each landmark
256 * 256) are applied inside the loss instead: for soft targets y and predictions p,

    loss(pixel) = -sum_c w_c * y_c * log(p_c)

which, for one-hot targets, is exactly what a per-pixel class weight means.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import tensorflow as tf

from training.landmarks import IMAGE_SIZE, NUM_CLASSES
from training.peaks import decode_landmarks

DEFAULT_BACKGROUND_WEIGHT = 1.0
DEFAULT_LANDMARK_WEIGHT = float(IMAGE_SIZE * IMAGE_SIZE)


def class_weights(
    background_weight: float = DEFAULT_BACKGROUND_WEIGHT,
    landmark_weight: float = DEFAULT_LANDMARK_WEIGHT,
) -> list[float]:
    """The seven per-class weights: background first, then the six landmarks."""
    if background_weight <= 0 or landmark_weight <= 0:
        raise ValueError("class weights must be positive")
    return [background_weight] + [landmark_weight] * (NUM_CLASSES - 1)


@keras.saving.register_keras_serializable(package="garment_landmarks")
class WeightedCategoricalCrossentropy(keras.losses.Loss):
    """Cross-entropy with a weight per class, applied pixel by pixel.

    Args:
        weights: one weight per class (7 values, background first).
    """

    def __init__(self, weights: Sequence[float], name: str = "weighted_ce", **kwargs: Any):
        super().__init__(name=name, **kwargs)
        if len(weights) != NUM_CLASSES:
            raise ValueError(f"expected {NUM_CLASSES} class weights, got {len(weights)}")
        self.weights = [float(w) for w in weights]

    def call(self, y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
        """y_true, y_pred: float32 [N, H, W, 7] -> float32 [N, H, W] per-pixel loss."""
        weights = tf.constant(self.weights, dtype=y_pred.dtype)
        y_pred = tf.clip_by_value(y_pred, keras.config.epsilon(), 1.0)
        y_true = tf.cast(y_true, y_pred.dtype)
        return -tf.reduce_sum(weights * y_true * tf.math.log(y_pred), axis=-1)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "weights": self.weights}


@keras.saving.register_keras_serializable(package="garment_landmarks")
class LandmarkError(keras.metrics.Mean):
    """Mean distance in pixels between the label's and the prediction's landmark peaks.

    Cross-entropy falls long after the peaks stop moving; this is the figure the service's
    users see, so it is what picks the best checkpoint by default.
    """

    def __init__(self, name: str = "landmark_error", **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)

    def update_state(
        self, y_true: tf.Tensor, y_pred: tf.Tensor, sample_weight: tf.Tensor | None = None
    ) -> None:
        """y_true, y_pred: float32 [N, H, W, 7]."""
        true_points, _ = decode_landmarks(tf.cast(y_true, tf.float32))
        predicted_points, _ = decode_landmarks(tf.cast(y_pred, tf.float32))
        distance = tf.norm(true_points - predicted_points, axis=-1)  # [N, 6]
        super().update_state(distance)
