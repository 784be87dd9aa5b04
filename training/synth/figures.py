"""What presents the garment: a rough wearer, a hanger, or hands holding it up.

All drawing happens on the garment-space `Canvas`, in garment units, in the layer order the
renderer asks for (behind the garment, between its back and front, in front of it).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import numpy.typing as npt

from training.synth.appearance import (
    Fabric,
    Image,
    Plane,
    hair_colour,
    random_colour,
    render_fabric,
    sample_fabric,
    skin_tone,
)
from training.synth.canvas import Canvas
from training.synth.garments import Arm, Garment
from training.synth.geometry import Points, arc, cubic, limb, pt, rotate

Colour = npt.NDArray[np.float32]


@dataclasses.dataclass(frozen=True)
class Person:
    """A wearer or holder.

    Attributes:
        skin, hair: float32 [3] RGB.
        hair_style: "short", "long", "bun" or "none".
        bottoms: fabric of the trousers/skirt below a worn top.
        bottoms_style: "trousers", "shorts" or "skirt".
        shoes: float32 [3] RGB.
        neck: neck length, garment units.
        head: head size factor.
        face: draw rough eyes and mouth.
        sleeve: float32 [3] the holder's own sleeve colour (held pose).
    """

    skin: Colour
    hair: Colour
    hair_style: str
    bottoms: Fabric
    bottoms_style: str
    shoes: Colour
    neck: float
    head: float
    face: bool
    sleeve: Colour


def sample_person(rng: np.random.Generator) -> Person:
    """Draws a person's looks."""
    roll = rng.random()
    bottoms_pattern = "denim" if roll < 0.45 else str(rng.choice(["solid", "solid", "heather"]))
    styles = ["trousers", "trousers", "trousers", "shorts", "skirt"]
    sleeve = random_colour(rng) if rng.random() < 0.6 else np.full(3, 235.0, np.float32)
    return Person(
        skin=skin_tone(rng),
        hair=hair_colour(rng),
        hair_style=str(rng.choice(["short", "long", "long", "bun", "none"])),
        bottoms=sample_fabric(rng, pattern=bottoms_pattern),
        bottoms_style=str(rng.choice(styles)),
        shoes=random_colour(rng),
        neck=float(rng.uniform(0.12, 0.32)),
        head=float(rng.uniform(0.9, 1.1)),
        face=bool(rng.random() < 0.8),
        sleeve=sleeve,
    )


def _skin_fill(
    canvas: Canvas,
    polys: list[Points],
    person: Person,
    shade: float = 1.0,
    occluder: bool = False,
) -> None:
    canvas.paint(canvas.fill_mask(polys), person.skin * shade, garment=False, occluder=occluder)


def _hand(wrist: Points, d: Points, length: float, width: float) -> list[Points]:
    """A mitten-like hand with a thumb, pointing along unit vector `d` ([M, 2] outlines)."""
    angle = math.atan2(d[1], d[0])
    palm = arc(pt(0.0, 0.0), length * 0.5, width, 0.0, 2 * math.pi, 18) + pt(length * 0.45, 0)
    thumb = arc(pt(0.0, 0.0), length * 0.28, width * 0.35, 0.0, 2 * math.pi, 10)
    thumb = rotate(thumb, -0.6) + pt(length * 0.25, -width * 0.8)
    return [rotate(palm, angle) + wrist, rotate(thumb, angle) + wrist]


def wearer_extent(garment: Garment) -> tuple[float, float, float, float]:
    """Garment-unit box a wearer can occupy around `garment` (head to below the frame)."""
    x0, _, x1, y1 = garment.extent()
    return x0 - 1.0, -2.6, x1 + 1.0, y1 + 5.0


def draw_wearer_behind(
    canvas: Canvas, person: Person, garment: Garment, turn: float, rng: np.random.Generator
) -> None:
    """Legs, torso, arms and head: everything of the wearer the garment covers or frames.

    Args:
        canvas: target.
        person: looks.
        garment: the worn garment (its arms tell where the wearer's arms run).
        turn: the wearer's turn (radians), to shift the face towards the turn.
        rng: the image's generator (fabric grain of the trousers).
    """
    hem_y, hem_half = garment.hem_y, garment.hem_half
    hip_y = hem_y - 0.6
    hip = max(hem_half * 0.95, 0.75)
    foot_y = hem_y + 4.8

    def bottoms(u: Plane, v: Plane) -> Image:
        return render_fabric(person.bottoms, u, v, canvas.scale, rng)

    if garment.clothes_type == 1:
        legs = []
        for side in (-1, 1):
            knee = pt(side * 0.42, hem_y + 2.2)
            ankle = pt(side * 0.4, foot_y - 0.2)
            legs.append(limb(pt(side * hip * 0.55, hip_y), knee, hip * 0.5, 0.24))
            legs.append(limb(knee, ankle, 0.24, 0.15))
            foot = arc(pt(side * 0.45, foot_y), 0.3, 0.14, 0, 2 * math.pi, 14)
            canvas.paint(canvas.fill_mask([foot]), person.shoes, garment=False)
        _skin_fill(canvas, legs, person, 0.97)
        if person.bottoms_style == "skirt":
            skirt = np.stack(
                [
                    pt(-hip, hip_y),
                    pt(hip, hip_y),
                    pt(hip * 1.35, hem_y + 1.6),
                    pt(-hip * 1.35, hem_y + 1.6),
                ]
            )
            canvas.paint(canvas.fill_mask([skirt]), bottoms, garment=False)
        else:
            low = hem_y + (1.0 if person.bottoms_style == "shorts" else 4.55)
            for side in (-1, 1):
                leg = np.stack(
                    [
                        pt(side * hip, hip_y),
                        pt(0.0, hip_y),
                        pt(side * 0.04, hem_y + 0.5),
                        pt(side * 0.17, low),
                        pt(side * 0.7, low),
                    ]
                )
                canvas.paint(canvas.fill_mask([leg]), bottoms, garment=False)
            canvas.stroke_shade([np.stack([pt(0.0, hem_y), pt(0.0, hem_y + 0.5)])], 0.03, 0.7)

    # Torso: seen through necklines and around straps.
    sh = max(float(garment.shoulder[0]), 0.95)
    torso_right = cubic(pt(0.22, -0.2), pt(0.3, 0.05), pt(sh * 0.8, 0.02), pt(sh + 0.05, 0.3), 10)
    torso_right = np.concatenate([torso_right, np.stack([pt(sh * 0.9, 1.2), pt(hip, hip_y)])])
    torso = np.concatenate([torso_right, (torso_right * pt(-1, 1))[::-1]])
    _skin_fill(canvas, [torso], person, 0.95)

    # Arms behind the garment: sleeves cover their roots. A forearm crossing in front of the
    # body (`Arm.front`) is drawn later by `draw_wearer_front`.
    for arm in garment.arms:
        _draw_upper_arm(canvas, person, arm)
        if not arm.front:
            _draw_forearm(canvas, person, garment, arm, occluder=False)

    _draw_head(canvas, person, turn)


def _arm_halves(arm: Arm) -> tuple[float, float]:
    """(shoulder, elbow) half-widths of a wearer's arm; it must fit inside the sleeve."""
    half = min(0.21, arm.cuff_half * 0.9)
    return half, min(half, 0.16)


def _draw_upper_arm(canvas: Canvas, person: Person, arm: Arm) -> None:
    """Shoulder to elbow, with a darker rim so the arm reads against the torso behind it."""
    half, mid = _arm_halves(arm)
    _skin_fill(canvas, [limb(arm.root, arm.elbow, half + 0.025, mid + 0.025)], person, 0.72)
    elbow = arc(arm.elbow, mid, mid, 0, 2 * math.pi, 12)
    _skin_fill(canvas, [limb(arm.root, arm.elbow, half, mid), elbow], person)


def _draw_forearm(
    canvas: Canvas, person: Person, garment: Garment, arm: Arm, occluder: bool
) -> None:
    """Elbow to wrist (unless a long sleeve covers it) and the hand.

    A hand in a pocket is not drawn: the wrist ends at the pocket's edge instead.
    """
    _, mid = _arm_halves(arm)
    f = arm.fore_direction
    covered = garment.sleeve_length > 1.6
    pieces: list[Points] = []
    if not covered:
        rim = [limb(arm.elbow, arm.wrist, mid + 0.025, 0.135)]
        _skin_fill(canvas, rim, person, 0.72, occluder=occluder)
        pieces += [
            limb(arm.elbow, arm.wrist, mid, 0.11),
            arc(arm.elbow, mid, mid, 0, 2 * math.pi, 12),
        ]
    if arm.style != "pocket":
        pieces += _hand(arm.wrist - f * 0.05, f, 0.5, 0.13)
    if pieces:
        _skin_fill(canvas, pieces, person, occluder=occluder)
    if arm.style == "pocket" and garment.clothes_type == 1:
        edge = limb(arm.wrist - f * 0.02, arm.wrist + f * 0.1, 0.2, 0.2)
        canvas.paint(
            canvas.fill_mask([edge]), person.bottoms.colour * 0.8, garment=False, occluder=occluder
        )


def draw_wearer_front(canvas: Canvas, person: Person, garment: Garment) -> None:
    """Forearms and hands held in front of the body (bent in, on the hips, in pockets).

    Drawn after the garment body and before the sleeves: a hand lies on the shirt, a sleeve
    covers the wrist it comes out of. They can hide body landmarks, so they are occluders.
    """
    for arm in garment.arms:
        if arm.front:
            _draw_forearm(canvas, person, garment, arm, occluder=True)


def _draw_head(canvas: Canvas, person: Person, turn: float, lift: float = 0.0) -> None:
    """Neck, head, hair and a rough face above the collar (`lift` units higher)."""
    hs = person.head
    neck_top = -0.3 - person.neck - lift
    head_c = pt(0.0, neck_top - 0.42 * hs)
    rx, ry = 0.34 * hs, 0.47 * hs
    hair = person.hair
    if person.hair_style == "long":
        # Hair falling behind the shoulders: widest at the jaw, rounded at the ends.
        strand = cubic(
            pt(rx * 1.1, head_c[1]), pt(rx * 1.45, 0.0), pt(rx * 1.5, 0.3), pt(rx * 0.9, 0.6), 10
        )
        back = np.concatenate([strand, (strand * pt(-1.0, 1.0))[::-1]])
        canvas.paint(canvas.fill_mask([back]), hair * 0.85, garment=False)
    neck = np.stack(
        [
            pt(-0.16, neck_top - 0.2),
            pt(0.16, neck_top - 0.2),
            pt(0.2, 0.02 - lift),
            pt(-0.2, 0.02 - lift),
        ]
    )
    _skin_fill(canvas, [neck], person, 0.9)
    if person.hair_style != "none":
        cap = arc(head_c + pt(0, -0.04), rx * 1.08, ry * 1.05, 0, 2 * math.pi, 24)
        canvas.paint(canvas.fill_mask([cap]), hair, garment=False)
    if person.hair_style == "bun":
        bun = arc(head_c + pt(0, -ry * 1.05), rx * 0.45, ry * 0.3, 0, 2 * math.pi, 14)
        canvas.paint(canvas.fill_mask([bun]), hair, garment=False)
    shift = math.sin(turn) * rx * 0.6
    face = arc(head_c + pt(shift * 0.3, ry * 0.08), rx, ry * 0.92, 0, 2 * math.pi, 24)
    _skin_fill(canvas, [face], person)
    if person.hair_style != "none":
        fringe = arc(head_c + pt(0, -ry * 0.35), rx * 1.02, ry * 0.55, math.pi, 2 * math.pi, 14)
        canvas.paint(canvas.fill_mask([fringe]), hair, garment=False)
    if person.face:
        dark = person.skin * 0.45
        for side in (-1, 1):
            eye = arc(
                head_c + pt(side * rx * 0.38 + shift, ry * 0.12),
                rx * 0.11,
                ry * 0.05,
                0,
                2 * math.pi,
                8,
            )
            canvas.paint(canvas.fill_mask([eye]), dark, garment=False, opacity=0.8)
        mouth = arc(head_c + pt(shift, ry * 0.58), rx * 0.25, ry * 0.05, 0, 2 * math.pi, 10)
        canvas.paint(canvas.fill_mask([mouth]), person.skin * 0.7, garment=False, opacity=0.7)


def draw_wearer_neck(canvas: Canvas, person: Person) -> None:
    """The front of the neck, drawn over the inside of the garment's back."""
    neck = np.stack([pt(-0.17, -0.5), pt(0.17, -0.5), pt(0.2, 0.03), pt(-0.2, 0.03)])
    _skin_fill(canvas, [neck], person, 0.92)


def hanger_extent(garment: Garment) -> tuple[float, float, float, float]:
    """Garment-unit box of a garment on a hanger."""
    x0, y0, x1, y1 = garment.extent()
    return x0, min(y0, -1.3), x1, y1


def draw_hanger(canvas: Canvas, garment: Garment, rng: np.random.Generator) -> Points:
    """Hook and the bar inside the shoulders (visible through the neckline).

    Returns:
        float64 [2], the top of the hook in garment units (where a rail would be).
    """
    style = rng.random()
    if style < 0.4:
        colour = np.array(rng.uniform([120, 75, 35], [200, 150, 95]), np.float32)  # wood
    elif style < 0.7:
        colour = np.full(3, rng.uniform(10, 60), np.float32)  # black plastic
    else:
        colour = np.full(3, rng.uniform(190, 250), np.float32)  # white plastic
    wire = np.full(3, rng.uniform(110, 200), np.float32)
    sx, sy = float(garment.shoulder[0]), float(garment.shoulder[1])
    # The bar is inside the garment: only the part seen through the neckline shows.
    bar = np.stack([pt(-sx * 0.92, sy + 0.12), pt(0.0, 0.1), pt(sx * 0.92, sy + 0.12)])
    canvas.paint(canvas.line_mask([bar], rng.uniform(0.08, 0.16)), colour, garment=False)
    top = -0.12 - rng.uniform(0.25, 0.45)
    r = rng.uniform(0.14, 0.22)
    hook = np.concatenate(
        [
            np.stack([pt(0.0, 0.05), pt(0.0, top)]),
            arc(pt(0.0, top - r), r, r, math.pi / 2, -math.pi * 1.15, 16),
        ]
    )
    canvas.paint(canvas.line_mask([hook], rng.uniform(0.035, 0.06)), wire, garment=False)
    return pt(0.0, top - 2 * r)


def holder_extent(garment: Garment) -> tuple[float, float, float, float]:
    """Garment-unit box of a garment held up, with room for the holder's arms above it and
    out to the sides (the canvas is cut to the frame anyway)."""
    x0, _, x1, y1 = garment.extent()
    return min(x0, -2.4) - 3.0, -5.0, max(x1, 2.4) + 3.0, y1 + 0.5


@dataclasses.dataclass(frozen=True)
class Hold:
    """How a garment is held up by two hands at the shoulders.

    Attributes:
        grips: (left, right) float64 [2] grip points on the shoulder line, garment units.
        behind: the holder stands behind the garment (body, head and bent arms show around
            it, fingers curl over the shoulders); otherwise only forearms reach in, from
            above or from the sides, and whole hands grip in front.
        spread: each forearm's angle from straight up, outwards, radians (large: the arms
            come in from the sides of the frame).
        sag: how far the neckline sags between the hands, garment units.
        droop: how far the shoulders outside the hands fall, garment units.
        fall: how far below the hands the pull fades out, garment units.
    """

    grips: tuple[Points, Points]
    behind: bool
    spread: tuple[float, float]
    sag: float
    droop: float
    fall: float

    def gravity(self, points: Points) -> Points:
        """The garment's own weight as a displacement of garment-unit points [..., 2].

        The grips stay put; the cloth between them sags and the shoulders beyond them fall,
        both fading out down the garment, so the body and sleeves hang from the hands.
        Applied to outlines and landmarks alike (`Garment.displaced`).
        """
        p = np.asarray(points, dtype=np.float64)
        x, y = p[..., 0], p[..., 1]
        gl, gr = self.grips
        gx = np.where(x < 0, -gl[0], gr[0])
        # One height for both hands keeps the field continuous across the centre line.
        gy = (gl[1] + gr[1]) / 2
        weight = np.clip(1.0 - (y - gy) / self.fall, 0.0, 1.0)
        ax = np.abs(x)
        inside = np.clip(1.0 - (ax / gx) ** 2, 0.0, 1.0)
        outside = np.clip((ax - gx) / 0.8, 0.0, 1.0)
        out = p.copy()
        out[..., 1] += (self.sag * inside + self.droop * outside**1.5) * weight
        return out


def sample_hold(rng: np.random.Generator, garment: Garment) -> Hold:
    """Where the hands grip and how the garment hangs from them.

    The hands grip the shoulder line anywhere from near the collar to near the shoulder
    point, not always level or symmetric, as people hold garments up for a photo.
    """
    grips = []
    for side in (-1, 1):
        neck = pt(side * garment.neck_half, 0.0)
        shoulder = garment.shoulder * pt(side, 1.0)
        # Mostly clear of the collar corner; sometimes close to it (fingers may then hide it).
        # A narrow strap (a tank) is pinched near its outer end.
        t = rng.uniform(0.45, 0.95) if rng.random() < 0.8 else rng.uniform(0.25, 0.45)
        if _strap_length(garment) < 0.45:
            t = rng.uniform(0.75, 1.0)
        grips.append(neck + (shoulder - neck) * float(t))
    if rng.random() < 0.55:
        high, low = math.radians(float(rng.uniform(3, 30))), 0.0
    else:
        high, low = math.radians(float(rng.uniform(45, 80))), math.radians(10)
    spread = (high + float(rng.uniform(-low, low)), high + float(rng.uniform(-low, low)))
    return Hold(
        grips=(grips[0], grips[1]),
        behind=bool(rng.random() < 0.5),
        spread=spread,
        sag=float(rng.uniform(0.0, 0.12)),
        droop=float(rng.uniform(0.0, 0.22)),
        fall=float(rng.uniform(1.0, 2.2)),
    )


def draw_holder_behind(canvas: Canvas, person: Person, garment: Garment, hold: Hold) -> None:
    """The holder behind the garment (body, head and arms bent down behind it), if any."""
    if not hold.behind:
        return
    shirt = person.sleeve
    top = -1.0
    half = max(float(garment.shoulder[0]) + 0.25, 1.2)
    body = np.concatenate(
        [
            arc(pt(0, top), half, 0.45, math.pi, 2 * math.pi, 12),
            np.stack([pt(half * 0.95, 7.0), pt(-half * 0.95, 7.0)]),
        ]
    )
    canvas.paint(canvas.fill_mask([body]), shirt, garment=False)
    # Elbows out to the sides, forearms rising to the hands that grip the shoulders.
    for grip, side in zip(hold.grips, (-1, 1), strict=True):
        elbow = pt(side * (float(garment.shoulder[0]) + 0.7), 1.4)
        shoulder = pt(side * (half - 0.1), top + 0.25)
        arm = [limb(grip, elbow, 0.14, 0.2), limb(elbow, shoulder, 0.22, 0.26)]
        canvas.paint(canvas.fill_mask(arm), shirt * 0.92, garment=False)
    canvas.stroke_shade(
        [np.stack([pt(-0.3, top - 0.45), pt(0.0, top), pt(0.3, top - 0.45)])], 0.04, 0.7
    )
    canvas.apply_shading(0)
    # The holder's shoulders are above the garment's, so the head sits higher.
    _draw_head(canvas, person, 0.0, lift=-top + 0.4)


def _strap_length(garment: Garment) -> float:
    """Length of the shoulder line from the collar corner to the shoulder point (or strap end)."""
    return float(np.hypot(garment.shoulder[0] - garment.neck_half, garment.shoulder[1]))


def _fingers(
    grip: Points,
    up: Points,
    side: int,
    rng: np.random.Generator,
    thumb_front: bool,
    spacing: float,
) -> tuple[list[Points], list[Points]]:
    """Four fingers curled over the shoulder seam onto the front, `spacing` apart, and a thumb.

    Returns:
        (outlines, rims): skin outlines and slightly larger ones drawn darker underneath, so
        the gaps between fingers show.
    """
    # Fingers hang down over the seam onto the front whichever way the arm comes in (a hand
    # reaching in from the side must not point along the shoulder line at the collar).
    v = pt(0.0, 1.0) - up * 0.35
    down = v / float(np.hypot(*v))
    across = pt(down[1], -down[0])
    outlines: list[Points] = []
    rims: list[Points] = []
    for k in (-1.5, -0.5, 0.5, 1.5):
        base = grip + across * (k * spacing) + up * 0.04
        length = float(rng.uniform(0.2, 0.32)) * (1.0 - 0.12 * abs(k))
        tip = base + rotate(down, side * k * 0.06) * length
        outlines.append(limb(base, tip, 0.042, 0.036))
        outlines.append(arc(tip, 0.036, 0.036, 0, 2 * math.pi, 8))
        rims.append(limb(base, tip, 0.052, 0.046))
        rims.append(arc(tip, 0.046, 0.046, 0, 2 * math.pi, 8))
    # The thumb on the outer side: on the front with the fingers, or pinching from behind
    # (then only its tip shows past the seam).
    root = grip + across * (side * spacing * 2.3) + up * 0.05
    reach = 0.22 if thumb_front else 0.1
    tip = root + rotate(down, -side * 0.5) * reach
    outlines.append(limb(root, tip, 0.05, 0.042))
    rims.append(limb(root, tip, 0.06, 0.052))
    return outlines, rims


def draw_holder_hands(
    canvas: Canvas, person: Person, garment: Garment, hold: Hold, rng: np.random.Generator
) -> None:
    """Hands gripping the shoulders, drawn over the garment.

    With `hold.behind`, only fingers curl over the shoulder seam (the arms are behind the
    garment); otherwise forearms reach in from above the frame or from its sides and the
    back of each hand shows above the seam.
    """
    sleeve_bare = rng.random() < 0.4
    # Fingers bunch together on a narrow strap.
    spacing = 0.085 * min(1.0, max(0.6, _strap_length(garment) / 0.55))
    for grip, side, spread in zip(hold.grips, (-1, 1), hold.spread, strict=True):
        up = pt(side * math.sin(spread), -math.cos(spread))
        if not hold.behind:
            wrist = grip + up * 0.34
            # Long enough to leave the frame whatever the zoom.
            arm = limb(wrist, wrist + up * 8.0, 0.12, 0.22)
            colour = person.skin if sleeve_bare else person.sleeve
            canvas.paint(canvas.fill_mask([arm]), colour, garment=False, occluder=True)
            if not sleeve_bare:
                cuff = limb(wrist + up * 0.25, wrist + up * 0.45, 0.16, 0.17)
                canvas.paint(
                    canvas.fill_mask([cuff]), person.sleeve * 0.85, garment=False, occluder=True
                )
            # The back of the hand over the seam, knuckles towards the front.
            _skin_fill(canvas, _hand(wrist + up * 0.04, -up, 0.42, 0.15), person, 0.8, True)
            _skin_fill(canvas, _hand(wrist, -up, 0.4, 0.14), person, occluder=True)
        outlines, rims = _fingers(grip, up, side, rng, not hold.behind, spacing)
        _skin_fill(canvas, rims, person, 0.7, occluder=True)
        _skin_fill(canvas, outlines, person, 0.97, occluder=True)
