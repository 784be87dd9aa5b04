"""Surface details drawn on a garment: seams, buttons, chest graphics, folds and wrinkles.

Details change the inside of a garment, never its outline, so they cannot move a landmark;
they exist so that a model learns landmarks from shape, not from a flat colour silhouette.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from training.synth.appearance import Fabric, contrast_colour, random_text
from training.synth.canvas import Canvas
from training.synth.garments import SLEEVE, Garment, Pose
from training.synth.geometry import Points, arc, pt, quad, rotate

_FONTS = (
    cv2.FONT_HERSHEY_SIMPLEX,
    cv2.FONT_HERSHEY_DUPLEX,
    cv2.FONT_HERSHEY_TRIPLEX,
    cv2.FONT_HERSHEY_COMPLEX,
    cv2.FONT_HERSHEY_SCRIPT_SIMPLEX,
    cv2.FONT_HERSHEY_PLAIN,
)


def draw_strokes(canvas: Canvas, garment: Garment, layer: int) -> None:
    """Seams and stitching of one layer, as pending shading."""
    for stroke in garment.strokes:
        if stroke.layer == layer:
            dash = 0.05 if stroke.dashed else 0.0
            canvas.stroke_shade([stroke.pts], stroke.width, stroke.tone, dash)
            if not stroke.dashed and stroke.tone < 1.0:
                # A seam is a ridge: a lit edge beside the shadowed groove.
                lift = stroke.pts + pt(0.0, -stroke.width * 1.2)
                canvas.stroke_shade([lift], stroke.width * 0.8, 1.0 + (1.0 - stroke.tone) * 0.4)


def draw_buttons(canvas: Canvas, garment: Garment, rng: np.random.Generator) -> None:
    """Buttons: a disc, a darker rim and two holes."""
    if not garment.buttons:
        return
    roll = rng.random()
    colour = (
        np.full(3, rng.uniform(200, 245), np.float32)
        if roll < 0.4
        else np.full(3, rng.uniform(15, 60), np.float32)
        if roll < 0.7
        else np.array(rng.uniform([90, 60, 30], [200, 160, 110]), np.float32)
    )
    for centre, radius in garment.buttons:
        disc = arc(centre, radius, radius, 0, 2 * math.pi, 14)
        canvas.paint(canvas.fill_mask([disc]), colour, garment=True)
        canvas.stroke_shade([np.concatenate([disc, disc[:1]])], radius * 0.3, 0.7)
        for dx in (-0.35, 0.35):
            hole = arc(centre + pt(dx * radius, 0.0), radius * 0.15, radius * 0.15, 0, 6.3, 6)
            canvas.paint(canvas.fill_mask([hole]), colour * 0.5, garment=True, opacity=0.7)


def draw_graphic(
    canvas: Canvas, garment: Garment, fabric: Fabric, rng: np.random.Generator
) -> None:
    """A chest print: brand text, a logo shape, a picture-like print or a small chest logo.

    Clipped to the visible garment so it never spills past the outline.
    """
    small = rng.random() < 0.3
    width_units = garment.chest_width * (
        rng.uniform(0.15, 0.3) if small else rng.uniform(0.35, 0.8)
    )
    centre = garment.chest + (
        pt(rng.choice([-1.0, 1.0]) * garment.chest_width * 0.3, -0.1) if small else pt(0.0, 0.0)
    )
    cpx = canvas.to_px(centre[None])[0]
    half = int(max(4.0, width_units * canvas.scale / 2))
    h, w = canvas.size
    x0, y0 = int(cpx[0]) - half, int(cpx[1]) - half
    x1, y1 = x0 + 2 * half, y0 + 2 * half
    cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if cx1 - cx0 < 4 or cy1 - cy0 < 4:
        return
    layers: list[tuple[np.ndarray, np.ndarray]] = []
    colour = contrast_colour(rng, fabric.colour)
    if rng.random() < 0.4:
        colour = np.full(3, 245.0 if fabric.colour.mean() < 110 else 20.0, np.float32)
    kind = rng.random()
    size = 2 * half
    mask = np.zeros((size, size), np.uint8)
    if kind < 0.45:
        text = random_text(rng)
        font = int(rng.choice(_FONTS))
        thickness = max(1, int(size / 40 * rng.uniform(0.8, 2.5)))
        (tw, th), _ = cv2.getTextSize(text, font, 1.0, thickness)
        scale = size / max(tw, 1) * 0.95
        org = (int(size * 0.025), int(size / 2 + th * scale / 2))
        cv2.putText(mask, text, org, font, scale, 255, thickness, cv2.LINE_AA)
        layers.append((mask, colour))
    elif kind < 0.75:
        c = (size // 2, size // 2)
        shape = rng.random()
        if shape < 0.35:
            cv2.circle(mask, c, int(size * 0.45), 255, -1, cv2.LINE_AA)
            inner = np.zeros_like(mask)
            cv2.circle(inner, c, int(size * rng.uniform(0.2, 0.38)), 255, -1, cv2.LINE_AA)
            layers.append((mask, colour))
            layers.append((inner, contrast_colour(rng, colour)))
        else:
            points = int(rng.choice([3, 4, 5, 6]))
            radii = [0.47, 0.2] if shape < 0.6 else [0.47, 0.47]
            angles = np.arange(points * 2) * math.pi / points - math.pi / 2
            r = np.array([radii[i % 2] for i in range(points * 2)]) * size
            poly = np.stack([c[0] + r * np.cos(angles), c[1] + r * np.sin(angles)], 1)
            cv2.fillPoly(mask, [np.round(poly).astype(np.int32)], 255, cv2.LINE_AA)
            layers.append((mask, colour))
    else:
        # Picture-like print: overlapping blobs in several colours.
        for _ in range(int(rng.integers(3, 8))):
            blob = np.zeros_like(mask)
            centre_b = rng.uniform(0.2, 0.8, 2) * size
            axes = (int(rng.uniform(0.1, 0.35) * size), int(rng.uniform(0.1, 0.35) * size))
            cv2.ellipse(
                blob,
                (int(centre_b[0]), int(centre_b[1])),
                axes,
                float(rng.uniform(0, 180)),
                0,
                360,
                255,
                -1,
                cv2.LINE_AA,
            )
            layers.append((blob, contrast_colour(rng, fabric.colour)))
    region = (slice(cy0, cy1), slice(cx0, cx1))
    sub = (slice(cy0 - y0, cy1 - y0), slice(cx0 - x0, cx1 - x0))
    opacity = float(rng.uniform(0.75, 1.0))
    for layer_mask, layer_colour in layers:
        m = layer_mask[sub].astype(np.float32) / 255.0 * canvas.garment[region] * opacity
        canvas.paint((m, region), layer_colour, garment=True)


def _fold(rng: np.random.Generator, start: Points, end: Points) -> Points:
    """A gently bent fold line from start to end ([N, 2])."""
    mid = (start + end) / 2
    d = end - start
    bend = pt(-d[1], d[0]) * rng.uniform(-0.25, 0.25)
    return quad(start, mid + bend, end, 8)


def _fold_lines(
    garment: Garment,
    pose: Pose,
    layer: int,
    rng: np.random.Generator,
    grips: list[Points] | None = None,
) -> list[Points]:
    """Fold centre lines for one layer, placed the way the pose pulls the fabric.

    `grips` are where hands hold a held garment; its folds hang from them.
    """
    lines: list[Points] = []
    hw, hem = garment.hem_half, garment.hem_y
    armpit_y = float(garment.shoulder[1]) + 0.9
    if layer == SLEEVE:
        for arm in garment.arms:
            if garment.sleeve_length <= 0:
                continue
            for _ in range(int(rng.integers(1, 4 if garment.sleeve_length < 1.5 else 7))):
                t = rng.uniform(0.15, 0.95) * garment.sleeve_length
                # Along the sleeve's axis, which bends at the elbow for a long sleeve.
                c, d = arm.along(float(t))
                n = pt(-d[1], d[0])
                w = arm.cuff_half * rng.uniform(0.6, 1.1)
                tilt = rotate(n, rng.uniform(-0.5, 0.5))
                lines.append(_fold(rng, c - tilt * w, c + tilt * w))
        return lines
    if pose in (Pose.WORN, Pose.TURNED):
        for side in (-1, 1):
            for _ in range(int(rng.integers(0, 4))):
                start = pt(side * hw * rng.uniform(0.6, 0.95), armpit_y + rng.uniform(-0.1, 0.5))
                end = pt(side * rng.uniform(0.0, 0.5), armpit_y + rng.uniform(0.6, 1.5))
                lines.append(_fold(rng, start, end))
        for _ in range(int(rng.integers(0, 4))):
            y = hem - rng.uniform(0.1, 0.8)
            x = rng.uniform(-hw, hw) * 0.6
            lines.append(
                _fold(
                    rng,
                    pt(x - rng.uniform(0.2, 0.6), y),
                    pt(x + rng.uniform(0.2, 0.6), y + rng.uniform(-0.1, 0.1)),
                )
            )
    elif pose is Pose.HANGING:
        for _ in range(int(rng.integers(2, 6))):
            x = rng.uniform(-hw, hw) * 0.85
            lines.append(
                _fold(
                    rng,
                    pt(x, rng.uniform(0.3, 1.2)),
                    pt(x + rng.uniform(-0.25, 0.25), hem - rng.uniform(0.0, 0.5)),
                )
            )
    elif pose is Pose.HELD:
        if grips is None:
            grip_x = (garment.neck_half + float(garment.shoulder[0])) / 2
            grips = [pt(-grip_x, 0.1), pt(grip_x, 0.1)]
        # Cloth hanging from two hands: folds fan down from each grip, and the slack between
        # the hands drapes in a U across the chest.
        for side, grip in zip((-1, 1), grips, strict=True):
            for _ in range(int(rng.integers(1, 5))):
                end = pt(side * rng.uniform(-0.3, 0.6) * hw, rng.uniform(0.8, 0.6 * hem + 0.5))
                lines.append(_fold(rng, grip, end))
        for _ in range(int(rng.integers(0, 3))):
            dip = pt(0.0, rng.uniform(0.3, 0.9))
            lines.append(quad(grips[0], (grips[0] + grips[1]) / 2 + dip, grips[1], 10))
    else:
        for _ in range(int(rng.integers(1, 8))):
            c = pt(rng.uniform(-hw, hw) * 0.8, rng.uniform(0.4, hem - 0.2))
            d = rotate(pt(1.0, 0.0), rng.uniform(0, math.pi)) * rng.uniform(0.15, 0.6)
            lines.append(_fold(rng, c - d, c + d))
    return lines


def draw_undulation(canvas: Canvas, strength: float, rng: np.random.Generator) -> None:
    """Broad, soft light and shadow over the cloth (it never lies perfectly flat)."""
    h, w = canvas.size
    cells = (int(rng.integers(3, 7)), int(rng.integers(3, 7)))
    coarse = rng.uniform(-1.0, 1.0, cells).astype(np.float32)
    field = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    canvas.soft += np.float32(strength) * np.asarray(field, np.float32)


def draw_folds(
    canvas: Canvas,
    garment: Garment,
    pose: Pose,
    layer: int,
    strength: float,
    rng: np.random.Generator,
    grips: list[Points] | None = None,
) -> None:
    """Folds as soft shading: a shadowed crease with a lit ridge beside it (`grips`: see
    `_fold_lines`)."""
    if strength <= 0:
        return
    for line in _fold_lines(garment, pose, layer, rng, grips):
        width = float(rng.uniform(0.04, 0.14))
        canvas.soft_stroke([line], width, -float(rng.uniform(0.08, 0.3)) * strength)
        d = line[-1] - line[0]
        offset = pt(-d[1], d[0]) / max(float(np.hypot(*d)), 1e-6) * width * rng.choice([-1.2, 1.2])
        canvas.soft_stroke([line + offset], width, float(rng.uniform(0.04, 0.15)) * strength)
