"""SavedModel export: the reloaded signature matches the in-memory model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from training.decoding import decode_landmarks
from training.export import base_metadata, export_saved_model
from training.model import build_model


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
    assert not list(export_dir.parent.glob(".*staging"))


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
