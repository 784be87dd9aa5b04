"""`python -m training adapt`: mirror-consistent pseudo-labels and a fine-tuned export."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from tests.app.exports import export_tiny_unet
from tests.inshop import write_inshop_dataset
from tests.photos import write_photo_folder
from tests.training.test_train_cli import REPO_ROOT, run_training_cli
from training.adapt import load_network, mirror_consistent_points
from training.export import serving_outputs
from training.labels import make_label_map
from training.landmarks import FLIP_PERMUTATION
from training.photo_labels import list_photos

POINTS = np.array([[90, 60], [160, 62], [40, 150], [215, 148], [80, 220], [175, 222]], "f4")


class _ScriptedNetwork:
    """Answers the direct batch at POINTS, the mirrored batch at POINTS' mirror moved 2 px."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, images: tf.Tensor, training: bool = False) -> tf.Tensor:
        self.calls += 1
        points = POINTS.copy()
        if self.calls % 2 == 0:  # the mirror images: what a consistent network would say...
            points[:, 0] = 255.0 - points[:, 0]
            points = points[list(FLIP_PERMUTATION)]
            points[:, 0] += 2.0  # ...moved 2 px right
        maps = make_label_map(points)
        return tf.repeat(maps[tf.newaxis], tf.shape(images)[0], axis=0)


def test_mirror_answers_are_flipped_back_averaged_and_compared() -> None:
    points, disagreement = mirror_consistent_points(
        _ScriptedNetwork(), np.zeros((3, 256, 256, 3), np.uint8), batch_size=2
    )
    # Flipped back, the mirror answer sits 2 px left of the direct one.
    np.testing.assert_allclose(disagreement, 2.0, atol=1e-3)
    np.testing.assert_allclose(points, np.repeat((POINTS - [1.0, 0.0])[None], 3, 0), atol=1e-3)


def test_the_exported_network_is_rebuilt_with_its_trained_weights(tmp_path: Path) -> None:
    version_dir = export_tiny_unet(tmp_path / "tiny" / "1", "tiny")
    network, metadata = load_network(tmp_path / "tiny")
    assert metadata["architecture"] == "unet"
    images = tf.constant(np.random.default_rng(0).integers(0, 256, (2, 256, 256, 3), np.uint8))
    saved = tf.saved_model.load(str(version_dir)).signatures["serving_default"](images=images)
    rebuilt = serving_outputs(network, images, top_k=5)
    np.testing.assert_allclose(rebuilt["landmarks"], saved["landmarks"], atol=1e-3)


def test_photos_are_found_recursively_by_suffix(tmp_path: Path) -> None:
    for name in ("a.jpg", "sub/b.PNG", "sub/deeper/c.webp", "notes.txt", "d.jpeg"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    found = [path.relative_to(tmp_path).as_posix() for path in list_photos(tmp_path)]
    assert found == ["a.jpg", "d.jpeg", "sub/b.PNG", "sub/deeper/c.webp"]


@pytest.mark.slow
def test_adapt_pseudo_labels_fine_tunes_and_exports(tmp_path: Path) -> None:
    export_tiny_unet(tmp_path / "models" / "tiny" / "1", "tiny", flip_average=True)
    write_inshop_dataset(tmp_path / "synthetic", 8)
    write_photo_folder(tmp_path / "mine", 4, seed=3)
    (tmp_path / "mine" / "images" / "broken.jpg").write_bytes(b"\xff\xd8\xff not really")
    write_photo_folder(tmp_path / "labelled", 3, seed=4)
    result = run_training_cli(
        "adapt", "--model", str(tmp_path / "models" / "tiny"),
        "--photos", str(tmp_path / "mine" / "images"), "--labelled", str(tmp_path / "labelled"),
        "--synthetic", str(tmp_path / "synthetic"), "--out", str(tmp_path / "models" / "mine"),
        "--version", "2", "--run-dir", str(tmp_path / "run"), "--agreement-px", "400",
        "--epochs", "1", "--steps-per-epoch", "2", "--batch-size", "4", "--verbose", "0",
        cwd=tmp_path,
    )  # fmt: skip
    assert "broken.jpg: the JPEG data is truncated or corrupt" in result.stdout
    assert "pseudo-labelled 4 photo(s)" in result.stdout
    with (tmp_path / "run" / "pseudo_labels" / "landmarks.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 4 and {row["width"] for row in rows} == {"400", "640", "256", "300"}
    metadata = json.loads((tmp_path / "models" / "mine" / "2" / "metadata.json").read_text())
    assert metadata["architecture"] == "unet" and metadata["flip_average"] is True
    photos = {
        Path(entry["path"]).name: entry["count"] for entry in metadata["training_data"]["photos"]
    }
    assert photos == {"landmarks.csv": 4, "labelled": 3}


@pytest.mark.slow
def test_adapt_refuses_when_no_photo_is_answered_consistently(tmp_path: Path) -> None:
    import subprocess
    import sys

    export_tiny_unet(tmp_path / "models" / "tiny" / "1", "tiny")
    write_photo_folder(tmp_path / "mine", 2, seed=3)
    result = subprocess.run(
        [
            sys.executable, "-m", "training", "adapt", "--model", str(tmp_path / "models" / "tiny"),
            "--photos", str(tmp_path / "mine"), "--out", str(tmp_path / "models" / "mine"),
            "--run-dir", str(tmp_path / "run"), "--agreement-px", "0",
        ],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode != 0
    assert "none of the 2 photos was answered consistently within 0.0 px" in result.stderr
