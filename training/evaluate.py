"""Evaluates an exported SavedModel on annotated photos: an In-shop data set or labelled photos.

    annotations -> decode the photo as the service does -> [corrupt it] -> resize to 256x256 ->
    `serving_default` -> landmarks and scores in model space -> back to the photo's own
    pixels -> metrics, detection figures -> report.json, report.md, worst/*.png

`data` is either a directory in DeepFashion In-shop layout (`list_landmarks_inshop.txt`,
`img/...`) or labelled photos in the CSV form of `training.photo_labels` (a `landmarks.csv` or
`labels.csv`, or the CSV file itself). Both go through one preprocessing path, the service's
own: `app.decoding.decode_image` (EXIF orientation applied, every mode to 8-bit RGB) and
`app.geometry.resize_for_model`; predictions go back with `app.geometry.model_to_image`. So the
figures measure what a user's upload gets, decoding included. In-shop photos carry no EXIF
orientation, so their annotations still index the pixels as stored.

With `corruption`, every photo is first degraded by one of `training.corruptions` (blur,
noise, JPEG artefacts, ...) at its full decoded size, then resized: the same figures then say
how robust the model is to it.

The model is used only through its exported signature (docs/CONTRACT.md), exactly as the service
uses it.

Metrics count *visible* landmarks only (In-shop visibility 0), as in the DeepFashion papers:
occluded and truncated points are the annotators' guesses. Labelled photos have no visibility
column, so all their landmarks count. The figures (pixel error, NE, PCK, detection precision
and recall) are defined in `training.metrics`; the service marks a landmark `detected` when its
score reaches DETECTION_THRESHOLD, the default of `--detection-threshold` here.

When labelled photos have a `kind`, the same figures are also given per kind.

Errors raised here::

    FileNotFoundError
     └── ModelNotFoundError     no SavedModel where the model directory points
    ValueError
     └── EvaluationError        the evaluation cannot go on
          ├── NoSamplesError    no annotation row passes the filter, or the CSV has no rows
          ├── ImageReadError    a listed image cannot be decoded
          └── ModelOutputError  the signature's outputs break docs/CONTRACT.md

The loaders' own errors pass through unchanged: `AnnotationError` and `MissingImagesError`
(In-shop), `PhotoLabelsError` (a malformed CSV, or a photo whose size is not its row's) and
`FileNotFoundError` (a photo the CSV lists is missing).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import math
import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from app.errors import ModelLoadError
from app.model_runtime import (
    METADATA_FILE,
    SIGNATURE_NAME,
    read_metadata_document,
    resolve_version_dir,
)
from app.settings import Settings
from training import photo_labels
from training.annotations import (
    LANDMARKS_FILE,
    AnnotationError,
    FilterOptions,
)
from training.comparisons import render_comparison, save_png
from training.corruptions import CORRUPTIONS, check_name, corrupt, describe
from training.evaluation_report import (
    INSHOP_FORMAT,
    PHOTOS_FORMAT,
    EvaluationReport,
    WorstImage,
    format_markdown,
    format_summary,
)
from training.evaluation_samples import (
    EvaluationError,
    check_size,
    inshop_samples,
    model_input,
    model_to_image_points,
    photo_samples,
    read_image_rgb,
)
from training.landmarks import IMAGE_SIZE, NUM_LANDMARKS
from training.metrics import (
    compute_metrics,
    detection_metrics,
    masked_mean,
    metrics_by_kind,
    normalized_distances,
    per_image_normalized_error,
    pixel_distances,
)
from training.photo_labels import PhotoLabelsError

# The service's own default, read from its Settings field so the number lives in one place and
# the figures describe the threshold users actually get.
DEFAULT_DETECTION_THRESHOLD: float = float(Settings.model_fields["DETECTION_THRESHOLD"].default)
REPORT_JSON = "report.json"
REPORT_MD = "report.md"
WORST_DIR = "worst"
SAVED_MODEL_FILE = "saved_model.pb"

# The serving signature: called with `images=` a uint8 [N, 256, 256, 3] tensor, returns a dict
# of tensors (docs/CONTRACT.md).
ServingSignature = Callable[..., Mapping[str, Any]]


class ModelNotFoundError(FileNotFoundError):
    """Raised when a model directory holds no SavedModel, directly or in a version directory."""


class ModelOutputError(EvaluationError):
    """Raised when the signature's outputs do not have the shapes docs/CONTRACT.md promises."""


def resolve_model_dir(model_dir: Path) -> Path:
    """The version directory the service would serve for `model_dir` (one rule, the app's).

    Raises:
        ModelNotFoundError: the directory does not exist, holds no integer version directory,
            or the chosen version has no `saved_model.pb` (reported, not skipped, so the
            figures never silently describe an older model).
    """
    try:
        version_dir = resolve_version_dir(Path(model_dir))
    except ModelLoadError as error:
        raise ModelNotFoundError(error.message) from error
    if not (version_dir / SAVED_MODEL_FILE).is_file():
        raise ModelNotFoundError(f"the latest version {version_dir} has no {SAVED_MODEL_FILE}")
    return version_dir


def read_model_metadata(version_dir: Path) -> dict[str, Any]:
    """`metadata.json` beside the SavedModel, or an empty dict for an export without one.

    Raises:
        ModelLoadError: the file is there but unreadable (the service would refuse it too).
    """
    if not (version_dir / METADATA_FILE).is_file():
        return {}
    return read_metadata_document(version_dir)


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
    if SIGNATURE_NAME not in signatures:
        raise ModelOutputError(
            f"{version_dir} has no serving_default signature (has {sorted(signatures)})"
        )
    signature: ServingSignature = signatures[SIGNATURE_NAME]
    return signature


# === Evaluation ===


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
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Runs one batch of B images (uint8 [B, 256, 256, 3]).

    Returns:
        landmarks float32 [B, 6, 2] in model space, scores float32 [B, 6] and class maps
        uint8 [B, 256, 256].
    """
    outputs = signature(images=tf.constant(images))
    for key in ("landmarks", "scores", "class_map"):
        if key not in outputs:
            raise ModelOutputError(f"the signature returns {sorted(outputs)}, without {key!r}")
    landmarks = np.asarray(outputs["landmarks"])
    scores = np.asarray(outputs["scores"])
    class_maps = np.asarray(outputs["class_map"])
    batch = images.shape[0]
    if landmarks.shape != (batch, NUM_LANDMARKS, 2):
        raise ModelOutputError(
            f"landmarks should be [{batch}, {NUM_LANDMARKS}, 2], got {list(landmarks.shape)}"
        )
    if scores.shape != (batch, NUM_LANDMARKS):
        raise ModelOutputError(
            f"scores should be [{batch}, {NUM_LANDMARKS}], got {list(scores.shape)}"
        )
    if class_maps.shape != (batch, IMAGE_SIZE, IMAGE_SIZE):
        raise ModelOutputError(
            f"class_map should be [{batch}, {IMAGE_SIZE}, {IMAGE_SIZE}], "
            f"got {list(class_maps.shape)}"
        )
    if not np.all(np.isfinite(landmarks)):
        raise ModelOutputError("the signature returned non-finite landmark coordinates")
    if not np.all(np.isfinite(scores)):
        raise ModelOutputError("the signature returned non-finite scores")
    return landmarks, scores, class_maps


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
    detection_threshold: float = DEFAULT_DETECTION_THRESHOLD,
) -> EvaluationReport:
    """Scores an exported model on annotated photos and writes the report.

    Args:
        model_dir: `models/<name>` or `models/<name>/<version>`.
        data_dir: a data directory in In-shop layout (`list_landmarks_inshop.txt`, `img/...`),
            or labelled photos: a `landmarks.csv` / `labels.csv` file or a folder holding one
            (`training.photo_labels`).
        out_dir: where `report.json`, `report.md` and `worst/` go; created if missing. PNGs
            already in `worst/` are removed so the folder holds only this run's pictures.
        batch_size: images per signature call.
        num_worst: overlays to draw for the images with the largest mean normalised error.
        options: which In-shop rows to evaluate; default the seed's filter (upper body, normal
            pose, all six landmarks visible). Labelled photos are all evaluated.
        corruption: a `training.corruptions.CORRUPTIONS` name to apply to every photo before
            the model sees it (seeded by the row's index, so reruns agree), or None.
        detection_threshold: a landmark is detected when its score is at least this; default
            the service's DETECTION_THRESHOLD default.

    Returns:
        The `EvaluationReport`.

    Raises:
        ModelNotFoundError: no SavedModel at `model_dir`.
        FileNotFoundError: the landmarks file, or a photo a CSV lists, is missing.
        AnnotationError: the In-shop landmarks file is malformed.
        MissingImagesError: In-shop images are not on disk.
        PhotoLabelsError: the CSV is malformed, or a photo's size is not its row's.
        NoSamplesError: no row passes the filter, or the CSV has none.
        ImageReadError: an image cannot be decoded.
        ModelOutputError: the signature breaks the contract.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if num_worst < 0:
        raise ValueError(f"num_worst must not be negative, got {num_worst}")
    if not 0.0 <= detection_threshold <= 1.0:
        raise ValueError(f"detection_threshold must be in [0, 1], got {detection_threshold}")
    if corruption is not None:
        check_name(corruption)  # before the model loads, not at the first image
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    version_dir = resolve_model_dir(Path(model_dir))
    labels_file = photo_labels.find_labels_file(data_dir)
    filters: FilterOptions | None
    if labels_file is not None:
        data_format, filters = PHOTOS_FORMAT, None
        samples = photo_samples(data_dir)
    else:
        data_format, filters = INSHOP_FORMAT, options or FilterOptions()
        labels_file = data_dir / LANDMARKS_FILE
        samples = inshop_samples(data_dir, filters)
    signature = load_saved_model(version_dir)
    model = _model_info(version_dir, read_model_metadata(version_dir))

    num_images = len(samples)
    truth = np.stack([sample.truth for sample in samples])  # [N, 6, 2]
    visible = np.stack([sample.visible for sample in samples])  # [N, 6]
    image_sizes = np.zeros((num_images, 2), np.float64)  # (width, height)
    predicted = np.zeros((num_images, NUM_LANDMARKS, 2), np.float64)
    scores = np.zeros((num_images, NUM_LANDMARKS), np.float64)
    image_error = np.full(num_images, np.nan)
    # Only the current worst images' class maps are kept, so memory does not grow with the set.
    worst: list[_Candidate] = []

    for start in range(0, num_images, batch_size):
        stop = min(start + batch_size, num_images)
        inputs = []
        for index in range(start, stop):
            pixels, width, height = model_input(samples[index].path, corruption, seed=index)
            check_size(samples[index], width, height, labels_file)
            image_sizes[index] = (width, height)
            inputs.append(pixels)
        landmarks, scores[start:stop], class_maps = _run_signature(signature, np.stack(inputs))
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
    distances = normalized_distances(predicted, truth, image_sizes)
    kinds = tuple(sample.kind for sample in samples)
    image_pixel_error = masked_mean(pixel_distances(predicted, truth), visible, axis=1)

    worst_dir = out_dir / WORST_DIR
    worst_dir.mkdir(parents=True, exist_ok=True)
    for stale in worst_dir.glob("*.png"):
        stale.unlink()
    worst_images = []
    for rank, candidate in enumerate(worst, start=1):
        sample = samples[candidate.index]
        error = candidate.normalized_error
        pixel_error = float(image_pixel_error[candidate.index])
        # The full photo, as the service draws its overlay on, corrupted as the model saw it.
        photo = read_image_rgb(sample.path)
        if corruption is not None:
            photo = corrupt(photo, corruption, seed=candidate.index)
        kind = f" [{sample.kind}]" if sample.kind else ""
        picture = render_comparison(
            photo,
            candidate.class_map,
            truth[candidate.index],
            predicted[candidate.index],
            visible[candidate.index],
            caption=f"#{rank} {sample.name}{kind}  NE {error:.4f}  {pixel_error:.1f} px",
        )
        path = save_png(worst_dir / _overlay_name(rank, sample.name), picture)
        worst_images.append(WorstImage(rank, sample.name, error, pixel_error, overlay=path))

    report = EvaluationReport(
        metrics=metrics,
        detection=detection_metrics(scores, distances, visible, detection_threshold),
        by_kind=metrics_by_kind(
            kinds, predicted, truth, visible, image_sizes, scores, detection_threshold
        ),
        model=model,
        data_dir=data_dir,
        data_format=data_format,
        labels_file=labels_file,
        filters=filters,
        corruption=corruption,
        num_images=num_images,
        evaluated_at=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        image_names=tuple(sample.name for sample in samples),
        kinds=kinds,
        image_sizes=image_sizes,
        truth_points=truth,
        visible=visible,
        predicted_points=predicted,
        scores=scores,
        normalized_distances=distances,
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


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {value:g}")
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
        "--data",
        type=Path,
        required=True,
        help="a data directory in DeepFashion In-shop layout, or labelled photos: a "
        f"{' or '.join(photo_labels.LABEL_FILES)} file, or a folder holding one",
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
        "--corruption",
        choices=sorted(CORRUPTIONS),
        default=None,
        help="degrade every photo before the model sees it, to measure robustness: "
        + "; ".join(f"{name}: {describe(name)}" for name in CORRUPTIONS),
    )
    # The same row-filter flags as `train` (In-shop data only; only visible landmarks are
    # scored whatever the filter keeps).
    from training.cli import add_filter_arguments

    add_filter_arguments(parser)
    parser.add_argument(
        "--detection-threshold",
        type=_probability,
        default=DEFAULT_DETECTION_THRESHOLD,
        help="a landmark counts as detected at this score or more, as in the service "
        f"(default {DEFAULT_DETECTION_THRESHOLD:g}, its DETECTION_THRESHOLD default)",
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
    from training.cli import filter_options

    options = filter_options(args)
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
            detection_threshold=args.detection_threshold,
        )
    except (FileNotFoundError, AnnotationError, PhotoLabelsError, EvaluationError) as error:
        print(f"evaluate: error: {error}", file=sys.stderr)
        return 1
    print(format_summary(report))
    return 0
