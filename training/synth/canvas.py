"""The upright drawing surface: garment space rasterised at the output scale.

Everything in the foreground (garment, wearer, hands, hanger) is drawn here, unrotated and
unwarped, with anti-aliased OpenCV polygons; `warp` then maps it into the photo in one remap.
Colour is stored premultiplied by coverage so that the remap's bilinear filtering does not
darken edges.

Coordinates: garment units (see `garments`) -> model pixels (units * scale, relative to a
chosen centre) -> canvas pixels (model pixels minus the canvas origin).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import cv2
import numpy as np
import numpy.typing as npt

from training.synth.appearance import Image, Plane
from training.synth.geometry import Points

_SHIFT = 4  # OpenCV fixed-point bits: polygons are placed with 1/16-pixel precision.
_ONE = float(1 << _SHIFT)

Texture = Callable[[Plane, Plane], Image]
"""Colours for a region given the garment-unit (u, v) coordinates of its pixels."""


class Canvas:
    """A premultiplied RGBA raster of garment space plus the maps the renderer needs.

    Attributes:
        rgb: float32 [H, W, 3] premultiplied colour.
        alpha: float32 [H, W] foreground coverage.
        garment: float32 [H, W] coverage by visible garment fabric.
        cover: float32 [H, W] coverage by everything painted with `occluder=True` since the
            last `reset_cover`; the renderer samples it at landmarks to flag occlusion.
        shade: float32 [H, W] pending sharp multiplicative shading (seams).
        soft: float32 [H, W] pending log-shading that is blurred before use (folds).
    """

    def __init__(
        self, centre: Points, scale: float, origin: tuple[float, float], size: tuple[int, int]
    ) -> None:
        """Creates an empty canvas.

        Args:
            centre: float64 [2], the garment-unit point that model pixel (0, 0) shows.
            scale: pixels per garment unit.
            origin: model-pixel (x, y) of canvas pixel (0, 0).
            size: (height, width) in pixels.
        """
        self.centre = centre
        self.scale = scale
        self.origin = origin
        h, w = size
        self.rgb: Image = np.zeros((h, w, 3), np.float32)
        self.alpha: Plane = np.zeros((h, w), np.float32)
        self.garment: Plane = np.zeros((h, w), np.float32)
        self.cover: Plane = np.zeros((h, w), np.float32)
        self.shade: Plane = np.ones((h, w), np.float32)
        self.soft: Plane = np.zeros((h, w), np.float32)

    @property
    def size(self) -> tuple[int, int]:
        """(height, width)."""
        return self.alpha.shape[0], self.alpha.shape[1]

    def to_px(self, pts: Points) -> Points:
        """Garment units -> canvas pixels, float64 [N, 2]."""
        return (pts - self.centre) * self.scale - np.asarray(self.origin)

    def units(self, xs: Plane, ys: Plane) -> tuple[Plane, Plane]:
        """Canvas pixel grids -> garment-unit grids (float32 [H, W] each)."""
        u = (xs + self.origin[0]) / self.scale + self.centre[0]
        v = (ys + self.origin[1]) / self.scale + self.centre[1]
        return u.astype(np.float32), v.astype(np.float32)

    def _region(
        self, polys: Sequence[Points], pad: float
    ) -> tuple[list[npt.NDArray[np.int32]], tuple[int, int, int, int]] | None:
        """Fixed-point outlines relative to their clipped bounding box (x0, y0, x1, y1)."""
        px = [self.to_px(p) for p in polys if len(p)]
        if not px:
            return None
        allp = np.concatenate(px, axis=0)
        h, w = self.size
        x0 = max(int(np.floor(allp[:, 0].min() - pad)), 0)
        y0 = max(int(np.floor(allp[:, 1].min() - pad)), 0)
        x1 = min(int(np.ceil(allp[:, 0].max() + pad)) + 1, w)
        y1 = min(int(np.ceil(allp[:, 1].max() + pad)) + 1, h)
        if x1 <= x0 or y1 <= y0:
            return None
        offset = np.array([x0, y0], np.float64)
        fixed = [np.round((p - offset) * _ONE).astype(np.int32).reshape(-1, 1, 2) for p in px]
        return fixed, (x0, y0, x1, y1)

    def fill_mask(self, polys: Sequence[Points]) -> tuple[Plane, tuple[slice, slice]] | None:
        """Anti-aliased coverage of filled outlines (garment units) and where it lies."""
        region = self._region(polys, 2.0)
        if region is None:
            return None
        fixed, (x0, y0, x1, y1) = region
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        # One call per outline: fillPoly treats overlaps between outlines of one call as holes.
        for poly in fixed:
            cv2.fillPoly(mask, [poly], 255, cv2.LINE_AA, _SHIFT)
        return mask.astype(np.float32) / 255.0, (slice(y0, y1), slice(x0, x1))

    def line_mask(
        self, polys: Sequence[Points], width: float, dash: float = 0.0
    ) -> tuple[Plane, tuple[slice, slice]] | None:
        """Anti-aliased coverage of open polylines `width` units wide (dashed if dash > 0)."""
        thickness = max(1, round(width * self.scale))
        region = self._region(polys, thickness + 2.0)
        if region is None:
            return None
        fixed, (x0, y0, x1, y1) = region
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        if dash > 0:
            fixed = [seg for p in fixed for seg in _dashes(p, dash * self.scale * _ONE)]
        cv2.polylines(mask, fixed, False, 255, thickness, cv2.LINE_AA, _SHIFT)
        return mask.astype(np.float32) / 255.0, (slice(y0, y1), slice(x0, x1))

    def paint(
        self,
        mask_and_region: tuple[Plane, tuple[slice, slice]] | None,
        colour: npt.NDArray[np.float32] | Texture,
        *,
        garment: bool,
        occluder: bool = False,
        opacity: float = 1.0,
    ) -> None:
        """Composites a colour or texture over the canvas through a coverage mask.

        Args:
            mask_and_region: from `fill_mask` / `line_mask`; None draws nothing.
            colour: float32 [3] RGB, or a texture called with the region's unit grids.
            garment: whether this is garment fabric (it receives garment shading).
            occluder: whether it can hide landmarks drawn earlier (accumulates `cover`).
            opacity: scales the mask.
        """
        if mask_and_region is None:
            return
        mask, (sy, sx) = mask_and_region
        if opacity != 1.0:
            mask = mask * opacity
        if callable(colour):
            xs = np.arange(sx.start, sx.stop, dtype=np.float32)[None, :]
            ys = np.arange(sy.start, sy.stop, dtype=np.float32)[:, None]
            u, v = self.units(*np.broadcast_arrays(xs, ys))
            fill = colour(u, v)
        else:
            fill = np.asarray(colour, np.float32)
        keep = 1.0 - mask
        m3 = mask[..., None]
        # In-place updates of the region views: "over" compositing, premultiplied.
        rgb = self.rgb[sy, sx]
        rgb *= keep[..., None]
        rgb += fill * m3
        alpha = self.alpha[sy, sx]
        alpha *= keep
        alpha += mask
        cov = self.garment[sy, sx]
        cov *= keep
        if garment:
            cov += mask
        if occluder:
            cover = self.cover[sy, sx]
            cover *= keep
            cover += mask

    def reset_cover(self) -> None:
        """Starts a new occlusion record (see `cover`)."""
        self.cover.fill(0.0)

    def cover_at(self, pts: Points) -> npt.NDArray[np.float64]:
        """`cover` at garment-unit points (0 outside the canvas), float64 [N]."""
        px = np.round(self.to_px(pts)).astype(np.int64)
        h, w = self.size
        out = np.zeros(len(pts))
        inside = (px[:, 0] >= 0) & (px[:, 0] < w) & (px[:, 1] >= 0) & (px[:, 1] < h)
        out[inside] = self.cover[px[inside, 1], px[inside, 0]]
        return out

    def stroke_shade(
        self, polys: Sequence[Points], width: float, tone: float, dash: float = 0.0
    ) -> None:
        """Multiplies the pending sharp shading by `tone` along polylines (seams, stitches)."""
        found = self.line_mask(polys, width, dash)
        if found is None:
            return
        mask, region = found
        self.shade[region] *= 1.0 + (tone - 1.0) * mask

    def soft_stroke(self, polys: Sequence[Points], width: float, amount: float) -> None:
        """Sets `amount` (log-brightness) along polylines; blurred later (folds, wrinkles).

        Drawn straight into the map without anti-aliasing: the blur smooths it anyway.
        """
        thickness = max(1, round(width * self.scale))
        fixed = [np.round(self.to_px(p) * _ONE).astype(np.int32).reshape(-1, 1, 2) for p in polys]
        cv2.polylines(self.soft, fixed, False, float(amount), thickness, cv2.LINE_8, _SHIFT)

    def apply_shading(self, blur_px: float) -> None:
        """Applies pending shading to the visible garment fabric, then clears it."""
        soft = self.soft
        if blur_px > 0.3:
            soft = blur(soft, blur_px)
        factor = self.shade * np.exp(soft)
        factor = 1.0 + (factor - 1.0) * self.garment
        self.rgb *= factor[..., None]
        self.shade.fill(1.0)
        self.soft.fill(0.0)


def _dashes(poly: npt.NDArray[np.int32], dash: float) -> list[npt.NDArray[np.int32]]:
    """Splits a fixed-point polyline [N, 1, 2] into dashes of length `dash` (fixed-point)."""
    pts = poly.reshape(-1, 2).astype(np.float64)
    seg = np.hypot(*np.diff(pts, axis=0).T)
    total = float(seg.sum())
    if total < dash * 2 or dash <= 0:
        return [poly]
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    out = []
    start = 0.0
    while start < total:
        t = np.array([start, min(start + dash, total)])
        xs = np.interp(t, cum, pts[:, 0])
        ys = np.interp(t, cum, pts[:, 1])
        out.append(np.round(np.stack([xs, ys], axis=1)).astype(np.int32).reshape(-1, 1, 2))
        start += dash * 2
    return out


def blur(plane: Plane, sigma: float) -> Plane:
    """Gaussian blur of a float32 [H, W] map; wide blurs run at half resolution (soft anyway)."""
    if sigma < 3.0 or min(plane.shape) < 16:
        return np.asarray(cv2.GaussianBlur(plane, (0, 0), sigma), np.float32)
    h, w = plane.shape
    small = cv2.resize(plane, ((w + 1) // 2, (h + 1) // 2), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigma / 2)
    return np.asarray(cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR), np.float32)
