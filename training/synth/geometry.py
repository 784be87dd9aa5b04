"""Small 2-D geometry helpers shared by the garment, figure and scene builders.

Every point set is a float64 array of shape [N, 2] holding (x, y) with y pointing down, the
image convention, so "left" is always smaller x.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import numpy.typing as npt

Points = npt.NDArray[np.float64]
"""float64 [N, 2] (x, y) points."""


def pt(x: float, y: float) -> Points:
    """One point as a float64 [2] array."""
    return np.array([x, y], dtype=np.float64)


def lerp(a: float, b: float, t: float) -> float:
    """Linear interpolation between two scalars."""
    return a + (b - a) * t


@functools.lru_cache(maxsize=64)
def _bernstein(n: int, degree: int) -> npt.NDArray[np.float64]:
    """Bernstein weights, float64 [n, degree + 1], for n samples of t in [0, 1] (read-only)."""
    t = np.linspace(0.0, 1.0, n)[:, None]
    u = 1.0 - t
    k = np.arange(degree + 1)[None, :]
    weights = np.array([math.comb(degree, i) for i in range(degree + 1)])[None, :]
    out = weights * t**k * u ** (degree - k)
    out.flags.writeable = False
    return out


def cubic(p0: Points, p1: Points, p2: Points, p3: Points, n: int = 12) -> Points:
    """Samples a cubic Bezier curve.

    Args:
        p0, p1, p2, p3: float64 [2] control points.
        n: number of samples, both ends included.

    Returns:
        float64 [n, 2] points from p0 to p3.
    """
    return _bernstein(n, 3) @ np.stack([p0, p1, p2, p3])


def quad(p0: Points, c: Points, p1: Points, n: int = 10) -> Points:
    """Samples a quadratic Bezier curve (float64 [n, 2], p0 to p1) with control point c."""
    return _bernstein(n, 2) @ np.stack([p0, c, p1])


def arc(centre: Points, rx: float, ry: float, start: float, stop: float, n: int = 16) -> Points:
    """Samples an elliptical arc, angles in radians measured from +x towards +y (down).

    Returns:
        float64 [n, 2] points from angle `start` to angle `stop`.
    """
    angles = np.linspace(start, stop, n)
    return np.stack([centre[0] + rx * np.cos(angles), centre[1] + ry * np.sin(angles)], axis=1)


def rotate(vector: Points, angle: float) -> Points:
    """Rotates [2] or [N, 2] vectors by `angle` radians (positive turns +x towards +y)."""
    c, s = math.cos(angle), math.sin(angle)
    matrix = np.array([[c, -s], [s, c]])
    return np.asarray(vector @ matrix.T, dtype=np.float64)


def mirror(points: Points) -> Points:
    """Mirrors points across the vertical axis x = 0 (left <-> right)."""
    return points * np.array([-1.0, 1.0])


def direction(angle_from_down: float, side: int) -> Points:
    """Unit vector `angle_from_down` radians away from straight down, towards `side` (+1 right).

    0 hangs straight down, pi/2 points horizontally outwards, beyond pi/2 points upwards.
    """
    return pt(side * math.sin(angle_from_down), math.cos(angle_from_down))


def normal_towards_body(d: Points, side: int) -> Points:
    """The unit normal of limb direction `d` on the side facing the body (and the armpit)."""
    return pt(-side * d[1], side * d[0])


def signed_angle(a: Points, b: Points) -> float:
    """The angle (radians) that `rotate` turns unit vector `a` by to reach direction `b`."""
    return math.atan2(a[0] * b[1] - a[1] * b[0], a[0] * b[0] + a[1] * b[1])


def two_link_elbow(root: Points, target: Points, upper: float, fore: float, side: int) -> Points:
    """Elbow of a two-segment limb from `root` reaching for `target` (a simple inverse
    kinematics solve), bent so the elbow points away from the body (`side`: +1 right).

    A target out of reach straightens the limb towards it; one too close folds it fully.

    Returns:
        float64 [2] elbow position, `upper` away from `root`.
    """
    to = target - root
    dist = float(np.hypot(*to))
    dist = min(max(dist, abs(upper - fore) + 1e-6), upper + fore - 1e-6)
    cos_root = (upper**2 + dist**2 - fore**2) / (2 * upper * dist)
    spread = math.acos(max(-1.0, min(1.0, cos_root)))
    base = to / max(float(np.hypot(*to)), 1e-9)
    options = [root + rotate(base, sign * spread) * upper for sign in (-1.0, 1.0)]
    return max(options, key=lambda e: float(e[0]) * side)


def chain(*pieces: Points) -> Points:
    """Concatenates polyline pieces, dropping a piece's first point where it repeats the last."""
    out: list[Points] = []
    for piece in pieces:
        if out and len(piece) and abs(out[-1][-1] - piece[0]).max() < 1e-9:
            piece = piece[1:]
        if len(piece):
            out.append(piece)
    return np.concatenate(out, axis=0)


def bbox(points: Points) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1) of a point set."""
    return (
        float(points[:, 0].min()),
        float(points[:, 1].min()),
        float(points[:, 0].max()),
        float(points[:, 1].max()),
    )


def limb(start: Points, end: Points, half_start: float, half_end: float) -> Points:
    """A tapered quadrilateral around the segment start-end (float64 [4, 2])."""
    d = end - start
    d = d / max(float(np.hypot(*d)), 1e-9)
    n = pt(-d[1], d[0])
    return np.stack(
        [start + n * half_start, end + n * half_end, end - n * half_end, start - n * half_start]
    )


def subdivide(poly: Points, step: float, closed: bool = True) -> Points:
    """Inserts points so no edge is longer than `step`; original vertices are kept.

    Args:
        poly: float64 [N, 2].
        step: longest allowed edge.
        closed: also subdivide the edge from the last point back to the first.

    Returns:
        float64 [M, 2], M >= N.
    """
    if len(poly) < 2:
        return poly
    ends = np.roll(poly, -1, axis=0) if closed else poly[1:]
    starts = poly if closed else poly[:-1]
    lengths = np.hypot(*(ends - starts).T)
    counts = np.maximum(1, np.ceil(lengths / step).astype(np.int64))
    # For each edge, fractions 0, 1/k, ..., (k-1)/k of the way to its end.
    edge = np.repeat(np.arange(len(starts)), counts)
    offsets = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    frac = (offsets / counts[edge])[:, None]
    out = starts[edge] + (ends[edge] - starts[edge]) * frac
    return out if closed else np.concatenate([out, poly[-1:]], axis=0)


class SmoothField:
    """A smooth random 2-D displacement field (a few plane waves per axis).

    Applied to every point of a garment, outlines and landmarks alike, it makes edges wavy
    like draped cloth while each landmark stays exactly on its corner.
    """

    def __init__(self, rng: np.random.Generator, amplitude: float, cycles: tuple[float, float]):
        """Draws the field.

        Args:
            rng: random generator.
            amplitude: largest displacement per wave, in the points' units.
            cycles: range of spatial frequencies, cycles per unit.
        """
        waves = 3
        angles = rng.uniform(0, 2 * math.pi, (2, waves))
        freq = rng.uniform(cycles[0], cycles[1], (2, waves)) * 2 * math.pi
        self._k = np.stack([np.cos(angles), np.sin(angles)], axis=-1) * freq[..., None]
        self._phase = rng.uniform(0, 2 * math.pi, (2, waves))
        self._amp = amplitude * rng.uniform(0.3, 1.0, (2, waves)) / math.sqrt(waves)

    def __call__(self, points: Points) -> Points:
        """Displaced copy of float64 [N, 2] points (any [..., 2] shape)."""
        p = np.asarray(points, dtype=np.float64)
        out = p.copy()
        for axis in range(2):
            phase = p @ self._k[axis].T + self._phase[axis]  # [..., waves]
            out[..., axis] += np.sin(phase) @ self._amp[axis]
        return out
