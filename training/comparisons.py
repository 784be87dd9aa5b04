"""Pictures of a prediction beside its ground truth, in the seed's panels and colours.

A comparison picture is three panels side by side, all the same size::

    (a) photo, ground truth  (b) predicted class map  (c) (b) blended over the photo
        (hollow circles) and     in the class colours     (0.4 photo, 0.6 colour)
        prediction (filled
        dots), joined by a line

Everything here is RGB uint8. Colouring a class map is a single palette lookup and blending is
one `cv2.addWeighted`; only the six landmarks are drawn one at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

# The photo's share of a blended pixel: the service's overlay and these panels use one figure.
from app.overlay import PHOTO_WEIGHT
from training.landmarks import CLASS_COLORS

# Panels are drawn at the photo's own size, except that small photos are enlarged and large ones
# shrunk so the marks and labels stay legible and the PNGs stay small.
MIN_PANEL_SIDE = 256
MAX_PANEL_SIDE = 512
PANEL_GAP = 4
CAPTION_HEIGHT = 24
_WHITE = (255, 255, 255)
_BLACK = (0, 0, 0)
# cv2 draws at integer pixels unless coordinates are fixed-point; 4 fractional bits keep the
# marks at the predicted sub-pixel position.
_SHIFT_BITS = 4


def class_palette(colors: Sequence[tuple[int, int, int]] = CLASS_COLORS) -> np.ndarray:
    """The class colours as a lookup table.

    Args:
        colors: one RGB colour per class, background first.

    Returns:
        uint8 [C, 3].
    """
    palette = np.asarray(colors, dtype=np.int64)
    if palette.ndim != 2 or palette.shape[1] != 3 or np.any((palette < 0) | (palette > 255)):
        raise ValueError(f"colors must be RGB triples in 0..255, got shape {palette.shape}")
    return palette.astype(np.uint8)


def colorize_class_map(
    class_map: np.ndarray, colors: Sequence[tuple[int, int, int]] = CLASS_COLORS
) -> np.ndarray:
    """Paints every pixel in its class's colour.

    Args:
        class_map: integer [H, W], class ids 0 (background) .. C-1.
        colors: one RGB colour per class, background first.

    Returns:
        uint8 [H, W, 3] RGB.
    """
    palette = class_palette(colors)
    if class_map.ndim != 2:
        raise ValueError(f"class_map must be [H, W], got shape {class_map.shape}")
    if class_map.size and (class_map.min() < 0 or class_map.max() >= len(palette)):
        raise ValueError(
            f"class_map holds ids {class_map.min()}..{class_map.max()}, "
            f"but only {len(palette)} colours are given"
        )
    return palette[class_map.astype(np.intp)]


def blend_over_photo(
    photo: np.ndarray, colored: np.ndarray, photo_weight: float = PHOTO_WEIGHT
) -> np.ndarray:
    """Blends a coloured class map over the photo (the seed's 0.4 photo, 0.6 colour).

    Args:
        photo: uint8 [H, W, 3] RGB.
        colored: uint8 [H, W, 3] RGB, the same size.
        photo_weight: the photo's weight; the colours get `1 - photo_weight`.

    Returns:
        uint8 [H, W, 3] RGB.
    """
    if photo.shape != colored.shape:
        raise ValueError(f"photo {photo.shape} and colours {colored.shape} differ in shape")
    return cv2.addWeighted(photo, photo_weight, colored, 1.0 - photo_weight, 0.0)


def _fixed_point(point: np.ndarray) -> tuple[int, int]:
    scale = 1 << _SHIFT_BITS
    return round(float(point[0]) * scale), round(float(point[1]) * scale)


def draw_landmarks(
    photo: np.ndarray,
    truth: np.ndarray,
    predicted: np.ndarray,
    visible: np.ndarray | None = None,
    colors: Sequence[tuple[int, int, int]] = CLASS_COLORS,
) -> np.ndarray:
    """Draws ground truth and prediction per landmark on a copy of the photo.

    Ground truth is a hollow circle, the prediction a filled dot in the same class colour, a
    line joins them (its length is the error) and the landmark id is written by the dot. Every
    mark gets a black outline first, since yellow and cyan vanish on light garments.

    Args:
        photo: uint8 [H, W, 3] RGB.
        truth: float [K, 2] (x, y) pixel indices in the photo.
        predicted: float [K, 2] (x, y) pixel indices in the photo; non-finite rows are skipped.
        visible: bool [K]; ground truth is drawn only where True. Default all True.
        colors: RGB per class, background first; landmark k (0-based) uses `colors[k + 1]`.

    Returns:
        uint8 [H, W, 3] RGB.
    """
    num_landmarks = truth.shape[0]
    if truth.shape != (num_landmarks, 2) or predicted.shape != truth.shape:
        raise ValueError(f"truth {truth.shape} and predicted {predicted.shape} must both be [K, 2]")
    if len(colors) < num_landmarks + 1:
        raise ValueError(f"{num_landmarks} landmarks need {num_landmarks + 1} colours")
    if visible is None:
        visible = np.ones(num_landmarks, dtype=bool)
    canvas = np.ascontiguousarray(photo).copy()
    height, width = photo.shape[:2]
    side = max(height, width)
    # Marks scale with the picture so they read the same at 256 and at 512 pixels.
    radius = max(5, round(side / 48))
    dot_radius = max(2, radius // 2)
    thickness = max(1, round(side / 256))
    font_scale = 0.4 * side / 256
    fixed_one = 1 << _SHIFT_BITS

    marks = []
    for index in range(num_landmarks):
        has_truth = bool(visible[index]) and bool(np.all(np.isfinite(truth[index])))
        has_prediction = bool(np.all(np.isfinite(predicted[index])))
        marks.append(
            (
                tuple(int(c) for c in colors[index + 1]),
                _fixed_point(truth[index]) if has_truth else None,
                _fixed_point(predicted[index]) if has_prediction else None,
            )
        )

    # All outlines first, then all colours: drawn per landmark, a neighbour's outline would
    # cut through marks already coloured.
    for outline in (True, False):
        extra = 2 if outline else 0
        for color, truth_at, predicted_at in marks:
            ink = _BLACK if outline else color
            if truth_at and predicted_at:
                cv2.line(
                    canvas,
                    truth_at,
                    predicted_at,
                    ink,
                    thickness + extra,
                    lineType=cv2.LINE_AA,
                    shift=_SHIFT_BITS,
                )
            if truth_at:
                cv2.circle(
                    canvas,
                    truth_at,
                    radius * fixed_one,
                    ink,
                    thickness + extra,
                    lineType=cv2.LINE_AA,
                    shift=_SHIFT_BITS,
                )
            if predicted_at:
                cv2.circle(
                    canvas,
                    predicted_at,
                    (dot_radius + extra // 2) * fixed_one,
                    ink,
                    cv2.FILLED,
                    lineType=cv2.LINE_AA,
                    shift=_SHIFT_BITS,
                )

    for index, (color, truth_at, predicted_at) in enumerate(marks):
        anchor = predicted_at or truth_at
        if anchor is None:
            continue
        label = str(index + 1)
        (text_width, text_height), _ = cv2.getTextSize(
            label, cv2.FONT_HERSHEY_SIMPLEX, font_scale, thickness + 2
        )
        # Up and to the right of the dot, clear of the ground-truth circle, but kept inside the
        # picture for points at (or predicted beyond) its edge.
        origin = (
            int(np.clip(anchor[0] // fixed_one + radius, 0, width - text_width)),
            int(np.clip(anchor[1] // fixed_one - radius, text_height, height - 1)),
        )
        for ink, weight in ((_BLACK, thickness + 2), (color, thickness)):
            cv2.putText(
                canvas,
                label,
                origin,
                cv2.FONT_HERSHEY_SIMPLEX,
                font_scale,
                ink,
                weight,
                cv2.LINE_AA,
            )
    return canvas


def panel_size(width: int, height: int) -> tuple[int, int]:
    """The (width, height) a photo is shown at: its own, clamped to the legible range."""
    longest = max(width, height)
    shown = min(max(longest, MIN_PANEL_SIDE), MAX_PANEL_SIDE)
    factor = shown / longest
    return max(1, round(width * factor)), max(1, round(height * factor))


def rescale_points(points: np.ndarray, factor_x: float, factor_y: float) -> np.ndarray:
    """Maps pixel indices through a resize, with pixel centres at integer indices.

    Args:
        points: float [..., 2] (x, y) pixel indices in the source image.
        factor_x: target width / source width.
        factor_y: target height / source height.

    Returns:
        float64 [..., 2] (x, y) pixel indices in the target image.
    """
    factors = np.array([factor_x, factor_y], dtype=np.float64)
    return (np.asarray(points, dtype=np.float64) + 0.5) * factors - 0.5


def render_comparison(
    photo: np.ndarray,
    class_map: np.ndarray,
    truth: np.ndarray,
    predicted: np.ndarray,
    visible: np.ndarray | None = None,
    caption: str | None = None,
    colors: Sequence[tuple[int, int, int]] = CLASS_COLORS,
) -> np.ndarray:
    """Draws the three panels side by side (see module docstring).

    Args:
        photo: uint8 [H, W, 3] RGB, any size.
        class_map: integer [h, w] class ids, any size (the model's is 256x256); stretched over
            the photo.
        truth: float [K, 2] (x, y) pixel indices in the photo.
        predicted: float [K, 2] (x, y) pixel indices in the photo.
        visible: bool [K]; ground truth is drawn only where True. Default all True.
        caption: one line of text drawn above the panels, if given.
        colors: RGB per class, background first.

    Returns:
        uint8 [H', 3 W' + 2 gaps, 3] RGB, where (W', H') is `panel_size(W, H)`, plus a caption
        strip on top when `caption` is given.
    """
    if photo.ndim != 3 or photo.shape[2] != 3 or photo.dtype != np.uint8:
        raise ValueError(f"photo must be uint8 [H, W, 3], got {photo.dtype} {photo.shape}")
    height, width = photo.shape[:2]
    shown_width, shown_height = panel_size(width, height)
    shrinking = shown_width * shown_height < width * height
    shown_photo = cv2.resize(
        photo,
        (shown_width, shown_height),
        interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR,
    )
    # Nearest-neighbour keeps class ids whole; the EXACT variant uses pixel centres like
    # everything else here (plain INTER_NEAREST is off by half a pixel).
    shown_classes = cv2.resize(
        class_map.astype(np.uint8),
        (shown_width, shown_height),
        interpolation=cv2.INTER_NEAREST_EXACT,
    )
    factor_x, factor_y = shown_width / width, shown_height / height

    points_panel = draw_landmarks(
        shown_photo,
        rescale_points(truth, factor_x, factor_y),
        rescale_points(predicted, factor_x, factor_y),
        visible,
        colors,
    )
    classes_panel = colorize_class_map(shown_classes, colors)
    blended_panel = blend_over_photo(shown_photo, classes_panel)

    gap = np.full((shown_height, PANEL_GAP, 3), 255, dtype=np.uint8)
    picture = np.concatenate([points_panel, gap, classes_panel, gap, blended_panel], axis=1)
    if caption is None:
        return picture
    strip = np.full((CAPTION_HEIGHT, picture.shape[1], 3), 255, dtype=np.uint8)
    cv2.putText(
        strip,
        caption,
        (4, CAPTION_HEIGHT - 8),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.45,
        _BLACK,
        1,
        cv2.LINE_AA,
    )
    return np.concatenate([strip, picture], axis=0)


def save_png(path: Path, image: np.ndarray) -> Path:
    """Writes an RGB picture as PNG, creating the parent directory.

    Args:
        path: target file; should end in `.png`.
        image: uint8 [H, W, 3] RGB.

    Returns:
        `path`.

    Raises:
        OSError: OpenCV could not write the file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR)):
        raise OSError(f"could not write {path}")
    return path
