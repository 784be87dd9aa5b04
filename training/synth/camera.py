"""Camera and lighting degradations: exposure, white balance, vignetting, blur, noise, JPEG.

Real test photos come from catalogue studios (clean, sharpened, bright) and from a lab
(phone camera, mixed lighting, noise, blur); the ranges below cover both.
"""

from __future__ import annotations

import functools
import math

import cv2
import numpy as np
import numpy.typing as npt

from training.synth.appearance import Image, noise


def _motion_kernel(rng: np.random.Generator) -> npt.NDArray[np.float32]:
    length = int(rng.integers(3, 10))
    kernel = np.zeros((length, length), np.float32)
    angle = rng.uniform(0, math.pi)
    c = (length - 1) / 2
    dx, dy = math.cos(angle) * c, math.sin(angle) * c
    cv2.line(kernel, (round(c - dx), round(c - dy)), (round(c + dx), round(c + dy)), 1.0, 1)
    return kernel / max(float(kernel.sum()), 1e-6)


@functools.lru_cache(maxsize=4)
def _grid(h: int, w: int) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    return xs, ys


def _tone_lut(rng: np.random.Generator) -> npt.NDArray[np.uint8]:
    """Per-channel tone curve as a uint8 [1, 256, 3] lookup table.

    White balance (mostly neutral, sometimes warm tungsten or green-ish fluorescent light),
    exposure, contrast and gamma are all per-channel point operations, so one table does them.
    """
    roll = rng.random()
    if roll < 0.6:
        gains = rng.uniform(0.93, 1.07, 3)
    elif roll < 0.8:
        gains = np.array([1.1, 1.0, 0.82]) * rng.uniform(0.95, 1.05, 3)
    else:
        gains = np.array([0.93, 1.05, 0.95]) * rng.uniform(0.95, 1.05, 3)
    exposure = rng.uniform(0.75, 1.2)
    contrast = rng.uniform(0.75, 1.2)
    gamma = rng.uniform(0.8, 1.25)
    x = np.arange(256, dtype=np.float64)[:, None] / 255.0
    y = np.clip((x * gains[None, :] * exposure - 0.5) * contrast + 0.5, 0.0, 1.0) ** gamma
    return np.round(y * 255.0).astype(np.uint8)[None, :, :]


def degrade(image: Image, rng: np.random.Generator) -> npt.NDArray[np.uint8]:
    """Applies a random camera to a rendered photo.

    Args:
        image: float32 [H, W, 3] RGB, 0..255.
        rng: the image's generator.

    Returns:
        uint8 [H, W, 3] RGB.
    """
    h, w = image.shape[:2]
    img = cv2.LUT(np.clip(image + 0.5, 0, 255).astype(np.uint8), _tone_lut(rng))

    if rng.random() < 0.4:
        # Vignetting: corners darker, off-centre like an uneven light.
        xs, ys = _grid(h, w)
        cx, cy = rng.uniform(0.3, 0.7) * w, rng.uniform(0.3, 0.7) * h
        r2 = ((xs - cx) ** 2 + (ys - cy) ** 2) * np.float32(2.0 / (w * w + h * h))
        fall = 1.0 - np.float32(rng.uniform(0.1, 0.5)) * r2
        img = (img * fall[..., None] + 0.5).astype(np.uint8)

    roll = rng.random()
    if roll < 0.3:
        img = cv2.GaussianBlur(img, (0, 0), float(rng.uniform(0.4, 1.5)))
    elif roll < 0.4:
        img = cv2.filter2D(img, -1, _motion_kernel(rng))
    elif roll < 0.55:
        # Catalogue images are often sharpened (unsharp mask).
        amount = float(rng.uniform(0.3, 0.8))
        blurred = cv2.GaussianBlur(img, (0, 0), 1.2)
        img = cv2.addWeighted(img, 1.0 + amount, blurred, -amount, 0)

    if rng.random() < 0.15:
        # A low-resolution camera or an upscaled thumbnail.
        factor = rng.uniform(0.35, 0.75)
        size = (max(8, int(w * factor)), max(8, int(h * factor)))
        small = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
        img = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)

    if rng.random() < 0.6:
        # Sensor noise: fine luminance grain plus blotchier colour noise.
        sigma = float(rng.uniform(1.0, 9.0))
        luma = noise(rng, (h, w))[..., None] * np.float32(sigma)
        chroma = np.stack([noise(rng, (h // 2, w // 2)) for _ in range(3)], axis=2)
        chroma_up = cv2.resize(chroma, (w, h), interpolation=cv2.INTER_LINEAR)
        strength = np.float32(sigma * rng.uniform(0.0, 0.6))
        noisy = img.astype(np.float32) + luma + chroma_up * strength
        img = np.clip(noisy + 0.5, 0, 255).astype(np.uint8)
    return np.asarray(img, dtype=np.uint8)


def encode_jpeg(image: npt.NDArray[np.uint8], quality: int) -> bytes:
    """JPEG bytes of an RGB uint8 [H, W, 3] image."""
    ok, buf = cv2.imencode(
        ".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    )
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return bytes(buf.tobytes())
