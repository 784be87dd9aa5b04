"""Draws the model's answer over the upload: class colours blended in, a labelled dot per landmark.

Everything is vectorised numpy or OpenCV; the image stays RGB throughout (OpenCV's drawing
functions do not care about channel order; only JPEG encoding needs BGR).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import cv2
import fpng_py
import numpy as np

# Share of the photo in a blended landmark pixel; the class colour gets the rest.
PHOTO_WEIGHT = 0.4
COLOUR_WEIGHT = 0.6
# The overlay's encodings: PNG (lossless, the default) or JPEG (lossy and several times smaller,
# for pipelines that only show it to a person).
OverlayFormat = Literal["png", "jpeg"]
OverlayMediaType = Literal["image/png", "image/jpeg"]
OVERLAY_MEDIA_TYPES: dict[str, OverlayMediaType] = {"png": "image/png", "jpeg": "image/jpeg"}
JPEG_QUALITY = 90
# Sub-pixel precision for OpenCV drawing: coordinates are multiplied by 2**_SHIFT.
_SHIFT = 4
_OUTLINE = (0, 0, 0)
_HALO_OFFSETS = tuple(
    (offset_x, offset_y, _OUTLINE)
    for offset_x in (-1, 0, 1)
    for offset_y in (-1, 0, 1)
    if (offset_x, offset_y) != (0, 0)
)


def blend_class_map(pixels: np.ndarray, class_map: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """Tints landmark-class pixels with their class colour; background pixels stay the photo.

    Args:
        pixels: uint8 [H, W, 3] RGB upload.
        class_map: uint8 [S, S] per-pixel class (0 = background, 1..6 = landmark).
        palette: uint8 [C, 3] RGB colour per class, background first.

    Returns:
        uint8 [H, W, 3]: 0.4 * photo + 0.6 * colour where the class is not background.
    """
    height, width = pixels.shape[:2]
    # The whole image at once: on real photos the landmark classes tint a fifth of the pixels
    # in blobs spread over the garment, and blending only their bounding boxes measured slower
    # (BENCHMARKS.md).
    # INTER_NEAREST_EXACT samples at pixel centres (the half-pixel convention of
    # app.geometry); plain INTER_NEAREST is shifted by up to one source pixel.
    classes = cv2.resize(class_map, (width, height), interpolation=cv2.INTER_NEAREST_EXACT)
    # OpenCV's table lookup and masked copy instead of numpy fancy indexing and np.where: the
    # same pixels, several times faster on a photo. Classes past the palette take its last
    # colour.
    table = np.empty((1, 256, 3), dtype=np.uint8)
    table[0, : len(palette)] = palette
    table[0, len(palette) :] = palette[-1]
    colour_layer = cv2.LUT(cv2.cvtColor(classes, cv2.COLOR_GRAY2RGB), table)  # uint8 [H, W, 3]
    blended = cv2.addWeighted(pixels, PHOTO_WEIGHT, colour_layer, COLOUR_WEIGHT, 0.0)
    result = np.ascontiguousarray(pixels).copy()
    cv2.copyTo(blended, classes, result)  # where the class is not background
    return result


def draw_landmarks(
    pixels: np.ndarray,
    points: np.ndarray,
    detected: np.ndarray,
    colours: Sequence[tuple[int, int, int]],
    names: Sequence[str],
) -> np.ndarray:
    """Draws a dot and a label per landmark on a copy of the image.

    A detected landmark is a filled dot with a dark ring; an undetected one (probability under
    the threshold) is drawn as a ring only, so the reader sees where the model guessed.

    Args:
        pixels: uint8 [H, W, 3] RGB.
        points: float [L, 2] (x, y) in the image's pixel indices.
        detected: bool [L].
        colours: RGB colour per landmark, length L.
        names: label per landmark, length L.

    Returns:
        uint8 [H, W, 3], a new array.
    """
    canvas = np.ascontiguousarray(pixels).copy()
    _draw_into(canvas, points, detected, colours, names)
    return canvas


def _draw_into(
    canvas: np.ndarray,
    points: np.ndarray,
    detected: np.ndarray,
    colours: Sequence[tuple[int, int, int]],
    names: Sequence[str],
) -> None:
    """`draw_landmarks` on a uint8 [H, W, 3] C-contiguous image, in place."""
    height, width = canvas.shape[:2]
    short_side = min(height, width)
    radius = max(3, round(short_side / 100))
    ring = max(1, radius // 3)
    font_scale = max(0.35, short_side / 900)
    text_thickness = max(1, round(font_scale * 1.5))
    scale = 1 << _SHIFT
    for (x, y), is_detected, colour, name in zip(points, detected, colours, names, strict=True):
        centre = (round(float(x) * scale), round(float(y) * scale))
        colour_tuple = (int(colour[0]), int(colour[1]), int(colour[2]))
        if is_detected:
            cv2.circle(canvas, centre, radius * scale, colour_tuple, -1, cv2.LINE_AA, _SHIFT)
            cv2.circle(canvas, centre, radius * scale, _OUTLINE, ring, cv2.LINE_AA, _SHIFT)
        else:
            cv2.circle(canvas, centre, radius * scale, _OUTLINE, ring + 2, cv2.LINE_AA, _SHIFT)
            cv2.circle(canvas, centre, radius * scale, colour_tuple, ring, cv2.LINE_AA, _SHIFT)
        (text_width, text_height), _ = cv2.getTextSize(
            name, cv2.FONT_HERSHEY_SIMPLEX, font_scale, text_thickness
        )
        # Label to the upper right of the dot, pulled back inside the image near the edges.
        text_x = int(np.clip(x + radius + 2, 0, max(0, width - text_width - 1)))
        text_y = int(np.clip(y - radius - 2, text_height + 1, max(text_height + 1, height - 2)))
        # A dark halo keeps the label readable on any photo. It is the same text drawn at the
        # eight neighbouring offsets: a thicker stroke would also widen Hershey glyph spacing
        # and the two layers would drift apart along the word.
        for offset_x, offset_y, stroke_colour in (*_HALO_OFFSETS, (0, 0, colour_tuple)):
            cv2.putText(
                canvas,
                name,
                (text_x + offset_x, text_y + offset_y),
                cv2.FONT_HERSHEY_SIMPLEX,
                font_scale,
                stroke_colour,
                text_thickness,
                cv2.LINE_AA,
            )


def render_overlay(
    pixels: np.ndarray,
    class_map: np.ndarray,
    points: np.ndarray,
    detected: np.ndarray,
    palette: np.ndarray,
    names: Sequence[str],
) -> np.ndarray:
    """The full overlay at the upload's size.

    Args:
        pixels: uint8 [H, W, 3] RGB upload.
        class_map: uint8 [S, S] model class map.
        points: float [L, 2] landmark (x, y) in upload pixel indices.
        detected: bool [L].
        palette: uint8 [L + 1, 3] RGB class colours, background first.
        names: landmark names, length L.

    Returns:
        uint8 [H, W, 3] RGB.
    """
    canvas = blend_class_map(pixels, class_map, palette)  # a new array: drawn on in place
    landmark_colours = [(int(red), int(green), int(blue)) for red, green, blue in palette[1:]]
    _draw_into(canvas, points, detected, landmark_colours, names)
    return canvas


def encode_png(pixels: np.ndarray) -> bytes:
    """Encodes an RGB image as PNG with fpng.

    fpng writes one deflate stream with fixed Huffman tables and a simple match search, built
    for images that are shown and thrown away: several times faster than zlib's fastest level
    through libpng or OpenCV, the file about the same size (BENCHMARKS.md). Any PNG decoder
    reads it.

    Args:
        pixels: uint8 [H, W, 3] RGB.

    Returns:
        The PNG file's bytes.
    """
    height, width = pixels.shape[:2]
    if pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] != 3:
        raise ValueError(f"expected uint8 [H, W, 3], got {pixels.dtype} {pixels.shape}")
    encoded = fpng_py.fpng_encode_image_to_memory(
        np.ascontiguousarray(pixels).tobytes(), width, height, 3
    )
    if not encoded:
        raise ValueError("fpng could not encode the overlay as PNG")
    return bytes(encoded)


def encode_jpeg(pixels: np.ndarray, quality: int = JPEG_QUALITY) -> bytes:
    """Encodes an RGB image as baseline JPEG.

    Args:
        pixels: uint8 [H, W, 3] RGB.
        quality: libjpeg quality, 1..100.

    Returns:
        The JPEG file's bytes.
    """
    bgr = cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR)
    ok, encoded = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("OpenCV could not encode the overlay as JPEG")
    return encoded.tobytes()


def encode_overlay(pixels: np.ndarray, overlay_format: OverlayFormat) -> bytes:
    """Encodes a rendered overlay (uint8 [H, W, 3] RGB) as PNG or JPEG."""
    return encode_jpeg(pixels) if overlay_format == "jpeg" else encode_png(pixels)
