"""Fabric textures cut from real photos (`python -m training synth --textures DIR`).

Drawn patterns (stripes, checks, prints) are the generator's own style; a network can learn
to find garments by it. Real fabric looks otherwise: knit and weave under real light, wrinkles,
logos, faded prints. Given a folder of real garment photos (unlabelled ones do: the garment
fills the middle of such photos), the central part of each becomes a texture, and a share of
garments is cut from one of them instead of a drawn pattern.
"""

from __future__ import annotations

import functools
from pathlib import Path

import cv2
import numpy as np

from app.decoding import decode_image
from app.errors import InputError
from training.photo_labels import MAX_PIXELS, list_photos
from training.synth.appearance import Image

# The middle of the photo, this share of its width and height: garment, not background, in
# photos where the garment fills much of the frame.
CENTRE_SHARE = 0.4
# Longest side of a stored texture in pixels: a garment repeats it (mirrored) across its width.
TEXTURE_SIDE = 128
# The share of garments whose main fabric is a photo texture when a folder is given.
TEXTURE_SHARE = 0.4


def centre_texture(pixels: np.ndarray) -> Image:
    """The central `CENTRE_SHARE` of a photo, shrunk to `TEXTURE_SIDE`.

    Args:
        pixels: uint8 [H, W, 3] RGB.

    Returns:
        float32 [h, w, 3] RGB 0..255, max(h, w) <= TEXTURE_SIDE.
    """
    height, width = pixels.shape[:2]
    crop_h, crop_w = max(1, round(height * CENTRE_SHARE)), max(1, round(width * CENTRE_SHARE))
    top, left = (height - crop_h) // 2, (width - crop_w) // 2
    crop = pixels[top : top + crop_h, left : left + crop_w]
    scale = min(1.0, TEXTURE_SIDE / max(crop_h, crop_w))
    size = (max(1, round(crop_w * scale)), max(1, round(crop_h * scale)))
    shrunk = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(shrunk, dtype=np.float32)


@functools.lru_cache(maxsize=4)
def texture_bank(folder: str) -> tuple[Image, ...]:
    """Every readable photo under `folder` as a texture (`centre_texture`), in file order.

    Cached per process: each rendering worker reads the folder once.

    Raises:
        ValueError: the folder holds no readable photo.
    """
    textures = []
    for path in list_photos(Path(folder)):
        try:
            decoded = decode_image(path.read_bytes(), MAX_PIXELS)
        except InputError:
            continue  # not an image after all: the others still make a bank
        textures.append(centre_texture(decoded.pixels))
    if not textures:
        raise ValueError(f"no readable photos under {folder} to cut textures from")
    return tuple(textures)
