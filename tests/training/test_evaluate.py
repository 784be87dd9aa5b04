"""Tests for `training.evaluate` (metrics, model lookup, the report) and `training.overlays`."""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import pytest
import tensorflow as tf

from training.annotations import FilterOptions
from training.evaluate import (
    ImageReadError,
    ModelNotFoundError,
    ModelOutputError,
    NoSamplesError,
    add_evaluate_arguments,
    compute_metrics,
    evaluate_model,
    load_saved_model,
    model_to_image_points,
    read_image_rgb,
    resolve_model_dir,
    run_evaluate,
)
from training.landmarks import CLASS_COLORS, IMAGE_SIZE, LANDMARK_NAMES, NUM_LANDMARKS
from training.overlays import colorize_class_map, panel_size, render_comparison

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


def test_model_to_image_points_uses_pixel_centres() -> None:
    points = np.array([[[127.5, 127.5], [0.0, 0.0], [255.0, 255.0]]])

    mapped = model_to_image_points(points, np.array([[512.0, 128.0]]))

    # The centre stays the centre; pixel 0 of 256 covers pixels 0 and 1 of 512, centre 0.5.
    np.testing.assert_allclose(mapped[0, 0], [255.5, 63.5])
    np.testing.assert_allclose(mapped[0, 1], [0.5, -0.25])
    np.testing.assert_allclose(mapped[0, 2], [510.5, 127.25])


@pytest.mark.parametrize("content", [b"", b"not an image"])
def test_read_image_rgb_undecodable_file_raises(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "broken.jpg"
    path.write_bytes(content)
    with pytest.raises(ImageReadError, match=r"broken\.jpg"):
        read_image_rgb(path)


def test_read_image_rgb_grey_image_becomes_rgb(tmp_path: Path) -> None:
    path = tmp_path / "grey.png"
    cv2.imwrite(str(path), np.full((30, 40), 77, dtype=np.uint8))

    image = read_image_rgb(path)

    assert image.shape == (30, 40, 3)
    assert image.dtype == np.uint8
    assert np.all(image == 77)


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
    assert cv2.imread(str(dark_picture)).mean() < cv2.imread(str(clean_picture)).mean()


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
    assert set(document) == {"model", "data", "evaluated_at", "metrics", "worst"}
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
