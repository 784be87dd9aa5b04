"""Labelled real photos in the CSV form: a folder of images and its `landmarks.csv` (or
`labels.csv`).

    image,width,height,x1,y1,...,x6,y6[,kind][,notes][,...]
    images/000.jpg,400,711,131,139,273,166,33,427,322,489,56,609,273,656,c,busy print

`image` is relative to the CSV file's folder (or absolute, as `training.adapt` writes it);
`width` and `height` are the image's size after EXIF rotation, and x1..y6 the six landmarks in
that image's own pixels (x right, y down, pixel centres at integers, the service's
convention). Any image size. `kind` (optional) groups the figures (`a` garment alone, `b` worn,
`c` everyday phone photo); other columns are kept as they are and ignored.

Photos are turned into model inputs by the service's own code (`app.decoding.decode_image`,
`app.geometry.resize_for_model`), so training and evaluation see exactly the pixels a user's
upload becomes.
"""

from __future__ import annotations

import csv
import dataclasses
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from app.decoding import decode_image
from app.errors import InputError
from app.geometry import image_to_model, resize_for_model
from training.landmarks import IMAGE_SIZE, NUM_LANDMARKS

# File names a labelled folder may use for its CSV, in the order they are looked for.
LABEL_FILES: tuple[str, ...] = ("landmarks.csv", "labels.csv")
POINT_COLUMNS: tuple[str, ...] = tuple(
    f"{axis}{index}" for index in range(1, NUM_LANDMARKS + 1) for axis in ("x", "y")
)
REQUIRED_COLUMNS: tuple[str, ...] = ("image", "width", "height", *POINT_COLUMNS)
# Large enough for any photo people label; the service's own limit is a setting.
MAX_PIXELS = 100_000_000
# What counts as a photo in a folder of unlabelled ones (`adapt --photos`, `synth --textures`).
PHOTO_SUFFIXES: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".webp", ".bmp")


class PhotoLabelsError(ValueError):
    """A labels file or one of its photos is unusable; the message names the file and row."""


@dataclasses.dataclass(frozen=True)
class LabelledPhoto:
    """One row of a labels file.

    Attributes:
        image: path relative to the labels file's folder.
        width: the image's width after EXIF rotation, as the row states it.
        height: its height.
        points: float32 [6, 2] (x, y) in the image's own pixels.
        kind: the `kind` column, or "" when the file has none.
        row: the 1-based line number in the file (the header is line 1).
    """

    image: str
    width: int
    height: int
    points: np.ndarray
    kind: str
    row: int


@dataclasses.dataclass(frozen=True)
class PhotoSet:
    """A labels file read and its photos turned into model inputs.

    Attributes:
        folder: the folder image paths are relative to.
        photos: the rows, in file order.
        images: uint8 [N, 256, 256, 3], each photo as the service feeds it to the model.
        points: float32 [N, 6, 2], the landmarks in that 256x256 model space.
    """

    folder: Path
    photos: list[LabelledPhoto]
    images: np.ndarray
    points: np.ndarray

    @property
    def sizes(self) -> np.ndarray:
        """float32 [N, 2] (width, height) of each photo."""
        return np.array([(p.width, p.height) for p in self.photos], dtype=np.float32)


def find_labels_file(path: Path) -> Path | None:
    """The labels CSV `path` names: the file itself, or the first of `LABEL_FILES` in it."""
    path = Path(path)
    if path.is_file() and path.suffix.lower() == ".csv":
        return path
    for name in LABEL_FILES:
        if (path / name).is_file():
            return path / name
    return None


def is_photo_folder(path: Path) -> bool:
    """Whether `path` is a labels CSV or a folder holding one."""
    return find_labels_file(path) is not None


def _number(row: dict[str, str], column: str, where: str) -> float:
    text = (row.get(column) or "").strip()
    try:
        value = float(text)
    except ValueError:
        raise PhotoLabelsError(f"{where}: {column} is {text!r}, not a number") from None
    if not math.isfinite(value):
        raise PhotoLabelsError(f"{where}: {column} is {text!r}, not a finite number")
    return value


def read_labels(path: Path) -> tuple[Path, list[LabelledPhoto]]:
    """Reads a labels CSV.

    Args:
        path: the CSV file, or a folder holding `landmarks.csv` or `labels.csv`.

    Returns:
        The folder image paths are relative to, and one `LabelledPhoto` per row.

    Raises:
        FileNotFoundError: no labels file there.
        PhotoLabelsError: a column is missing, a value is not a number, a size is not
            positive, or a point lies outside its image.
    """
    labels_file = find_labels_file(path)
    if labels_file is None:
        raise FileNotFoundError(f"no {' or '.join(LABEL_FILES)} in {path}")
    photos: list[LabelledPhoto] = []
    with labels_file.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [column for column in REQUIRED_COLUMNS if column not in (reader.fieldnames or ())]
        if missing:
            raise PhotoLabelsError(f"{labels_file}: missing column(s) {', '.join(missing)}")
        for line, row in enumerate(reader, start=2):
            where = f"{labels_file}:{line}"
            width = _number(row, "width", where)
            height = _number(row, "height", where)
            if width < 1 or height < 1 or width != int(width) or height != int(height):
                raise PhotoLabelsError(f"{where}: width and height must be positive integers")
            points = np.array(
                [_number(row, column, where) for column in POINT_COLUMNS], dtype=np.float32
            ).reshape(NUM_LANDMARKS, 2)
            inside = (points >= -0.5) & (points <= np.array([width, height]) - 0.5)
            if not inside.all():
                raise PhotoLabelsError(
                    f"{where}: a landmark lies outside the {width:g}x{height:g} image"
                )
            image = (row.get("image") or "").strip()
            if not image:
                raise PhotoLabelsError(f"{where}: the image column is empty")
            photos.append(
                LabelledPhoto(
                    image=image,
                    width=int(width),
                    height=int(height),
                    points=points,
                    kind=(row.get("kind") or "").strip(),
                    row=line,
                )
            )
    return labels_file.parent, photos


def list_photos(folder: Path) -> list[Path]:
    """Every image file under `folder` (by suffix, case-insensitive), sorted."""
    return sorted(
        path
        for path in Path(folder).rglob("*")
        if path.is_file() and path.suffix.lower() in PHOTO_SUFFIXES
    )


def model_input(path: Path, size: int = IMAGE_SIZE) -> tuple[np.ndarray, int, int]:
    """Reads one photo as the service would receive it and resizes it for the model.

    Returns:
        uint8 [size, size, 3], and the photo's width and height after EXIF rotation.

    Raises:
        app.errors.InputError: the file is not an image the service accepts (its message).
    """
    decoded = decode_image(Path(path).read_bytes(), MAX_PIXELS, min_side=size)
    return resize_for_model(decoded.pixels, size), decoded.width, decoded.height


def load_photo_set(path: Path, size: int = IMAGE_SIZE) -> PhotoSet:
    """Reads a labels file and every photo it lists (see `PhotoSet`).

    Raises:
        FileNotFoundError: the labels file or a listed image is missing.
        PhotoLabelsError: as `read_labels`, or a photo's decoded size is not the row's.
    """
    folder, photos = read_labels(path)
    if not photos:
        raise PhotoLabelsError(f"{path}: the labels file has no rows")
    images = np.empty((len(photos), size, size, 3), dtype=np.uint8)
    for index, photo in enumerate(photos):
        image_path = folder / photo.image
        if not image_path.is_file():
            raise FileNotFoundError(f"{image_path} (row {photo.row}) does not exist")
        try:
            images[index], width, height = model_input(image_path, size)
        except InputError as exc:
            raise PhotoLabelsError(f"{image_path}: {exc.message}") from exc
        if (width, height) != (photo.width, photo.height):
            raise PhotoLabelsError(
                f"{image_path} is {width}x{height} after EXIF rotation, but row {photo.row} "
                f"says {photo.width}x{photo.height}"
            )
    points = np.stack([image_to_model(p.points, p.width, p.height, size) for p in photos]).astype(
        np.float32
    )
    return PhotoSet(folder=folder, photos=photos, images=images, points=points)


def subset(photo_set: PhotoSet, indices: Sequence[int]) -> PhotoSet:
    """The photos at `indices`, in that order."""
    index = np.asarray(indices, dtype=np.int64)
    return PhotoSet(
        folder=photo_set.folder,
        photos=[photo_set.photos[i] for i in index],
        images=photo_set.images[index],
        points=photo_set.points[index],
    )
