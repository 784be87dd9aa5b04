"""Tops (T-shirts, long sleeves, tanks, jackets, sweaters, shirts): measurements, necklines,
fronts, collars, extras, then the sleeves."""

from __future__ import annotations

import math

import numpy as np

from training.synth.garment_model import (
    BACK,
    BODY,
    WORN_POSES,
    Garment,
    Kind,
    Part,
    Pose,
    Stroke,
    TopDraft,
    band,
    mirror_poly,
    uniform,
)
from training.synth.geometry import (
    Points,
    arc,
    chain,
    cubic,
    lerp,
    mirror,
    pt,
    quad,
)
from training.synth.sleeves import add_sleeves

NECKLINES = ("crew", "crew", "v", "scoop", "square", "boat")


_NECK_DEPTH = {
    "crew": (0.12, 0.28),
    "v": (0.45, 0.95),
    "scoop": (0.35, 0.7),
    "square": (0.3, 0.55),
    "boat": (0.05, 0.14),
}


def _neckline(rng: np.random.Generator, style: str, half: float, depth: float) -> Points:
    """Front neckline from the left collar corner (-half, 0) to the right one, [N, 2]."""
    left, right = pt(-half, 0.0), pt(half, 0.0)
    if style == "v":
        bottom = pt(0.0, depth)
        bend = uniform(rng, -0.08, 0.05)
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


def _measure_top(
    rng: np.random.Generator, kind: Kind, pose: Pose, bodice_length: float | None
) -> TopDraft:
    """Samples the proportions of a top: neck, shoulders, armholes, body, length and hem."""
    worn = pose in WORN_POSES
    # A worn garment wraps a rounded torso, so seen from the front it looks narrower than the
    # same garment laid flat.
    squeeze = uniform(rng, 0.82, 0.93) if worn else 1.0
    if kind is Kind.TANK:
        neck_half = uniform(rng, 0.3, 0.5)
    elif kind is Kind.SHIRT:
        neck_half = uniform(rng, 0.25, 0.33)
    elif kind is Kind.JACKET:
        neck_half = uniform(rng, 0.3, 0.42)
    else:
        neck_half = uniform(rng, 0.27, 0.42)
    shoulder_half = uniform(rng, 0.95, 1.02) if worn else 1.0
    drop = uniform(rng, 0.08, 0.3)
    armhole = uniform(rng, 0.95, 1.35) if kind is Kind.TANK else uniform(rng, 0.72, 1.0)
    body_half = uniform(rng, 0.88, 1.0) * squeeze
    hem_half = body_half * uniform(rng, 0.9, 1.12)
    length = uniform(rng, 1.9, 2.35) if rng.random() < 0.1 else uniform(rng, 2.4, 3.3)
    if kind is Kind.JACKET and rng.random() < 0.4:
        length = uniform(rng, 3.2, 3.9)
    if bodice_length is not None:
        length = bodice_length
        hem_half = body_half * uniform(rng, 0.78, 0.9)

    # Neckline style per kind; the collar landmarks are always its two top corners.
    if kind is Kind.SHIRT:
        neck_style, neck_depth = "v", uniform(rng, 0.12, 0.2)  # a small V under the collar
    elif kind is Kind.JACKET:
        neck_style, neck_depth = "open", uniform(rng, 0.7, 1.5)
    else:
        styles = ["crew", "crew", "v"] if kind is Kind.SWEATER else NECKLINES
        neck_style = str(rng.choice(styles))
        low, high = _NECK_DEPTH[neck_style]
        neck_depth = uniform(rng, low, high)
        if neck_style == "boat":
            neck_half = min(neck_half * 1.3, 0.55)

    if kind is Kind.TANK:
        # The end of the strap, always inside the armpit: the armhole is cut in, so its outer
        # end (the sleeve landmark, see `add_sleeves`) is the armpit corner.
        strap_end = min(neck_half + uniform(rng, 0.12, 0.38), body_half - 0.08)
        shoulder = pt(strap_end, drop * 0.5)
    else:
        shoulder = pt(shoulder_half, drop)
    armpit = pt(body_half, drop + armhole)

    hem_style = str(rng.choice(["straight", "straight", "curved", "shirttail"]))
    if kind is Kind.SHIRT:
        hem_style = "shirttail" if rng.random() < 0.6 else "straight"
    if kind in (Kind.JACKET, Kind.SWEATER) or bodice_length is not None:
        hem_style = "straight"
    tail = uniform(rng, 0.15, 0.35) if hem_style == "shirttail" else 0.0
    side_len = length - tail
    corner = pt(hem_half, side_len)
    if hem_style == "shirttail":
        hem = cubic(corner, pt(hem_half, length), pt(hem_half * 0.45, length), pt(0.0, length))
    else:
        sag = uniform(rng, 0.1, 0.25) if hem_style == "curved" else uniform(rng, -0.02, 0.06)
        hem = quad(corner, pt(hem_half * 0.5, length + sag), pt(0.0, length + sag), 8)

    shoulder_line = quad(
        pt(neck_half, 0.0), pt(lerp(neck_half, shoulder[0], 0.5), 0.0), shoulder, 6
    )
    if kind is Kind.TANK:
        # Cut deep and curving in towards the strap.
        armhole_curve = cubic(
            shoulder,
            shoulder + pt(-0.02, armhole * 0.45),
            armpit + pt(-uniform(rng, 0.12, 0.3), -armhole * 0.05),
            armpit,
            12,
        )
    else:
        armhole_curve = cubic(
            shoulder, shoulder + pt(0.0, armhole * 0.4), armpit + pt(0.05, -armhole * 0.3), armpit
        )
    return TopDraft(
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
        waist_in=uniform(rng, 0.0, 0.12),
    )


def _add_back(rng: np.random.Generator, top: TopDraft) -> None:
    """The inside of the back, seen through the neckline.

    A wearer's neck hides most of it, so worn garments get only a band behind the neck.
    """
    back_depth = uniform(rng, 0.03, 0.1)
    if top.worn:
        rim = arc(pt(0.0, 0.0), top.neck_half, -back_depth * 0.5 - 0.02, math.pi, 0.0, 14)
        top.parts.append(Part(band(rim, 0.07), BACK, tone=0.62))
    else:
        back_neck = arc(pt(0.0, 0.0), top.neck_half, back_depth, math.pi, 0.0, 14)
        right = top.right_side
        top.parts.append(Part(chain(back_neck, right, mirror_poly(right)), BACK, tone=0.6))


def _add_open_front(rng: np.random.Generator, top: TopDraft) -> None:
    """An open jacket: two front panels with lapels over an inner layer (a tee or shirt)."""
    nh, depth, hem_y = top.neck_half, top.neck_depth, top.hem_y
    inner_w = nh * uniform(rng, 0.9, 1.3)
    inner = chain(
        _neckline(rng, "crew", nh * 0.75, uniform(rng, 0.12, 0.25)),
        np.stack([pt(inner_w, 0.1), pt(inner_w, top.length - 0.05)]),
        np.stack([pt(-inner_w, top.length - 0.05), pt(-inner_w, 0.1)]),
    )
    top.parts.append(Part(inner, BACK, fabric="inner"))

    gap = uniform(rng, 0.02, 0.3)
    lapel_bottom = pt(gap, depth)
    bottom_gap = gap * uniform(rng, 0.8, 1.3)
    edge = top.right_side[1:-1]
    edge = edge[(edge[:, 0] > bottom_gap + 0.03) | (edge[:, 1] < hem_y - 0.3)]
    front_right = chain(
        np.stack([pt(nh, 0.0)]), edge, np.stack([pt(bottom_gap, hem_y), lapel_bottom])
    )
    top.parts.append(Part(front_right, BODY))
    top.parts.append(Part(mirror_poly(front_right), BODY))

    lapel_w = uniform(rng, 0.15, 0.35)
    lapel = np.stack(
        [
            pt(nh, 0.0),
            pt(nh + lapel_w * 0.5, depth * 0.35),
            pt(gap + lapel_w, depth * 0.8),
            lapel_bottom,
        ]
    )
    lapel_tone = uniform(rng, 0.8, 0.95)
    top.parts.append(Part(lapel, BODY, fabric="trim", tone=lapel_tone))
    top.parts.append(Part(mirror_poly(lapel), BODY, fabric="trim", tone=lapel_tone))
    top.strokes.append(Stroke(lapel, 0.025, 0.7, BODY))
    top.strokes.append(Stroke(mirror(lapel), 0.025, 0.7, BODY))
    if rng.random() < 0.6:
        step = uniform(rng, 0.35, 0.5)
        for i in range(int(rng.integers(1, 4))):
            y = depth + 0.15 + i * step
            if y < hem_y - 0.2:
                top.buttons.append((pt(-gap - 0.12, y), uniform(rng, 0.045, 0.075)))
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


def _add_closed_front(rng: np.random.Generator, top: TopDraft) -> None:
    """The front panel with its neckline, and a ribbed neckband on knitwear."""
    neckline = _neckline(rng, top.neck_style, top.neck_half, top.neck_depth)
    right = top.right_side
    top.parts.append(Part(chain(neckline, right, mirror_poly(right)), BODY))
    if top.kind in (Kind.SWEATER, Kind.TSHIRT, Kind.LONG_SLEEVE) or rng.random() < 0.5:
        rib = uniform(rng, 0.05, 0.12) if top.kind is Kind.SWEATER else uniform(rng, 0.03, 0.07)
        tone = uniform(rng, 0.9, 1.05)
        top.parts.append(Part(band(neckline, -rib), BODY, fabric="trim", tone=tone))
        top.strokes.append(Stroke(neckline + pt(0.0, rib), 0.015, 0.8, BODY))


def _add_shirt_collar(rng: np.random.Generator, top: TopDraft) -> None:
    """Pointed collar (two flaps meeting at the top button, a stand behind the neck), button
    placket and sometimes a chest pocket."""
    nh, depth, hem_y = top.neck_half, top.neck_depth, top.hem_y
    stand = band(arc(pt(0.0, 0.0), nh, -0.04, math.pi, 0.0, 12), 0.1)
    top.parts.append(Part(stand, BODY, fabric="trim", tone=0.85))
    point = pt(-nh * uniform(rng, 0.25, 0.7), uniform(rng, 0.38, 0.6))
    outer = pt(-nh - uniform(rng, 0.04, 0.14), uniform(rng, 0.1, 0.22))
    flap = np.stack([pt(-nh, 0.0), pt(-0.03, depth), point, outer])
    top.parts.append(Part(flap, BODY, fabric="trim"))
    top.parts.append(Part(mirror_poly(flap), BODY, fabric="trim"))
    closed = np.concatenate([flap, flap[:1]])
    top.strokes.append(Stroke(closed, 0.02, 0.72, BODY))
    top.strokes.append(Stroke(mirror(closed), 0.02, 0.72, BODY))
    placket = uniform(rng, 0.05, 0.08)
    for x in (-placket, placket):
        line = np.stack([pt(x, depth), pt(x, hem_y - 0.02)])
        top.strokes.append(Stroke(line, 0.015, 0.8, BODY))
    step = uniform(rng, 0.3, 0.45)
    y = depth + 0.12
    while y < hem_y - 0.15:
        top.buttons.append((pt(0.0, y), uniform(rng, 0.035, 0.055)))
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


def _add_extras(rng: np.random.Generator, top: TopDraft) -> None:
    """Henley plackets, ribbed hem bands or hem stitching, hoods and kangaroo pockets."""
    kind, depth = top.kind, top.neck_depth
    if kind in (Kind.LONG_SLEEVE, Kind.TSHIRT) and top.neck_style == "crew" and rng.random() < 0.2:
        for x in (-0.06, 0.06):
            line = np.stack([pt(x, depth), pt(x, depth + 0.6)])
            top.strokes.append(Stroke(line, 0.015, 0.8, BODY))
        for i in range(3):
            top.buttons.append((pt(0.0, depth + 0.12 + i * 0.18), 0.035))

    if kind is Kind.SWEATER or (kind is Kind.LONG_SLEEVE and rng.random() < 0.4):
        band_h = uniform(rng, 0.15, 0.35)
        hh, y = top.hem_half, top.side_len
        hem_band = np.stack([pt(-hh, y - band_h), pt(hh, y - band_h), pt(hh, y), pt(-hh, y)])
        top.parts.append(Part(hem_band, BODY, fabric="trim", tone=uniform(rng, 0.88, 0.98)))
        top.strokes.append(Stroke(hem_band[:2], 0.02, 0.8, BODY))
    else:
        # Hem stitching a little above the edge.
        stitch = top.hem + pt(0.0, -uniform(rng, 0.06, 0.12))
        top.strokes.append(Stroke(stitch, 0.012, 0.8, BODY, dashed=True))
        top.strokes.append(Stroke(mirror_poly(stitch), 0.012, 0.8, BODY, dashed=True))

    if kind in (Kind.SWEATER, Kind.LONG_SLEEVE) and not top.worn and rng.random() < 0.2:
        # A hood lying behind the neck (drawn first: everything else covers its lower part).
        centre = pt(0.0, uniform(rng, -0.05, 0.1))
        rx, ry = top.neck_half + uniform(rng, 0.3, 0.55), uniform(rng, 0.5, 0.8)
        top.parts.insert(0, Part(arc(centre, rx, ry, math.pi, 2 * math.pi, 20), BACK, tone=0.8))
    if kind in (Kind.SWEATER, Kind.LONG_SLEEVE) and rng.random() < 0.2:
        y = lerp(float(top.armpit[1]), top.hem_y, 0.55)
        pocket = np.stack([pt(-0.45, y + 0.5), pt(-0.3, y), pt(0.3, y), pt(0.45, y + 0.5)])
        top.strokes.append(Stroke(pocket, 0.022, 0.75, BODY))
    if kind is not Kind.TANK:
        for side in (-1, 1):
            top.strokes.append(Stroke(top.shoulder_line * pt(side, 1.0), 0.018, 0.82, BODY))


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
    arms, sleeve_points, sleeve_length = add_sleeves(rng, top)

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
