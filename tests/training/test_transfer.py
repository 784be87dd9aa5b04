"""The `efficientnet_unet` architecture: contract, ImageNet start, freezing, end to end."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from app.model_runtime import SIGNATURE_NAME, SINGLE_PASS_SIGNATURE_NAME
from tests.inshop import write_inshop_dataset
from tests.photos import write_photo_folder
from tests.training.test_train_cli import run_training_cli
from training import efficientnet_lite
from training.model import architecture_of, build_model, network_size_of
from training.torch_weights import read_state_dict
from training.train import TrainConfig, compile_model, set_encoder_trainable


def test_outputs_per_pixel_probabilities_and_records_its_architecture() -> None:
    model = build_model("efficientnet_unet", 0.25, pretrained=False)
    output = model(np.zeros((2, 256, 256, 3), np.float32), training=False).numpy()
    assert output.shape == (2, 256, 256, 7)
    np.testing.assert_allclose(output.sum(axis=-1), 1.0, atol=1e-5)
    assert architecture_of(model) == ("efficientnet_unet", 0.25)


@pytest.mark.parametrize(
    ("architecture", "width"),
    [("unet", 0.125), ("unet", 0.3), ("encoder_decoder", 0.6), ("encoder_decoder", 0.5)],
)
def test_the_width_read_back_rebuilds_the_same_network(architecture: str, width: float) -> None:
    # 0.3 of 16 filters rounds to 5, as 0.3125 does: one layer alone cannot tell them apart.
    model = build_model(architecture, width)
    found = architecture_of(model)
    assert found == (architecture, width)
    rebuilt = build_model(*found)
    assert [w.shape for w in rebuilt.weights] == [w.shape for w in model.weights]


def test_a_lower_network_size_runs_the_same_weights_inside_the_same_contract() -> None:
    full = build_model("efficientnet_unet", 0.25, pretrained=False)
    small = build_model("efficientnet_unet", 0.25, pretrained=False, network_size=64)
    assert (network_size_of(full), network_size_of(small)) == (256, 64)
    assert architecture_of(small) == ("efficientnet_unet", 0.25)
    # The same variables: a network trained at one size runs at another.
    assert [w.path for w in small.weights] == [w.path for w in full.weights]
    small.set_weights(full.get_weights())
    # Really run at 64: the stride-32 features are 2x2 and the logits 32x32.
    assert small.get_layer("decoder32_project").output.shape[1:3] == (2, 2)
    assert small.get_layer("head_logits").output.shape[1:3] == (32, 32)
    images = np.random.default_rng(0).uniform(0, 255, (2, 256, 256, 3)).astype(np.float32)
    output = small(images, training=False).numpy()
    assert output.shape == (2, 256, 256, 7)
    np.testing.assert_allclose(output.sum(axis=-1), 1.0, atol=1e-5)
    # Softmax at the network's resolution, then probabilities resized bilinearly to 256.
    inside = keras.Model(small.input, small.get_layer("class_probabilities").output)
    low = inside(images, training=False)
    expected = tf.image.resize(low, (256, 256), method="bilinear").numpy()
    np.testing.assert_allclose(output, expected, atol=1e-5)


@pytest.mark.parametrize("size", [0, 100, -32])
def test_a_network_size_the_encoder_cannot_run_is_refused(size: int) -> None:
    with pytest.raises(ValueError, match="multiple of 32"):
        build_model("efficientnet_unet", 0.25, pretrained=False, network_size=size)


def test_network_size_is_for_the_transfer_architecture_only() -> None:
    with pytest.raises(ValueError, match="network_size"):
        build_model("unet", 0.125, network_size=128)
    assert network_size_of(build_model("unet", 0.125, network_size=256)) == 256


def test_export_runs_a_checkpoint_at_another_network_size(tmp_path: Path) -> None:
    from training.adapt import load_network
    from training.export import serving_outputs

    model = build_model("efficientnet_unet", 0.25, pretrained=False)
    compile_model(model, TrainConfig(data_dir=tmp_path, out_dir=tmp_path / "m"))
    model.save(tmp_path / "last.keras")
    run_training_cli(
        "export", "--checkpoint", str(tmp_path / "last.keras"), "--out", str(tmp_path / "m"),
        "--version", "2", "--flip-average", "--network-size", "64",
        cwd=tmp_path,
    )  # fmt: skip
    metadata = json.loads((tmp_path / "m" / "2" / "metadata.json").read_text())
    assert metadata["network_size"] == 64
    assert metadata["class_map_divisors"] == [1.0] + [256.0] * 6  # from the checkpoint's loss
    # The metadata rebuilds the network the export runs: at 64, with the checkpoint's weights.
    network, _ = load_network(tmp_path / "m")
    assert network_size_of(network) == 64
    for rebuilt, trained in zip(network.weights, model.weights, strict=True):
        np.testing.assert_array_equal(rebuilt.numpy(), trained.numpy())
    images = tf.constant(np.random.default_rng(1).integers(0, 256, (2, 256, 256, 3), np.uint8))
    saved = tf.saved_model.load(str(tmp_path / "m" / "2")).signatures[SINGLE_PASS_SIGNATURE_NAME]
    exported = saved(images=images)
    expected = serving_outputs(network, images, top_k=5)
    np.testing.assert_allclose(exported["landmarks"], expected["landmarks"], atol=1e-3)
    unchanged = serving_outputs(model, images, top_k=5)  # the 256 network answers otherwise
    assert not np.allclose(unchanged["scores"], exported["scores"], atol=1e-4)


def test_the_decoder_is_fed_by_every_stride_of_the_encoder() -> None:
    model = build_model("efficientnet_unet", 0.25, pretrained=False)
    for stride, block in efficientnet_lite.FEATURE_BLOCKS.items():
        if stride == 32:
            consumer = model.get_layer("decoder32_project")
        else:
            consumer = model.get_layer(f"decoder{stride}_skip")
        inputs = consumer.input if isinstance(consumer.input, list) else [consumer.input]
        sources = {tensor._keras_history.operation.name for tensor in inputs}
        assert any(name.startswith(f"encoder_block{block}_") for name in sources), (stride, sources)


def test_pretrained_build_starts_from_imagenet_weights() -> None:
    state = read_state_dict(efficientnet_lite.default_weights_path())
    model = build_model("efficientnet_unet", 0.25)
    kernel = model.get_layer("encoder_block15_project").get_weights()[0]
    np.testing.assert_array_equal(
        kernel, state["_blocks.15._project_conv.weight"].transpose(2, 3, 1, 0)
    )
    untrained = build_model("efficientnet_unet", 0.25, pretrained=False)
    assert not np.allclose(untrained.get_layer("encoder_stem").get_weights()[0], 0.0)
    assert not np.array_equal(
        untrained.get_layer("encoder_stem").get_weights()[0],
        model.get_layer("encoder_stem").get_weights()[0],
    )


def _trainable_names(model: keras.Model) -> set[str]:
    return {layer.name for layer in model.layers if layer.trainable and layer.weights}


@pytest.mark.parametrize(
    ("freeze", "train_bn", "encoder_convs", "encoder_bn"),
    [
        (False, False, True, False),
        (True, False, False, False),
        (False, True, True, True),
        (True, True, False, False),  # a frozen encoder keeps its BatchNorm frozen too
    ],
)
def test_encoder_freezing(
    tmp_path: Path, freeze: bool, train_bn: bool, encoder_convs: bool, encoder_bn: bool
) -> None:
    model = build_model("efficientnet_unet", 0.25, pretrained=False)
    config = TrainConfig(
        data_dir=tmp_path,
        out_dir=tmp_path / "m",
        architecture="efficientnet_unet",
        freeze_encoder=freeze,
        train_encoder_bn=train_bn,
    )
    assert set_encoder_trainable(model, config) is (freeze or not train_bn)
    trainable = _trainable_names(model)
    assert ("encoder_block3_depthwise" in trainable) is encoder_convs
    assert ("encoder_block3_depthwise_bn" in trainable) is encoder_bn
    assert "decoder4_conv0" in trainable and "head_logits" in trainable
    # Applying the same choice again changes nothing (a resume need not recompile).
    assert set_encoder_trainable(model, config) is False


def test_photo_mixing_needs_an_endless_stream_and_a_sensible_weight(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="steps_per_epoch"):
        TrainConfig(data_dir=tmp_path, out_dir=tmp_path / "m", photo_dirs=(tmp_path,))
    with pytest.raises(ValueError, match="photo_weight"):
        TrainConfig(
            data_dir=tmp_path,
            out_dir=tmp_path / "m",
            photo_dirs=(tmp_path,),
            photo_weight=1.0,
            steps_per_epoch=2,
        )


@pytest.mark.slow
def test_train_on_synthetic_and_photos_validate_on_photos_and_export(tmp_path: Path) -> None:
    write_inshop_dataset(tmp_path / "synthetic", 8)
    write_photo_folder(tmp_path / "photos", 5, seed=1)
    write_photo_folder(tmp_path / "validation", 3, seed=2, rotated=True)
    run_dir = tmp_path / "run"
    run_training_cli(
        "train", "--data", str(tmp_path / "synthetic"), "--photos", str(tmp_path / "photos"),
        "--photo-weight", "0.5", "--validation-data", str(tmp_path / "validation"),
        "--arch", "efficientnet_unet", "--width", "0.25", "--freeze-encoder",
        "--out", str(tmp_path / "models" / "transfer"), "--run-dir", str(run_dir),
        "--epochs", "1", "--steps-per-epoch", "2", "--batch-size", "4", "--verbose", "0",
        cwd=tmp_path,
    )  # fmt: skip
    metadata = json.loads((tmp_path / "models" / "transfer" / "1" / "metadata.json").read_text())
    assert metadata["architecture"] == "efficientnet_unet"
    assert metadata["width_multiplier"] == 0.25
    assert metadata["training_data"]["num_train"] == 8
    assert metadata["training_data"]["num_validation"] == 3
    assert metadata["training_data"]["photos"][0]["count"] == 5
    assert metadata["training"]["freeze_encoder"] is True
    assert metadata["evaluation"]["normalized_error"] > 0

    # A second stage from the frozen stage's checkpoint, encoder unfrozen, exported mirror-
    # averaged by the export command, which reads the architecture back from the checkpoint.
    run_training_cli(
        "train", "--data", str(tmp_path / "photos"), "--validation-fraction", "0.4",
        "--arch", "efficientnet_unet", "--width", "0.25",
        "--resume", str(run_dir / "checkpoints" / "last.keras"), "--initial-epoch", "1",
        "--out", str(tmp_path / "models" / "transfer"), "--version", "2",
        "--run-dir", str(run_dir), "--epochs", "2", "--batch-size", "2", "--verbose", "0",
        cwd=tmp_path,
    )  # fmt: skip
    checkpoint = keras.saving.load_model(run_dir / "checkpoints" / "last.keras")
    assert "encoder_block3_depthwise" in _trainable_names(checkpoint)
    run_training_cli(
        "export", "--checkpoint", str(run_dir / "checkpoints" / "best.keras"),
        "--out", str(tmp_path / "models" / "transfer"), "--version", "3", "--flip-average",
        "--metadata-from", str(tmp_path / "models" / "transfer" / "2"),
        cwd=tmp_path,
    )  # fmt: skip
    export_dir = tmp_path / "models" / "transfer" / "3"
    exported = json.loads((export_dir / "metadata.json").read_text())
    assert (exported["architecture"], exported["width_multiplier"]) == ("efficientnet_unet", 0.25)
    # The training run's records come along; the checkpoint is the one exported.
    assert exported["training_data"]["num_train"] == 3
    assert exported["training_data"]["checkpoint"].endswith("best.keras")
    assert exported["training"]["epochs"] == 2
    assert exported["score"]["kind"] == "peak_x_mirror_agreement"
    # The checkpoint's class weights (the seed's) set the class map's divisors.
    assert exported["class_map_divisors"] == [1.0] + [256.0] * 6
    loaded = tf.saved_model.load(str(export_dir))
    assert set(loaded.signatures) == {SIGNATURE_NAME, SINGLE_PASS_SIGNATURE_NAME}
    outputs = loaded.signatures[SIGNATURE_NAME](images=tf.zeros([2, 256, 256, 3], tf.uint8))
    assert outputs["landmarks"].shape == (2, 6, 2) and outputs["landmarks"].dtype == tf.float32
    assert outputs["scores"].shape == (2, 6)
    assert outputs["class_map"].shape == (2, 256, 256) and outputs["class_map"].dtype == tf.uint8
    assert outputs["candidate_points"].shape == (2, 6, 5, 2)


def test_a_photo_folder_split_that_leaves_nothing_to_train_on_is_refused(tmp_path: Path) -> None:
    from training.annotations import FilterOptions
    from training.train import read_source

    write_photo_folder(tmp_path, 2)
    with pytest.raises(ValueError, match="leaves none of its 2 photos to train on"):
        read_source(tmp_path, FilterOptions(), 0.75, seed=0)
    train_part, validation = read_source(tmp_path, FilterOptions(), 0.5, seed=0)
    assert (train_part.count, validation.count if validation else 0) == (1, 1)
