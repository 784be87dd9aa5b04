"""Fabric colours and patterns, chest prints, skin and hair tones.

Patterns are functions of garment-space coordinates (garment units, see `garments`), so
stripes stay straight on the garment and bend with it when the garment is warped for a 3/4 view.
All colours are RGB float32 in 0..255.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import string

import cv2
import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.float32]
"""float32 [H, W, 3] RGB image, 0..255."""
Plane = npt.NDArray[np.float32]
"""float32 [H, W] single-channel map."""

PATTERNS = (
    "solid",
    "heather",
    "stripes",
    "checks",
    "plaid",
    "dots",
    "print",
    "denim",
    "knit",
    "camo",
    "block",
)
_PATTERN_WEIGHTS = np.array([22, 10, 14, 6, 5, 6, 9, 5, 7, 3, 4], dtype=np.float64)


def hsv(h: float, s: float, v: float) -> npt.NDArray[np.float32]:
    """RGB float32 [3] in 0..255 from hue in [0, 1), saturation and value in [0, 1]."""
    i = int(h * 6.0) % 6
    f = h * 6.0 - math.floor(h * 6.0)
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    rgb = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i]
    return np.array(rgb, dtype=np.float32) * 255.0


def random_colour(rng: np.random.Generator) -> npt.NDArray[np.float32]:
    """A garment colour: whites, blacks and greys are common in real catalogues."""
    roll = rng.random()
    if roll < 0.15:
        return hsv(rng.random(), rng.uniform(0, 0.08), rng.uniform(0.85, 1.0))
    if roll < 0.3:
        return hsv(rng.random(), rng.uniform(0, 0.3), rng.uniform(0.04, 0.2))
    if roll < 0.4:
        return hsv(rng.random(), rng.uniform(0, 0.06), rng.uniform(0.3, 0.8))
    if roll < 0.5:
        # Muted naturals: beige, khaki, olive, navy.
        hue = float(rng.choice([0.08, 0.1, 0.13, 0.17, 0.6, 0.62]))
        return hsv(hue + rng.uniform(-0.02, 0.02), rng.uniform(0.2, 0.6), rng.uniform(0.25, 0.85))
    return hsv(rng.random(), rng.uniform(0.2, 0.95), rng.uniform(0.25, 0.97))


def near_colour(
    rng: np.random.Generator, colour: npt.NDArray[np.float32], spread: float
) -> npt.NDArray[np.float32]:
    """`colour` moved by up to `spread` (0..255 units) per channel, clipped."""
    return np.clip(colour + rng.uniform(-spread, spread, size=3), 0, 255).astype(np.float32)


def contrast_colour(
    rng: np.random.Generator, colour: npt.NDArray[np.float32]
) -> npt.NDArray[np.float32]:
    """A colour that reads against `colour` (prints, stripes)."""
    for _ in range(6):
        other = random_colour(rng)
        if float(np.abs(other - colour).sum()) > 150:
            return other
    return (255.0 - colour).astype(np.float32)


@dataclasses.dataclass(frozen=True)
class Fabric:
    """A fabric: base colour plus pattern parameters.

    Attributes:
        colour: float32 [3], base RGB.
        pattern: one of `PATTERNS`.
        second: float32 [3], the pattern's second colour.
        third: float32 [3], an accent colour.
        period: pattern repeat in garment units.
        duty: fraction of a period covered by the second colour (stripes, checks).
        angle: extra rotation of the pattern, radians.
        grain: strength of per-pixel fibre noise, 0..1.
        photo: float32 [h, w, 3] RGB for the "photo" pattern (a texture cut from a real
            photo, `photo_textures`), repeated mirrored every `period` units; None otherwise.
    """

    colour: npt.NDArray[np.float32]
    pattern: str
    second: npt.NDArray[np.float32]
    third: npt.NDArray[np.float32]
    period: float
    duty: float
    angle: float
    grain: float
    photo: Image | None = None

    def tinted(self, factor: float) -> Fabric:
        """The same fabric with its colours scaled (trim, ribbing)."""
        return dataclasses.replace(
            self,
            colour=np.clip(self.colour * factor, 0, 255).astype(np.float32),
            second=np.clip(self.second * factor, 0, 255).astype(np.float32),
            third=np.clip(self.third * factor, 0, 255).astype(np.float32),
        )

    def plain(self) -> Fabric:
        """A solid fabric of the same base colour (cuffs and collars of patterned tops)."""
        return dataclasses.replace(self, pattern="solid", photo=None)


def sample_fabric(
    rng: np.random.Generator,
    colour: npt.NDArray[np.float32] | None = None,
    pattern: str | None = None,
) -> Fabric:
    """Draws a fabric; `colour` and `pattern` pin those choices."""
    base = random_colour(rng) if colour is None else colour
    if pattern is None:
        pattern = str(rng.choice(PATTERNS, p=_PATTERN_WEIGHTS / _PATTERN_WEIGHTS.sum()))
    if pattern == "denim":
        base = hsv(rng.uniform(0.57, 0.63), rng.uniform(0.3, 0.7), rng.uniform(0.2, 0.75))
    second = contrast_colour(rng, base) if rng.random() < 0.7 else near_colour(rng, base, 60)
    if rng.random() < 0.35:
        second = np.full(3, 245.0 if base.mean() < 128 else 25.0, dtype=np.float32)
    periods = {
        "stripes": rng.uniform(0.08, 0.6),
        "checks": rng.uniform(0.1, 0.4),
        "plaid": rng.uniform(0.3, 0.9),
        "dots": rng.uniform(0.1, 0.4),
        "print": rng.uniform(0.5, 1.4),
        "denim": rng.uniform(0.02, 0.05),
        "knit": rng.uniform(0.04, 0.1),
        "camo": rng.uniform(0.6, 1.4),
        "block": rng.uniform(0.6, 1.6),
    }
    angle = 0.0
    if pattern == "stripes" and rng.random() < 0.3:
        angle = float(rng.choice([math.pi / 2, math.pi / 4, -math.pi / 4]))
    return Fabric(
        colour=base,
        pattern=pattern,
        second=second,
        third=contrast_colour(rng, second),
        period=float(periods.get(pattern, 0.5)),
        duty=float(rng.uniform(0.2, 0.6)),
        angle=angle,
        grain=float(rng.uniform(0.0, 1.0) ** 2),
    )


@functools.lru_cache(maxsize=1)
def _noise_bank() -> Plane:
    """A fixed bank of standard-normal noise, float32 [1024, 1024] (read-only).

    Drawing fresh normals for every texture is one of the slowest steps; a random window of
    one fixed bank looks the same and stays deterministic (the bank never changes).
    """
    bank = np.random.default_rng(20240521).standard_normal((1024, 1024), dtype=np.float32)
    bank.flags.writeable = False
    return bank


def noise(rng: np.random.Generator, shape: tuple[int, int]) -> Plane:
    """Standard-normal noise of `shape` (each side <= 1024), float32 [H, W], from the bank."""
    bank = _noise_bank()
    h, w = shape
    y = int(rng.integers(0, bank.shape[0] - h + 1))
    x = int(rng.integers(0, bank.shape[1] - w + 1))
    patch = bank[y : y + h, x : x + w]
    return np.ascontiguousarray(patch.T if rng.random() < 0.5 and h == w else patch)


def _band(t: Plane, duty: float, soft: float) -> Plane:
    """Anti-aliased periodic band: 1 inside the first `duty` of each unit period of `t`."""
    frac = t - np.floor(t)
    centre = np.abs(((frac - duty / 2 + 0.5) % 1.0) - 0.5)
    return np.clip((duty / 2 - centre) / soft + 0.5, 0.0, 1.0).astype(np.float32)


def _mix(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32], m: Plane) -> Image:
    """a where m == 0, b where m == 1; m float32 [H, W] -> float32 [H, W, 3]."""
    m3 = m[..., None]
    return (a * (1.0 - m3) + b * m3).astype(np.float32)


def _low_noise(rng: np.random.Generator, shape: tuple[int, int], cells: int) -> Plane:
    """Smooth noise in [0, 1] with about `cells` blobs across, float32 [H, W]."""
    h, w = shape
    small = rng.random((max(2, cells * h // max(h, w) + 2), max(2, cells * w // max(h, w) + 2)))
    return np.asarray(
        cv2.resize(small.astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC), np.float32
    )


def _print_tile(rng: np.random.Generator, fabric: Fabric, size: int) -> Image:
    """One repeat of an all-over print (flowers, leaves, blobs, spots), float32 [S, S, 3]."""
    tile = np.empty((size, size, 3), np.uint8)
    tile[:] = np.clip(fabric.colour, 0, 255).astype(np.uint8)
    style = int(rng.integers(0, 4))
    palette = [fabric.second, fabric.third, (fabric.second + fabric.colour) / 2]
    colours = [tuple(float(c) for c in np.asarray(col).ravel()) for col in palette]
    count = int(rng.integers(3, 9))
    for _ in range(count):
        centre = rng.uniform(0, size, 2)
        radius = max(2.0, size * rng.uniform(0.06, 0.2))
        colour = colours[int(rng.integers(0, 3))]
        angle = float(rng.uniform(0, 180))
        # Draw each motif at the 9 wrap positions so the tile repeats without seams.
        for dx in (-size, 0, size):
            for dy in (-size, 0, size):
                cx, cy = int(centre[0] + dx), int(centre[1] + dy)
                if style == 0:  # flower
                    for k in range(5):
                        a = k * 2 * math.pi / 5
                        px = int(cx + radius * 0.7 * math.cos(a))
                        py = int(cy + radius * 0.7 * math.sin(a))
                        cv2.circle(tile, (px, py), int(radius * 0.5), colour, -1, cv2.LINE_AA)
                    cv2.circle(tile, (cx, cy), max(1, int(radius * 0.3)), colours[1], -1)
                elif style == 1:  # leaves
                    axes = (int(radius), max(1, int(radius * 0.4)))
                    cv2.ellipse(tile, (cx, cy), axes, angle, 0, 360, colour, -1, cv2.LINE_AA)
                elif style == 2:  # animal spots: a dark ring around a lighter fill
                    axes = (int(radius), max(1, int(radius * 0.7)))
                    cv2.ellipse(tile, (cx, cy), axes, 30, 0, 360, colour, -1, cv2.LINE_AA)
                    cv2.ellipse(tile, (cx, cy), axes, 30, 0, 360, (20, 15, 10), 2, cv2.LINE_AA)
                else:  # abstract geometric
                    half = int(radius)
                    cv2.rectangle(
                        tile,
                        (cx - half, cy - half // 2),
                        (cx + half, cy + half // 2),
                        colour,
                        -1,
                        cv2.LINE_AA,
                    )
    return tile.astype(np.float32)


def photo_fabric(rng: np.random.Generator, texture: Image) -> Fabric:
    """A fabric cut from a real photo's texture (float32 [h, w, 3]); its mean is the colour."""
    colour = texture.reshape(-1, 3).mean(axis=0).astype(np.float32)
    plain = sample_fabric(rng, colour=colour, pattern="solid")
    return dataclasses.replace(
        plain,
        pattern="photo",
        period=float(rng.uniform(0.5, 1.5)),
        angle=float(rng.choice([0.0, math.pi / 2])) if rng.random() < 0.3 else 0.0,
        grain=0.0,  # a photo has its own
        photo=texture,
    )


def _mirrored_index(coordinate: Plane, length: int) -> npt.NDArray[np.int64]:
    """Indices into a texture of `length` pixels repeated as ...ABBA...: no seams."""
    index = np.floor(coordinate).astype(np.int64) % (2 * length)
    return np.where(index < length, index, 2 * length - 1 - index)


def render_fabric(
    fabric: Fabric, u: Plane, v: Plane, px_per_unit: float, rng: np.random.Generator
) -> Image:
    """Colours of `fabric` at garment-space coordinates.

    Args:
        fabric: what to draw.
        u, v: float32 [H, W] garment-space x and y (units) of each pixel, already rotated into
            the part's frame.
        px_per_unit: pixels per garment unit, for anti-aliasing and texture scale.
        rng: the image's random generator (grain, prints).

    Returns:
        float32 [H, W, 3] RGB.
    """
    if fabric.angle:
        c, s = math.cos(fabric.angle), math.sin(fabric.angle)
        u, v = (u * c - v * s).astype(np.float32), (u * s + v * c).astype(np.float32)
    shape = u.shape
    # A pattern finer than ~3 pixels aliases into moire; real cameras blur it to a mean colour.
    period = max(fabric.period, 3.5 / px_per_unit)
    soft = max(1.0 / (px_per_unit * period), 1e-3)
    base = fabric.colour
    p = fabric.pattern
    if p == "stripes":
        out = _mix(base, fabric.second, _band(v / period, fabric.duty, soft))
        if fabric.duty < 0.35:
            pin = _band(v / period + 0.5, 0.08, soft / 0.3)
            out = _mix(out, fabric.third, pin * 0.8)
    elif p == "checks":
        a = _band(u / period, 0.5, soft)
        b = _band(v / period, 0.5, soft)
        out = _mix(base, fabric.second, (a + b) * 0.5)
    elif p == "plaid":
        out = np.broadcast_to(base, (*shape, 3)).astype(np.float32)
        for scale, colour, width in (
            (1.0, fabric.second, fabric.duty * 0.5),
            (0.5, fabric.third, 0.08),
            (1.0 / 3.0, fabric.second * 0.6, 0.12),
        ):
            sp = period * scale * 3
            sf = max(1.0 / (px_per_unit * sp), 1e-3)
            out = _mix(out, colour, 0.45 * (_band(u / sp, width, sf) + _band(v / sp, width, sf)))
    elif p == "dots":
        row = np.floor(v / period)
        uu = u + (row % 2) * period * 0.5
        du = (uu / period - np.floor(uu / period) - 0.5) * period
        dv = (v / period - np.floor(v / period) - 0.5) * period
        radius = period * (0.12 + fabric.duty * 0.3)
        dist = np.sqrt(du * du + dv * dv)
        m = np.clip((radius - dist) * px_per_unit + 0.5, 0.0, 1.0).astype(np.float32)
        out = _mix(base, fabric.second, m)
    elif p == "print":
        size = int(np.clip(fabric.period * px_per_unit, 12, 160))
        tile = _print_tile(rng, fabric, size)
        ix = np.floor(u * px_per_unit).astype(np.int64) % size
        iy = np.floor(v * px_per_unit).astype(np.int64) % size
        out = tile[iy, ix]
    elif p == "denim":
        twill = np.sin((u + v) * (2 * math.pi / period)).astype(np.float32)
        fade = _low_noise(rng, shape, 4)
        out = base[None, None, :] * (0.92 + 0.06 * twill + 0.25 * fade)[..., None]
        fabric = dataclasses.replace(fabric, grain=max(fabric.grain, 0.6))
    elif p == "knit":
        ribs = np.sin(u * (2 * math.pi / period)).astype(np.float32)
        out = base[None, None, :] * (1.0 + 0.09 * ribs)[..., None]
    elif p == "camo":
        n = _low_noise(rng, shape, int(np.clip(max(shape) / (period * px_per_unit), 2, 14)))
        out = _mix(base, fabric.second, np.clip((n - 0.55) * 12, 0, 1))
        out = _mix(out, fabric.third, np.clip((n - 0.75) * 12, 0, 1))
    elif p == "photo" and fabric.photo is not None:
        height, width = fabric.photo.shape[:2]
        per_unit = max(height, width) / period  # texture pixels per garment unit
        out = fabric.photo[
            _mirrored_index(v * per_unit, height), _mirrored_index(u * per_unit, width)
        ]
    elif p == "block":
        edge = np.clip((v - period) * px_per_unit + 0.5, 0, 1).astype(np.float32)
        out = _mix(fabric.second, base, edge)
    else:  # solid / heather
        out = np.broadcast_to(base, (*shape, 3)).astype(np.float32)
    grain = fabric.grain * (3.0 if p == "heather" else 1.0)
    if grain > 0.02 and max(shape) <= 1024:
        fibre = noise(rng, (shape[0], shape[1]))
        out = out * (1.0 + np.float32(0.035 * grain) * fibre)[..., None]
    return np.ascontiguousarray(out, dtype=np.float32)


def random_text(rng: np.random.Generator) -> str:
    """A brand-like word or two."""
    letters = (
        string.ascii_uppercase + string.digits if rng.random() < 0.3 else string.ascii_uppercase
    )
    words = [
        "".join(rng.choice(list(letters), size=int(rng.integers(2, 8))))
        for _ in range(int(rng.integers(1, 3)))
    ]
    return " ".join(words)


def skin_tone(rng: np.random.Generator) -> npt.NDArray[np.float32]:
    """A skin colour from very light to very dark, float32 [3] RGB."""
    light = np.array([244, 212, 190], np.float32)
    dark = np.array([78, 52, 40], np.float32)
    t = float(rng.beta(1.6, 1.6))
    tone = light * (1 - t) + dark * t
    return near_colour(rng, tone, 10)


def hair_colour(rng: np.random.Generator) -> npt.NDArray[np.float32]:
    """Black, brown, blond, red or grey hair, float32 [3] RGB."""
    palette = np.array(
        [[20, 16, 14], [55, 38, 28], [95, 65, 40], [190, 160, 110], [140, 70, 35], [170, 170, 165]],
        np.float32,
    )
    weights = np.array([0.35, 0.3, 0.15, 0.1, 0.05, 0.05])
    return near_colour(rng, palette[int(rng.choice(6, p=weights))], 12)
