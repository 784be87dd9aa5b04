"""SavedModel export: the reloaded signature matches the in-memory model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from training.export import (
    MIRROR_AGREEMENT_SIGMA,
    MIRRORED_CLASSES,
    base_metadata,
    class_map_divisors,
    export_saved_model,
    network_probabilities,
)
from training.landmarks import FLIP_PERMUTATION
from training.model import build_model
from training.peaks import decode_landmarks


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, Path]:
    model = build_model("unet", width_multiplier=0.125)
    export_dir = tmp_path_factory.mktemp("models") / "tiny" / "3"
    export_saved_model(model, export_dir, base_metadata("tiny", 3, "unet", 0.125), top_k=4)
    return model, export_dir


def test_export_writes_serving_layout_and_metadata(exported: tuple[object, Path]) -> None:
    _, export_dir = exported
    assert (export_dir / "saved_model.pb").is_file()
    assert (export_dir / "variables").is_dir()
    metadata = json.loads((export_dir / "metadata.json").read_text())
    assert metadata["name"] == "tiny" and metadata["version"] == 3
    assert metadata["top_k"] == 4 and metadata["input_size"] == [256, 256]
    assert [lm["name"] for lm in metadata["landmarks"]][:2] == ["left_collar", "right_collar"]
    assert metadata["landmarks"][0]["color"] == [255, 0, 0]
    assert metadata["flip_average"] is False
    assert not list(export_dir.parent.glob(".*staging"))
    signatures = tf.saved_model.load(str(export_dir)).signatures
    assert sorted(signatures) == ["serving_default"]  # a second one only with flip_average


def test_signature_matches_the_in_memory_model(exported: tuple[object, Path]) -> None:
    model, export_dir = exported
    signature = tf.saved_model.load(str(export_dir)).signatures["serving_default"]
    images = np.random.default_rng(0).integers(0, 256, (3, 256, 256, 3), dtype=np.uint8)
    outputs = signature(images=tf.constant(images))
    assert outputs["landmarks"].shape == (3, 6, 2) and outputs["landmarks"].dtype == tf.float32
    assert outputs["scores"].shape == (3, 6)
    assert outputs["class_map"].shape == (3, 256, 256) and outputs["class_map"].dtype == tf.uint8
    assert outputs["candidate_points"].shape == (3, 6, 4, 2)
    assert outputs["candidate_scores"].shape == (3, 6, 4)

    probabilities = model(images.astype(np.float32), training=False)  # type: ignore[operator]
    landmarks, scores = decode_landmarks(probabilities)
    np.testing.assert_allclose(outputs["landmarks"].numpy(), landmarks.numpy(), atol=1e-3)
    np.testing.assert_allclose(outputs["scores"].numpy(), scores.numpy(), atol=1e-5)
    np.testing.assert_array_equal(
        outputs["class_map"].numpy(), np.argmax(probabilities.numpy(), axis=-1)
    )


def test_export_replaces_an_existing_version(exported: tuple[object, Path]) -> None:
    model, export_dir = exported
    (export_dir / "stale.txt").write_text("old")
    export_saved_model(model, export_dir, base_metadata("tiny", 3, "unet", 0.125), top_k=4)  # type: ignore[arg-type]
    assert not (export_dir / "stale.txt").exists()


def _mirror_maps(maps: np.ndarray) -> np.ndarray:
    """float [N, H, W, 7] maps of mirrored images -> the original images' frame and classes."""
    return maps[:, :, ::-1][..., list(MIRRORED_CLASSES)]


def test_mirrored_classes_swap_each_left_right_pair() -> None:
    assert MIRRORED_CLASSES == (0, 2, 1, 4, 3, 6, 5)


def test_flip_average_is_mirror_symmetric_where_the_network_is_not(
    exported: tuple[object, Path],
) -> None:
    model, _ = exported
    images = np.random.default_rng(1).integers(0, 256, (2, 256, 256, 3), dtype=np.uint8)
    mirrored_images = images[:, :, ::-1].copy()

    plain = network_probabilities(model, tf.constant(images)).numpy()
    plain_of_mirror = network_probabilities(model, tf.constant(mirrored_images)).numpy()
    # An untrained network has no reason to be symmetric: the check below can fail.
    assert np.abs(_mirror_maps(plain_of_mirror) - plain).max() > 1e-3

    averaged = network_probabilities(model, tf.constant(images), flip_average=True).numpy()
    averaged_of_mirror = network_probabilities(
        model,
        tf.constant(mirrored_images),
        flip_average=True,
    ).numpy()
    np.testing.assert_allclose(_mirror_maps(averaged_of_mirror), averaged, atol=1e-6)
    np.testing.assert_allclose(averaged, (plain + _mirror_maps(plain_of_mirror)) / 2, atol=1e-6)
    np.testing.assert_allclose(averaged.sum(axis=-1), 1.0, atol=1e-5)


def test_flip_averaged_export_decodes_the_averaged_maps(
    exported: tuple[object, Path], tmp_path: Path
) -> None:
    model, _ = exported
    export_dir = tmp_path / "tiny" / "1"
    export_saved_model(
        model,
        export_dir,
        base_metadata("tiny", 1, "unet", 0.125),
        top_k=2,
        flip_average=True,
    )
    assert json.loads((export_dir / "metadata.json").read_text())["flip_average"] is True
    signatures = tf.saved_model.load(str(export_dir)).signatures
    signature, single_pass = signatures["serving_default"], signatures["serving_single_pass"]
    images = np.random.default_rng(2).integers(0, 256, (3, 256, 256, 3), dtype=np.uint8)
    outputs = signature(images=tf.constant(images))
    single_pass_landmarks, _ = decode_landmarks(network_probabilities(model, tf.constant(images)))
    np.testing.assert_allclose(
        single_pass(images=tf.constant(images))["landmarks"].numpy(),
        single_pass_landmarks.numpy(),
        atol=1e-3,
    )

    averaged = network_probabilities(model, tf.constant(images), flip_average=True)
    landmarks, peaks = decode_landmarks(averaged)
    np.testing.assert_allclose(outputs["landmarks"].numpy(), landmarks.numpy(), atol=1e-3)
    # scores: the averaged peak times the agreement of the image's and its mirror's peaks.
    direct, _ = decode_landmarks(network_probabilities(model, tf.constant(images)))
    mirror_view, _ = decode_landmarks(
        tf.constant(
            _mirror_maps(
                network_probabilities(model, tf.constant(images[:, :, ::-1].copy())).numpy()
            )
        )
    )
    distance = np.linalg.norm(direct.numpy() - mirror_view.numpy(), axis=-1)
    agreement = np.exp(-(distance**2) / (2 * MIRROR_AGREEMENT_SIGMA**2))
    # An untrained network's views disagree somewhere, so the agreement term matters here.
    assert agreement.min() < 0.9
    np.testing.assert_allclose(outputs["scores"].numpy(), peaks.numpy() * agreement, atol=1e-4)
    metadata = json.loads((export_dir / "metadata.json").read_text())
    assert metadata["score"] == {
        "kind": "peak_x_mirror_agreement",
        "agreement_sigma": MIRROR_AGREEMENT_SIGMA,
    }
    # Mirroring the input mirrors every landmark and swaps its left/right id. An untrained
    # network's maps are nearly flat, and the two batch orders differ in the last bits, so a
    # near-tied peak may move a pixel; a wrong flip or swap moves points by tens of pixels.
    mirrored = signature(images=tf.constant(images[:, :, ::-1].copy()))["landmarks"].numpy()
    mirrored_back = mirrored[:, list(FLIP_PERMUTATION)]
    mirrored_back[..., 0] = 255.0 - mirrored_back[..., 0]
    distance = np.abs(mirrored_back - outputs["landmarks"].numpy())
    assert np.median(distance) < 0.05 and distance.max() < 3.0, distance


def test_class_map_divisors_undo_the_class_weights_bias(
    exported: tuple[object, Path], tmp_path: Path
) -> None:
    model, _ = exported
    divisors = class_map_divisors([1.0] + [65536.0] * 6)
    assert divisors == (1.0,) + (256.0,) * 6
    export_dir = tmp_path / "divided" / "1"
    export_saved_model(model, export_dir, base_metadata("t", 1, "unet", 0.125), 2, False, divisors)
    images = np.random.default_rng(3).integers(0, 256, (2, 256, 256, 3), dtype=np.uint8)
    signature = tf.saved_model.load(str(export_dir)).signatures["serving_default"]
    class_map = signature(images=tf.constant(images))["class_map"].numpy()
    probabilities = network_probabilities(model, tf.constant(images)).numpy()
    np.testing.assert_array_equal(class_map, np.argmax(probabilities / np.array(divisors), -1))
    # An untrained network's plain argmax is mostly landmarks; divided, mostly background.
    assert (class_map == 0).mean() > (np.argmax(probabilities, -1) == 0).mean()
    metadata = json.loads((export_dir / "metadata.json").read_text())
    assert metadata["class_map_divisors"] == list(divisors)
