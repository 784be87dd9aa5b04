"""The one mapping from the upright canvas into the photo, used for pixels and landmarks alike.

The mapping is a horizontal "turn" profile followed by a homography:

1. turn: a person turned by angle phi shows the near side of a cylindrical torso wider and the
   far side narrower. Each model x is moved by integrating the local stretch
   cos(alpha + phi) / cos(alpha), alpha = asin(x / radius), clipped so the mapping stays
   monotonic (left stays left) and invertible.
2. homography: a small keystone (camera not square to the garment), rotation, then translation.

Because landmarks go through `forward` and pixels through the exact inverse of the same
mapping, the landmarks land on the drawn corners whatever the pose.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np
import numpy.typing as npt

from training.synth.geometry import Points

Map = npt.NDArray[np.float32]
"""float32 [H, W] remap coordinate map."""


@dataclasses.dataclass(frozen=True)
class Warp:
    """Model pixels -> image pixels.

    Attributes:
        xs: float64 [K] increasing model x samples of the turn profile.
        gx: float64 [K] increasing turned x at those samples.
        matrix: float64 [3, 3] homography from turned model pixels to image pixels.
    """

    xs: npt.NDArray[np.float64]
    gx: npt.NDArray[np.float64]
    matrix: npt.NDArray[np.float64]

    def forward(self, pts: Points) -> Points:
        """Model pixels [N, 2] -> image pixels [N, 2]."""
        x = np.interp(pts[:, 0], self.xs, self.gx)
        h = np.stack([x, pts[:, 1], np.ones_like(x)], axis=0)
        out = self.matrix @ h
        return np.asarray((out[:2] / out[2]).T, dtype=np.float64)

    def inverse(self, pts: Points) -> Points:
        """Image pixels [N, 2] -> model pixels [N, 2]."""
        h = np.stack([pts[:, 0], pts[:, 1], np.ones(len(pts))], axis=0)
        out = np.linalg.inv(self.matrix) @ h
        x = np.interp(out[0] / out[2], self.gx, self.xs)
        return np.stack([x, out[1] / out[2]], axis=1)

    def inverse_maps(self, width: int, height: int, origin: tuple[float, float]) -> tuple[Map, Map]:
        """Per-pixel canvas coordinates of every image pixel, for `cv2.remap`.

        Args:
            width, height: image size.
            origin: model-pixel position of canvas pixel (0, 0).

        Returns:
            (map_x, map_y), float32 [height, width] each.
        """
        xs, ys = _pixel_grid(height, width)
        inv = np.linalg.inv(self.matrix)
        w = inv[2, 0] * xs + inv[2, 1] * ys + inv[2, 2]
        tx = (inv[0, 0] * xs + inv[0, 1] * ys + inv[0, 2]) / w
        ty = (inv[1, 0] * xs + inv[1, 1] * ys + inv[1, 2]) / w
        mx = np.interp(tx.ravel(), self.gx, self.xs).reshape(tx.shape)
        return (mx - origin[0]).astype(np.float32), (ty - origin[1]).astype(np.float32)

    @property
    def is_projective(self) -> bool:
        """True when there is no turn, so the whole warp is the homography `matrix`."""
        return bool(np.array_equal(self.xs, self.gx))

    def translated(self, dx: float, dy: float) -> Warp:
        """The same warp followed by a shift in the image."""
        shift = np.array([[1.0, 0.0, dx], [0.0, 1.0, dy], [0.0, 0.0, 1.0]])
        return dataclasses.replace(self, matrix=shift @ self.matrix)


@functools.lru_cache(maxsize=4)
def _pixel_grid(height: int, width: int) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    xs.flags.writeable = False
    ys.flags.writeable = False
    return xs, ys


def turn_profile(
    turn: float, radius: float, span: float, samples: int = 801
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Samples the horizontal turn mapping.

    Args:
        turn: rotation of the wearer about the vertical axis, radians (positive moves the
            image-right side away from the camera).
        radius: torso radius in model pixels.
        span: the profile covers model x in [-span, span] (beyond it, clamps).
        samples: number of samples.

    Returns:
        (xs, gx): float64 [samples] each, both increasing, gx(0) = 0.
    """
    xs = np.linspace(-span, span, samples)
    if turn == 0.0:
        return xs, xs.copy()
    alpha = np.arcsin(np.clip(xs / radius, -0.97, 0.97))
    slope = np.clip(np.cos(alpha + turn) / np.cos(alpha), 0.3, 1.8)
    step = np.diff(xs)
    gx = np.concatenate([[0.0], np.cumsum((slope[1:] + slope[:-1]) * 0.5 * step)])
    gx -= np.interp(0.0, xs, gx)
    return xs, gx


def make_warp(
    turn: float,
    radius: float,
    span: float,
    rotation: float,
    keystone: tuple[float, float] = (0.0, 0.0),
) -> Warp:
    """A warp centred on model pixel (0, 0), before translation.

    Args:
        turn: see `turn_profile`.
        radius: torso radius, model pixels.
        span: half-width of model x the turn profile must cover.
        rotation: in-plane rotation in radians (positive turns clockwise on screen).
        keystone: perspective terms (per pixel, ~1e-4), a camera not square to the garment.
    """
    xs, gx = turn_profile(turn, radius, span)
    c, s = math.cos(rotation), math.sin(rotation)
    rot = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    persp = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [keystone[0], keystone[1], 1.0]])
    return Warp(xs=xs, gx=gx, matrix=rot @ persp)
