"""Garment shapes and their landmarks, built from one set of numbers.

Every garment is laid out in *garment units* in an upright, camera-facing frame: x grows to the
image's right, y grows downwards, the origin is the centre of the neckline at collar height and
the garment's shoulder half-width is about 1. The same points that outline the polygons are the
landmarks, so a landmark can never drift off the drawing.

Landmark conventions (DeepFashion, front view: odd ids on the image's left):

- collar (1, 2): the neckline's top corners, where the neckline meets the shoulder seam;
- sleeve (3, 4): the centre of the cuff opening, wherever the sleeve ends (a sleeve bent at the
  elbow ends at the forearm's cuff); for sleeveless tops, the armhole's outer end: the corner
  under the arm where the armhole edge meets the side seam (see `_add_sleeves`);
- hem (5, 6): the bottom corners at the side seams (for shirt-tails: where the side seam ends);
- lower body: waistband corners, then the hem (trousers: centre of each leg opening);
- full body (dress): collar, sleeve, waistline at the side seams, hem corners.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Callable

import numpy as np

from training.synth.geometry import (
    Points,
    arc,
    bbox,
    chain,
    cubic,
    direction,
    lerp,
    mirror,
    normal_towards_body,
    pt,
    quad,
    rotate,
    signed_angle,
    subdivide,
    two_link_elbow,
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
        return _unit(self.elbow - self.root)

    @property
    def fore_direction(self) -> Points:
        """Unit vector of the forearm."""
        return _unit(self.wrist - self.elbow)

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


def _unit(v: Points) -> Points:
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


NECKLINES = ("crew", "crew", "v", "scoop", "square", "boat")
_NECK_DEPTH = {
    "crew": (0.12, 0.28),
    "v": (0.45, 0.95),
    "scoop": (0.35, 0.7),
    "square": (0.3, 0.55),
    "boat": (0.05, 0.14),
}


def _u(rng: np.random.Generator, low: float, high: float) -> float:
    return float(rng.uniform(low, high))


def _sleeve_angle(rng: np.random.Generator, pose: Pose) -> float:
    """Sleeve angle from straight down, radians; depends on how the garment is shown."""
    if pose is Pose.FLAT:
        degrees = _u(rng, 8, 35) if rng.random() < 0.2 else _u(rng, 30, 105)
    elif pose is Pose.HANGING:
        degrees = _u(rng, 3, 22)
    elif pose is Pose.HELD:
        # Held up by the shoulders, sleeves hang nearly straight down under their weight.
        degrees = _u(rng, 2, 14) if rng.random() < 0.75 else _u(rng, 14, 32)
    else:
        # Arms mostly down beside the body; sometimes held a little away.
        degrees = _u(rng, 7, 22) if rng.random() < 0.8 else _u(rng, 22, 50)
    return math.radians(degrees)


def _neckline(rng: np.random.Generator, style: str, half: float, depth: float) -> Points:
    """Front neckline from the left collar corner (-half, 0) to the right one, [N, 2]."""
    left, right = pt(-half, 0.0), pt(half, 0.0)
    if style == "v":
        bottom = pt(0.0, depth)
        bend = _u(rng, -0.08, 0.05)
        return chain(
            quad(left, pt(-half * 0.5 + bend, depth * 0.5), bottom, 8),
            quad(bottom, pt(half * 0.5 - bend, depth * 0.5), right, 8),
        )
    if style == "square":
        return chain(
            cubic(left, pt(-half, depth * 0.8), pt(-half * 0.9, depth), pt(0.0, depth), 8),
            cubic(pt(0.0, depth), pt(half * 0.9, depth), pt(half, depth * 0.8), right, 8),
        )
    return arc(pt(0.0, 0.0), half, depth, math.pi, 0.0, 18)


def _sleeve(
    shoulder: Points,
    armpit: Points,
    angle: float,
    length: float,
    hang_half: float,
    cuff_half: float,
    side: int,
) -> tuple[Points, Points, Points, Points, float]:
    """Outline of one sleeve as a tapered tube hinged at the shoulder.

    The tube's root width grows from `hang_half` (hanging: the sleeve falls in folds) to half
    the armhole (spread horizontally, the armhole is fully open); its axis sits at the shoulder
    point when hanging and at the armhole centre when spread.

    Returns:
        (outline [N, 2], cuff centre [2], axis root [2], unit direction [2], root half-width).
    """
    d = direction(angle, side)
    n = normal_towards_body(d, side)
    spread = math.sin(min(angle, math.pi / 2))
    full_half = float(np.hypot(*(armpit - shoulder))) / 2
    root_half = lerp(hang_half, full_half, spread)
    root = shoulder + n * root_half * lerp(-0.05, 1.0, spread)
    cuff = root + d * length
    outer_root, inner_root = root - n * root_half, root + n * root_half
    outer_cuff, inner_cuff = cuff - n * cuff_half, cuff + n * cuff_half
    outline = chain(
        quad(shoulder, outer_root, outer_cuff, 10),
        np.stack([inner_cuff]),
        quad(inner_cuff, (inner_cuff + inner_root) / 2 + n * 0.02, inner_root, 6),
        np.stack([armpit]),
    )
    return outline, cuff, root, d, root_half


def _mirror_poly(poly: Points) -> Points:
    """The mirror image of an outline, reversed so both keep the same winding."""
    return mirror(poly)[::-1]


def _band(path: Points, width: float) -> Points:
    """A closed band of `width` along an open polyline (offset on the path's left side)."""
    seg = np.gradient(path, axis=0)
    seg /= np.maximum(np.hypot(seg[:, 0], seg[:, 1]), 1e-9)[:, None]
    normal = np.stack([seg[:, 1], -seg[:, 0]], axis=1)
    return np.concatenate([path, (path + normal * width)[::-1]], axis=0)


@dataclasses.dataclass
class _Top:
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


def _measure_top(
    rng: np.random.Generator, kind: Kind, pose: Pose, bodice_length: float | None
) -> _Top:
    """Samples the proportions of a top: neck, shoulders, armholes, body, length and hem."""
    worn = pose in WORN_POSES
    # A worn garment wraps a rounded torso, so seen from the front it looks narrower than the
    # same garment laid flat.
    squeeze = _u(rng, 0.82, 0.93) if worn else 1.0
    if kind is Kind.TANK:
        neck_half = _u(rng, 0.3, 0.5)
    elif kind is Kind.SHIRT:
        neck_half = _u(rng, 0.25, 0.33)
    elif kind is Kind.JACKET:
        neck_half = _u(rng, 0.3, 0.42)
    else:
        neck_half = _u(rng, 0.27, 0.42)
    shoulder_half = _u(rng, 0.95, 1.02) if worn else 1.0
    drop = _u(rng, 0.08, 0.3)
    armhole = _u(rng, 0.95, 1.35) if kind is Kind.TANK else _u(rng, 0.72, 1.0)
    body_half = _u(rng, 0.88, 1.0) * squeeze
    hem_half = body_half * _u(rng, 0.9, 1.12)
    length = _u(rng, 1.9, 2.35) if rng.random() < 0.1 else _u(rng, 2.4, 3.3)
    if kind is Kind.JACKET and rng.random() < 0.4:
        length = _u(rng, 3.2, 3.9)
    if bodice_length is not None:
        length = bodice_length
        hem_half = body_half * _u(rng, 0.78, 0.9)

    # Neckline style per kind; the collar landmarks are always its two top corners.
    if kind is Kind.SHIRT:
        neck_style, neck_depth = "v", _u(rng, 0.12, 0.2)  # a small V under the collar
    elif kind is Kind.JACKET:
        neck_style, neck_depth = "open", _u(rng, 0.7, 1.5)
    else:
        styles = ["crew", "crew", "v"] if kind is Kind.SWEATER else NECKLINES
        neck_style = str(rng.choice(styles))
        low, high = _NECK_DEPTH[neck_style]
        neck_depth = _u(rng, low, high)
        if neck_style == "boat":
            neck_half = min(neck_half * 1.3, 0.55)

    if kind is Kind.TANK:
        # The end of the strap, always inside the armpit: the armhole is cut in, so its outer
        # end (the sleeve landmark, see `_add_sleeves`) is the armpit corner.
        strap_end = min(neck_half + _u(rng, 0.12, 0.38), body_half - 0.08)
        shoulder = pt(strap_end, drop * 0.5)
    else:
        shoulder = pt(shoulder_half, drop)
    armpit = pt(body_half, drop + armhole)

    hem_style = str(rng.choice(["straight", "straight", "curved", "shirttail"]))
    if kind is Kind.SHIRT:
        hem_style = "shirttail" if rng.random() < 0.6 else "straight"
    if kind in (Kind.JACKET, Kind.SWEATER) or bodice_length is not None:
        hem_style = "straight"
    tail = _u(rng, 0.15, 0.35) if hem_style == "shirttail" else 0.0
    side_len = length - tail
    corner = pt(hem_half, side_len)
    if hem_style == "shirttail":
        hem = cubic(corner, pt(hem_half, length), pt(hem_half * 0.45, length), pt(0.0, length))
    else:
        sag = _u(rng, 0.1, 0.25) if hem_style == "curved" else _u(rng, -0.02, 0.06)
        hem = quad(corner, pt(hem_half * 0.5, length + sag), pt(0.0, length + sag), 8)

    shoulder_line = quad(
        pt(neck_half, 0.0), pt(lerp(neck_half, shoulder[0], 0.5), 0.0), shoulder, 6
    )
    if kind is Kind.TANK:
        # Cut deep and curving in towards the strap.
        armhole_curve = cubic(
            shoulder,
            shoulder + pt(-0.02, armhole * 0.45),
            armpit + pt(-_u(rng, 0.12, 0.3), -armhole * 0.05),
            armpit,
            12,
        )
    else:
        armhole_curve = cubic(
            shoulder, shoulder + pt(0.0, armhole * 0.4), armpit + pt(0.05, -armhole * 0.3), armpit
        )
    return _Top(
        kind=kind,
        pose=pose,
        neck_half=neck_half,
        neck_style=neck_style,
        neck_depth=neck_depth,
        shoulder=shoulder,
        drop=drop,
        armpit=armpit,
        armhole=armhole,
        body_half=body_half,
        hem_half=hem_half,
        length=length,
        side_len=side_len,
        shoulder_line=shoulder_line,
        armhole_curve=armhole_curve,
        hem=hem,
        waist_in=_u(rng, 0.0, 0.12),
    )


def _add_back(rng: np.random.Generator, top: _Top) -> None:
    """The inside of the back, seen through the neckline.

    A wearer's neck hides most of it, so worn garments get only a band behind the neck.
    """
    back_depth = _u(rng, 0.03, 0.1)
    if top.worn:
        rim = arc(pt(0.0, 0.0), top.neck_half, -back_depth * 0.5 - 0.02, math.pi, 0.0, 14)
        top.parts.append(Part(_band(rim, 0.07), BACK, tone=0.62))
    else:
        back_neck = arc(pt(0.0, 0.0), top.neck_half, back_depth, math.pi, 0.0, 14)
        right = top.right_side
        top.parts.append(Part(chain(back_neck, right, _mirror_poly(right)), BACK, tone=0.6))


def _add_open_front(rng: np.random.Generator, top: _Top) -> None:
    """An open jacket: two front panels with lapels over an inner layer (a tee or shirt)."""
    nh, depth, hem_y = top.neck_half, top.neck_depth, top.hem_y
    inner_w = nh * _u(rng, 0.9, 1.3)
    inner = chain(
        _neckline(rng, "crew", nh * 0.75, _u(rng, 0.12, 0.25)),
        np.stack([pt(inner_w, 0.1), pt(inner_w, top.length - 0.05)]),
        np.stack([pt(-inner_w, top.length - 0.05), pt(-inner_w, 0.1)]),
    )
    top.parts.append(Part(inner, BACK, fabric="inner"))

    gap = _u(rng, 0.02, 0.3)
    lapel_bottom = pt(gap, depth)
    bottom_gap = gap * _u(rng, 0.8, 1.3)
    edge = top.right_side[1:-1]
    edge = edge[(edge[:, 0] > bottom_gap + 0.03) | (edge[:, 1] < hem_y - 0.3)]
    front_right = chain(
        np.stack([pt(nh, 0.0)]), edge, np.stack([pt(bottom_gap, hem_y), lapel_bottom])
    )
    top.parts.append(Part(front_right, BODY))
    top.parts.append(Part(_mirror_poly(front_right), BODY))

    lapel_w = _u(rng, 0.15, 0.35)
    lapel = np.stack(
        [
            pt(nh, 0.0),
            pt(nh + lapel_w * 0.5, depth * 0.35),
            pt(gap + lapel_w, depth * 0.8),
            lapel_bottom,
        ]
    )
    lapel_tone = _u(rng, 0.8, 0.95)
    top.parts.append(Part(lapel, BODY, fabric="trim", tone=lapel_tone))
    top.parts.append(Part(_mirror_poly(lapel), BODY, fabric="trim", tone=lapel_tone))
    top.strokes.append(Stroke(lapel, 0.025, 0.7, BODY))
    top.strokes.append(Stroke(mirror(lapel), 0.025, 0.7, BODY))
    if rng.random() < 0.6:
        step = _u(rng, 0.35, 0.5)
        for i in range(int(rng.integers(1, 4))):
            y = depth + 0.15 + i * step
            if y < hem_y - 0.2:
                top.buttons.append((pt(-gap - 0.12, y), _u(rng, 0.045, 0.075)))
    for sx in (-1, 1):
        if rng.random() < 0.7:
            # Pocket flaps.
            cx, cy = sx * top.hem_half * 0.55, lerp(float(top.armpit[1]), hem_y, 0.62)
            flap = np.stack(
                [
                    pt(cx - 0.28, cy),
                    pt(cx + 0.28, cy - 0.02 * sx),
                    pt(cx + 0.28, cy + 0.12),
                    pt(cx - 0.28, cy + 0.12),
                    pt(cx - 0.28, cy),
                ]
            )
            top.strokes.append(Stroke(flap, 0.02, 0.72, BODY))


def _add_closed_front(rng: np.random.Generator, top: _Top) -> None:
    """The front panel with its neckline, and a ribbed neckband on knitwear."""
    neckline = _neckline(rng, top.neck_style, top.neck_half, top.neck_depth)
    right = top.right_side
    top.parts.append(Part(chain(neckline, right, _mirror_poly(right)), BODY))
    if top.kind in (Kind.SWEATER, Kind.TSHIRT, Kind.LONG_SLEEVE) or rng.random() < 0.5:
        rib = _u(rng, 0.05, 0.12) if top.kind is Kind.SWEATER else _u(rng, 0.03, 0.07)
        tone = _u(rng, 0.9, 1.05)
        top.parts.append(Part(_band(neckline, -rib), BODY, fabric="trim", tone=tone))
        top.strokes.append(Stroke(neckline + pt(0.0, rib), 0.015, 0.8, BODY))


def _add_shirt_collar(rng: np.random.Generator, top: _Top) -> None:
    """Pointed collar (two flaps meeting at the top button, a stand behind the neck), button
    placket and sometimes a chest pocket."""
    nh, depth, hem_y = top.neck_half, top.neck_depth, top.hem_y
    stand = _band(arc(pt(0.0, 0.0), nh, -0.04, math.pi, 0.0, 12), 0.1)
    top.parts.append(Part(stand, BODY, fabric="trim", tone=0.85))
    point = pt(-nh * _u(rng, 0.25, 0.7), _u(rng, 0.38, 0.6))
    outer = pt(-nh - _u(rng, 0.04, 0.14), _u(rng, 0.1, 0.22))
    flap = np.stack([pt(-nh, 0.0), pt(-0.03, depth), point, outer])
    top.parts.append(Part(flap, BODY, fabric="trim"))
    top.parts.append(Part(_mirror_poly(flap), BODY, fabric="trim"))
    closed = np.concatenate([flap, flap[:1]])
    top.strokes.append(Stroke(closed, 0.02, 0.72, BODY))
    top.strokes.append(Stroke(mirror(closed), 0.02, 0.72, BODY))
    placket = _u(rng, 0.05, 0.08)
    for x in (-placket, placket):
        line = np.stack([pt(x, depth), pt(x, hem_y - 0.02)])
        top.strokes.append(Stroke(line, 0.015, 0.8, BODY))
    step = _u(rng, 0.3, 0.45)
    y = depth + 0.12
    while y < hem_y - 0.15:
        top.buttons.append((pt(0.0, y), _u(rng, 0.035, 0.055)))
        y += step
    if rng.random() < 0.5:
        cx = -top.hem_half * 0.5
        cy = float(top.armpit[1]) - top.armhole * 0.35
        pocket = np.stack(
            [
                pt(cx - 0.22, cy),
                pt(cx + 0.22, cy),
                pt(cx + 0.22, cy + 0.4),
                pt(cx, cy + 0.48),
                pt(cx - 0.22, cy + 0.4),
                pt(cx - 0.22, cy),
            ]
        )
        top.strokes.append(Stroke(pocket, 0.02, 0.75, BODY))


def _add_extras(rng: np.random.Generator, top: _Top) -> None:
    """Henley plackets, ribbed hem bands or hem stitching, hoods and kangaroo pockets."""
    kind, depth = top.kind, top.neck_depth
    if kind in (Kind.LONG_SLEEVE, Kind.TSHIRT) and top.neck_style == "crew" and rng.random() < 0.2:
        for x in (-0.06, 0.06):
            line = np.stack([pt(x, depth), pt(x, depth + 0.6)])
            top.strokes.append(Stroke(line, 0.015, 0.8, BODY))
        for i in range(3):
            top.buttons.append((pt(0.0, depth + 0.12 + i * 0.18), 0.035))

    if kind is Kind.SWEATER or (kind is Kind.LONG_SLEEVE and rng.random() < 0.4):
        band_h = _u(rng, 0.15, 0.35)
        hh, y = top.hem_half, top.side_len
        hem_band = np.stack([pt(-hh, y - band_h), pt(hh, y - band_h), pt(hh, y), pt(-hh, y)])
        top.parts.append(Part(hem_band, BODY, fabric="trim", tone=_u(rng, 0.88, 0.98)))
        top.strokes.append(Stroke(hem_band[:2], 0.02, 0.8, BODY))
    else:
        # Hem stitching a little above the edge.
        stitch = top.hem + pt(0.0, -_u(rng, 0.06, 0.12))
        top.strokes.append(Stroke(stitch, 0.012, 0.8, BODY, dashed=True))
        top.strokes.append(Stroke(_mirror_poly(stitch), 0.012, 0.8, BODY, dashed=True))

    if kind in (Kind.SWEATER, Kind.LONG_SLEEVE) and not top.worn and rng.random() < 0.2:
        # A hood lying behind the neck (drawn first: everything else covers its lower part).
        centre = pt(0.0, _u(rng, -0.05, 0.1))
        rx, ry = top.neck_half + _u(rng, 0.3, 0.55), _u(rng, 0.5, 0.8)
        top.parts.insert(0, Part(arc(centre, rx, ry, math.pi, 2 * math.pi, 20), BACK, tone=0.8))
    if kind in (Kind.SWEATER, Kind.LONG_SLEEVE) and rng.random() < 0.2:
        y = lerp(float(top.armpit[1]), top.hem_y, 0.55)
        pocket = np.stack([pt(-0.45, y + 0.5), pt(-0.3, y), pt(0.3, y), pt(0.45, y + 0.5)])
        top.strokes.append(Stroke(pocket, 0.022, 0.75, BODY))
    if kind is not Kind.TANK:
        for side in (-1, 1):
            top.strokes.append(Stroke(top.shoulder_line * pt(side, 1.0), 0.018, 0.82, BODY))


ARM_STYLES = ("down", "close", "front", "hip", "pocket")
"""How a wearer holds each arm: hanging a little away from the body; hanging close to it (a
long sleeve then ends beside or over the hem); bent at the elbow with the forearm in front of
the torso; hand on the hip, elbow out; hand in a trouser pocket. Shop photos show all of
these, and a model that only saw straight arms misses bent sleeves."""
_ARM_STYLE_P = np.array([0.4, 0.15, 0.2, 0.15, 0.1])

_UPPER_ARM = 1.25  # shoulder joint to elbow, garment units
_FOREARM = 1.15  # elbow to wrist


@dataclasses.dataclass(frozen=True)
class _ArmPose:
    """One arm's pose: the upper arm's angle from straight down (outwards), and the bend at
    the elbow (radians the forearm turns from the upper arm towards the body)."""

    angle: float
    bend: float
    style: str


def _arm_styles(rng: np.random.Generator, pose: Pose) -> tuple[str, str]:
    """(left, right) arm styles; only wearers vary them. Half the time both arms match."""
    if pose not in WORN_POSES:
        return "down", "down"
    first = str(rng.choice(ARM_STYLES, p=_ARM_STYLE_P))
    if rng.random() < 0.5:
        return first, first
    second = str(rng.choice(ARM_STYLES, p=_ARM_STYLE_P))
    return (first, second) if rng.random() < 0.5 else (second, first)


def _wrist_target(rng: np.random.Generator, top: _Top, style: str, side: int) -> Points | None:
    """Where the wrist goes, for the styles defined by a hand position (else None)."""
    armpit_y, hem_y = float(top.armpit[1]), top.side_len
    if style == "hip":
        x = side * top.body_half * _u(rng, 0.8, 1.0)
        return pt(x, lerp(armpit_y, hem_y, _u(rng, 0.45, 0.75)))
    if style == "pocket":
        return pt(side * top.hem_half * _u(rng, 0.45, 0.8), hem_y + _u(rng, 0.1, 0.4))
    return None


def _pose_arm(
    rng: np.random.Generator,
    top: _Top,
    style: str,
    side: int,
    joint: Points,
    base_angle: float,
    lengths: tuple[float, float],
) -> _ArmPose:
    """Samples one arm's pose; hand-placed styles solve for the elbow that reaches the hand.

    Args:
        rng: random generator.
        top: the top being built.
        style: one of `ARM_STYLES`.
        side: -1 left, +1 right.
        joint: float64 [2], (roughly) the shoulder joint.
        base_angle: the garment's sleeve angle for hanging arms; each side varies it.
        lengths: (upper arm, forearm) lengths, garment units.
    """
    target = _wrist_target(rng, top, style, side)
    if target is not None:
        elbow = two_link_elbow(joint, target, lengths[0], lengths[1], side)
        upper = elbow - joint
        angle = math.atan2(side * upper[0], upper[1])
        bend = side * signed_angle(upper, target - elbow)
        # Elbows out, but not flapping: a close target would swing the elbow up sideways.
        low, high = (15, 50) if style == "hip" else (3, 30)
        angle = min(max(angle, math.radians(low)), math.radians(high))
        return _ArmPose(angle, min(max(bend, 0.0), math.radians(150)), style)
    if style == "front":
        # Upper arm hanging, forearm across the waist or chest.
        return _ArmPose(math.radians(_u(rng, 3, 16)), math.radians(_u(rng, 65, 120)), style)
    if style == "close":
        return _ArmPose(math.radians(_u(rng, 1.5, 5)), math.radians(_u(rng, -3, 6)), style)
    # The two sides never match exactly, least of all in a flat lay.
    angle = max(math.radians(3), base_angle + math.radians(_u(rng, -7, 7)))
    bend = 0.0
    if top.worn:
        bend = math.radians(_u(rng, -5, 14))  # relaxed arms are never quite straight
    elif top.pose is Pose.FLAT and rng.random() < 0.12:
        bend = math.radians(_u(rng, 25, 75))  # a long sleeve folded in over the body
    return _ArmPose(angle, bend, style)


def _forearm_direction(upper: Points, elbow: Points, fore: float, bend: float, side: int) -> Points:
    """The forearm's unit direction, the bend eased off until the hand stays on its own side.

    A sleeve end past the body's centre line would swap the image order of the two sleeve
    landmarks, which the usable rows of a front view never have.
    """
    while True:
        f = rotate(upper, side * bend)
        if bend <= 0 or side * float((elbow + f * fore)[0]) >= 0.25:
            return f
        bend = max(0.0, bend - math.radians(10))


def _bare_arm(joint: Points, pose: _ArmPose, side: int, cuff_half: float) -> Arm:
    """The arm of a wearer whose sleeve (if any) ends above the elbow."""
    d = direction(pose.angle, side)
    elbow = joint + d * _UPPER_ARM
    f = _forearm_direction(d, elbow, _FOREARM, pose.bend, side)
    return Arm(joint, elbow, elbow + f * _FOREARM, side, cuff_half, pose.style)


def _add_cuff(
    top: _Top,
    cuff: Points,
    d: Points,
    side: int,
    cuff_half: float,
    look: tuple[bool, float, float],
    pattern: tuple[float, Points],
) -> None:
    """A cuff band (`look` = (cuffed, band length, tone)) or hem stitching at a sleeve end
    running along unit vector `d`; the band's fabric pattern follows `pattern` (angle, pivot)."""
    cuffed, cuff_len, cuff_tone = look
    n = normal_towards_body(d, side)
    if cuffed:
        base = cuff - d * cuff_len
        band = np.stack(
            [
                base - n * cuff_half * 1.04,
                cuff - n * cuff_half,
                cuff + n * cuff_half,
                base + n * cuff_half * 1.04,
            ]
        )
        tilt, pivot = pattern
        top.parts.append(Part(band, SLEEVE, fabric="trim", tone=cuff_tone, angle=tilt, pivot=pivot))
    else:
        stitch = np.stack([cuff - d * 0.08 - n * cuff_half, cuff - d * 0.08 + n * cuff_half])
        top.strokes.append(Stroke(stitch, 0.012, 0.8, SLEEVE, dashed=True))


def _add_forearm(
    top: _Top,
    elbow: Points,
    f: Points,
    fore: float,
    halves: tuple[float, float],
    side: int,
    part: Part,
) -> Points:
    """The lower half of a sleeve bent at the elbow: a round elbow and a tube to the cuff.

    Args:
        top: the top being built.
        elbow: float64 [2], where the upper sleeve ends.
        f: unit forearm direction.
        fore: forearm length.
        halves: (elbow, cuff) half-widths.
        side: -1 left, +1 right.
        part: the upper sleeve (its fabric tone, pattern angle and pivot are reused).

    Returns:
        float64 [2], the cuff centre (the sleeve landmark).
    """
    eh, ch = halves
    n = normal_towards_body(f, side)
    cuff = elbow + f * fore
    # The elbow disc continues the upper sleeve's fabric; the forearm's pattern turns with it.
    top.parts.append(dataclasses.replace(part, poly=arc(elbow, eh, eh, 0.0, 2 * math.pi, 16)))
    tube = np.stack([elbow - n * eh, cuff - n * ch, cuff + n * ch, elbow + n * eh])
    tilt = math.atan2(-f[0], f[1])  # the pattern follows the forearm as `part` the upper arm
    top.parts.append(dataclasses.replace(part, poly=tube, angle=tilt, pivot=elbow.copy()))
    # The crease on the inside of the bend.
    crease = np.stack([elbow + n * eh * 1.05, elbow + n * eh * 0.2 + f * eh * 0.4])
    top.strokes.append(Stroke(crease, 0.03, 0.72, SLEEVE))
    return cuff


def _add_sleeves(rng: np.random.Generator, top: _Top) -> tuple[list[Arm], list[Points], float]:
    """Sleeves (or armhole facings on a tank) and where a wearer's arms run.

    Returns:
        (arms, [left, right] sleeve landmarks, sleeve length; 0 for sleeveless).
    """
    arms: list[Arm] = []
    styles = _arm_styles(rng, top.pose)
    if top.kind is Kind.TANK:
        base_angle = _sleeve_angle(rng, top.pose)
        for side, style in zip((-1, 1), styles, strict=True):
            # The wearer's shoulder joint, well outside the strap.
            joint = pt(side * _u(rng, 0.92, 1.05), top.drop + _u(rng, 0.15, 0.3))
            pose = _pose_arm(rng, top, style, side, joint, base_angle, (_UPPER_ARM, _FOREARM))
            arms.append(_bare_arm(joint, pose, side, 0.3))
            facing = top.armhole_curve * pt(side, 1.0)
            top.strokes.append(Stroke(facing, _u(rng, 0.02, 0.05), 0.85, BODY))
        # Sleeveless (DeepFashion): the "sleeve" landmark is the armhole's outer end, the
        # bottom corner where the armhole edge meets the side seam (under the arm, where a
        # sleeve's underarm seam would end). It is the armhole point farthest from the
        # body's centre line, and a corner of the outline, so it can be found from the shape
        # alone; the strap end is a collar-like point and the middle of the armhole curve
        # has no feature at all.
        return arms, [top.armpit * pt(-1.0, 1.0), top.armpit.copy()], 0.0

    long_sleeves = top.kind in (Kind.LONG_SLEEVE, Kind.JACKET, Kind.SWEATER) or (
        top.kind is Kind.SHIRT and rng.random() < 0.7
    )
    if long_sleeves:
        length, cuff_half = _u(rng, 2.1, 2.8), _u(rng, 0.16, 0.27)
        upper = length * _u(rng, 0.47, 0.54)
        lengths = (upper, length - upper)
    else:
        length, cuff_half = _u(rng, 0.5, 1.15), _u(rng, 0.27, 0.42)
        lengths = (_UPPER_ARM, _FOREARM)
    hang_half = _u(rng, 0.3, 0.4)
    base_angle = _sleeve_angle(rng, top.pose)
    cuffed = (long_sleeves and top.kind is not Kind.JACKET) or rng.random() < 0.3
    look = (cuffed, _u(rng, 0.12, 0.3), _u(rng, 0.85, 0.98))
    points: list[Points] = []
    for side, style in zip((-1, 1), styles, strict=True):
        s, a = top.shoulder * pt(side, 1.0), top.armpit * pt(side, 1.0)
        joint = s + pt(-side * 0.1, 0.15)  # about where the sleeve's axis starts
        pose = _pose_arm(rng, top, style, side, joint, base_angle, lengths)
        bent = long_sleeves and abs(pose.bend) > math.radians(2)
        tube_len, end_half = length, cuff_half
        if bent:
            # Sleeves bunch up a little at the elbow.
            tube_len = lengths[0]
            end_half = lerp(hang_half, cuff_half, lengths[0] / length) * _u(rng, 1.0, 1.12)
        outline, cuff, root, d, root_half = _sleeve(
            s, a, pose.angle, tube_len, hang_half, end_half, side
        )
        tilt = -side * pose.angle  # the pattern follows the sleeve axis
        sleeve = Part(outline, SLEEVE, tone=_u(rng, 0.94, 1.03), angle=tilt, pivot=root)
        top.parts.append(sleeve)
        f = d
        if bent:
            elbow = cuff
            f = _forearm_direction(d, elbow, lengths[1], pose.bend, side)
            cuff = _add_forearm(top, elbow, f, lengths[1], (end_half, cuff_half), side, sleeve)
            arm = Arm(root, elbow, cuff, side, cuff_half, pose.style)
        elif long_sleeves:
            arm = Arm(root, root + d * lengths[0], cuff, side, cuff_half, pose.style)
        else:
            arm = _bare_arm(root, pose, side, cuff_half)
        last = top.parts[-1]
        _add_cuff(top, cuff, f, side, cuff_half, look, (last.angle, last.pivot))
        # The armhole seam where the sleeve meets the body.
        n = normal_towards_body(d, side)
        top.strokes.append(Stroke(np.stack([s, root + n * root_half]), 0.02, 0.8, SLEEVE))
        arms.append(arm)
        points.append(cuff)
    return arms, points, length


def build_top(
    rng: np.random.Generator, kind: Kind, pose: Pose, bodice_length: float | None = None
) -> Garment:
    """Samples an upper-body garment of `kind` shaped for `pose`.

    Args:
        rng: the image's random generator.
        kind: one of `TOPS`.
        pose: presentation; sets the sleeve angles and how wide the body looks.
        bodice_length: if given, a straight hem at this height, narrowed like a waist (the
            top half of a dress).

    Returns:
        A garment with six landmarks (clothes_type 1).
    """
    top = _measure_top(rng, kind, pose, bodice_length)
    _add_back(rng, top)
    if kind is Kind.JACKET:
        _add_open_front(rng, top)
    else:
        _add_closed_front(rng, top)
    if kind is Kind.SHIRT:
        _add_shirt_collar(rng, top)
    _add_extras(rng, top)
    arms, sleeve_points, sleeve_length = _add_sleeves(rng, top)

    nh, hh = top.neck_half, top.hem_half
    landmarks = np.stack(
        [
            pt(-nh, 0.0),
            pt(nh, 0.0),
            sleeve_points[0],
            sleeve_points[1],
            pt(-hh, top.side_len),
            pt(hh, top.side_len),
        ]
    )
    neck_bottom = 0.3 if top.neck_style == "open" else top.neck_depth
    chest_y = max(lerp(neck_bottom, float(top.armpit[1]), 0.5) + 0.45, neck_bottom + 0.35)
    return Garment(
        kind=kind,
        clothes_type=1,
        landmarks=landmarks,
        parts=top.parts,
        strokes=top.strokes,
        buttons=top.buttons,
        arms=arms,
        chest=pt(0.0, chest_y),
        chest_width=top.body_half * 1.3,
        neck_half=nh,
        shoulder=top.shoulder,
        hem_y=top.hem_y,
        hem_half=hh,
        sleeve_length=sleeve_length,
    )


def build_lower(rng: np.random.Generator, kind: Kind) -> Garment:
    """Samples trousers, shorts or a skirt (clothes_type 2, four landmarks).

    Units here: the waistband half-width is about 0.85, as on the matching tops.
    """
    waist = _u(rng, 0.75, 0.95)
    parts: list[Part] = []
    strokes: list[Stroke] = []
    band = _u(rng, 0.1, 0.2)
    if kind is Kind.SKIRT:
        length = _u(rng, 1.5, 3.5)
        hem_half = waist * _u(rng, 1.1, 1.8)
        sag = _u(rng, -0.02, 0.15)
        right = chain(
            np.stack([pt(waist, 0.0)]),
            cubic(
                pt(waist, 0.0),
                pt(waist * 1.12, length * 0.3),
                pt(hem_half, length * 0.7),
                pt(hem_half, length),
                10,
            ),
            quad(pt(hem_half, length), pt(hem_half * 0.5, length + sag), pt(0.0, length + sag), 8),
        )
        poly = chain(np.stack([pt(0.0, 0.0)]), right, _mirror_poly(right))
        parts.append(Part(poly, BODY))
        hems = (pt(-hem_half, length), pt(hem_half, length))
        hem_y = length
    else:
        length = _u(rng, 3.4, 4.4) if kind is Kind.TROUSERS else _u(rng, 1.1, 1.7)
        outer = waist * _u(rng, 1.0, 1.15)
        opening = _u(rng, 0.35, 0.6)
        rise = _u(rng, 0.9, 1.3)
        right = chain(
            cubic(
                pt(waist, 0.0), pt(waist * 1.1, rise * 0.5), pt(outer, rise), pt(outer, length), 10
            ),
            np.stack([pt(outer - opening, length), pt(0.02, rise)]),
        )
        poly = chain(np.stack([pt(0.0, 0.0)]), right, _mirror_poly(right))
        parts.append(Part(poly, BODY))
        centre = outer - opening / 2
        hems = (pt(-centre, length), pt(centre, length))
        hem_y = length
        strokes.append(Stroke(np.stack([pt(0.0, band), pt(0.0, rise * 0.6)]), 0.02, 0.75, BODY))
        for side in (-1, 1):
            crease = np.stack([pt(side * centre, rise), pt(side * centre, length - 0.05)])
            strokes.append(Stroke(crease, 0.015, 0.88, BODY))
            pocket = quad(
                pt(side * waist * 0.55, band),
                pt(side * waist * 0.7, 0.45),
                pt(side * waist * 1.02, 0.5),
                6,
            )
            strokes.append(Stroke(pocket, 0.02, 0.75, BODY))
    band_poly = np.stack(
        [pt(-waist, 0.0), pt(waist, 0.0), pt(waist * 1.01, band), pt(-waist * 1.01, band)]
    )
    parts.append(Part(band_poly, BODY, fabric="trim", tone=0.92))
    landmarks = np.stack([pt(-waist, 0.0), pt(waist, 0.0), hems[0], hems[1]])
    return Garment(
        kind=kind,
        clothes_type=2,
        landmarks=landmarks,
        parts=parts,
        strokes=strokes,
        buttons=[(pt(0.0, band / 2), 0.05)],
        arms=[],
        chest=pt(0.0, 0.5),
        chest_width=waist,
        neck_half=waist,
        shoulder=pt(waist, 0.0),
        hem_y=hem_y,
        hem_half=float(hems[1][0]),
        sleeve_length=0.0,
    )


def build_dress(rng: np.random.Generator, pose: Pose) -> Garment:
    """Samples a dress (clothes_type 3, eight landmarks): a bodice flowing into a skirt.

    The bodice is a top whose hem sits at the waist, so its hem corners are the waistline
    landmarks.
    """
    base_kind = Kind.TANK if rng.random() < 0.5 else Kind.TSHIRT
    top = build_top(rng, base_kind, pose, bodice_length=_u(rng, 1.7, 2.1))
    waist_y, waist_half = top.hem_y, top.hem_half
    length = waist_y + _u(rng, 1.6, 3.8)
    hem_half = waist_half * _u(rng, 1.2, 2.0)
    sag = _u(rng, 0.0, 0.12)
    skirt_right = chain(
        np.stack([pt(0.0, waist_y - 0.05), pt(waist_half, waist_y - 0.05)]),
        cubic(
            pt(waist_half, waist_y),
            pt(waist_half * 1.05, waist_y + 0.6),
            pt(hem_half, length - 0.6),
            pt(hem_half, length),
            10,
        ),
        quad(pt(hem_half, length), pt(hem_half * 0.5, length + sag), pt(0.0, length + sag), 8),
    )
    skirt = chain(skirt_right, _mirror_poly(skirt_right))
    # Joined at the waist: no hem stitching on the bodice, a seam instead.
    top.strokes = [s for s in top.strokes if not (s.dashed and s.layer == BODY)]
    top.parts.append(Part(skirt, BODY))
    seam = np.stack([pt(-waist_half, waist_y), pt(waist_half, waist_y)])
    top.strokes.append(Stroke(seam, 0.02, 0.78, BODY))
    top.kind = Kind.DRESS
    top.clothes_type = 3
    top.landmarks = np.concatenate(
        [top.landmarks[:4], seam, np.stack([pt(-hem_half, length), pt(hem_half, length)])]
    )
    top.hem_y = length
    top.hem_half = hem_half
    return top


def build_garment(rng: np.random.Generator, kind: Kind, pose: Pose) -> Garment:
    """Samples a garment of any kind; see `build_top`, `build_lower`, `build_dress`."""
    if kind in TOPS:
        return build_top(rng, kind, pose)
    if kind is Kind.DRESS:
        return build_dress(rng, pose)
    return build_lower(rng, kind)
