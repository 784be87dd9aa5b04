"""Writes tiny labelled photo folders in the CSV form (`training.photo_labels`) for tests.

Real JPEG and PNG files of different sizes, drawn like `tests.inshop`'s images (a coloured
square at each landmark), with a `kind` column; one JPEG can carry an EXIF orientation tag.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from PIL import Image

from tests.inshop import draw_image, random_points
from training.photo_labels import POINT_COLUMNS

SIZES: tuple[tuple[int, int], ...] = ((400, 520), (640, 480), (256, 256), (300, 700))
KINDS: tuple[str, ...] = ("a", "b", "c")
# EXIF Orientation 6: the viewer turns the stored image 90 degrees clockwise.
ROTATE_90_CLOCKWISE = 6


def write_photo_folder(
    root: Path, count: int, seed: int = 0, file_name: str = "landmarks.csv", rotated: bool = False
) -> list[np.ndarray]:
    """Writes `count` photos under `root/images` and their labels file.

    Args:
        root: the folder (created).
        count: number of photos.
        seed: seeds the landmark positions and noise.
        file_name: `landmarks.csv` or `labels.csv`.
        rotated: store the first photo turned 90 degrees counter-clockwise with EXIF
            orientation 6, so it only looks right (and the labels only hold) once rotated.

    Returns:
        Each photo's points, int64 [6, 2], in the image's own (viewed) pixels.
    """
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True, exist_ok=True)
    rows, all_points = [], []
    for index in range(count):
        width, height = SIZES[index % len(SIZES)]
        points = random_points(rng, width, height)
        rgb = draw_image(rng, points, width, height)[..., ::-1]
        name = f"images/{index:03d}.{'png' if index % 2 else 'jpg'}"
        image = Image.fromarray(np.ascontiguousarray(rgb))
        if rotated and index == 0:
            name = f"images/{index:03d}.jpg"
            exif = Image.Exif()
            exif[0x0112] = ROTATE_90_CLOCKWISE
            image.transpose(Image.Transpose.ROTATE_90).save(root / name, quality=95, exif=exif)
        elif name.endswith(".png"):
            image.save(root / name)
        else:
            image.save(root / name, quality=95)
        coordinates = [int(value) for value in points.reshape(-1)]
        rows.append([name, width, height, *coordinates, KINDS[index % len(KINDS)], "test photo"])
        all_points.append(points)
    with (root / file_name).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "width", "height", *POINT_COLUMNS, "kind", "notes"])
        writer.writerows(rows)
    return all_points
