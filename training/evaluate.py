"""Evaluates an exported SavedModel on an annotated data set in In-shop layout.

    annotations -> read photo -> [corrupt it] -> resize to 256x256 -> `serving_default` ->
    landmarks in model space -> back to the photo's own pixels -> metrics -> report.json,
    report.md, worst/*.png

With `corruption`, every photo is first degraded by one of `training.corruptions` (blur,
noise, JPEG artefacts, ...): the same figures then say how robust the model is to it.

The model is used only through its exported signature (docs/CONTRACT.md), exactly as the service
uses it, so the figures measure what is served, decoding included.

Metrics count *visible* landmarks only (visibility 0), as in the DeepFashion papers: occluded
and truncated points are the annotators' guesses. For a landmark seen in an image of width W and
height H, with prediction error (dx, dy) in that image's pixels:

- pixel error: sqrt(dx^2 + dy^2);
- normalised distance: sqrt((dx / W)^2 + (dy / H)^2);
- NE: per landmark, the mean normalised distance over the images where it is visible; overall,
  the mean of the six per-landmark figures (the mean pixel error is averaged the same way);
- PCK@t: the fraction of visible landmarks whose normalised distance is <= t, per landmark and
  pooled over all visible landmarks.

Errors raised here::

    FileNotFoundError
     └── ModelNotFoundError     no SavedModel where the model directory points
    ValueError
     └── EvaluationError        the evaluation cannot go on
          ├── NoSamplesError    no annotation row passes the filter
          ├── ImageReadError    a listed image cannot be decoded
          └── ModelOutputError  the signature's outputs break docs/CONTRACT.md

The loader's own `AnnotationError` and `MissingImagesError` pass through unchanged.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import math
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import tensorflow as tf

from training.annotations import (
    LANDMARKS_FILE,
    VISIBLE,
    AnnotationError,
    FilterOptions,
    load_all,
)
from training.corruptions import CORRUPTIONS, check_name, corrupt, describe
from training.export import METADATA_FILE
from training.landmarks import IMAGE_SIZE, LANDMARK_NAMES, NUM_LANDMARKS
from training.overlays import render_comparison, save_png

PCK_THRESHOLDS: tuple[float, ...] = (0.05, 0.1, 0.2)
REPORT_JSON = "report.json"
REPORT_MD = "report.md"
WORST_DIR = "worst"
SAVED_MODEL_FILE = "saved_model.pb"

# The serving signature: called with `images=` a uint8 [N, 256, 256, 3] tensor, returns a dict
# of tensors (docs/CONTRACT.md).
ServingSignature = Callable[..., Mapping[str, Any]]


class ModelNotFoundError(FileNotFoundError):
    """Raised when a model directory holds no SavedModel, directly or in a version directory."""


class EvaluationError(ValueError):
    """Base class for the reasons an evaluation cannot go on."""


class NoSamplesError(EvaluationError):
    """Raised when no annotation row passes the filter, so there is nothing to evaluate."""


class ImageReadError(EvaluationError):
    """Raised when an image named by the annotations exists but cannot be decoded."""


class ModelOutputError(EvaluationError):
    """Raised when the signature's outputs do not have the shapes docs/CONTRACT.md promises."""


# === Metrics (pure numpy) ===


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
    return _masked_mean(distances, visible, axis=1)


def _masked_mean(values: np.ndarray, mask: np.ndarray, axis: int) -> np.ndarray:
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
    landmark_pixel_error = _masked_mean(pixels, visible, axis=0)  # [6]
    landmark_normalized_error = _masked_mean(normalized, visible, axis=0)
    landmark_pck = {
        threshold: _masked_mean((normalized <= threshold).astype(np.float64), visible, axis=0)
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


# === Model ===


def resolve_model_dir(model_dir: Path) -> Path:
    """Finds the SavedModel directory: `models/<name>/<version>` as given, or the highest
    integer version inside `models/<name>`.

    Raises:
        ModelNotFoundError: the directory does not exist, holds no integer version directory,
            or the chosen directory has no `saved_model.pb`.
    """
    model_dir = Path(model_dir)
    if (model_dir / SAVED_MODEL_FILE).is_file():
        return model_dir
    if not model_dir.is_dir():
        raise ModelNotFoundError(f"model directory {model_dir} does not exist")
    versions = [
        child
        for child in model_dir.iterdir()
        if child.is_dir() and re.fullmatch(r"[0-9]+", child.name)
    ]
    if not versions:
        raise ModelNotFoundError(
            f"{model_dir} holds neither {SAVED_MODEL_FILE} nor integer version directories"
        )
    # The contract says the highest version is used; a broken one is reported, not skipped,
    # so the figures never silently describe an older model.
    latest = max(versions, key=lambda child: int(child.name))
    if not (latest / SAVED_MODEL_FILE).is_file():
        raise ModelNotFoundError(f"the latest version {latest} has no {SAVED_MODEL_FILE}")
    return latest


def read_model_metadata(version_dir: Path) -> dict[str, Any]:
    """`metadata.json` beside the SavedModel, or an empty dict when there is none."""
    path = version_dir / METADATA_FILE
    if not path.is_file():
        return {}
    document = json.loads(path.read_text(encoding="utf-8"))
    return document if isinstance(document, dict) else {}


def load_saved_model(model_dir: Path) -> ServingSignature:
    """Loads the `serving_default` signature of an exported model.

    Args:
        model_dir: `models/<name>` (the highest integer version is used) or
            `models/<name>/<version>`.

    Returns:
        The signature: call it as `signature(images=uint8 [N, 256, 256, 3])`; it returns a
        dict of tensors (docs/CONTRACT.md).

    Raises:
        ModelNotFoundError: no SavedModel is there.
        ModelOutputError: the SavedModel has no `serving_default` signature.
    """
    version_dir = resolve_model_dir(model_dir)
    loaded = tf.saved_model.load(str(version_dir))
    signatures = loaded.signatures
    if "serving_default" not in signatures:
        raise ModelOutputError(
            f"{version_dir} has no serving_default signature (has {sorted(signatures)})"
        )
    signature: ServingSignature = signatures["serving_default"]
    return signature


# === Images ===


def read_image_rgb(path: Path) -> np.ndarray:
    """Decodes an image file (any size, grey or colour) to RGB.

    EXIF orientation is ignored: annotations index the pixels as stored, and rotating the
    image would move every landmark away from its annotation.

    Returns:
        uint8 [H, W, 3] RGB.

    Raises:
        ImageReadError: OpenCV cannot decode the file.
    """
    # Bytes first, then decode: cv2.imread cannot open non-ASCII paths on every platform.
    data = np.fromfile(path, dtype=np.uint8)
    if data.size == 0:  # imdecode asserts on an empty buffer instead of returning None
        raise ImageReadError(f"image {path} is empty")
    image = cv2.imdecode(data, cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    if image is None:
        raise ImageReadError(f"cannot decode image {path}")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def to_model_input(image: np.ndarray) -> np.ndarray:
    """Resizes a photo to the model's input (INTER_AREA: averaging, no aliasing when shrinking).

    Args:
        image: uint8 [H, W, 3] RGB.

    Returns:
        uint8 [256, 256, 3] RGB.
    """
    if image.shape[:2] == (IMAGE_SIZE, IMAGE_SIZE):
        return image
    return cv2.resize(image, (IMAGE_SIZE, IMAGE_SIZE), interpolation=cv2.INTER_AREA)


def model_to_image_points(points: np.ndarray, image_sizes: np.ndarray) -> np.ndarray:
    """Maps model-space points to each image's pixels: x = (u + 0.5) * W / 256 - 0.5.

    Pixel centres sit at integer indices in both spaces (the contract's convention), so the
    half-pixel shifts keep a point on the same spot of the picture through the resize.

    Args:
        points: float [N, K, 2] (u, v) in 256x256 model space.
        image_sizes: float [N, 2] (width, height) of each image.

    Returns:
        float64 [N, K, 2] (x, y) in each image's pixels.
    """
    factors = np.asarray(image_sizes, np.float64)[:, np.newaxis, :] / IMAGE_SIZE
    return (np.asarray(points, np.float64) + 0.5) * factors - 0.5


# === Evaluation ===


@dataclasses.dataclass(frozen=True)
class WorstImage:
    """One of the images with the largest mean normalised error.

    Attributes:
        rank: 1 for the worst.
        image_name: path relative to the data directory.
        normalized_error: the image's mean normalised distance over its visible landmarks.
        mean_pixel_error: the image's mean pixel error over its visible landmarks.
        overlay: the PNG written for it.
    """

    rank: int
    image_name: str
    normalized_error: float
    mean_pixel_error: float
    overlay: Path


@dataclasses.dataclass(frozen=True, eq=False)
class EvaluationReport:
    """What `evaluate_model` measured and wrote.

    Attributes:
        metrics: the `compute_metrics` dict.
        model: name, version, architecture, width_multiplier, exported_at, path.
        data_dir: the evaluated data directory.
        filters: the filter options the rows passed.
        corruption: the `training.corruptions` name applied to every photo, or None.
        num_images: images evaluated.
        evaluated_at: ISO 8601 UTC time of the evaluation.
        image_names: [N] in annotation order.
        predicted_points: float64 [N, 6, 2] (x, y) predictions in each image's pixels.
        image_normalized_error: float64 [N] mean normalised distance per image (NaN: none
            visible).
        worst: the worst images, worst first.
        out_dir: where the report was written.
        report_json: `out_dir/report.json`.
        report_md: `out_dir/report.md`.
    """

    metrics: dict[str, Any]
    model: dict[str, Any]
    data_dir: Path
    filters: FilterOptions
    corruption: str | None
    num_images: int
    evaluated_at: str
    image_names: tuple[str, ...]
    predicted_points: np.ndarray
    image_normalized_error: np.ndarray
    worst: tuple[WorstImage, ...]
    out_dir: Path
    report_json: Path
    report_md: Path

    def to_json(self) -> dict[str, Any]:
        """The report.json document."""
        return {
            "model": self.model,
            "data": {
                "path": str(self.data_dir),
                "num_images": self.num_images,
                "filters": dataclasses.asdict(self.filters),
                "corruption": self.corruption,
            },
            "evaluated_at": self.evaluated_at,
            "metrics": self.metrics,
            "worst": [
                {
                    "rank": item.rank,
                    "image_name": item.image_name,
                    "normalized_error": item.normalized_error,
                    "mean_pixel_error": item.mean_pixel_error,
                    "overlay": item.overlay.relative_to(self.out_dir).as_posix(),
                }
                for item in self.worst
            ],
        }


@dataclasses.dataclass
class _Candidate:
    normalized_error: float
    index: int
    class_map: np.ndarray  # uint8 [256, 256]


def _keep_worst(candidates: list[_Candidate], limit: int) -> list[_Candidate]:
    # Worst first; ties go to the earlier image so reruns pick the same files.
    candidates.sort(key=lambda item: (-item.normalized_error, item.index))
    return candidates[:limit]


def _model_info(version_dir: Path, metadata: Mapping[str, Any]) -> dict[str, Any]:
    version = metadata.get("version")
    if version is None and version_dir.name.isdigit():
        version = int(version_dir.name)
    return {
        "name": metadata.get("name", version_dir.parent.name),
        "version": version,
        "architecture": metadata.get("architecture"),
        "width_multiplier": metadata.get("width_multiplier"),
        "exported_at": metadata.get("exported_at"),
        "path": str(version_dir),
    }


def _run_signature(
    signature: ServingSignature, images: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Runs one batch; returns landmarks float32 [B, 6, 2] and class maps uint8 [B, 256, 256]."""
    outputs = signature(images=tf.constant(images))
    for key in ("landmarks", "class_map"):
        if key not in outputs:
            raise ModelOutputError(f"the signature returns {sorted(outputs)}, without {key!r}")
    landmarks = np.asarray(outputs["landmarks"])
    class_maps = np.asarray(outputs["class_map"])
    batch = images.shape[0]
    if landmarks.shape != (batch, NUM_LANDMARKS, 2):
        raise ModelOutputError(
            f"landmarks should be [{batch}, {NUM_LANDMARKS}, 2], got {list(landmarks.shape)}"
        )
    if class_maps.shape != (batch, IMAGE_SIZE, IMAGE_SIZE):
        raise ModelOutputError(
            f"class_map should be [{batch}, {IMAGE_SIZE}, {IMAGE_SIZE}], "
            f"got {list(class_maps.shape)}"
        )
    if not np.all(np.isfinite(landmarks)):
        raise ModelOutputError("the signature returned non-finite landmark coordinates")
    return landmarks, class_maps


def _overlay_name(rank: int, image_name: str) -> str:
    # One flat directory: the image's path becomes part of a safe file name.
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(image_name).with_suffix("").as_posix())
    return f"{rank:02d}_{stem.strip('_')[:150]}.png"


def evaluate_model(
    model_dir: Path,
    data_dir: Path,
    out_dir: Path,
    *,
    batch_size: int = 16,
    num_worst: int = 8,
    options: FilterOptions | None = None,
    corruption: str | None = None,
) -> EvaluationReport:
    """Scores an exported model on an annotated data set and writes the report.

    Args:
        model_dir: `models/<name>` or `models/<name>/<version>`.
        data_dir: a data directory in In-shop layout (`list_landmarks_inshop.txt`, `img/...`).
        out_dir: where `report.json`, `report.md` and `worst/` go; created if missing. PNGs
            already in `worst/` are removed so the folder holds only this run's pictures.
        batch_size: images per signature call.
        num_worst: overlays to draw for the images with the largest mean normalised error.
        options: which rows to evaluate; default the seed's filter (upper body, normal pose,
            all six landmarks visible).
        corruption: a `training.corruptions.CORRUPTIONS` name to apply to every photo before
            the model sees it (seeded by the row's index, so reruns agree), or None.

    Returns:
        The `EvaluationReport`.

    Raises:
        ModelNotFoundError: no SavedModel at `model_dir`.
        FileNotFoundError: the landmarks file is missing.
        AnnotationError: the landmarks file is malformed.
        MissingImagesError: listed images are not on disk.
        NoSamplesError: no row passes the filter.
        ImageReadError: an image cannot be decoded.
        ModelOutputError: the signature breaks the contract.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if num_worst < 0:
        raise ValueError(f"num_worst must not be negative, got {num_worst}")
    if corruption is not None:
        check_name(corruption)  # before the model loads, not at the first image
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    options = options or FilterOptions()
    version_dir = resolve_model_dir(Path(model_dir))
    annotations = load_all(data_dir, options)
    if not annotations:
        raise NoSamplesError(f"no rows in {data_dir / LANDMARKS_FILE} pass the filter {options}")
    signature = load_saved_model(version_dir)
    model = _model_info(version_dir, read_model_metadata(version_dir))

    num_images = len(annotations)
    truth = np.stack([a.points for a in annotations]).astype(np.float64)  # [N, 6, 2]
    visible = np.stack([a.visibility == VISIBLE for a in annotations])  # [N, 6]
    image_sizes = np.zeros((num_images, 2), np.float64)  # (width, height)
    predicted = np.zeros((num_images, NUM_LANDMARKS, 2), np.float64)
    image_error = np.full(num_images, np.nan)
    # Only the current worst images' class maps are kept, so memory does not grow with the set.
    worst: list[_Candidate] = []

    def read_photo(index: int) -> np.ndarray:
        """Row `index`'s photo as the model sees it: uint8 [H, W, 3] RGB, corrupted if asked."""
        photo = read_image_rgb(data_dir / annotations[index].image_name)
        return photo if corruption is None else corrupt(photo, corruption, seed=index)

    for start in range(0, num_images, batch_size):
        stop = min(start + batch_size, num_images)
        photos = [read_photo(index) for index in range(start, stop)]
        image_sizes[start:stop] = [(photo.shape[1], photo.shape[0]) for photo in photos]
        landmarks, class_maps = _run_signature(
            signature, np.stack([to_model_input(photo) for photo in photos])
        )
        predicted[start:stop] = model_to_image_points(landmarks, image_sizes[start:stop])
        image_error[start:stop] = per_image_normalized_error(
            predicted[start:stop], truth[start:stop], visible[start:stop], image_sizes[start:stop]
        )
        worst.extend(
            _Candidate(float(image_error[index]), index, class_maps[index - start].copy())
            for index in range(start, stop)
            if not math.isnan(image_error[index])
        )
        worst = _keep_worst(worst, num_worst)

    metrics = compute_metrics(predicted, truth, visible, image_sizes)
    image_pixel_error = _masked_mean(pixel_distances(predicted, truth), visible, axis=1)

    worst_dir = out_dir / WORST_DIR
    worst_dir.mkdir(parents=True, exist_ok=True)
    for stale in worst_dir.glob("*.png"):
        stale.unlink()
    worst_images = []
    for rank, candidate in enumerate(worst, start=1):
        annotation = annotations[candidate.index]
        error = candidate.normalized_error
        pixel_error = float(image_pixel_error[candidate.index])
        picture = render_comparison(
            read_photo(candidate.index),
            candidate.class_map,
            truth[candidate.index],
            predicted[candidate.index],
            visible[candidate.index],
            caption=f"#{rank} {annotation.image_name}  NE {error:.4f}  {pixel_error:.1f} px",
        )
        path = save_png(worst_dir / _overlay_name(rank, annotation.image_name), picture)
        worst_images.append(
            WorstImage(rank, annotation.image_name, error, pixel_error, overlay=path)
        )

    report = EvaluationReport(
        metrics=metrics,
        model=model,
        data_dir=data_dir,
        filters=options,
        corruption=corruption,
        num_images=num_images,
        evaluated_at=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        image_names=tuple(a.image_name for a in annotations),
        predicted_points=predicted,
        image_normalized_error=image_error,
        worst=tuple(worst_images),
        out_dir=out_dir,
        report_json=out_dir / REPORT_JSON,
        report_md=out_dir / REPORT_MD,
    )
    # allow_nan=False: an undefined figure must be null, never the non-JSON token NaN.
    report.report_json.write_text(
        json.dumps(report.to_json(), indent=2, allow_nan=False) + "\n", encoding="utf-8"
    )
    report.report_md.write_text(format_markdown(report), encoding="utf-8")
    return report


# === Reports ===


def _number(value: float | None, digits: int) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _table_rows(metrics: Mapping[str, Any]) -> list[list[str]]:
    """One row per landmark and an overall row: name, visible, px, NE, PCK per threshold."""
    rows = []
    for landmark in metrics["per_landmark"]:
        rows.append(
            [
                f"{landmark['id']} {landmark['name']}",
                str(landmark["num_visible"]),
                _number(landmark["mean_pixel_error"], 2),
                _number(landmark["normalized_error"], 4),
                *(_percent(landmark["pck"][_pck_key(t)]) for t in PCK_THRESHOLDS),
            ]
        )
    rows.append(
        [
            "overall",
            str(metrics["num_visible"]),
            _number(metrics["mean_pixel_error"], 2),
            _number(metrics["normalized_error"], 4),
            *(_percent(metrics["pck"][_pck_key(t)]) for t in PCK_THRESHOLDS),
        ]
    )
    return rows


_TABLE_HEADER = (
    "landmark",
    "visible",
    "mean px",
    "NE",
    *(f"PCK@{_pck_key(t)}" for t in PCK_THRESHOLDS),
)


def _model_line(model: Mapping[str, Any]) -> str:
    width = model.get("width_multiplier")
    details = ", ".join(
        part
        for part in (
            str(model["architecture"]) if model.get("architecture") else "",
            f"width {width}" if width is not None else "",
        )
        if part
    )
    return f"{model['name']} version {model['version']}" + (f" ({details})" if details else "")


def _filter_line(options: FilterOptions) -> str:
    variations = (
        "any" if options.variation_types is None else ", ".join(map(str, options.variation_types))
    )
    visibility = "all six visible" if options.require_all_visible else "any visibility"
    clothes = ", ".join(map(str, options.clothes_types))
    return f"clothes type {clothes}; variation type {variations}; {visibility}"


def _corruption_line(corruption: str | None) -> str:
    return "none" if corruption is None else f"{corruption} ({describe(corruption)})"


def format_markdown(report: EvaluationReport) -> str:
    """report.md: what was evaluated, a table per landmark with an overall row, the worst."""
    metrics = report.metrics
    lines = [
        "# Landmark evaluation",
        "",
        f"- Model: {_model_line(report.model)}, `{report.model['path']}`",
        f"- Data: `{report.data_dir}`, {report.num_images} images",
        f"- Filter: {_filter_line(report.filters)}",
        f"- Corruption: {_corruption_line(report.corruption)}",
        f"- Evaluated: {report.evaluated_at}",
        "",
        "| " + " | ".join(_TABLE_HEADER) + " |",
        "|---|" + "---:|" * (len(_TABLE_HEADER) - 1),
    ]
    for index, row in enumerate(_table_rows(metrics)):
        cells = [f"**{cell}**" for cell in row] if index == NUM_LANDMARKS else row
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        f"Median pixel error: {_number(metrics['median_pixel_error'], 2)} px.",
        "",
        "Only visible landmarks count. Pixel errors are in each image's own pixels. NE divides "
        "dx by the image width and dy by its height, averages per landmark over the images "
        "where it is visible, then over landmarks (mean px is averaged the same way). PCK@t is "
        "the share of visible landmarks whose normalised distance is at most t; its overall "
        "figure pools all visible landmarks.",
    ]
    if report.worst:
        lines += [
            "",
            f"## The {len(report.worst)} worst images",
            "",
            "Panels: ground truth (circles) and prediction (dots); predicted classes; classes "
            "over the photo.",
            "",
            "| rank | image | NE | mean px | overlay |",
            "|---:|---|---:|---:|---|",
        ]
        for item in report.worst:
            link = item.overlay.relative_to(report.out_dir).as_posix()
            lines.append(
                f"| {item.rank} | `{item.image_name}` | {item.normalized_error:.4f} | "
                f"{item.mean_pixel_error:.2f} | [{item.overlay.name}]({link}) |"
            )
    return "\n".join(lines) + "\n"


def format_summary(report: EvaluationReport) -> str:
    """A fixed-width table for the terminal."""
    rows = [list(_TABLE_HEADER), *_table_rows(report.metrics)]
    widths = [max(len(row[column]) for row in rows) for column in range(len(_TABLE_HEADER))]

    def line(row: Sequence[str]) -> str:
        first = row[0].ljust(widths[0])
        return "  ".join(
            [first, *(cell.rjust(w) for cell, w in zip(row[1:], widths[1:], strict=True))]
        )

    lines = [
        f"{_model_line(report.model)} on {report.data_dir}: {report.num_images} images"
        + ("" if report.corruption is None else f", corrupted: {report.corruption}"),
        line(rows[0]),
        *(line(row) for row in rows[1:]),
        f"median pixel error: {_number(report.metrics['median_pixel_error'], 2)} px",
        f"report: {report.report_md}",
    ]
    return "\n".join(lines)


# === Command line ===


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {value}")
    return value


def add_evaluate_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds the `evaluate` command's flags to `parser`."""
    parser.add_argument(
        "--model",
        type=Path,
        required=True,
        help="models/<name> (highest version) or models/<name>/<version>",
    )
    parser.add_argument(
        "--data", type=Path, required=True, help="data directory in DeepFashion In-shop layout"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="report directory (default runs/evaluate/<name>-v<version>-<UTC time>); "
        "PNGs already in its worst/ are replaced",
    )
    parser.add_argument("--batch-size", type=_positive_int, default=16, help="images per call")
    parser.add_argument(
        "--worst",
        type=_non_negative_int,
        default=8,
        help="overlays for the images with the largest normalised error (default 8)",
    )
    parser.add_argument(
        "--all-variations",
        action="store_true",
        help="evaluate every variation_type, not only normal poses (1)",
    )
    parser.add_argument(
        "--include-occluded",
        action="store_true",
        help="keep rows with occluded or truncated landmarks (only visible ones are scored)",
    )
    parser.add_argument(
        "--corruption",
        choices=sorted(CORRUPTIONS),
        default=None,
        help="degrade every photo before the model sees it, to measure robustness: "
        + "; ".join(f"{name}: {describe(name)}" for name in CORRUPTIONS),
    )


def default_out_dir(model_dir: Path, corruption: str | None = None) -> Path:
    """runs/evaluate/<name>-v<version>[-<corruption>]-<UTC time>, so runs never overwrite."""
    version_dir = resolve_model_dir(model_dir)
    model = _model_info(version_dir, read_model_metadata(version_dir))
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    label = f"{model['name']}-v{model['version']}" + (f"-{corruption}" if corruption else "")
    return Path("runs") / "evaluate" / f"{label}-{stamp}"


def run_evaluate(args: argparse.Namespace) -> int:
    """Runs `evaluate` from parsed flags; prints the summary. Returns the exit status."""
    options = FilterOptions(
        variation_types=None if args.all_variations else FilterOptions().variation_types,
        require_all_visible=not args.include_occluded,
    )
    try:
        out_dir = args.out if args.out is not None else default_out_dir(args.model, args.corruption)
        report = evaluate_model(
            args.model,
            args.data,
            out_dir,
            batch_size=args.batch_size,
            num_worst=args.worst,
            options=options,
            corruption=args.corruption,
        )
    except (FileNotFoundError, AnnotationError, EvaluationError) as error:
        print(f"evaluate: error: {error}", file=sys.stderr)
        return 1
    print(format_summary(report))
    return 0
