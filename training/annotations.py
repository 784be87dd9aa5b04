"""Reads DeepFashion In-shop landmark annotations (`list_landmarks_inshop.txt`).

File format, exactly as the real file is laid out::

    <row count>
    image_name clothes_type variation_type landmark_visibility_1 landmark_location_x_1 ...
    img/WOMEN/Tees_Tanks/id_00000001/02_1_front.jpg 1 1 0 115 59 0 149 60 ...

Each row has `3 + 3 * k` fields, where k is 6 for upper-body (clothes_type 1), 4 for lower-body
(2) and 8 for full-body (3) garments. Visibility 0 is visible, 1 occluded, 2 truncated.

The optional `list_eval_partition.txt` (count line, header, then `image_name item_id status`
with status `train`, `query` or `gallery`) chooses the split; without it a seeded random split
is made.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from training.landmarks import NUM_LANDMARKS

LANDMARKS_FILE = "list_landmarks_inshop.txt"
PARTITION_FILE = "list_eval_partition.txt"

UPPER_BODY, LOWER_BODY, FULL_BODY = 1, 2, 3
LANDMARKS_PER_CLOTHES_TYPE = {UPPER_BODY: 6, LOWER_BODY: 4, FULL_BODY: 8}
NORMAL_POSE = 1
VISIBLE, OCCLUDED, TRUNCATED = 0, 1, 2


class AnnotationError(ValueError):
    """Raised when an annotation file is malformed; names the file, line and problem."""

    def __init__(self, path: Path, line_number: int, problem: str) -> None:
        super().__init__(f"{path}:{line_number}: {problem}")
        self.path = path
        self.line_number = line_number
        self.problem = problem


class MissingImagesError(FileNotFoundError):
    """Raised when rows name images that do not exist under the data directory."""

    def __init__(self, missing: Sequence[str], data_dir: Path) -> None:
        shown = ", ".join(missing[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        super().__init__(
            f"{len(missing)} listed image(s) do not exist under {data_dir}: {shown}{more}"
        )
        self.missing = list(missing)


@dataclasses.dataclass(frozen=True)
class Annotation:
    """One row of the landmarks file.

    Attributes:
        image_name: path relative to the data directory, e.g. `img/.../02_1_front.jpg`.
        clothes_type: 1 upper body, 2 lower body, 3 full body.
        variation_type: 1 normal pose; higher values are harder poses or zoom-ins.
        visibility: int32 [k], 0 visible, 1 occluded, 2 truncated.
        points: float32 [k, 2], (x, y) pixel indices in the stored image.
    """

    image_name: str
    clothes_type: int
    variation_type: int
    visibility: np.ndarray
    points: np.ndarray
    line_number: int


@dataclasses.dataclass(frozen=True)
class FilterOptions:
    """Which rows become training samples. Defaults are the seed's filter."""

    clothes_types: tuple[int, ...] = (UPPER_BODY,)
    variation_types: tuple[int, ...] | None = (NORMAL_POSE,)
    require_all_visible: bool = True


@dataclasses.dataclass(frozen=True)
class Split:
    """Training and validation samples drawn from one data directory."""

    train: list[Annotation]
    validation: list[Annotation]
    source: str  # "partition file" or "random split (seed N, fraction F)"


def _parse_int(token: str, path: Path, line_number: int, field: str) -> int:
    try:
        return int(token)
    except ValueError:
        raise AnnotationError(path, line_number, f"{field} is {token!r}, not an integer") from None


def parse_landmarks_file(path: Path) -> list[Annotation]:
    """Parses every row of a `list_landmarks_inshop.txt` file.

    Args:
        path: the annotation file.

    Returns:
        One `Annotation` per row, in file order.

    Raises:
        AnnotationError: on a bad count line, a row of the wrong length for its clothes type,
            an unknown clothes type, a non-integer field, or a row count that disagrees with
            line 1.
    """
    lines = path.read_text(encoding="utf-8").splitlines()
    if len(lines) < 2:
        raise AnnotationError(path, len(lines) + 1, "expected a row-count line and a header line")
    declared_count = _parse_int(lines[0].strip(), path, 1, "row count")
    if not lines[1].strip().startswith("image_name"):
        raise AnnotationError(path, 2, "header line must start with 'image_name'")

    annotations: list[Annotation] = []
    for line_number, line in enumerate(lines[2:], start=3):
        fields = line.split()
        if not fields:
            continue
        if len(fields) < 3:
            raise AnnotationError(
                path, line_number, f"expected at least 3 fields, found {len(fields)}"
            )
        clothes_type = _parse_int(fields[1], path, line_number, "clothes_type")
        variation_type = _parse_int(fields[2], path, line_number, "variation_type")
        if clothes_type not in LANDMARKS_PER_CLOTHES_TYPE:
            raise AnnotationError(
                path, line_number, f"clothes_type {clothes_type} is not one of 1, 2, 3"
            )
        num_points = LANDMARKS_PER_CLOTHES_TYPE[clothes_type]
        expected = 3 + 3 * num_points
        if len(fields) != expected:
            raise AnnotationError(
                path,
                line_number,
                f"clothes_type {clothes_type} needs {expected} fields "
                f"({num_points} landmarks), found {len(fields)}",
            )
        values = np.array(
            [
                _parse_int(token, path, line_number, f"field {index + 4}")
                for index, token in enumerate(fields[3:])
            ],
            dtype=np.int64,
        ).reshape(num_points, 3)
        visibility = values[:, 0].astype(np.int32)
        if np.any((visibility < VISIBLE) | (visibility > TRUNCATED)):
            raise AnnotationError(path, line_number, "landmark visibility must be 0, 1 or 2")
        annotations.append(
            Annotation(
                image_name=fields[0],
                clothes_type=clothes_type,
                variation_type=variation_type,
                visibility=visibility,
                points=values[:, 1:].astype(np.float32),
                line_number=line_number,
            )
        )
    if declared_count != len(annotations):
        raise AnnotationError(
            path, 1, f"row count says {declared_count} but the file has {len(annotations)} rows"
        )
    return annotations


def select(annotations: Sequence[Annotation], options: FilterOptions) -> list[Annotation]:
    """Keeps the rows that pass the filter (by default: upper body, normal pose, all visible).

    Rows of other clothes types are dropped before the visibility test, so `require_all_visible`
    always refers to the six upper-body landmarks.
    """
    kept = []
    for annotation in annotations:
        if annotation.clothes_type not in options.clothes_types:
            continue
        if (
            options.variation_types is not None
            and annotation.variation_type not in options.variation_types
        ):
            continue
        if annotation.points.shape[0] != NUM_LANDMARKS:
            continue
        if options.require_all_visible and np.any(annotation.visibility != VISIBLE):
            continue
        kept.append(annotation)
    return kept


def check_images_exist(annotations: Sequence[Annotation], data_dir: Path) -> None:
    """Raises `MissingImagesError` listing every selected image that is not on disk."""
    missing = [a.image_name for a in annotations if not (data_dir / a.image_name).is_file()]
    if missing:
        raise MissingImagesError(missing, data_dir)


def parse_partition_file(path: Path) -> dict[str, str]:
    """Maps image name to its status (`train`, `query`, `gallery`) from `list_eval_partition`."""
    lines = path.read_text(encoding="utf-8").splitlines()
    if len(lines) < 2:
        raise AnnotationError(path, len(lines) + 1, "expected a row-count line and a header line")
    _parse_int(lines[0].strip(), path, 1, "row count")
    statuses: dict[str, str] = {}
    for line_number, line in enumerate(lines[2:], start=3):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 3:
            raise AnnotationError(path, line_number, f"expected 3 fields, found {len(fields)}")
        statuses[fields[0]] = fields[2]
    return statuses


def load_split(
    data_dir: Path,
    options: FilterOptions | None = None,
    validation_fraction: float = 0.2,
    seed: int = 0,
) -> Split:
    """Reads, filters and splits a data directory in In-shop layout.

    With `list_eval_partition.txt` present, rows marked `train` train and the rest validate;
    otherwise a seeded random `validation_fraction` of the rows validates.

    Raises:
        FileNotFoundError: the landmarks file is missing.
        AnnotationError: a file is malformed.
        MissingImagesError: selected rows name images that are not on disk.
    """
    options = options or FilterOptions()
    landmarks_path = data_dir / LANDMARKS_FILE
    if not landmarks_path.is_file():
        raise FileNotFoundError(f"{landmarks_path} does not exist")
    selected = select(parse_landmarks_file(landmarks_path), options)
    if not selected:
        raise ValueError(f"no rows in {landmarks_path} pass the filter {options}")
    check_images_exist(selected, data_dir)

    partition_path = data_dir / PARTITION_FILE
    if partition_path.is_file():
        statuses = parse_partition_file(partition_path)
        train = [a for a in selected if statuses.get(a.image_name) == "train"]
        validation = [a for a in selected if statuses.get(a.image_name, "train") != "train"]
        return Split(train=train, validation=validation, source="partition file")

    if not 0.0 <= validation_fraction < 1.0:
        raise ValueError(f"validation_fraction must be in [0, 1), got {validation_fraction}")
    order = np.random.default_rng(seed).permutation(len(selected))
    num_validation = round(len(selected) * validation_fraction)
    validation_indices = set(order[:num_validation].tolist())
    train = [a for i, a in enumerate(selected) if i not in validation_indices]
    validation = [a for i, a in enumerate(selected) if i in validation_indices]
    return Split(
        train=train,
        validation=validation,
        source=f"random split (seed {seed}, fraction {validation_fraction})",
    )


def load_all(data_dir: Path, options: FilterOptions | None = None) -> list[Annotation]:
    """Reads and filters every row of a data directory (no split), checking images exist."""
    options = options or FilterOptions()
    landmarks_path = data_dir / LANDMARKS_FILE
    if not landmarks_path.is_file():
        raise FileNotFoundError(f"{landmarks_path} does not exist")
    selected = select(parse_landmarks_file(landmarks_path), options)
    check_images_exist(selected, data_dir)
    return selected
