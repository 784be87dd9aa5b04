"""Real backgrounds from labelled garment photos (`python -m training synth --photo-backgrounds`).

The generator's beds, floors and rooms are drawn. Real ones are in every labelled garment photo,
under the garment: its landmarks say roughly where it lies, so the garment's region (the hull
of its six points, widened to take in shoulders and sleeves) is painted over from its
surroundings (OpenCV's Telea inpainting), and what is left is a real surface with real light.
A share of samples then have such a background instead of a drawn one; their synthetic garment
lies over the painted-over middle.
"""

from __future__ import annotations

import functools
from pathlib import Path

import cv2
import numpy as np

from training import photo_labels
from training.synth.appearance import Image

# The garment's region: the landmarks' hull, widened by this share of the image's side (the
# points are the garment's corners; its shoulders, sleeves and collar stand out past the hull).
GARMENT_MARGIN = 0.2
INPAINT_RADIUS = 5
# The share of samples given a photo background when a folder is given.
BACKGROUND_SHARE = 0.3


def garment_free(pixels: np.ndarray, points: np.ndarray) -> Image:
    """The photo with its garment painted over from its surroundings.

    Args:
        pixels: uint8 [S, S, 3] RGB, a photo as the model sees it.
        points: float32 [6, 2] its landmarks, (x, y) in the same pixels.

    Returns:
        float32 [S, S, 3] RGB 0..255.
    """
    size = pixels.shape[0]
    hull_mask = np.zeros(pixels.shape[:2], np.uint8)
    hull = cv2.convexHull(np.round(points).astype(np.int32))
    cv2.fillConvexPoly(hull_mask, hull, 255)
    margin = max(1, round(size * GARMENT_MARGIN))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * margin + 1, 2 * margin + 1))
    garment = cv2.dilate(hull_mask, kernel)
    painted = cv2.inpaint(np.ascontiguousarray(pixels), garment, INPAINT_RADIUS, cv2.INPAINT_TELEA)
    return painted.astype(np.float32)


@functools.lru_cache(maxsize=4)
def background_bank(folder: str) -> tuple[Image, ...]:
    """Every photo of a labelled folder (`photo_labels` CSV form), its garment painted over.

    Cached per process: each rendering worker reads the folder once.

    Raises:
        photo_labels.PhotoLabelsError: the folder's labels or photos are unusable.
    """
    photos = photo_labels.load_photo_set(Path(folder))
    return tuple(
        garment_free(image, points)
        for image, points in zip(photos.images, photos.points, strict=True)
    )


def photo_background(rng: np.random.Generator, bank: tuple[Image, ...]) -> Image:
    """One of the bank's backgrounds, maybe mirrored, its brightness varied: float32 [S, S, 3]."""
    background = bank[int(rng.integers(len(bank)))]
    if rng.random() < 0.5:
        background = background[:, ::-1]
    gain = np.float32(rng.uniform(0.8, 1.15))
    return np.clip(background * gain, 0.0, 255.0).astype(np.float32)
