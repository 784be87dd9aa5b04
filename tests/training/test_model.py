"""Networks and loss (in-graph peak search: test_peaks.py)."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from training.labels import make_label_map
from training.loss import LandmarkError, WeightedCategoricalCrossentropy, class_weights
from training.model import build_model


def test_seed_network_has_the_seeds_parameter_count() -> None:
    model = build_model("encoder_decoder")
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert model.count_params() == 1_557_971
    assert trainable == 1_556_525


def test_unet_adds_skip_connections_to_the_same_encoder() -> None:
    seed, unet = build_model("encoder_decoder", 0.25), build_model("unet", 0.25)
    assert not any("skip" in layer.name for layer in seed.layers)
    assert sum("skip" in layer.name for layer in unet.layers) == 4
    encoder = [layer.name for layer in seed.layers if layer.name.startswith("encoder")]
    assert encoder == [layer.name for layer in unet.layers if layer.name.startswith("encoder")]


@pytest.mark.parametrize("architecture", ["encoder_decoder", "unet"])
def test_model_outputs_per_pixel_probabilities(architecture: str) -> None:
    model = build_model(architecture, width_multiplier=0.125)
    output = model(np.zeros((2, 256, 256, 3), np.float32), training=False).numpy()
    assert output.shape == (2, 256, 256, 7)
    np.testing.assert_allclose(output.sum(axis=-1), 1.0, atol=1e-5)


def test_build_model_rejects_unknown_architecture() -> None:
    with pytest.raises(ValueError, match="architecture"):
        build_model("resnet")


def test_weighted_loss_equals_class_weight_on_one_hot_targets() -> None:
    y_true = np.zeros((1, 1, 2, 7), np.float32)
    y_true[0, 0, 0, 0] = 1.0  # background pixel
    y_true[0, 0, 1, 3] = 1.0  # landmark-3 pixel
    y_pred = np.full((1, 1, 2, 7), 1 / 7, np.float32)
    loss = WeightedCategoricalCrossentropy(class_weights(1.0, 100.0))
    per_pixel = loss.call(tf.constant(y_true), tf.constant(y_pred)).numpy()
    np.testing.assert_allclose(per_pixel[0, 0], [np.log(7), 100 * np.log(7)], rtol=1e-5)


def test_landmark_error_metric_is_zero_for_identical_maps() -> None:
    points = np.array([[40, 30], [200, 31], [20, 120], [230, 125], [60, 220], [190, 221]], "f4")
    label = make_label_map(points)[tf.newaxis]
    shifted = make_label_map(points + np.array([3.0, 4.0], "f4"))[tf.newaxis]
    metric = LandmarkError()
    metric.update_state(label, label)
    assert float(metric.result()) == pytest.approx(0.0, abs=1e-4)
    metric.reset_state()
    metric.update_state(label, shifted)
    assert float(metric.result()) == pytest.approx(5.0, abs=1e-3)


def test_the_old_seed_architecture_name_still_reads() -> None:
    # Checkpoints and metadata.json from before the rename say `seed`.
    from training.model import architecture_of

    model = build_model("encoder_decoder", 0.25)
    assert model.name == "encoder_decoder_landmarks"
    renamed = keras.Model(model.inputs, model.outputs, name="seed_landmarks")
    assert architecture_of(renamed) == ("encoder_decoder", 0.25)
    assert build_model("seed", 0.25).name == "encoder_decoder_landmarks"
