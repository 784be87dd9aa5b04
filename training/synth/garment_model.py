"""The garment data model: kinds, presentations, drawable parts and strokes, arms, `Garment`,
and the measurements of a top being built (`TopDraft`). Garment units as in `garments`."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable

import numpy as np

from training.synth.geometry import (
    Points,
    bbox,
    chain,
    cubic,
    mirror,
    pt,
    subdivide,
)


class Kind(enum.StrEnum):
    """Garment kinds; the first six are upper-body tops."""

    TSHIRT = "tshirt"
    LONG_SLEEVE = "long_sleeve"
    TANK = "tank"
    JACKET = "jacket"
    SWEATER = "sweater"
    SHIRT = "shirt"
    TROUSERS = "trousers"
    SKIRT = "skirt"
    DRESS = "dress"


TOPS = (Kind.TSHIRT, Kind.LONG_SLEEVE, Kind.TANK, Kind.JACKET, Kind.SWEATER, Kind.SHIRT)


class Pose(enum.StrEnum):
    """How the garment is presented to the camera."""

    FLAT = "flat"  # flat lay, shot from above
    HANGING = "hanging"  # on a hanger
    WORN = "worn"  # on a person facing the camera
    TURNED = "turned"  # on a person turned a little (3/4 view)
    HELD = "held"  # held up by two hands at the shoulders


WORN_POSES = (Pose.WORN, Pose.TURNED)


# Draw layers: the inside of the back shows through necklines, the body covers it, sleeves lie
# on top of the body (they cover the armhole seam, as on a real garment).
BACK, BODY, SLEEVE = 0, 1, 2


@dataclasses.dataclass
class Part:
    """One filled piece of a garment.

    Attributes:
        poly: float64 [N, 2] outline in garment units.
        layer: BACK, BODY or SLEEVE.
        fabric: "main", "inner" (the layer under an open jacket) or "trim" (ribbing, collars).
        tone: brightness multiplier; inside pieces are darker because they are in shadow.
        angle: orientation of the fabric pattern in radians, so stripes follow a sleeve.
        pivot: float64 [2], the point the pattern rotates about.
    """

    poly: Points
    layer: int
    fabric: str = "main"
    tone: float = 1.0
    angle: float = 0.0
    pivot: Points = dataclasses.field(default_factory=lambda: pt(0.0, 0.0))


@dataclasses.dataclass
class Stroke:
    """A seam, fold edge, hem stitch or placket line, drawn as a darker/lighter line.

    Attributes:
        pts: float64 [N, 2] polyline in garment units.
        width: line width in garment units.
        tone: brightness multiplier along the line (<1 darker, >1 lighter).
        layer: the layer whose parts it is drawn on.
        dashed: a stitch line rather than a continuous seam.
    """

    pts: Points
    width: float
    tone: float
    layer: int
    dashed: bool = False


@dataclasses.dataclass
class Arm:
    """Where a wearer's arm runs, so a figure can draw it in and out of the sleeve.

    The arm is two segments, shoulder -> elbow -> wrist. A long sleeve follows both (its cuff
    is the wrist); a short sleeve covers only the top of the upper arm.

    Attributes:
        root: float64 [2], shoulder joint (start of the arm axis).
        elbow: float64 [2].
        wrist: float64 [2], where the hand starts (a long sleeve's cuff centre).
        side: -1 image-left, +1 image-right.
        cuff_half: half-width of the sleeve opening (the arm must be thinner than this).
        style: how the arm is posed, one of `ARM_STYLES`.
    """

    root: Points
    elbow: Points
    wrist: Points
    side: int
    cuff_half: float
    style: str = "down"

    @property
    def direction(self) -> Points:
        """Unit vector of the upper arm."""
        return unit(self.elbow - self.root)

    @property
    def fore_direction(self) -> Points:
        """Unit vector of the forearm."""
        return unit(self.wrist - self.elbow)

    @property
    def front(self) -> bool:
        """Whether the forearm crosses in front of the torso (drawn over the garment body)."""
        return self.style in ("front", "hip", "pocket")

    def along(self, t: float) -> tuple[Points, Points]:
        """(point, unit direction) at distance `t` along root -> elbow -> wrist."""
        upper = float(np.hypot(*(self.elbow - self.root)))
        if t <= upper:
            return self.root + self.direction * t, self.direction
        return self.elbow + self.fore_direction * (t - upper), self.fore_direction


def unit(v: Points) -> Points:
    """`v` scaled to length 1 (unchanged if it is ~0)."""
    return v / max(float(np.hypot(*v)), 1e-9)


@dataclasses.dataclass
class Garment:
    """A garment ready to draw.

    Attributes:
        kind: what it is.
        clothes_type: 1 upper body, 2 lower body, 3 full body (DeepFashion codes).
        landmarks: float64 [k, 2] in garment units, DeepFashion order (k = 6, 4 or 8).
        parts: filled pieces in draw order within each layer.
        strokes: seams and other lines.
        buttons: (centre [2], radius) pairs, drawn on the BODY layer.
        arms: left then right arm axes for a wearer (empty for lower-body garments).
        chest: float64 [2], centre of the chest area (logos, prints).
        chest_width: usable width there, garment units.
        neck_half: half-width of the neckline.
        shoulder: float64 [2], right shoulder point (mirror for the left).
        hem_y: hem height at the centre.
        hem_half: half-width at the hem.
        sleeve_length: 0 for sleeveless.
    """

    kind: Kind
    clothes_type: int
    landmarks: Points
    parts: list[Part]
    strokes: list[Stroke]
    buttons: list[tuple[Points, float]]
    arms: list[Arm]
    chest: Points
    chest_width: float
    neck_half: float
    shoulder: Points
    hem_y: float
    hem_half: float
    sleeve_length: float

    def displaced(self, field: Callable[[Points], Points], step: float = 0.08) -> Garment:
        """A copy with `field` applied to every point: outlines (first subdivided every
        `step` units so edges can bend), seams, buttons, arm axes and landmarks."""
        groups: list[Points] = [subdivide(part.poly, step) for part in self.parts]
        groups += [part.pivot[None] for part in self.parts]
        groups += [subdivide(stroke.pts, step, closed=False) for stroke in self.strokes]
        groups += [centre[None] for centre, _ in self.buttons]
        groups += [np.stack([arm.root, arm.elbow, arm.wrist]) for arm in self.arms]
        groups.append(self.landmarks)
        # One call for all points: the field is cheap per point but not per call.
        moved = np.split(field(np.concatenate(groups)), np.cumsum([len(g) for g in groups])[:-1])
        it = iter(moved)
        polys = [next(it) for _ in self.parts]
        pivots = [next(it)[0] for _ in self.parts]
        strokes = [dataclasses.replace(stroke, pts=next(it)) for stroke in self.strokes]
        buttons = [(next(it)[0], radius) for _, radius in self.buttons]
        arms = [
            dataclasses.replace(arm, root=j[0], elbow=j[1], wrist=j[2])
            for arm, j in ((arm, next(it)) for arm in self.arms)
        ]
        parts = [
            dataclasses.replace(part, poly=poly, pivot=pivot)
            for part, poly, pivot in zip(self.parts, polys, pivots, strict=True)
        ]
        return dataclasses.replace(
            self, parts=parts, strokes=strokes, buttons=buttons, arms=arms, landmarks=next(it)
        )

    def outline_points(self) -> Points:
        """Every outline point of every part, float64 [N, 2] (for extents)."""
        return np.concatenate([part.poly for part in self.parts], axis=0)

    def extent(self) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1) of the garment in garment units."""
        return bbox(self.outline_points())


def uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(rng.uniform(low, high))


def mirror_poly(poly: Points) -> Points:
    """The mirror image of an outline, reversed so both keep the same winding."""
    return mirror(poly)[::-1]


def band(path: Points, width: float) -> Points:
    """A closed band of `width` along an open polyline (offset on the path's left side)."""
    seg = np.gradient(path, axis=0)
    seg /= np.maximum(np.hypot(seg[:, 0], seg[:, 1]), 1e-9)[:, None]
    normal = np.stack([seg[:, 1], -seg[:, 0]], axis=1)
    return np.concatenate([path, (path + normal * width)[::-1]], axis=0)


@dataclasses.dataclass
class TopDraft:
    """Measurements of one top being built, and the pieces collected so far (garment units).

    The `right_*` curves run down the image-right half; the left half is their mirror image.
    """

    kind: Kind
    pose: Pose
    neck_half: float
    neck_style: str
    neck_depth: float
    shoulder: Points  # right shoulder point (a tank: the end of the strap)
    drop: float  # shoulder slope: how far the shoulder line falls from collar to shoulder
    armpit: Points  # right armpit
    armhole: float  # armhole depth
    body_half: float
    hem_half: float
    length: float  # hem height at the centre front
    side_len: float  # hem height at the side seams (hem corners)
    shoulder_line: Points
    armhole_curve: Points
    hem: Points  # right hem corner -> hem centre
    waist_in: float  # how far the side seam curves in at the waist
    parts: list[Part] = dataclasses.field(default_factory=list)
    strokes: list[Stroke] = dataclasses.field(default_factory=list)
    buttons: list[tuple[Points, float]] = dataclasses.field(default_factory=list)

    @property
    def worn(self) -> bool:
        return self.pose in WORN_POSES

    @property
    def hem_y(self) -> float:
        return float(self.hem[-1, 1])

    @property
    def right_side(self) -> Points:
        """Right collar corner -> shoulder -> armpit -> hem corner -> hem centre, [N, 2]."""
        corner = pt(self.hem_half, self.side_len)
        span = self.side_len - float(self.armpit[1])
        side_seam = cubic(
            self.armpit,
            self.armpit + pt(-self.waist_in, span * 0.35),
            corner + pt(-self.waist_in * 0.6, -span * 0.35),
            corner,
            10,
        )
        return chain(self.shoulder_line, self.armhole_curve, side_seam, self.hem)
