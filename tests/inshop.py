"""Writes tiny data sets in the real DeepFashion In-shop layout for tests.

Images are plain JPEGs with a bright square at each landmark, so a few training steps have
something to find; what matters here is the file layout, not realism.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

HEADER = "image_name clothes_type variation_type " + " ".join(
    f"landmark_visibility_{i} landmark_location_x_{i} landmark_location_y_{i}" for i in range(1, 9)
)
SEED_EXAMPLE_POINTS = np.array(
    [[115, 59], [149, 60], [82, 153], [185, 150], [93, 198], [171, 197]], dtype=np.int64
)


def random_points(rng: np.random.Generator, width: int = 256, height: int = 256) -> np.ndarray:
    """int64 [6, 2] front-view points: odd (left) ids on the image's left."""
    jitter = rng.integers(-12, 13, size=(6, 2))
    points = SEED_EXAMPLE_POINTS * np.array([width / 256, height / 256]) + jitter
    return np.clip(np.round(points), 4, [width - 5, height - 5]).astype(np.int64)


def draw_image(rng: np.random.Generator, points: np.ndarray, width: int, height: int) -> np.ndarray:
    """uint8 [H, W, 3] BGR: noisy background with a coloured square per landmark."""
    image = rng.integers(0, 60, size=(height, width, 3), dtype=np.uint8)
    for index, (x, y) in enumerate(points):
        colour = [(index * 40 + 80) % 256, 255 - index * 30, 200]
        cv2.rectangle(image, (int(x) - 3, int(y) - 3), (int(x) + 3, int(y) + 3), colour, -1)
    return image


def write_inshop_dataset(
    root: Path,
    count: int,
    seed: int = 0,
    sizes: tuple[tuple[int, int], ...] = ((256, 256),),
    extra_rows: bool = True,
) -> list[np.ndarray]:
    """Writes `count` usable upper-body rows (plus rows the filter must drop).

    Returns:
        The usable rows' points, int64 [6, 2] each, in file order.
    """
    rng = np.random.default_rng(seed)
    rows: list[str] = []
    usable: list[np.ndarray] = []
    for index in range(count):
        width, height = sizes[index % len(sizes)]
        points = random_points(rng, width, height)
        name = f"img/WOMEN/Tees_Tanks/id_{index:08d}/01_1_front.jpg"
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / name), draw_image(rng, points, width, height))
        triples = " ".join(f"0 {x} {y}" for x, y in points)
        rows.append(f"{name} 1 1 {triples}")
        usable.append(points)
    if extra_rows:
        # Rows the seed's filter drops: lower body, full body, another pose, an occluded point.
        rows.append("img/MEN/Pants/id_90000001/01_1_front.jpg 2 1 " + " ".join(["0 10 10"] * 4))
        rows.append("img/WOMEN/Dresses/id_90000002/01_1_front.jpg 3 1 " + " ".join(["0 9 9"] * 8))
        rows.append("img/WOMEN/Tees/id_90000003/01_1_front.jpg 1 2 " + " ".join(["0 9 9"] * 6))
        rows.append(
            "img/WOMEN/Tees/id_90000004/01_1_front.jpg 1 1 1 5 5 " + " ".join(["0 9 9"] * 5)
        )
    text = f"{len(rows)}\n{HEADER}\n" + "\n".join(rows) + "\n"
    (root / "list_landmarks_inshop.txt").write_text(text)
    return usable
