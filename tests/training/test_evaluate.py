"""Tests for `training.evaluate` (model lookup, the report) and `training.comparisons`.

Data sets are built in tmp_path: an In-shop layout, and labelled photos in the CSV form
(`training.photo_labels`) as real PNG and JPEG files of several sizes, one with an EXIF
orientation tag.
"""

from __future__ import annotations

import argparse
import csv
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from app.decoding import decode_image
from app.geometry import image_to_model, model_to_image, resize_for_model
from app.settings import Settings
from training import evaluate as evaluate_module
from training.annotations import FilterOptions
from training.comparisons import colorize_class_map, panel_size, render_comparison
from training.corruptions import corrupt
from training.evaluate import (
    DEFAULT_DETECTION_THRESHOLD,
    ModelNotFoundError,
    ModelOutputError,
    add_evaluate_arguments,
    evaluate_model,
    load_saved_model,
    resolve_model_dir,
    run_evaluate,
)
from training.evaluation_samples import ImageReadError, NoSamplesError, model_input
from training.landmarks import CLASS_COLORS, IMAGE_SIZE, LANDMARK_NAMES, NUM_LANDMARKS
from training.photo_labels import MAX_PIXELS, POINT_COLUMNS, PhotoLabelsError


def _truth(num_images: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.uniform(20, 80, size=(num_images, NUM_LANDMARKS, 2)).astype(np.float32)


# === Model lookup ===


def _fake_version(root: Path, version: str) -> Path:
    directory = root / version
    directory.mkdir(parents=True)
    (directory / "saved_model.pb").write_bytes(b"")
    return directory


def test_resolve_model_dir_picks_highest_integer_version(tmp_path: Path) -> None:
    for version in ("1", "2", "10"):
        _fake_version(tmp_path, version)
    (tmp_path / "99-notes").mkdir()

    assert resolve_model_dir(tmp_path) == tmp_path / "10"
    assert resolve_model_dir(tmp_path / "2") == tmp_path / "2"


def test_resolve_model_dir_missing_or_unfinished_raises(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        resolve_model_dir(tmp_path / "absent")
    with pytest.raises(ModelNotFoundError, match="integer version"):
        resolve_model_dir(tmp_path)
    _fake_version(tmp_path, "1")
    (tmp_path / "2").mkdir()
    with pytest.raises(ModelNotFoundError, match=r"has no saved_model\.pb"):
        resolve_model_dir(tmp_path)


# === Overlays ===


def test_colorize_class_map_paints_class_colours() -> None:
    class_map = np.array([[0, 1], [5, 6]], dtype=np.uint8)

    colored = colorize_class_map(class_map)

    assert colored.dtype == np.uint8
    assert colored.shape == (2, 2, 3)
    assert [tuple(pixel) for pixel in colored.reshape(-1, 3)] == [
        CLASS_COLORS[0],
        CLASS_COLORS[1],
        CLASS_COLORS[5],
        CLASS_COLORS[6],
    ]
    with pytest.raises(ValueError, match="colours"):
        colorize_class_map(np.full((2, 2), 7, dtype=np.uint8))


def test_render_comparison_puts_three_panels_side_by_side() -> None:
    photo = np.full((200, 300, 3), 128, dtype=np.uint8)
    class_map = np.zeros((IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
    class_map[:, 128:] = 2
    truth = np.tile([[100.0, 80.0]], (NUM_LANDMARKS, 1))

    picture = render_comparison(photo, class_map, truth, truth + 5, caption="example")

    width, height = panel_size(300, 200)
    assert (width, height) == (300, 200)
    assert picture.shape == (24 + height, 3 * width + 2 * 4, 3)
    classes_panel = picture[24:, width + 4 : 2 * width + 4]
    assert tuple(classes_panel[100, 10]) == CLASS_COLORS[0]
    assert tuple(classes_panel[100, 290]) == CLASS_COLORS[2]
    # Blended panel: 0.4 * grey 128 + 0.6 * green.
    blended = picture[24 + 100, 2 * width + 2 * 4 + 290].astype(int)
    np.testing.assert_allclose(blended, [51, 204, 51], atol=1)


# === End to end ===

HEADER = "image_name clothes_type variation_type " + " ".join(
    f"landmark_visibility_{i} landmark_location_x_{i} landmark_location_y_{i}" for i in range(1, 9)
)


def _row(name: str, clothes_type: int, variation: int, points: np.ndarray, vis: list[int]) -> str:
    fields = [name, str(clothes_type), str(variation)]
    for (x, y), flag in zip(points.astype(int).tolist(), vis, strict=True):
        fields += [str(flag), str(x), str(y)]
    return " ".join(fields)


def _write_image(path: Path, width: int, height: int, grey: bool = False) -> None:
    rng = np.random.default_rng(width * 1000 + height)
    shape = (height, width) if grey else (height, width, 3)
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), rng.integers(0, 256, size=shape, dtype=np.uint8))


# (relative name, width, height, grey) of the rows the seed's filter keeps.
KEPT_IMAGES = (
    ("img/WOMEN/Tees_Tanks/id_00000001/02_1_front.jpg", 256, 256, False),
    ("img/WOMEN/Tees_Tanks/id_00000001/02_2_side.jpg", 300, 200, False),
    ("img/MEN/Shirts_Polos/id_00000002/01_1_front.jpg", 200, 300, True),
)
OCCLUDED_IMAGE = "img/MEN/Shirts_Polos/id_00000002/01_3_back.jpg"
SEED_POINTS = np.array(
    [[115, 59], [149, 60], [82, 153], [185, 150], [93, 198], [171, 197]], dtype=np.float64
)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny data set in In-shop layout: three kept rows plus rows the filter drops."""
    root = tmp_path_factory.mktemp("inshop")
    rows = []
    for name, width, height, grey in KEPT_IMAGES:
        _write_image(root / name, width, height, grey)
        scaled = SEED_POINTS * [width / 256, height / 256]
        rows.append(_row(name, 1, 1, scaled, [0] * 6))
    _write_image(root / OCCLUDED_IMAGE, 256, 256)
    rows.append(_row(OCCLUDED_IMAGE, 1, 1, SEED_POINTS, [0, 0, 1, 0, 0, 2]))
    # Lower body (4 landmarks) and a zoomed-in pose: dropped by the seed's filter; no image.
    rows.append(_row("img/WOMEN/Pants/id_3/01_1_front.jpg", 2, 1, SEED_POINTS[:4], [0] * 4))
    rows.append(_row("img/WOMEN/Tees_Tanks/id_4/01_1_zoom.jpg", 1, 3, SEED_POINTS, [0] * 6))
    text = "\n".join([str(len(rows)), HEADER, *rows]) + "\n"
    (root / "list_landmarks_inshop.txt").write_text(text, encoding="utf-8")
    return root


class _FixedLandmarks(tf.Module):
    """A stand-in signature: the same model-space landmarks for every image, striped classes."""

    def __init__(self, landmarks: np.ndarray) -> None:
        super().__init__()
        self.landmarks = tf.constant(landmarks, tf.float32)

    @tf.function(
        input_signature=[tf.TensorSpec([None, IMAGE_SIZE, IMAGE_SIZE, 3], tf.uint8, "images")]
    )
    def serve(self, images: tf.Tensor) -> dict[str, tf.Tensor]:
        count = tf.shape(images)[0]
        stripes = tf.cast(tf.range(IMAGE_SIZE) // 37, tf.uint8)  # classes 0..6 across x
        return {
            "landmarks": tf.tile(self.landmarks[tf.newaxis], [count, 1, 1]),
            "scores": tf.fill([count, NUM_LANDMARKS], 0.9),
            "class_map": tf.broadcast_to(stripes, [count, IMAGE_SIZE, IMAGE_SIZE]),
        }


def test_evaluate_model_maps_predictions_into_each_image(data_dir: Path, tmp_path: Path) -> None:
    # Landmarks at the seed's points in model space: exact on the 256x256 image, and on the
    # others exact up to the integer rounding of their annotations.
    module = _FixedLandmarks(SEED_POINTS)
    model_dir = tmp_path / "models" / "fixed"
    tf.saved_model.save(module, str(model_dir / "3"), signatures={"serving_default": module.serve})

    report = evaluate_model(
        model_dir,
        data_dir,
        tmp_path / "report",
        batch_size=2,
        num_worst=1,
        options=FilterOptions(require_all_visible=False),
    )

    assert report.num_images == 4  # the occluded row is kept, its hidden landmarks unscored
    assert report.metrics["num_visible"] == 22
    sizes = [(w, h) for _, w, h, _ in KEPT_IMAGES] + [(256, 256)]
    for index, (width, height) in enumerate(sizes):
        expected = (SEED_POINTS + 0.5) * [width / 256, height / 256] - 0.5
        np.testing.assert_allclose(report.predicted_points[index], expected, atol=1e-4)
    assert report.image_normalized_error[0] == pytest.approx(0.0, abs=1e-6)
    assert report.image_normalized_error[3] == pytest.approx(0.0, abs=1e-6)
    # Annotation rounding leaves at most half a pixel plus the half-pixel shift.
    assert report.metrics["mean_pixel_error"] < 1.5
    assert report.metrics["pck"]["0.05"] == 1.0
    assert report.model["name"] == "fixed"
    assert report.model["version"] == 3
    assert len(report.worst) == 1
    assert report.worst[0].image_name != KEPT_IMAGES[0][0]


def test_evaluate_model_without_matching_rows_raises(data_dir: Path, tmp_path: Path) -> None:
    _fake_version(tmp_path / "models", "1")
    with pytest.raises(NoSamplesError, match="pass the filter"):
        evaluate_model(
            tmp_path / "models",
            data_dir,
            tmp_path / "report",
            options=FilterOptions(variation_types=(9,)),
        )


def test_evaluate_model_rejects_signature_without_landmarks(data_dir: Path, tmp_path: Path) -> None:
    class ScoresOnly(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 256, 256, 3], tf.uint8, "images")])
        def serve(self, images: tf.Tensor) -> dict[str, tf.Tensor]:
            return {"scores": tf.zeros([tf.shape(images)[0], NUM_LANDMARKS])}

    module = ScoresOnly()
    tf.saved_model.save(module, str(tmp_path / "1"), signatures={"serving_default": module.serve})
    assert callable(load_saved_model(tmp_path))

    with pytest.raises(ModelOutputError, match="without 'landmarks'"):
        evaluate_model(tmp_path, data_dir, tmp_path / "report")


def _read_picture(path: Path) -> np.ndarray:
    """uint8 [H, W, 3] BGR of a written PNG; fails the test where it does not decode."""
    picture = cv2.imread(str(path))
    assert picture is not None, f"{path} does not decode"
    return picture


def _evaluate_flags(*flags: str) -> argparse.Namespace:
    """Parses `evaluate` command-line flags the way `python -m training evaluate` does."""
    parser = argparse.ArgumentParser()
    add_evaluate_arguments(parser)
    return parser.parse_args(list(flags))


class _BrightnessLandmarks(tf.Module):
    """A stand-in signature that reports what it saw: every landmark at (mean, mean) of the
    image's grey levels, so a corruption's effect on the model input shows in the points."""

    @tf.function(
        input_signature=[tf.TensorSpec([None, IMAGE_SIZE, IMAGE_SIZE, 3], tf.uint8, "images")]
    )
    def serve(self, images: tf.Tensor) -> dict[str, tf.Tensor]:
        count = tf.shape(images)[0]
        mean = tf.reduce_mean(tf.cast(images, tf.float32), axis=[1, 2, 3])  # [N]
        return {
            "landmarks": tf.tile(mean[:, tf.newaxis, tf.newaxis], [1, NUM_LANDMARKS, 2]),
            "scores": tf.fill([count, NUM_LANDMARKS], 0.5),
            "class_map": tf.zeros([count, IMAGE_SIZE, IMAGE_SIZE], tf.uint8),
        }


@pytest.fixture(scope="module")
def brightness_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    module = _BrightnessLandmarks()
    model_dir = tmp_path_factory.mktemp("models") / "brightness"
    tf.saved_model.save(module, str(model_dir / "1"), signatures={"serving_default": module.serve})
    return model_dir


def test_evaluate_model_corruption_reaches_the_model_and_the_report(
    brightness_model: Path, data_dir: Path, tmp_path: Path
) -> None:
    clean = evaluate_model(brightness_model, data_dir, tmp_path / "clean", num_worst=1)
    dark = evaluate_model(
        brightness_model, data_dir, tmp_path / "dark", num_worst=1, corruption="dark"
    )

    # The first image is 256x256, so its points are the model's (mean, mean) as they are.
    clean_point = clean.predicted_points[0, 0]
    dark_point = dark.predicted_points[0, 0]
    assert clean_point[0] > 100  # random pixels: mean grey level about 127
    np.testing.assert_allclose(dark_point, clean_point / 2, atol=0.5)
    assert dark.metrics["normalized_error"] != clean.metrics["normalized_error"]

    document = json.loads((tmp_path / "dark" / "report.json").read_text(encoding="utf-8"))
    assert document["data"]["corruption"] == "dark"
    clean_document = json.loads((tmp_path / "clean" / "report.json").read_text(encoding="utf-8"))
    assert clean_document["data"]["corruption"] is None
    markdown = (tmp_path / "dark" / "report.md").read_text(encoding="utf-8")
    assert "- Corruption: dark (brightness x0.5)" in markdown
    assert "- Corruption: none" in (tmp_path / "clean" / "report.md").read_text(encoding="utf-8")
    # The worst image's overlay shows the photo the model saw: darker than the clean one's.
    (clean_picture,) = (tmp_path / "clean" / "worst").glob("*.png")
    (dark_picture,) = (tmp_path / "dark" / "worst").glob("*.png")
    assert _read_picture(dark_picture).mean() < _read_picture(clean_picture).mean()


def test_evaluate_model_rejects_an_unknown_corruption(
    brightness_model: Path, data_dir: Path, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match="unknown corruption 'fog'"):
        evaluate_model(brightness_model, data_dir, tmp_path / "report", corruption="fog")


def test_run_evaluate_cli_corruption_names_the_default_report(
    brightness_model: Path,
    data_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = _evaluate_flags(
        "--model", str(brightness_model), "--data", str(data_dir), "--corruption", "blur"
    )
    monkeypatch.chdir(tmp_path)

    assert run_evaluate(args) == 0

    assert "corrupted: blur" in capsys.readouterr().out
    (report_dir,) = (tmp_path / "runs" / "evaluate").iterdir()
    assert report_dir.name.startswith("brightness-v1-blur-")
    with pytest.raises(SystemExit):
        _evaluate_flags("--model", "m", "--data", "d", "--corruption", "fog")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained 1/8-width U-Net exported through the real export path: models/tiny/1."""
    from training.export import base_metadata, export_saved_model
    from training.model import build_model

    models = tmp_path_factory.mktemp("models")
    model = build_model("unet", width_multiplier=0.125)
    export_saved_model(model, models / "tiny" / "1", base_metadata("tiny", 1, "unet", 0.125))
    return models / "tiny"


@pytest.mark.slow
def test_evaluate_model_writes_report_and_worst_overlays(
    tiny_model: Path, data_dir: Path, tmp_path: Path
) -> None:
    out_dir = tmp_path / "report"
    (out_dir / "worst").mkdir(parents=True)
    (out_dir / "worst" / "99_stale.png").write_bytes(b"old")

    report = evaluate_model(tiny_model, data_dir, out_dir, batch_size=2, num_worst=2)

    document = json.loads((out_dir / "report.json").read_text(encoding="utf-8"))
    assert set(document) == {
        "model",
        "data",
        "evaluated_at",
        "metrics",
        "detection",
        "by_kind",
        "images",
        "worst",
    }
    assert document["data"]["format"] == "inshop"
    assert document["by_kind"] == {}  # In-shop rows have no kind
    assert document["model"]["name"] == "tiny"
    assert document["model"]["version"] == 1
    assert document["model"]["architecture"] == "unet"
    assert document["data"]["path"] == str(data_dir)
    assert document["data"]["num_images"] == 3
    metrics = document["metrics"]
    assert metrics["num_images"] == 3
    assert metrics["num_visible"] == 18
    for key in ("mean_pixel_error", "median_pixel_error", "normalized_error"):
        assert isinstance(metrics[key], float)
    assert set(metrics["pck"]) == {"0.05", "0.1", "0.2"}
    assert [landmark["id"] for landmark in metrics["per_landmark"]] == [1, 2, 3, 4, 5, 6]
    assert metrics["normalized_error"] == pytest.approx(report.metrics["normalized_error"])

    markdown = (out_dir / "report.md").read_text(encoding="utf-8")
    for name in LANDMARK_NAMES:
        assert name in markdown
    assert "**overall**" in markdown
    assert "PCK@0.05" in markdown

    pictures = sorted((out_dir / "worst").glob("*.png"))
    assert [p.name[:3] for p in pictures] == ["01_", "02_"]
    assert [item["overlay"] for item in document["worst"]] == [f"worst/{p.name}" for p in pictures]
    errors = [item["normalized_error"] for item in document["worst"]]
    assert errors == sorted(errors, reverse=True)
    for item, picture in zip(document["worst"], pictures, strict=True):
        decoded = cv2.imread(str(picture))
        assert decoded is not None
        width, height = next(
            panel_size(w, h) for name, w, h, _ in KEPT_IMAGES if name == item["image_name"]
        )
        assert decoded.shape == (24 + height, 3 * width + 8, 3)


@pytest.mark.slow
def test_run_evaluate_cli_prints_summary_and_writes_default_report(
    tiny_model: Path,
    data_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = _evaluate_flags(
        "--model",
        str(tiny_model / "1"),
        "--data",
        str(data_dir),
        "--batch-size",
        "3",
        "--worst",
        "0",
    )
    monkeypatch.chdir(tmp_path)

    assert run_evaluate(args) == 0

    output = capsys.readouterr().out
    assert "tiny version 1" in output
    assert "overall" in output
    (report_dir,) = (tmp_path / "runs" / "evaluate").iterdir()
    assert report_dir.name.startswith("tiny-v1-")
    document = json.loads((report_dir / "report.json").read_text(encoding="utf-8"))
    assert document["data"]["num_images"] == 3
    assert document["worst"] == []


def test_run_evaluate_cli_reports_missing_model(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = _evaluate_flags("--model", str(tmp_path / "nothing"), "--data", str(data_dir))

    assert run_evaluate(args) == 1
    assert "does not exist" in capsys.readouterr().err


def test_detection_threshold_flag_defaults_to_the_services_setting() -> None:
    service_default = Settings.model_fields["DETECTION_THRESHOLD"].default
    assert service_default == DEFAULT_DETECTION_THRESHOLD
    assert _evaluate_flags("--model", "m", "--data", "d").detection_threshold == service_default
    flags = _evaluate_flags("--model", "m", "--data", "d", "--detection-threshold", "0.25")
    assert flags.detection_threshold == 0.25
    for bad in ("1.5", "-0.1", "high"):
        with pytest.raises(SystemExit):
            _evaluate_flags("--model", "m", "--data", "d", "--detection-threshold", bad)


# === Labelled photos (the CSV form) ===

# (file, stored width, stored height, EXIF orientation, kind). Orientation 6 means the viewer
# turns the stored image 90 degrees clockwise: the 240x160 file shows (and is labelled) 160x240.
# The 640x512 JPEG is large enough for the service to decode it at half scale.
PHOTOS = (
    ("images/square.png", 256, 256, None, "a"),
    ("images/wide.jpg", 300, 200, None, "b"),
    ("images/rotated.jpg", 240, 160, 6, "c"),
    ("phone/large.jpg", 640, 512, None, "c"),
)


def _shown_size(width: int, height: int, orientation: int | None) -> tuple[int, int]:
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)


def _write_photo(path: Path, width: int, height: int, orientation: int | None) -> None:
    """A real PNG or JPEG of smooth random colour (so a JPEG keeps its content), via Pillow."""
    rng = np.random.default_rng(width * 1000 + height)
    coarse = rng.integers(0, 256, size=(max(height // 16, 2), max(width // 16, 2), 3))
    pixels = cv2.resize(coarse.astype(np.uint8), (width, height), interpolation=cv2.INTER_LINEAR)
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(pixels)
    if path.suffix == ".png":
        image.save(path)
        return
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation  # the EXIF Orientation tag
    image.save(path, quality=92, exif=exif.tobytes())


def _photo_truth(width: int, height: int) -> np.ndarray:
    """float64 [6, 2] labels in a shown width x height photo: the seed's points, scaled (to
    the 2 decimals the CSV holds)."""
    return np.round(SEED_POINTS * [width / 256, height / 256], 2)


def _write_labels(
    path: Path, rows: Sequence[Mapping[str, object]], columns: Sequence[str] | None = None
) -> Path:
    columns = list(columns or ["image", "width", "height", *POINT_COLUMNS, "kind", "notes"])
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def _label_row(name: str, width: int, height: int, kind: str) -> dict[str, object]:
    row: dict[str, object] = {"image": name, "width": width, "height": height, "kind": kind}
    row["notes"] = "ignored, with a, comma"
    for column, value in zip(POINT_COLUMNS, _photo_truth(width, height).ravel(), strict=True):
        row[column] = f"{value:.2f}"
    return row


@pytest.fixture(scope="module")
def photo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four labelled photos (PNG and JPEG, square, wide, EXIF-rotated, large) and landmarks.csv."""
    root = tmp_path_factory.mktemp("photos")
    rows = []
    for name, width, height, orientation, kind in PHOTOS:
        _write_photo(root / name, width, height, orientation)
        rows.append(_label_row(name, *_shown_size(width, height, orientation), kind))
    _write_labels(root / "landmarks.csv", rows)
    return root


def _service_input(path: Path) -> tuple[np.ndarray, int, int]:
    """What the service feeds the model for this file: its decoding, then its resize."""
    decoded = decode_image(path.read_bytes(), MAX_PIXELS, min_side=IMAGE_SIZE)
    return resize_for_model(decoded.pixels, IMAGE_SIZE), decoded.width, decoded.height


def test_model_input_is_the_services_decoding_and_resizing(photo_dir: Path) -> None:
    for name, width, height, orientation, _ in PHOTOS:
        path = photo_dir / name

        pixels, shown_width, shown_height = model_input(path)

        expected, service_width, service_height = _service_input(path)
        assert pixels.shape == (IMAGE_SIZE, IMAGE_SIZE, 3)
        assert pixels.dtype == np.uint8
        np.testing.assert_array_equal(pixels, expected)
        assert (shown_width, shown_height) == (service_width, service_height)
        assert (shown_width, shown_height) == _shown_size(width, height, orientation)
    # The EXIF tag really turned the photo: the stored pixels give another model input.
    rotated = photo_dir / "images/rotated.jpg"
    with Image.open(rotated) as opened:  # PIL leaves EXIF orientation to the caller
        stored = np.asarray(opened.convert("RGB"))
    assert stored.shape[:2] == (160, 240)
    assert np.abs(resize_for_model(stored).astype(int) - model_input(rotated)[0]).mean() > 20
    # ... and the large JPEG took the service's reduced decode, not a full one.
    large = decode_image((photo_dir / "phone/large.jpg").read_bytes(), MAX_PIXELS, min_side=256)
    assert large.reduction == 2


class _Recorder:
    """A stand-in signature (a plain callable, as `evaluate_model` calls it): keeps every batch
    of images it is given and answers with fixed per-image outputs, in call order."""

    def __init__(self, landmarks: np.ndarray, scores: np.ndarray) -> None:
        self.landmarks = landmarks.astype(np.float32)  # [N, 6, 2] model space
        self.scores = scores.astype(np.float32)  # [N, 6]
        self.batches: list[np.ndarray] = []

    def __call__(self, images: tf.Tensor) -> dict[str, np.ndarray]:
        batch = np.asarray(images)
        start = sum(len(seen) for seen in self.batches)
        self.batches.append(batch)
        stop = start + len(batch)
        return {
            "landmarks": self.landmarks[start:stop],
            "scores": self.scores[start:stop],
            "class_map": np.zeros((len(batch), IMAGE_SIZE, IMAGE_SIZE), np.uint8),
        }

    @property
    def images(self) -> np.ndarray:
        """uint8 [N, 256, 256, 3] everything the model was given, in order."""
        return np.concatenate(self.batches)


def _use_recorder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, recorder: _Recorder) -> Path:
    """A model directory whose `serving_default` is `recorder`."""
    _fake_version(tmp_path / "models", "1")
    monkeypatch.setattr(evaluate_module, "load_saved_model", lambda version_dir: recorder)
    return tmp_path / "models"


# Per photo and landmark: right (normalised distance 0.02) or wrong (0.3), and the score (0.9
# detected, 0.2 not at the 0.5 threshold). Rows follow PHOTOS; kinds a, b, c, c.
RIGHT = np.array(
    [[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0], [0, 0, 0, 0, 0, 0], [1, 0, 1, 0, 1, 0]], dtype=bool
)
DETECTED = np.array(
    [[1, 1, 1, 1, 0, 0], [1, 0, 1, 0, 1, 0], [1, 1, 0, 0, 0, 0], [1, 1, 1, 1, 1, 1]], dtype=bool
)


def _planned_predictions() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Predictions with known errors: model-space landmarks [4, 6, 2], scores [4, 6] and the
    expected predictions in each photo's pixels [4, 6, 2]."""
    landmarks, in_image = [], []
    for (_, width, height, orientation, _), right in zip(PHOTOS, RIGHT, strict=True):
        shown_width, shown_height = _shown_size(width, height, orientation)
        # Off along x by a fraction of the width: that fraction is the normalised distance.
        fraction = np.where(right, 0.02, 0.3)
        points = _photo_truth(shown_width, shown_height)
        points[:, 0] += fraction * shown_width
        in_image.append(points)
        landmarks.append(image_to_model(points, shown_width, shown_height))
    scores = np.where(DETECTED, 0.9, 0.2)
    return np.stack(landmarks), scores, np.stack(in_image)


def _detection_from_records(records: Sequence[Mapping[str, Any]], threshold: float) -> tuple:
    """(precision, recall) recomputed from report.json's per-image records alone."""
    detected = right = both = 0
    for record in records:
        for score, distance in zip(record["scores"], record["normalized_distances"], strict=True):
            if distance is None:
                continue
            is_detected, is_right = score >= threshold, distance < 0.1
            detected += is_detected
            right += is_right
            both += is_detected and is_right
    return (both / detected if detected else None, both / right if right else None)


def test_evaluate_model_on_labelled_photos_feeds_service_pixels_and_scores_detection(
    photo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    landmarks, scores, expected_points = _planned_predictions()
    recorder = _Recorder(landmarks, scores)
    model_dir = _use_recorder(monkeypatch, tmp_path, recorder)

    report = evaluate_model(model_dir, photo_dir, tmp_path / "report", batch_size=3, num_worst=1)

    # The model saw exactly what the service would feed it, photo by photo.
    assert [len(batch) for batch in recorder.batches] == [3, 1]
    expected_inputs = np.stack([_service_input(photo_dir / p[0])[0] for p in PHOTOS])
    np.testing.assert_array_equal(recorder.images, expected_inputs)
    # Predictions went back to each photo's own pixels (after EXIF rotation).
    np.testing.assert_allclose(report.predicted_points, expected_points, atol=1e-3)
    shown = [_shown_size(w, h, o) for _, w, h, o, _ in PHOTOS]
    np.testing.assert_array_equal(report.image_sizes, shown)

    metrics = report.metrics
    assert metrics["num_images"] == 4
    assert metrics["num_visible"] == 24  # the CSV form: every landmark counts
    assert metrics["pck"]["0.1"] == pytest.approx(RIGHT.mean())
    assert metrics["pck"]["0.05"] == pytest.approx(RIGHT.mean())
    # Per landmark: right on 3, 2, 3, 1, 2, 1 of the 4 photos.
    per_landmark_ne = (RIGHT * 0.02 + ~RIGHT * 0.3).mean(axis=0)
    np.testing.assert_allclose(
        [landmark["normalized_error"] for landmark in metrics["per_landmark"]],
        per_landmark_ne,
        atol=1e-5,
    )

    # 12 right, 15 detected, 9 both.
    detection = report.detection
    assert detection["threshold"] == DEFAULT_DETECTION_THRESHOLD == 0.5
    assert detection["precision"] == pytest.approx(9 / 15)
    assert detection["recall"] == pytest.approx(9 / 12)
    assert detection["detected_fraction"] == pytest.approx(15 / 24)
    assert detection["right_fraction"] == pytest.approx(12 / 24)

    assert list(report.by_kind) == ["a", "b", "c"]
    assert [report.by_kind[k]["num_images"] for k in "abc"] == [1, 1, 2]
    assert report.by_kind["a"]["normalized_error"] == pytest.approx(0.02, abs=1e-5)
    assert report.by_kind["a"]["pck"]["0.05"] == 1.0
    assert report.by_kind["c"]["pck"]["0.1"] == pytest.approx(3 / 12)
    assert report.by_kind["a"]["detection"]["recall"] == pytest.approx(4 / 6)
    assert report.by_kind["b"]["detection"]["precision"] == pytest.approx(2 / 3)
    assert report.by_kind["c"]["detection"]["precision"] == pytest.approx(3 / 8)
    assert report.by_kind["c"]["detection"]["recall"] == 1.0

    document = json.loads(report.report_json.read_text(encoding="utf-8"))
    assert document["data"]["format"] == "photos"
    assert document["data"]["labels_file"] == str(photo_dir / "landmarks.csv")
    assert document["data"]["filters"] is None
    assert document["detection"] == pytest.approx(detection)
    assert document["by_kind"]["c"]["detection"]["precision"] == pytest.approx(3 / 8)
    records = document["images"]
    assert [r["image_name"] for r in records] == [p[0] for p in PHOTOS]
    assert [r["kind"] for r in records] == ["a", "b", "c", "c"]
    assert [(r["width"], r["height"]) for r in records] == shown
    np.testing.assert_allclose([r["points"] for r in records], expected_points, atol=1e-3)
    np.testing.assert_allclose([r["scores"] for r in records], scores, atol=1e-6)
    np.testing.assert_allclose(
        [r["normalized_distances"] for r in records], np.where(RIGHT, 0.02, 0.3), atol=1e-5
    )
    assert _detection_from_records(records, 0.5) == pytest.approx((9 / 15, 9 / 12))

    markdown = report.report_md.read_text(encoding="utf-8")
    assert "labelled photos (`landmarks.csv`), 4 images" in markdown
    assert "## Detection" in markdown
    assert "| 24 | 15 (62.5%) | 12 (50.0%) | 9 | 60.0% | 75.0% |" in markdown
    assert "## By kind" in markdown
    assert "| c | 2 | 12 |" in markdown
    assert "37.5% | 100.0% |" in markdown  # kind c's precision and recall
    assert "Filter:" not in markdown


def test_evaluate_model_photo_corruption_degrades_the_full_photo_before_resizing(
    photo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    landmarks, scores, _ = _planned_predictions()
    recorder = _Recorder(landmarks, scores)
    model_dir = _use_recorder(monkeypatch, tmp_path, recorder)

    evaluate_model(model_dir, photo_dir, tmp_path / "report", num_worst=0, corruption="blur")

    for index, (name, *_) in enumerate(PHOTOS):
        full = decode_image((photo_dir / name).read_bytes(), MAX_PIXELS).pixels
        expected = resize_for_model(corrupt(full, "blur", seed=index))
        np.testing.assert_array_equal(recorder.images[index], expected)
    # Blurred, so not the clean input.
    assert not np.array_equal(recorder.images[3], _service_input(photo_dir / PHOTOS[3][0])[0])


def test_evaluate_model_inshop_input_is_the_services_decoding(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    count = len(KEPT_IMAGES)
    recorder = _Recorder(np.zeros((count, NUM_LANDMARKS, 2)), np.zeros((count, NUM_LANDMARKS)))
    model_dir = _use_recorder(monkeypatch, tmp_path, recorder)

    report = evaluate_model(model_dir, data_dir, tmp_path / "report", num_worst=0)

    expected = np.stack([_service_input(data_dir / name)[0] for name, *_ in KEPT_IMAGES])
    np.testing.assert_array_equal(recorder.images, expected)
    assert report.data_format == "inshop"
    assert report.detection["num_detected"] == 0


def test_evaluate_model_photo_csv_missing_column_names_the_file(
    photo_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name, width, height, _, kind = PHOTOS[0]
    columns = ["image", "width", "height", *POINT_COLUMNS[:-1], "kind"]  # no y6
    labels = _write_labels(
        photo_dir.parent / "broken.csv", [_label_row(name, width, height, kind)], columns
    )
    model_dir = _fake_version(tmp_path / "models", "1").parent

    with pytest.raises(PhotoLabelsError, match=r"broken\.csv: missing column\(s\) y6"):
        evaluate_model(model_dir, labels, tmp_path / "report")
    args = _evaluate_flags("--model", str(model_dir), "--data", str(labels), "--out", str(tmp_path))
    assert run_evaluate(args) == 1
    error = capsys.readouterr().err
    assert str(labels) in error
    assert "missing column(s) y6" in error


def test_evaluate_model_photo_size_not_the_rows_names_the_photo(
    photo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Labelled as stored (240x160), but the service shows it turned: 160x240.
    name, width, height, _, kind = PHOTOS[2]
    labels = tmp_path / "labels.csv"
    (tmp_path / "images").mkdir()
    (tmp_path / name).write_bytes((photo_dir / name).read_bytes())
    _write_labels(labels, [_label_row(name, width, height, kind)])
    model_dir = _use_recorder(monkeypatch, tmp_path, _Recorder(*_planned_predictions()[:2]))

    with pytest.raises(PhotoLabelsError, match=r"rotated\.jpg is 160x240 after EXIF rotation"):
        evaluate_model(model_dir, tmp_path, tmp_path / "report")


def test_evaluate_model_undecodable_photo_raises_image_read_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "images").mkdir()
    (tmp_path / "images/broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    _write_labels(tmp_path / "landmarks.csv", [_label_row("images/broken.jpg", 256, 256, "")])
    model_dir = _use_recorder(monkeypatch, tmp_path, _Recorder(*_planned_predictions()[:2]))

    with pytest.raises(ImageReadError, match=r"broken\.jpg: the JPEG data is truncated"):
        evaluate_model(model_dir, tmp_path, tmp_path / "report")


def test_evaluate_model_real_savedmodel_on_labelled_photos_end_to_end(
    tiny_model: Path,
    photo_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    report = evaluate_model(tiny_model, photo_dir, tmp_path / "report", batch_size=4, num_worst=2)

    # Run the exported signature by hand on the service's inputs: the evaluation must agree.
    # One batch of four in both, so no batch-size-dependent kernel can move a near-tied peak.
    signature = load_saved_model(tiny_model)
    inputs = [_service_input(photo_dir / p[0]) for p in PHOTOS]
    outputs = signature(images=tf.constant(np.stack([pixels for pixels, _, _ in inputs])))
    for index, (_, width, height) in enumerate(inputs):
        expected = model_to_image(outputs["landmarks"].numpy()[index], width, height)
        np.testing.assert_allclose(report.predicted_points[index], expected, atol=1e-3)
    np.testing.assert_allclose(report.scores, outputs["scores"].numpy(), atol=1e-5)

    document = json.loads(report.report_json.read_text(encoding="utf-8"))
    assert document["data"]["num_images"] == 4
    assert document["metrics"]["num_visible"] == 24
    assert list(document["by_kind"]) == ["a", "b", "c"]
    assert document["by_kind"]["c"]["num_visible"] == 12
    for figures in (document["metrics"], *document["by_kind"].values()):
        assert isinstance(figures["normalized_error"], float)
    records = document["images"]
    assert (records[2]["width"], records[2]["height"]) == (160, 240)
    detection = document["detection"]
    recomputed = _detection_from_records(records, detection["threshold"])
    assert recomputed == pytest.approx((detection["precision"], detection["recall"]))

    # Overlays of the two worst photos, each at its own (EXIF-rotated) size.
    pictures = sorted((tmp_path / "report" / "worst").glob("*.png"))
    assert len(pictures) == 2
    for item, picture in zip(document["worst"], pictures, strict=True):
        record = next(r for r in records if r["image_name"] == item["image_name"])
        width, height = panel_size(record["width"], record["height"])
        assert _read_picture(picture).shape == (24 + height, 3 * width + 8, 3)

    # The CLI at a threshold between two of the untrained model's distinct scores (an
    # untrained network can give several points the very same score, so not the median):
    # some points are detected and some not, and the figures still follow from the records.
    distinct = np.unique(report.scores)
    assert distinct.size > 1, f"the untrained model scored every point {distinct}"
    middle = distinct.size // 2
    threshold = float((distinct[middle - 1] + distinct[middle]) / 2)
    args = _evaluate_flags(
        "--model",
        str(tiny_model),
        "--data",
        str(photo_dir / "landmarks.csv"),
        "--out",
        str(tmp_path / "cli"),
        "--detection-threshold",
        repr(threshold),
    )
    assert run_evaluate(args) == 0
    summary = capsys.readouterr().out
    cli = json.loads((tmp_path / "cli" / "report.json").read_text(encoding="utf-8"))
    assert cli["detection"]["threshold"] == threshold
    assert 0 < cli["detection"]["num_detected"] < 24
    recomputed = _detection_from_records(cli["images"], threshold)
    assert recomputed == pytest.approx((cli["detection"]["precision"], cli["detection"]["recall"]))
    assert f"detection at score >= {threshold:g}: precision" in summary
    assert "recall" in summary
    assert "overall" in summary
    for kind in "abc":
        assert any(line.startswith(f"{kind} ") for line in summary.splitlines())


def test_row_filter_flags_are_trains() -> None:
    """evaluate and train spell the In-shop row filter the same way (one set of names)."""
    from training.cli import filter_options

    default = filter_options(_evaluate_flags("--model", "m", "--data", "d"))
    assert default == FilterOptions()
    every_pose = filter_options(
        _evaluate_flags("--model", "m", "--data", "d", "--variation-types", "", "--allow-hidden")
    )
    assert every_pose.variation_types is None and every_pose.require_all_visible is False
    with pytest.raises(SystemExit):
        _evaluate_flags("--model", "m", "--data", "d", "--all-variations")
