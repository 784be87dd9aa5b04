"""Between the upload's pixel space and the model's 256x256 input space.

Coordinate convention (the same in both spaces, and the one `docs/CONTRACT.md` uses): a point is
(x, y) in pixel indices, x to the right and y down, with the centre of the top-left pixel at
(0, 0). The top-left corner of the image is therefore (-0.5, -0.5) and the bottom-right corner
(W - 0.5, H - 0.5).

Resizing an image of W x H pixels to S x S stretches each axis independently (no padding, no
crop), so a model point (u, v) maps to the upload as

    x = (u + 0.5) * W / S - 0.5
    y = (v + 0.5) * H / S - 0.5

This is the half-pixel mapping OpenCV's resize itself uses, so a feature that lands on model
pixel u came from the upload pixels around x.
"""

from __future__ import annotations

import cv2
import numpy as np

MODEL_INPUT_SIZE = 256


def resize_for_model(pixels: np.ndarray, size: int = MODEL_INPUT_SIZE) -> np.ndarray:
    """Resizes an upload to the model's square input.

    Args:
        pixels: uint8 [H, W, 3] RGB.
        size: the model's input height and width.

    Returns:
        uint8 [size, size, 3] RGB.
    """
    height, width = pixels.shape[:2]
    if (height, width) == (size, size):
        return np.ascontiguousarray(pixels)
    # INTER_AREA averages every source pixel when shrinking (no aliasing, no lost thin
    # details); when enlarging it degenerates to nearest neighbour, so use bilinear then.
    shrinking = width > size or height > size
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return cv2.resize(pixels, (size, size), interpolation=interpolation)


def model_to_image(
    points: np.ndarray, width: int, height: int, size: int = MODEL_INPUT_SIZE
) -> np.ndarray:
    """Maps model-space points to the upload's pixel space (see the module docstring).

    Args:
        points: float [..., 2] (x, y) in the `size` x `size` model space.
        width: the upload's width W in pixels (after EXIF rotation).
        height: the upload's height H in pixels (after EXIF rotation).
        size: the model's input size S.

    Returns:
        float64 [..., 2] (x, y) in upload pixel indices.
    """
    points = np.asarray(points, dtype=np.float64)
    scale = np.array([width / size, height / size])
    return (points + 0.5) * scale - 0.5


def image_to_model(
    points: np.ndarray, width: int, height: int, size: int = MODEL_INPUT_SIZE
) -> np.ndarray:
    """The inverse of `model_to_image`.

    Args:
        points: float [..., 2] (x, y) in upload pixel indices.
        width: the upload's width W.
        height: the upload's height H.
        size: the model's input size S.

    Returns:
        float64 [..., 2] (u, v) in model space.
    """
    points = np.asarray(points, dtype=np.float64)
    scale = np.array([size / width, size / height])
    return (points + 0.5) * scale - 0.5
