"""Builds small test images in memory, so no binary fixtures are checked in."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image

from training.landmarks import CLASS_COLORS

# The overlay colours of metadata.json, background first (docs/CONTRACT.md).
PALETTE = np.array(CLASS_COLORS, dtype=np.uint8)


def random_rgb(height: int, width: int, seed: int = 0) -> np.ndarray:
    """uint8 [H, W, 3] noise."""
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def encode(pixels: np.ndarray | Image.Image, image_format: str, **params: object) -> bytes:
    """Encodes an array (RGB, RGBA or grey) or a PIL image with PIL."""
    image = pixels if isinstance(pixels, Image.Image) else Image.fromarray(pixels)
    buffer = io.BytesIO()
    image.save(buffer, image_format, **params)
    return buffer.getvalue()


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    """One PNG chunk with its CRC."""
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares `width` x `height` RGB pixels but holds almost none.

    What a decompression bomb looks like before decoding; a decoder that trusted it would
    allocate width * height * 3 bytes.
    """
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00" * 16)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", pixels)
        + png_chunk(b"IEND", b"")
    )


def with_exif_orientation(pixels: np.ndarray, orientation: int, image_format: str) -> bytes:
    """Encodes `pixels` as stored data plus an EXIF Orientation tag."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(pixels, image_format, exif=exif.tobytes())


def landmark_scene(
    width: int, height: int, model_centres: list[tuple[int, int]], half: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """A grey image with one pure-colour block per landmark, for the colour-matching model.

    `width` and `height` must be whole multiples of 256 so that every block covers exactly
    (2 * half + 1)^2 model pixels after resizing and the expected answer is exact.

    Args:
        width: upload width, a multiple of 256.
        height: upload height, a multiple of 256.
        model_centres: (u, v) model pixel at each block's centre, one per landmark.
        half: block half-size in model pixels.

    Returns:
        The image uint8 [H, W, 3], and the blocks' centres float64 [L, 2] in upload pixel
        indices (centre of the top-left pixel at (0, 0)).
    """
    scale_x, scale_y = width // 256, height // 256
    pixels = np.full((height, width, 3), 128, dtype=np.uint8)
    centres = []
    for index, (u, v) in enumerate(model_centres):
        left, right = (u - half) * scale_x, (u + half + 1) * scale_x
        top, bottom = (v - half) * scale_y, (v + half + 1) * scale_y
        pixels[top:bottom, left:right] = PALETTE[index + 1]
        centres.append(((left + right - 1) / 2, (top + bottom - 1) / 2))
    return pixels, np.array(centres)
