"""Named photo corruptions for robustness evaluation (`evaluate --corruption NAME`).

Each one degrades a photo the way a worse camera, light or pipeline would, and none of them
moves a pixel: the annotations stay valid, so the same metrics measure how much accuracy the
degradation costs. They stand in for the gap between the synthetic training images and real
photos, which this project cannot measure directly without real data.

Strengths are fixed (named in `CORRUPTIONS`) so that figures from different models compare.
Sizes are relative to the model's 256-pixel input, so a corruption does the same to what the
model sees whatever the photo's size.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from training.landmarks import IMAGE_SIZE

# (photo uint8 [H, W, 3] RGB, generator for random corruptions) -> uint8 [H, W, 3] RGB.
Corruption = Callable[[np.ndarray, np.random.Generator], np.ndarray]

JPEG_QUALITY = 20
BLUR_SIGMA = 2.0  # pixels of the 256x256 model input
NOISE_SIGMA = 15.0  # grey levels, per pixel and channel
DARK_FACTOR = 0.5
CONTRAST_FACTOR = 0.5
LOW_RESOLUTION = IMAGE_SIZE // 2  # the long side, before scaling back up


def _grey(photo: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return cv2.cvtColor(cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)


def _jpeg(photo: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    ok, encoded = cv2.imencode(
        ".jpg", cv2.cvtColor(photo, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]
    )
    decoded = cv2.imdecode(encoded, cv2.IMREAD_COLOR) if ok else None
    if decoded is None:
        raise ValueError("OpenCV could not round-trip the photo through JPEG")
    return cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB)


def _scale(photo: np.ndarray) -> float:
    """Photo pixels per model-input pixel (long side)."""
    return max(photo.shape[:2]) / IMAGE_SIZE


def _blur(photo: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    sigma = BLUR_SIGMA * _scale(photo)
    return cv2.GaussianBlur(photo, (0, 0), sigmaX=sigma, sigmaY=sigma)


def _noise(photo: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    noisy = photo.astype(np.float32) + rng.normal(0.0, NOISE_SIGMA, photo.shape)
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


def _dark(photo: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.rint(photo.astype(np.float32) * DARK_FACTOR).astype(np.uint8)


def _low_contrast(photo: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    mid_grey = 127.5
    faded = mid_grey + (photo.astype(np.float32) - mid_grey) * CONTRAST_FACTOR
    return np.clip(np.rint(faded), 0, 255).astype(np.uint8)


def _low_resolution(photo: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    height, width = photo.shape[:2]
    factor = LOW_RESOLUTION / max(height, width)
    small = cv2.resize(
        photo,
        (max(1, round(width * factor)), max(1, round(height * factor))),
        interpolation=cv2.INTER_AREA,
    )
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


# name -> (the corruption, what it does in a few words for help texts and reports).
CORRUPTIONS: dict[str, tuple[Corruption, str]] = {
    "grey": (_grey, "colour removed (luma only, three equal channels)"),
    f"jpeg_q{JPEG_QUALITY}": (_jpeg, f"JPEG round trip at quality {JPEG_QUALITY}"),
    "blur": (_blur, f"Gaussian blur, sigma {BLUR_SIGMA:g} px of the 256x256 input"),
    "noise": (_noise, f"Gaussian noise, sigma {NOISE_SIGMA:g} grey levels per channel"),
    "dark": (_dark, f"brightness x{DARK_FACTOR:g}"),
    "low_contrast": (_low_contrast, f"contrast x{CONTRAST_FACTOR:g} around mid-grey"),
    "low_resolution": (_low_resolution, f"long side down to {LOW_RESOLUTION} px and back up"),
}


def describe(name: str) -> str:
    """What the named corruption does, in a few words (for help texts and reports)."""
    check_name(name)
    return CORRUPTIONS[name][1]


def check_name(name: str) -> None:
    """Raises ValueError, naming the known corruptions, when `name` is not one of them."""
    if name not in CORRUPTIONS:
        raise ValueError(f"unknown corruption {name!r}; known: {', '.join(CORRUPTIONS)}")


def corrupt(photo: np.ndarray, name: str, seed: int) -> np.ndarray:
    """Applies the named corruption to a photo.

    Args:
        photo: uint8 [H, W, 3] RGB.
        name: a key of `CORRUPTIONS`.
        seed: seeds the random ones (noise), so an evaluation is repeatable; pass the image's
            index in the set.

    Returns:
        uint8 [H, W, 3] RGB, a new array.

    Raises:
        ValueError: the name is not a known corruption.
    """
    check_name(name)
    apply, _ = CORRUPTIONS[name]
    return apply(photo, np.random.default_rng(seed))
