"""The DeepFashion In-shop layout on disk: image paths and `list_landmarks_inshop.txt`.

    DIR/img/<GENDER>/<Category>/id_<8 digits>/01_<n>_<view>.jpg
    DIR/list_landmarks_inshop.txt

The annotation file is line 1: the row count; line 2: the column names (all eight landmark
triples, as in the real file); then one row per image: `image_name clothes_type
variation_type` followed by one `visibility x y` triple per landmark the clothes type has
(6 upper body, 4 lower body, 8 full body), so rows differ in length.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

LANDMARKS_FILE = "list_landmarks_inshop.txt"
HEADER = "image_name clothes_type variation_type " + " ".join(
    f"landmark_visibility_{i} landmark_location_x_{i} landmark_location_y_{i}" for i in range(1, 9)
)

# In-shop numbers each view in the file name: 01_1_front, 01_2_side, 01_3_back, 01_4_full,
# 01_6_flat, 01_7_additional.
VIEW_NUMBERS = {"front": 1, "side": 2, "back": 3, "full": 4, "flat": 6, "additional": 7}


def image_name(index: int, category: str, view: str) -> str:
    """Relative path of image `index` (0-based).

    E.g. `img/WOMEN/Tees_Tanks/id_00000001/01_1_front.jpg` for index 0.
    """
    return f"img/{category}/id_{index + 1:08d}/01_{VIEW_NUMBERS[view]}_{view}.jpg"


def annotation_row(
    name: str,
    clothes_type: int,
    variation_type: int,
    visibility: npt.NDArray[np.int64],
    points: npt.NDArray[np.int64],
) -> str:
    """One line of the landmarks file (without the newline).

    Args:
        name: relative image path.
        clothes_type: 1, 2 or 3.
        variation_type: 1..5.
        visibility: int [k] per landmark, 0 visible, 1 occluded, 2 truncated.
        points: int [k, 2] (x, y) pixel indices.
    """
    triples = " ".join(
        f"{int(v)} {int(x)} {int(y)}" for v, (x, y) in zip(visibility, points, strict=True)
    )
    return f"{name} {clothes_type} {variation_type} {triples}"


def write_landmarks_file(out_dir: Path, rows: Sequence[str]) -> Path:
    """Writes `list_landmarks_inshop.txt` with the count line, the header and `rows`."""
    path = out_dir / LANDMARKS_FILE
    body = "".join(f"{row}\n" for row in rows)
    path.write_text(f"{len(rows)}\n{HEADER}\n{body}", encoding="utf-8")
    return path


def write_image(out_dir: Path, name: str, jpeg: bytes) -> None:
    """Writes JPEG bytes to `out_dir / name`, creating its folders."""
    path = out_dir / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(jpeg)
