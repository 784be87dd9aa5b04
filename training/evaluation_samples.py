"""The images an evaluation scores: listings read into samples, photos read as served.

Two listings are read: the In-shop layout (`training.annotations`) and CSV-labelled photo
folders (`training.photo_labels`). Every photo is decoded and resized by the service's own
code (`app.decoding`, `app.geometry`), so the figures describe what an upload gets.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from app.decoding import DecodedImage, decode_image
from app.errors import InputError
from app.geometry import model_to_image, resize_for_model
from training import photo_labels
from training.annotations import LANDMARKS_FILE, VISIBLE, FilterOptions, load_all
from training.corruptions import corrupt
from training.landmarks import IMAGE_SIZE, NUM_LANDMARKS
from training.photo_labels import PhotoLabelsError


class EvaluationError(ValueError):
    """Base class for the reasons an evaluation cannot go on."""


class NoSamplesError(EvaluationError):
    """Raised when no annotation row passes the filter, so there is nothing to evaluate."""


class ImageReadError(EvaluationError):
    """Raised when an image named by the annotations exists but cannot be decoded."""


# === Images ===


def _decode(path: Path) -> DecodedImage:
    """`app.decoding.decode_image` on a whole file, its errors turned into ImageReadError."""
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise ImageReadError(f"cannot read image {path}: {error}") from error
    try:
        return decode_image(data, photo_labels.MAX_PIXELS)
    except InputError as error:
        raise ImageReadError(f"cannot decode image {path}: {error.message}") from error


def read_image_rgb(path: Path) -> np.ndarray:
    """Decodes a photo in full, exactly as the service decodes an upload it draws an overlay on.

    EXIF orientation is applied and every mode (grey, palette, alpha, 16-bit) becomes 8-bit
    RGB (`app.decoding.decode_image`).

    Returns:
        uint8 [H, W, 3] RGB, H and W after EXIF rotation.

    Raises:
        ImageReadError: the file cannot be read, or is not an image the service decodes.
    """
    return _decode(path).pixels


def model_input(
    path: Path, corruption: str | None = None, seed: int = 0
) -> tuple[np.ndarray, int, int]:
    """A photo as the model sees it: the service's decoding and resizing, corrupted if asked.

    Without a corruption this is `training.photo_labels.model_input`, the service's own path
    for an upload (a large JPEG may decode at a reduced scale, `decode_image`'s `min_side`).
    A corruption is applied to the full decoded photo, since its strength is defined on the
    photo as taken, then the result is resized the same way.

    Args:
        path: the image file.
        corruption: a `training.corruptions.CORRUPTIONS` name, or None.
        seed: seeds a random corruption (pass the image's index, so reruns agree).

    Returns:
        uint8 [256, 256, 3] RGB, and the photo's width and height after EXIF rotation.

    Raises:
        ImageReadError: the file cannot be read, or is not an image the service decodes.
    """
    if corruption is None:
        try:
            return photo_labels.model_input(path, IMAGE_SIZE)
        except OSError as error:
            raise ImageReadError(f"cannot read image {path}: {error}") from error
        except InputError as error:
            raise ImageReadError(f"cannot decode image {path}: {error.message}") from error
    decoded = _decode(path)
    degraded = corrupt(decoded.pixels, corruption, seed=seed)
    return resize_for_model(degraded, IMAGE_SIZE), decoded.width, decoded.height


def model_to_image_points(points: np.ndarray, image_sizes: np.ndarray) -> np.ndarray:
    """Maps model-space points to each image's pixels with the service's `model_to_image`.

    Args:
        points: float [N, K, 2] (u, v) in 256x256 model space.
        image_sizes: float [N, 2] (width, height) of each image.

    Returns:
        float64 [N, K, 2] (x, y) in each image's pixels.
    """
    mapped = [
        model_to_image(image_points, int(width), int(height), IMAGE_SIZE)
        for image_points, (width, height) in zip(points, image_sizes, strict=True)
    ]
    return np.stack(mapped) if mapped else np.zeros((0, NUM_LANDMARKS, 2))


# === Samples ===


@dataclasses.dataclass(frozen=True)
class Sample:
    """One image to score, whatever file it was listed in.

    Attributes:
        name: the image's path as the listing gives it (relative to its folder).
        path: the file.
        truth: float64 [6, 2] (x, y) in the image's own pixels after EXIF rotation.
        visible: bool [6], the landmarks that count.
        kind: the photo's kind, "" when it has none.
        size: (width, height) the listing states, to check against the decoded photo; None
            where it states none (In-shop).
    """

    name: str
    path: Path
    truth: np.ndarray
    visible: np.ndarray
    kind: str
    size: tuple[int, int] | None


def inshop_samples(data_dir: Path, options: FilterOptions) -> list[Sample]:
    annotations = load_all(data_dir, options)
    if not annotations:
        raise NoSamplesError(f"no rows in {data_dir / LANDMARKS_FILE} pass the filter {options}")
    return [
        Sample(
            name=a.image_name,
            path=data_dir / a.image_name,
            truth=a.points.astype(np.float64),
            visible=a.visibility == VISIBLE,
            kind="",
            size=None,
        )
        for a in annotations
    ]


def photo_samples(data_path: Path) -> list[Sample]:
    folder, photos = photo_labels.read_labels(data_path)
    if not photos:
        raise NoSamplesError(f"{photo_labels.find_labels_file(data_path)} has no rows")
    samples = [
        Sample(
            name=photo.image,
            path=folder / photo.image,
            truth=photo.points.astype(np.float64),
            # The CSV form has no visibility column: every labelled point counts.
            visible=np.ones(NUM_LANDMARKS, dtype=bool),
            kind=photo.kind,
            size=(photo.width, photo.height),
        )
        for photo in photos
    ]
    # All missing files at once, before the model loads, rather than one per run.
    missing = [
        f"{sample.path} (row {photo.row})"
        for sample, photo in zip(samples, photos, strict=True)
        if not sample.path.is_file()
    ]
    if missing:
        shown = ", ".join(missing[:5]) + (
            f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        )
        raise FileNotFoundError(f"{len(missing)} listed image(s) do not exist: {shown}")
    return samples


def check_size(sample: Sample, width: int, height: int, labels_file: Path) -> None:
    # Landmarks are in the image's own pixels: a size that differs from the row's (typically
    # an EXIF rotation the labeller did not see) would silently misplace every one of them.
    if sample.size is not None and sample.size != (width, height):
        raise PhotoLabelsError(
            f"{sample.path} is {width}x{height} after EXIF rotation, but {labels_file} says "
            f"{sample.size[0]}x{sample.size[1]}"
        )
