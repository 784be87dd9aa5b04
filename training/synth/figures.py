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
from training.synth.garments import Garment
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
        bend: elbow bend, radians (positive bends the forearm towards the body).
        akimbo: extra bend of bare forearms (hands back to the hips), radians.
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
    bend: float
    akimbo: float
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
        bend=math.radians(float(rng.uniform(-12, 5))),
        akimbo=math.radians(float(rng.uniform(50, 90))) if rng.random() < 0.2 else 0.0,
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

    # Arms, behind the garment: sleeves cover their roots, and a hand that comes back to the
    # hip goes behind the body (a hand in a back pocket) rather than over a hem corner.
    for arm in garment.arms:
        covered = garment.sleeve_length > 1.6
        upper = 1.25
        elbow = arm.root + arm.direction * upper
        bend = person.bend if covered else person.bend + person.akimbo
        fore_dir = rotate(arm.direction, arm.side * bend) if bend else arm.direction
        fore_len = max(1.15, garment.sleeve_length - upper + 0.05) if covered else 1.15
        wrist = elbow + fore_dir * fore_len
        half = min(0.21, arm.cuff_half * 0.9)
        pieces = [
            limb(arm.root, elbow, half, min(half, 0.16)),
            limb(elbow, wrist, min(half, 0.16), 0.11),
            arc(elbow, min(half, 0.16), min(half, 0.16), 0, 2 * math.pi, 12),
        ]
        pieces += _hand(wrist - fore_dir * 0.05, fore_dir, 0.5, 0.13)
        # A darker rim first, so an arm reads against the torso behind it.
        rim = [limb(arm.root, elbow, half + 0.025, min(half, 0.16) + 0.025)]
        rim.append(limb(elbow, wrist, min(half, 0.16) + 0.025, 0.135))
        _skin_fill(canvas, rim, person, 0.72)
        _skin_fill(canvas, pieces, person)

    _draw_head(canvas, person, turn)


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
    """Garment-unit box of a garment held up with the holder's arms above it."""
    x0, _, x1, y1 = garment.extent()
    return min(x0, -2.4), -5.0, max(x1, 2.4), y1 + 0.5


def _holder_hands(garment: Garment) -> list[tuple[Points, int]]:
    """(grip point, side) for both hands: partway from the collar to the shoulder point."""
    out = []
    for side in (-1, 1):
        neck = pt(side * garment.neck_half, 0.0)
        shoulder = garment.shoulder * pt(side, 1.0)
        out.append((neck + (shoulder - neck) * 0.6, side))
    return out


def draw_holder_behind(canvas: Canvas, person: Person, garment: Garment, behind: bool) -> None:
    """The holder behind the garment.

    Args:
        canvas: target.
        person: the holder's looks.
        garment: the held garment.
        behind: True when the holder stands behind it (body, head and arms bent down behind
            the garment); False when only arms reach in from above (drawn by
            `draw_holder_hands`).
    """
    if not behind:
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
    for grip, side in _holder_hands(garment):
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


def draw_holder_hands(
    canvas: Canvas, person: Person, garment: Garment, behind: bool, rng: np.random.Generator
) -> None:
    """Hands gripping the shoulders, drawn over the garment.

    With `behind`, only fingers curl over the shoulder seam (the arms are behind the garment);
    otherwise forearms reach down from above the frame.
    """
    sleeve_bare = rng.random() < 0.4
    spread = math.radians(float(rng.uniform(5, 35)))
    for grip, side in _holder_hands(garment):
        up = pt(side * math.sin(spread), -math.cos(spread))
        if not behind:
            wrist = grip + up * 0.3
            arm = limb(wrist, wrist + up * 4.5, 0.12, 0.2)
            colour = person.skin if sleeve_bare else person.sleeve
            canvas.paint(canvas.fill_mask([arm]), colour, garment=False, occluder=True)
            if not sleeve_bare:
                cuff = limb(wrist + up * 0.25, wrist + up * 0.45, 0.16, 0.17)
                canvas.paint(
                    canvas.fill_mask([cuff]), person.sleeve * 0.85, garment=False, occluder=True
                )
            # Palm over the shoulder seam.
            _skin_fill(canvas, _hand(wrist, -up, 0.42, 0.14), person, occluder=True)
        # Fingers curling over the front.
        for k in (-1.5, -0.5, 0.5, 1.5):
            base = grip + pt(k * 0.065, -0.06)
            tip = base + pt(k * 0.01 * side, float(rng.uniform(0.12, 0.2)))
            finger = limb(base, tip, 0.032, 0.028)
            nail = arc(tip, 0.028, 0.028, 0, 2 * math.pi, 8)
            _skin_fill(canvas, [finger, nail], person, 0.95, occluder=True)
        if behind:
            thumb = limb(grip + pt(side * 0.16, -0.04), grip + pt(side * 0.2, 0.12), 0.04, 0.035)
            _skin_fill(canvas, [thumb], person, 0.9, occluder=True)
