"""Backgrounds: studio sweeps, gradients, textured surfaces and cluttered rooms or labs.

Everything is drawn straight into the 256x256 photo (float32 RGB, 0..255) before the
foreground is composited, so nothing here can cover a landmark.
"""

from __future__ import annotations

import functools
import math

import cv2
import numpy as np
import numpy.typing as npt

from training.synth.appearance import (
    Image,
    near_colour,
    noise,
    random_colour,
    render_fabric,
    sample_fabric,
    skin_tone,
)

STYLES = ("studio", "gradient", "texture", "room", "lab")
_STYLE_WEIGHTS = np.array([0.3, 0.12, 0.2, 0.23, 0.15])

Colour = npt.NDArray[np.float32]


def check_styles(styles: tuple[str, ...]) -> tuple[str, ...]:
    """Returns `styles` when it names one or more of `STYLES` and nothing else.

    Raises:
        ValueError: `styles` is empty or names an unknown style.
    """
    unknown = [style for style in styles if style not in STYLES]
    if not styles or unknown:
        raise ValueError(
            f"backgrounds must name some of {', '.join(STYLES)}; got {', '.join(styles) or 'none'}"
        )
    return styles


@functools.lru_cache(maxsize=4)
def _grid(size: int) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """Normalised x and y in [0, 1) of every pixel, float32 [size, size] each (read-only)."""
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    xs, ys = xs / size, ys / size
    xs.flags.writeable = False
    ys.flags.writeable = False
    return xs, ys


def _smooth_noise(rng: np.random.Generator, size: int, cells: int) -> npt.NDArray[np.float32]:
    small = rng.random((cells + 2, cells + 2)).astype(np.float32)
    return np.asarray(cv2.resize(small, (size, size), interpolation=cv2.INTER_CUBIC), np.float32)


def _studio_colour(rng: np.random.Generator) -> Colour:
    roll = rng.random()
    if roll < 0.45:
        return np.full(3, rng.uniform(215, 252), np.float32)  # white / light grey sweep
    if roll < 0.7:
        return np.full(3, rng.uniform(90, 215), np.float32)  # grey
    if roll < 0.8:
        return np.full(3, rng.uniform(10, 60), np.float32)  # black
    colour = random_colour(rng)
    return (colour * 0.5 + 128 * rng.uniform(0.2, 0.9)).astype(np.float32)  # pastel / muted


def _linear(
    xs: npt.NDArray[np.float32], ys: npt.NDArray[np.float32], angle: float
) -> npt.NDArray[np.float32]:
    t = (xs - 0.5) * math.cos(angle) + (ys - 0.5) * math.sin(angle)
    return np.clip(t + 0.5, 0, 1).astype(np.float32)


def _studio(rng: np.random.Generator, size: int, base: Colour) -> tuple[Image, float | None]:
    # Smooth: computed on a coarse grid and upsampled.
    small = size // 4
    xs, ys = _grid(small)
    # A sweep is brightest where the key light hits and falls off towards the corners.
    cx, cy = rng.uniform(0.3, 0.7, 2)
    r2 = (xs - cx) ** 2 + (ys - cy) ** 2
    fall = 1.0 - rng.uniform(0.0, 0.35) * r2
    img = base[None, None, :] * fall[..., None]
    floor = None
    if rng.random() < 0.35:
        floor = float(rng.uniform(0.6, 0.95) * size)
        soft = rng.uniform(4, 25)
        band = 1.0 / (1.0 + np.exp(-(ys * size - floor) / soft))
        img = img * (1.0 - rng.uniform(0.03, 0.15) * band)[..., None]
    img = cv2.resize(img.astype(np.float32), (size, size), interpolation=cv2.INTER_LINEAR)
    return img, floor


def _gradient(rng: np.random.Generator, size: int, base: Colour) -> Image:
    xs, ys = _grid(size // 4)
    other = near_colour(rng, base, 90) if rng.random() < 0.6 else random_colour(rng)
    t = _linear(xs, ys, rng.uniform(0, 2 * math.pi))
    img = (base * (1 - t[..., None]) + other * t[..., None]).astype(np.float32)
    return np.asarray(cv2.resize(img, (size, size), interpolation=cv2.INTER_LINEAR), np.float32)


def _wood(rng: np.random.Generator, size: int) -> Image:
    xs, ys = _grid(size)
    base = np.array(rng.uniform([110, 65, 30], [225, 180, 130]), np.float32)
    if rng.random() < 0.25:
        base = np.full(3, rng.uniform(200, 245), np.float32)  # whitewashed
    vertical = rng.random() < 0.5
    along, across = (ys, xs) if vertical else (xs, ys)
    plank = rng.uniform(0.12, 0.3)
    idx = np.floor(across / plank)
    warp = _smooth_noise(rng, size, 3) * rng.uniform(2, 6)
    grain = np.sin((across * rng.uniform(40, 90) + warp + idx * 7.1) * 2 * math.pi / 6)
    tone = 1.0 + 0.06 * grain + 0.08 * np.sin(idx * 12.9898) + 0.04 * np.sin(along * 3 + idx)
    seam = np.abs(across / plank - np.round(across / plank)) * plank * size < 0.8
    tone = np.where(seam, tone * 0.7, tone)
    return (base[None, None, :] * tone[..., None]).astype(np.float32)


def _tiles(rng: np.random.Generator, size: int) -> Image:
    xs, ys = _grid(size)
    base = _studio_colour(rng) if rng.random() < 0.6 else random_colour(rng)
    period = rng.uniform(0.08, 0.3)
    gu, gv = xs / period, ys / period
    line = np.minimum(np.abs(gu - np.round(gu)), np.abs(gv - np.round(gv))) * period * size
    grout = np.clip(1.5 - line, 0, 1)
    checker = ((np.floor(gu) + np.floor(gv)) % 2) * rng.uniform(0, 0.08)
    tone = (1.0 - checker) * (1 - 0.35 * grout)
    return (base[None, None, :] * tone[..., None]).astype(np.float32)


def _surface(rng: np.random.Generator, size: int) -> Image:
    """Noise-like surfaces: concrete, carpet, paper, a bed sheet or another fabric."""
    roll = rng.random()
    base = _studio_colour(rng) if roll < 0.5 else random_colour(rng)
    if roll < 0.75:
        n = sum(
            _smooth_noise(rng, size, cells) * w for cells, w in ((3, 0.5), (12, 0.3), (48, 0.2))
        )
        grain = noise(rng, (size, size)) * np.float32(rng.uniform(0.0, 0.05))
        tone = 1.0 + (n - 0.5) * rng.uniform(0.1, 0.4) + grain
        return (base[None, None, :] * tone[..., None]).astype(np.float32)
    fabric = sample_fabric(rng, colour=base)
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    px = rng.uniform(40, 120)
    img = render_fabric(fabric, xs / px, ys / px, px, rng)
    folds = np.sin(_smooth_noise(rng, size, 3) * rng.uniform(6, 14))
    return (img * (1.0 + 0.08 * folds)[..., None]).astype(np.float32)


def _box(
    img: npt.NDArray[np.uint8],
    rng: np.random.Generator,
    x: int,
    y: int,
    w: int,
    h: int,
    colour: Colour,
) -> None:
    """A box with a lit top face and a shaded side face."""
    depth = int(rng.uniform(0.1, 0.35) * w)
    top = np.array(
        [[x, y], [x + w, y], [x + w + depth, y - depth], [x + depth, y - depth]], np.int32
    )
    side = np.array(
        [[x + w, y], [x + w + depth, y - depth], [x + w + depth, y + h - depth], [x + w, y + h]],
        np.int32,
    )
    cv2.rectangle(img, (x, y), (x + w, y + h), colour.tolist(), -1, cv2.LINE_AA)
    cv2.fillPoly(img, [top], (colour * 1.15).clip(0, 255).tolist(), cv2.LINE_AA)
    cv2.fillPoly(img, [side], (colour * 0.75).tolist(), cv2.LINE_AA)


def _clutter(rng: np.random.Generator, img: npt.NDArray[np.uint8], floor: float, lab: bool) -> None:
    """Distractor shapes: furniture, boxes, round things, plants, fabric heaps, stray sleeves,
    cables."""
    size = img.shape[0]
    count = int(rng.integers(3, 10))
    for _ in range(count):
        kind = rng.random()
        x = int(rng.uniform(-0.2, 1.0) * size)
        y = int(rng.uniform(0.0, 1.0) * size)
        colour = random_colour(rng)
        if lab:
            colour = np.full(3, rng.uniform(30, 230), np.float32) if rng.random() < 0.7 else colour
        if kind < 0.27:
            w, h = int(rng.uniform(0.08, 0.45) * size), int(rng.uniform(0.06, 0.35) * size)
            y = int(min(y, floor - h)) if rng.random() < 0.6 else y
            _box(img, rng, x, y, w, h, colour)
        elif kind < 0.39:
            r = int(rng.uniform(0.02, 0.12) * size)
            cv2.circle(img, (x, y), r, colour.tolist(), -1, cv2.LINE_AA)
            cv2.circle(
                img,
                (x, y),
                max(1, r - int(r * 0.25)),
                (colour * 1.2).clip(0, 255).tolist(),
                -1,
                cv2.LINE_AA,
            )
        elif kind < 0.51:
            # Frames: a door, window, picture or monitor.
            w, h = int(rng.uniform(0.1, 0.4) * size), int(rng.uniform(0.1, 0.5) * size)
            cv2.rectangle(
                img, (x, y), (x + w, y + h), colour.tolist(), int(rng.integers(2, 7)), cv2.LINE_AA
            )
            if rng.random() < 0.5:
                inner = near_colour(rng, np.full(3, 200.0, np.float32), 50)
                cv2.rectangle(
                    img, (x + 5, y + 5), (x + w - 5, y + h - 5), inner.tolist(), -1, cv2.LINE_AA
                )
        elif kind < 0.61:
            # A plant: a pot and a cluster of leaves.
            green = np.array(rng.uniform([30, 80, 20], [90, 160, 80]), np.float32)
            for _ in range(int(rng.integers(4, 10))):
                c = (int(x + rng.normal(0, 12)), int(y + rng.normal(0, 12)))
                axes = (int(rng.uniform(4, 14)), int(rng.uniform(2, 6)))
                cv2.ellipse(
                    img,
                    c,
                    axes,
                    float(rng.uniform(0, 180)),
                    0,
                    360,
                    near_colour(rng, green, 25).tolist(),
                    -1,
                    cv2.LINE_AA,
                )
            cv2.rectangle(img, (x - 8, y + 12), (x + 8, y + 32), colour.tolist(), -1, cv2.LINE_AA)
        elif kind < 0.72:
            # A heap of other fabric: an irregular soft blob.
            n = int(rng.integers(6, 12))
            angles = np.sort(rng.uniform(0, 2 * math.pi, n))
            radii = rng.uniform(0.04, 0.15, n) * size
            poly = np.stack([x + radii * np.cos(angles), y + radii * np.sin(angles)], 1).astype(
                np.int32
            )
            cv2.fillPoly(img, [poly], colour.tolist(), cv2.LINE_AA)
        elif kind < 0.87:
            stray_sleeve(rng, img, colour)
        else:
            pts = np.cumsum(rng.normal(0, 18, (6, 2)), axis=0) + np.array([x, y])
            cv2.polylines(
                img,
                [pts.astype(np.int32)],
                False,
                (colour * 0.5).tolist(),
                int(rng.integers(1, 4)),
                cv2.LINE_AA,
            )


def stray_sleeve(rng: np.random.Generator, img: npt.NDArray[np.uint8], colour: Colour) -> None:
    """Another garment's sleeve lying or hanging in the scene, often with a hand at its cuff.

    The likeliest false sleeve end on a real photo is exactly this: someone else's arm, or a
    garment on a chair or a rail. Drawn into the background, so it never carries a landmark,
    and the model learns that a cuff alone is not this garment's sleeve end.

    Args:
        rng: the image's generator.
        img: uint8 [S, S, 3] RGB, drawn into in place.
        colour: float32 [3] RGB of the sleeve's fabric.
    """
    size = img.shape[0]
    start = rng.uniform(-0.1, 1.1, 2) * size
    angle = rng.uniform(0, 2 * math.pi)
    length = rng.uniform(0.18, 0.45) * size
    root_width = rng.uniform(0.06, 0.14) * size
    cuff_width = root_width * rng.uniform(0.6, 0.9)
    # Straight, or bent once at an elbow part-way along.
    bend = rng.uniform(-0.9, 0.9) if rng.random() < 0.5 else 0.0
    split = rng.uniform(0.4, 0.6)
    first = np.array([math.cos(angle), math.sin(angle)])
    second = np.array([math.cos(angle + bend), math.sin(angle + bend)])
    elbow = start + first * length * split
    wrist = elbow + second * length * (1 - split)
    elbow_width = (root_width + cuff_width) / 2
    segments = (
        (start, elbow, root_width, elbow_width, first),
        (elbow, wrist, elbow_width, cuff_width, second),
    )
    for a, b, width_a, width_b, direction in segments:
        normal = np.array([-direction[1], direction[0]])
        quad = np.array(
            [
                a + normal * width_a / 2,
                b + normal * width_b / 2,
                b - normal * width_b / 2,
                a - normal * width_a / 2,
            ],
            np.int32,
        )
        cv2.fillPoly(img, [quad], colour.tolist(), cv2.LINE_AA)
        # One side in shade: the fabric reads as a tube, not a flat band.
        cv2.line(img, tuple(quad[2]), tuple(quad[3]), (colour * 0.7).tolist(), 2, cv2.LINE_AA)
    cv2.circle(
        img, tuple(elbow.astype(np.int32)), int(elbow_width / 2), colour.tolist(), -1, cv2.LINE_AA
    )
    normal = np.array([-second[1], second[0]])
    cuff = wrist - second * cuff_width * 0.25
    band = np.array(
        [
            cuff + normal * cuff_width * 0.55,
            wrist + normal * cuff_width * 0.55,
            wrist - normal * cuff_width * 0.55,
            cuff - normal * cuff_width * 0.55,
        ],
        np.int32,
    )
    trim = colour * 0.8 if rng.random() < 0.7 else random_colour(rng)
    cv2.fillPoly(img, [band], trim.tolist(), cv2.LINE_AA)
    if rng.random() < 0.6:
        hand_centre = wrist + second * cuff_width * 0.7
        axes = (int(cuff_width * 0.75), int(cuff_width * 0.42))
        cv2.ellipse(
            img,
            tuple(hand_centre.astype(np.int32)),
            axes,
            math.degrees(angle + bend),
            0,
            360,
            skin_tone(rng).tolist(),
            -1,
            cv2.LINE_AA,
        )


def _room(rng: np.random.Generator, size: int, lab: bool) -> tuple[Image, float]:
    xs, ys = _grid(size)
    wall = _studio_colour(rng) if rng.random() < 0.7 else random_colour(rng) * 0.6 + 80
    img = (
        wall[None, None, :] * (1.0 - 0.15 * _linear(xs, ys, rng.uniform(0, 2 * math.pi)))[..., None]
    )
    img = img.astype(np.float32)
    floor = float(rng.uniform(0.45, 0.95) * size)
    below = ys * size >= floor
    floor_img = _wood(rng, size) if rng.random() < 0.5 else _surface(rng, size)
    img = np.where(below[..., None], floor_img * 0.9, img).astype(np.float32)
    if lab:
        # Benches and shelves: long horizontal bands.
        for _ in range(int(rng.integers(1, 4))):
            y = int(rng.uniform(0.2, 0.9) * size)
            h = int(rng.integers(3, 14))
            tone = np.full(3, rng.uniform(40, 220), np.float32)
            img[y : y + h] = tone
    # OpenCV anti-aliases only 8-bit images.
    canvas = np.clip(img, 0, 255).astype(np.uint8)
    _clutter(rng, canvas, floor, lab)
    return canvas.astype(np.float32), floor


def render_background(
    rng: np.random.Generator,
    size: int,
    match: Colour | None = None,
    weights: npt.NDArray[np.float64] | None = None,
) -> tuple[Image, float | None, str]:
    """Draws a background.

    Args:
        rng: the image's generator.
        size: side length in pixels.
        match: if given, a studio background close to this colour (white garment on white).
        weights: probabilities of `STYLES` (default: a general mix).

    Returns:
        (float32 [size, size, 3] RGB, y of a floor line or None, style name).
    """
    if match is not None:
        img, line = _studio(rng, size, near_colour(rng, match, 18))
        return img, line, "studio"
    p = _STYLE_WEIGHTS if weights is None else weights
    style = str(rng.choice(STYLES, p=p / p.sum()))
    floor: float | None = None
    if style == "studio":
        img, floor = _studio(rng, size, _studio_colour(rng))
    elif style == "gradient":
        img = _gradient(rng, size, _studio_colour(rng))
    elif style == "texture":
        pick = rng.random()
        img = (
            _wood(rng, size)
            if pick < 0.35
            else _tiles(rng, size)
            if pick < 0.55
            else _surface(rng, size)
        )
    else:
        img, floor = _room(rng, size, lab=style == "lab")
    if style == "texture" and rng.random() < 0.25:
        # A flat lay among other clothes: their sleeves reach into the frame.
        canvas = np.clip(img, 0, 255).astype(np.uint8)
        for _ in range(int(rng.integers(1, 3))):
            stray_sleeve(rng, canvas, random_colour(rng))
        img = canvas.astype(np.float32)
    # Backgrounds are rarely in perfect focus.
    if rng.random() < 0.5:
        img = np.asarray(cv2.GaussianBlur(img, (0, 0), float(rng.uniform(0.5, 2.5))), np.float32)
    return np.ascontiguousarray(np.clip(img, 0, 255), dtype=np.float32), floor, style


def draw_rail(background: Image, y: float, rng: np.random.Generator) -> Image:
    """A clothes rail across the image at height `y`, with other garments hanging at the sides.

    Returns:
        The background with the rail, float32 [H, W, 3].
    """
    img = np.ascontiguousarray(np.clip(background, 0, 255), dtype=np.uint8)
    size = img.shape[1]
    colour = np.full(3, rng.uniform(60, 200), np.float32)
    yi = round(y)
    cv2.line(img, (0, yi), (size, yi), colour.tolist(), int(rng.integers(2, 6)), cv2.LINE_AA)
    for side in (0, 1):
        if rng.random() < 0.5:
            fabric = random_colour(rng)
            width = int(rng.uniform(0.05, 0.2) * size)
            x0 = 0 if side == 0 else size - width
            cv2.rectangle(img, (x0, yi + 6), (x0 + width, size), fabric.tolist(), -1, cv2.LINE_AA)
            edge = x0 + width if side == 0 else x0
            cv2.line(img, (edge, yi + 6), (edge, size), (fabric * 0.6).tolist(), 2, cv2.LINE_AA)
    return img.astype(np.float32)
