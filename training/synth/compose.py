"""Renders one synthetic photo and its annotation row from (seed, index).

The recipe for image `index`:

1. plan the row: a usable upper-body row (~90 %), or one the loader must filter out (lower or
   full body, a harder pose or zoom-in, an occluded or a truncated landmark);
2. build the garment in garment units (`garments`) and dress it (`appearance`);
3. pick scale, turn, rotation and keystone (`warp`) and a translation that keeps every landmark
   in frame (or pushes one out, for truncated rows);
4. draw the foreground upright on a `Canvas` in layer order: wearer or holder behind, the
   inside of the back, the front body, sleeves, hands in front; then shade it;
5. remap the canvas into the photo over a background, add a shadow, occluders and a camera;
6. push the garment-unit landmarks through the same warp, and set visibility from the frame
   and from what was drawn over each landmark.

Everything random comes from `numpy.random.default_rng([seed, index])`, so an image depends
only on (seed, index).
"""

from __future__ import annotations

import dataclasses
import math

import cv2
import numpy as np
import numpy.typing as npt

from training.synth import details, figures
from training.synth.appearance import (
    Fabric,
    Image,
    Plane,
    contrast_colour,
    near_colour,
    photo_fabric,
    render_fabric,
    sample_fabric,
    skin_tone,
)
from training.synth.backgrounds import STYLES, draw_rail, render_background
from training.synth.camera import degrade, encode_jpeg
from training.synth.canvas import Canvas, Texture
from training.synth.canvas import blur as blur_map
from training.synth.garments import (
    BACK,
    BODY,
    SLEEVE,
    TOPS,
    WORN_POSES,
    Garment,
    Kind,
    Part,
    Pose,
    build_garment,
)
from training.synth.geometry import Points, SmoothField, pt
from training.synth.photo_backgrounds import BACKGROUND_SHARE, background_bank, photo_background
from training.synth.photo_textures import TEXTURE_SHARE, texture_bank
from training.synth.warp import Warp, make_warp

SIZE = 256
MARGIN = 4  # usable landmarks stay this many pixels inside the frame

# Row plans and their probabilities: ~10 % of rows are for the loader to filter out.
PLANS = ("usable", "lower", "full", "pose", "zoom", "occluded", "truncated")
_PLAN_P = np.array([0.918, 0.015, 0.015, 0.015, 0.012, 0.012, 0.013])

_TOP_P = np.array([0.24, 0.17, 0.14, 0.13, 0.13, 0.19])  # order of garments.TOPS
_POSES = (Pose.FLAT, Pose.HANGING, Pose.WORN, Pose.TURNED, Pose.HELD)
_POSE_P = np.array([0.22, 0.15, 0.28, 0.15, 0.20])

# Background styles (backgrounds.STYLES: studio, gradient, texture, room, lab) per pose:
# catalogue shots of worn garments are mostly studio; flat lays lie on floors, tables and beds;
# garments held up by hand are mostly photographed in labs and rooms.
_BACKGROUNDS = {
    Pose.WORN: np.array([0.45, 0.15, 0.1, 0.2, 0.1]),
    Pose.TURNED: np.array([0.45, 0.15, 0.1, 0.2, 0.1]),
    Pose.FLAT: np.array([0.25, 0.1, 0.45, 0.1, 0.1]),
    Pose.HANGING: np.array([0.3, 0.1, 0.25, 0.25, 0.1]),
    Pose.HELD: np.array([0.25, 0.1, 0.1, 0.2, 0.35]),
}

# Patterns that suit each kind (None: any pattern).
_KIND_PATTERNS: dict[Kind, tuple[str, ...] | None] = {
    Kind.SWEATER: ("knit", "knit", "heather", "solid", "stripes", "camo"),
    Kind.SHIRT: ("solid", "stripes", "checks", "plaid", "dots", "print", "denim"),
    Kind.JACKET: ("solid", "solid", "heather", "denim", "plaid", "camo"),
    Kind.TROUSERS: ("denim", "solid", "heather", "checks"),
}


@dataclasses.dataclass(frozen=True)
class Sample:
    """One rendered photo and its annotation.

    Attributes:
        jpeg: encoded image bytes (256x256 RGB JPEG).
        clothes_type: 1, 2 or 3.
        variation_type: 1 normal, 2/3 medium/large pose, 4/5 medium/large zoom-in.
        visibility: int64 [k], 0 visible, 1 occluded, 2 truncated.
        points: int64 [k, 2], (x, y) pixel indices clamped into the image.
        kind: garment kind.
        pose: presentation.
        plan: the row plan it was drawn for.
        category: DeepFashion folder, e.g. "WOMEN/Tees_Tanks".
        view: file-name view suffix ("front", "side", "flat", "full").
        arms: (left, right) arm styles of a wearer (`garments.ARM_STYLES`); () if not worn.
    """

    jpeg: bytes
    clothes_type: int
    variation_type: int
    visibility: npt.NDArray[np.int64]
    points: npt.NDArray[np.int64]
    kind: str
    pose: str
    plan: str
    category: str
    view: str
    arms: tuple[str, ...] = ()

    @property
    def usable(self) -> bool:
        """True for rows the default loader keeps: upper body, normal pose, all visible."""
        return self.clothes_type == 1 and self.variation_type == 1 and not self.visibility.any()


def _category(kind: Kind, rng: np.random.Generator, graphic: bool) -> str:
    """A DeepFashion In-shop category folder for a garment kind."""
    gender = "WOMEN" if rng.random() < 0.6 else "MEN"
    women = {
        Kind.TSHIRT: "Graphic_Tees" if graphic else "Tees_Tanks",
        Kind.LONG_SLEEVE: "Tees_Tanks",
        Kind.TANK: "Tees_Tanks",
        Kind.JACKET: "Jackets_Coats",
        Kind.SWEATER: "Sweaters",
        Kind.SHIRT: "Blouses_Shirts",
        Kind.TROUSERS: "Pants",
        Kind.SKIRT: "Skirts",
        Kind.DRESS: "Dresses",
    }
    men = {
        Kind.TSHIRT: "Tees_Tanks",
        Kind.LONG_SLEEVE: "Sweatshirts_Hoodies",
        Kind.TANK: "Tees_Tanks",
        Kind.JACKET: "Jackets_Vests",
        Kind.SWEATER: "Sweaters",
        Kind.SHIRT: "Shirts_Polos",
        Kind.TROUSERS: "Pants",
    }
    if gender == "MEN" and kind in men:
        return f"MEN/{men[kind]}"
    return f"WOMEN/{women[kind]}"


def _view(pose: Pose, fraction: float) -> str:
    if pose is Pose.FLAT:
        return "flat"
    if pose is Pose.TURNED:
        return "side"
    if pose is Pose.WORN and fraction < 0.55:
        return "full"
    return "front"


@dataclasses.dataclass
class _Dress:
    """The fabrics of one garment, by `Part.fabric` name."""

    fabrics: dict[str, Fabric]


# Third seed words of the generators that pick photo textures and photo backgrounds, apart
# from the sample's own.
_TEXTURE_STREAM = 1
_BACKGROUND_STREAM = 2


def _dress(
    rng: np.random.Generator,
    kind: Kind,
    textures: tuple[Image, ...] = (),
    texture_rng: np.random.Generator | None = None,
) -> _Dress:
    """The garment's fabrics; with `textures`, `TEXTURE_SHARE` of main fabrics are photos.

    The photo choice draws from `texture_rng` alone and comes after every draw from `rng`, so
    the garment, its pose and its landmarks are the same with textures as without.
    """
    patterns = _KIND_PATTERNS.get(kind)
    pattern = None if patterns is None else str(rng.choice(patterns))
    main = sample_fabric(rng, pattern=pattern)
    matching_trim = rng.random() < 0.7
    if matching_trim:
        tint = float(rng.uniform(0.85, 1.05))
        trim = main.plain().tinted(tint)
    else:
        trim = sample_fabric(rng, colour=contrast_colour(rng, main.colour), pattern="solid")
    inner = sample_fabric(rng, pattern=str(rng.choice(["solid", "heather", "stripes"])))
    if textures and texture_rng is not None and texture_rng.random() < TEXTURE_SHARE:
        main = photo_fabric(texture_rng, textures[int(texture_rng.integers(len(textures)))])
        if matching_trim:
            trim = main.plain().tinted(tint)
    return _Dress({"main": main, "trim": trim, "inner": inner})


def _plan_geometry(
    rng: np.random.Generator, plan: str, pose: Pose
) -> tuple[float, float, float, tuple[float, float], int]:
    """(frame fraction, turn, rotation, keystone, variation_type) for a row plan."""
    if pose in WORN_POSES:
        fraction = float(rng.uniform(0.45, 0.95))
    else:
        fraction = float(rng.uniform(0.35, 0.92))
    turn = 0.0
    if pose is Pose.TURNED:
        turn = float(rng.choice([-1.0, 1.0]) * rng.uniform(0.2, 0.5))
    max_rot = 12.0 if pose is Pose.FLAT else 6.0
    rotation = math.radians(float(rng.uniform(-max_rot, max_rot)))
    keystone = (0.0, 0.0)
    if pose in (Pose.FLAT, Pose.HELD, Pose.HANGING) and rng.random() < 0.5:
        keystone = (float(rng.uniform(-6e-4, 6e-4)), float(rng.uniform(-6e-4, 6e-4)))
    variation = 1
    if plan == "pose":
        variation = int(rng.choice([2, 3]))
        spin = rng.uniform(13, 24) if variation == 2 else rng.uniform(25, 50)
        rotation = math.radians(float(rng.choice([-1.0, 1.0]) * spin))
        if pose is Pose.TURNED:
            turn = math.copysign(min(abs(turn) + 0.3, 0.85), turn)
    elif plan == "zoom":
        variation = int(rng.choice([4, 5]))
        fraction *= float(rng.uniform(1.3, 1.6) if variation == 4 else rng.uniform(1.7, 2.4))
    return fraction, turn, rotation, keystone, variation


def _fit(
    lm: Points, outline: Points, rng: np.random.Generator, centred: bool
) -> tuple[float, float] | None:
    """A translation that keeps all landmarks `MARGIN` inside the frame (None if too big).

    Where the whole garment fits, it is kept in frame too; `centred` prefers the middle, as a
    catalogue photo would.
    """
    out = []
    for axis in (0, 1):
        lo = MARGIN - lm[:, axis].min()
        hi = SIZE - 1 - MARGIN - lm[:, axis].max()
        if lo > hi:
            return None
        glo = 1 - outline[:, axis].min()
        ghi = SIZE - 2 - outline[:, axis].max()
        if glo <= ghi and max(lo, glo) <= min(hi, ghi):
            lo, hi = max(lo, glo), min(hi, ghi)
        if centred:
            mid = (lo + hi) / 2
            half = (hi - lo) / 2 * 0.3
            out.append(float(rng.uniform(mid - half, mid + half)))
        else:
            out.append(float(rng.uniform(lo, hi)))
    return out[0], out[1]


def _truncating_shift(lm: Points, rng: np.random.Generator) -> tuple[float, float]:
    """A translation that pushes one landmark 3-30 px out of the frame through one edge."""
    edge = int(rng.integers(0, 4))  # 0 left, 1 right, 2 top, 3 bottom
    depth = float(rng.uniform(3, 30))
    centre = (SIZE - 1) / 2 - lm.mean(axis=0)
    tx, ty = float(centre[0]), float(centre[1])
    if edge == 0:
        tx = -depth - float(lm[:, 0].min())
    elif edge == 1:
        tx = SIZE - 1 + depth - float(lm[:, 0].max())
    elif edge == 2:
        ty = -depth - float(lm[:, 1].min())
    else:
        ty = SIZE - 1 + depth - float(lm[:, 1].max())
    return tx, ty


def _part_texture(part: Part, fabric: Fabric, canvas: Canvas, rng: np.random.Generator) -> Texture:
    """Texture callback for one part: fabric in the part's own pattern frame, toned."""
    c, s = math.cos(part.angle), math.sin(part.angle)
    px, py = float(part.pivot[0]), float(part.pivot[1])

    def texture(u: Plane, v: Plane) -> Image:
        if part.angle:
            du, dv = u - px, v - py
            u, v = (px + du * c - dv * s), (py + du * s + dv * c)
            u, v = u.astype(np.float32), v.astype(np.float32)
        return render_fabric(fabric, u, v, canvas.scale, rng) * np.float32(part.tone)

    return texture


def _draw_layer(
    canvas: Canvas,
    garment: Garment,
    dress: _Dress,
    layer: int,
    rng: np.random.Generator,
    occluder: bool,
) -> None:
    for part in garment.parts:
        if part.layer == layer:
            texture = _part_texture(part, dress.fabrics[part.fabric], canvas, rng)
            canvas.paint(canvas.fill_mask([part.poly]), texture, garment=True, occluder=occluder)


def _landmark_layers(garment: Garment) -> npt.NDArray[np.int64]:
    """The layer each landmark belongs to (sleeve ends live on the sleeves)."""
    layers = np.full(len(garment.landmarks), BODY, np.int64)
    if garment.clothes_type in (1, 3) and garment.sleeve_length > 0:
        layers[2:4] = SLEEVE
    return layers


def _finish_lighting(
    canvas: Canvas, garment: Garment, pose: Pose, rng: np.random.Generator
) -> None:
    """Whole-foreground light: soft shadow near the outline, a light gradient, round torso."""
    h, w = canvas.size
    sigma = max(1.0, 0.08 * canvas.scale)
    ao = blur_map(canvas.alpha, sigma)
    depth = float(rng.uniform(0.2, 0.6))
    factor = 1.0 - depth * np.clip(1.0 - ao, 0.0, 1.0)
    ys = (np.arange(h, dtype=np.float32) + canvas.origin[1]) / canvas.scale
    xs = (np.arange(w, dtype=np.float32) + canvas.origin[0]) / canvas.scale
    angle = rng.uniform(0, 2 * math.pi)
    gain = float(rng.uniform(0.0, 0.08))
    light = 1.0 + gain * (np.cos(angle) * xs[None, :] + np.sin(angle) * ys[:, None])
    factor = factor * light
    if pose in WORN_POSES:
        # A torso is round: fabric turns away from the light towards the sides.
        radius = garment.hem_half * 1.15
        x_units = xs + float(canvas.centre[0])
        roll = np.clip(np.abs(x_units) / radius, 0.0, 1.0) ** 3
        factor = factor * (1.0 - float(rng.uniform(0.1, 0.35)) * roll)[None, :]
    canvas.rgb *= factor[..., None].astype(np.float32)


def _occluder(rng: np.random.Generator, image: Image, target: Points) -> Plane:
    """Draws something over `target` (a hand, bag, hair, tag, prop) and returns its coverage."""
    mask = np.zeros((SIZE, SIZE), np.uint8)
    r = float(rng.uniform(9, 24))
    centre = target + rng.uniform(-0.4, 0.4, 2) * r
    kind = rng.random()
    c = (int(centre[0] * 16), int(centre[1] * 16))
    if kind < 0.35:
        colour = skin_tone(rng)
        axes = (int(r * 16), int(r * 0.7 * 16))
        cv2.ellipse(mask, c, axes, float(rng.uniform(0, 180)), 0, 360, 255, -1, cv2.LINE_AA, 4)
    elif kind < 0.55:
        colour = near_colour(rng, np.array([40, 30, 25], np.float32), 30)
        angle = rng.uniform(0, math.pi)
        d = np.array([math.cos(angle), math.sin(angle)]) * r * 1.8
        n = np.array([-d[1], d[0]]) * 0.25
        poly = np.stack(
            [centre - d - n, centre + d - n * 0.3, centre + d + n * 0.3, centre - d + n]
        )
        cv2.fillPoly(mask, [np.round(poly * 16).astype(np.int32)], 255, cv2.LINE_AA, 4)
    else:
        colour = np.array(rng.uniform(0, 255, 3), np.float32)
        half = np.array([r, r * rng.uniform(0.5, 1.2)])
        p0 = np.round((centre - half) * 16).astype(int)
        p1 = np.round((centre + half) * 16).astype(int)
        cv2.rectangle(
            mask, (int(p0[0]), int(p0[1])), (int(p1[0]), int(p1[1])), 255, -1, cv2.LINE_AA, 4
        )
    m = mask.astype(np.float32) / 255.0
    image *= 1.0 - m[..., None]
    image += colour * m[..., None]
    return m


def _content_box(garment: Garment, pose: Pose) -> tuple[float, float, float, float]:
    if pose in WORN_POSES:
        return figures.wearer_extent(garment)
    if pose is Pose.HANGING:
        return figures.hanger_extent(garment)
    if pose is Pose.HELD:
        return figures.holder_extent(garment)
    return garment.extent()


def _choose(rng: np.random.Generator) -> tuple[str, Kind, Pose]:
    """(row plan, garment kind, pose) of one image."""
    plan = str(rng.choice(PLANS, p=_PLAN_P))
    if plan == "lower":
        kind = Kind.TROUSERS if rng.random() < 0.6 else Kind.SKIRT
        pose = Pose.FLAT if rng.random() < 0.6 else Pose.HANGING
    elif plan == "full":
        kind = Kind.DRESS
        pose = (Pose.FLAT, Pose.HANGING, Pose.WORN, Pose.WORN)[int(rng.integers(0, 4))]
    else:
        kind = TOPS[int(rng.choice(len(TOPS), p=_TOP_P))]
        pose = _POSES[int(rng.choice(len(_POSES), p=_POSE_P))]
    return plan, kind, pose


@dataclasses.dataclass(frozen=True)
class _Placement:
    """Where the garment lands in the photo.

    Attributes:
        warp: model pixels -> image pixels.
        centre: float64 [2], the garment-unit point at model pixel (0, 0).
        scale: pixels per garment unit.
    """

    warp: Warp
    centre: Points
    scale: float

    def to_image(self, pts: Points) -> Points:
        """Garment units [N, 2] -> image pixels [N, 2]."""
        return self.warp.forward((pts - self.centre) * self.scale)


def _place(
    rng: np.random.Generator,
    garment: Garment,
    plan: str,
    fraction: float,
    turn: float,
    rotation: float,
    keystone: tuple[float, float],
    centred: bool,
) -> _Placement:
    """Scale and translation: every landmark in frame, or one pushed out for truncated rows."""
    gx0, gy0, gx1, gy1 = garment.extent()
    centre = pt((gx0 + gx1) / 2, (gy0 + gy1) / 2)
    outline_units = garment.outline_points()
    scale = fraction * SIZE / max(gx1 - gx0, gy1 - gy0)
    radius = garment.hem_half * 1.05 + 0.3  # torso radius for the turn, garment units
    for _ in range(16):
        warp = make_warp(turn, radius * scale, 4.0 * SIZE, rotation, keystone)
        lm = warp.forward((garment.landmarks - centre) * scale)
        if plan == "truncated":
            shift: tuple[float, float] | None = _truncating_shift(lm, rng)
        elif plan == "zoom":
            focus = lm[int(rng.integers(0, len(lm)))] * 0.5 + lm.mean(axis=0) * 0.5
            shift = (float((SIZE - 1) / 2 - focus[0]), float((SIZE - 1) / 2 - focus[1]))
        else:
            shift = _fit(lm, warp.forward((outline_units - centre) * scale), rng, centred)
        if shift is not None:
            return _Placement(warp.translated(*shift), centre, scale)
        scale *= 0.9  # landmarks do not fit: zoom out
    raise RuntimeError("no placement fits the landmarks in the frame")  # unreachable in practice


def _make_canvas(garment: Garment, pose: Pose, placement: _Placement) -> Canvas:
    """A canvas covering what the foreground occupies, cut to what the frame can see."""
    bx0, by0, bx1, by1 = _content_box(garment, pose)
    content = (np.array([[bx0, by0], [bx1, by1]]) - placement.centre) * placement.scale
    edge = np.linspace(0, SIZE - 1, 9)
    border = np.concatenate(
        [np.stack([edge, np.full(9, y)], 1) for y in (0.0, SIZE - 1.0)]
        + [np.stack([np.full(9, x), edge], 1) for x in (0.0, SIZE - 1.0)]
    )
    seen = placement.warp.inverse(border)
    x0 = max(content[0, 0], seen[:, 0].min()) - 4
    y0 = max(content[0, 1], seen[:, 1].min()) - 4
    x1 = min(content[1, 0], seen[:, 0].max()) + 4
    y1 = min(content[1, 1], seen[:, 1].max()) + 4
    width = int(np.clip(math.ceil(x1 - x0), 8, 1200))
    height = int(np.clip(math.ceil(y1 - y0), 8, 1200))
    return Canvas(
        placement.centre, placement.scale, (math.floor(x0), math.floor(y0)), (height, width)
    )


@dataclasses.dataclass(frozen=True)
class _Foreground:
    """What drawing the foreground produced besides pixels.

    Attributes:
        covered: float64 [k], how much of each landmark something drawn later hides.
        hook_top: float64 [2] top of the hanger hook (garment units), or None.
        graphic: whether a chest print was drawn.
    """

    covered: npt.NDArray[np.float64]
    hook_top: Points | None
    graphic: bool


def _draw_foreground(
    canvas: Canvas,
    garment: Garment,
    dress: _Dress,
    pose: Pose,
    turn: float,
    hold: figures.Hold | None,
    rng: np.random.Generator,
) -> _Foreground:
    """Draws wearer/holder/hanger and garment in layer order, then shades it.

    `hold` is how a held garment (`Pose.HELD`) is gripped; None for other poses.
    """
    person = figures.sample_person(rng)
    worn = pose in WORN_POSES and garment.kind in (*TOPS, Kind.DRESS)
    if worn:
        figures.draw_wearer_behind(canvas, person, garment, turn, rng)
    if hold is not None:
        figures.draw_holder_behind(canvas, person, garment, hold)
    _draw_layer(canvas, garment, dress, BACK, rng, occluder=False)
    hook_top = figures.draw_hanger(canvas, garment, rng) if pose is Pose.HANGING else None
    if worn:
        figures.draw_wearer_neck(canvas, person)

    wrinkles = float(rng.uniform(0.0, 1.6))
    blur_px = max(0.6, 0.03 * canvas.scale)
    _draw_layer(canvas, garment, dress, BODY, rng, occluder=False)
    details.draw_buttons(canvas, garment, rng)
    printable = garment.kind in (Kind.TSHIRT, Kind.LONG_SLEEVE, Kind.SWEATER)
    graphic = garment.kind in TOPS and rng.random() < (0.45 if printable else 0.1)
    if graphic:
        details.draw_graphic(canvas, garment, dress.fabrics["main"], rng)
    details.draw_strokes(canvas, garment, BODY)
    grips = None if hold is None else list(hold.grips)
    details.draw_folds(canvas, garment, pose, BODY, wrinkles, rng, grips)
    details.draw_undulation(canvas, float(rng.uniform(0.0, 0.12)), rng)
    canvas.apply_shading(blur_px)

    # Sleeves and a wearer's hands in front of the body can hide body landmarks (a long sleeve
    # hanging over a hem corner, a hand on the hip); a holder's hands can hide any landmark.
    body_points = _landmark_layers(garment) == BODY
    covered = np.zeros(len(garment.landmarks))
    canvas.reset_cover()
    if worn:
        figures.draw_wearer_front(canvas, person, garment)
    _draw_layer(canvas, garment, dress, SLEEVE, rng, occluder=True)
    details.draw_strokes(canvas, garment, SLEEVE)
    details.draw_folds(canvas, garment, pose, SLEEVE, wrinkles, rng)
    canvas.apply_shading(blur_px)
    covered[body_points] = canvas.cover_at(garment.landmarks[body_points])
    canvas.reset_cover()
    if hold is not None:
        figures.draw_holder_hands(canvas, person, garment, hold, rng)
    covered = np.maximum(covered, canvas.cover_at(garment.landmarks))
    _finish_lighting(canvas, garment, pose, rng)
    return _Foreground(covered=covered, hook_top=hook_top, graphic=bool(graphic))


def _photograph(
    canvas: Canvas,
    placement: _Placement,
    pose: Pose,
    background_match: npt.NDArray[np.float32] | None,
    hook_top: Points | None,
    rng: np.random.Generator,
    backgrounds: tuple[str, ...] | None = None,
    photo_backgrounds: tuple[Image, ...] = (),
    photo_rng: np.random.Generator | None = None,
) -> Image:
    """Background, rail, shadow and the remapped foreground: float32 [SIZE, SIZE, 3] RGB.

    `backgrounds` limits the background to those `STYLES`, in the pose's usual proportions.
    With `photo_backgrounds`, `BACKGROUND_SHARE` of backgrounds are one of them instead, chosen
    by `photo_rng` alone (the drawn one is still drawn, so `rng` moves on as without).
    """
    weights = _BACKGROUNDS[pose]
    if backgrounds is not None:
        # Every pose gives every style some weight, so any non-empty choice keeps some.
        weights = weights * np.array([style in backgrounds for style in STYLES])
    background, _, _ = render_background(rng, SIZE, background_match, weights)
    if photo_backgrounds and photo_rng is not None and photo_rng.random() < BACKGROUND_SHARE:
        background = photo_background(photo_rng, photo_backgrounds)
    if hook_top is not None:
        top = placement.to_image(hook_top[None])[0]
        if 0 <= top[1] < SIZE - 1 and rng.random() < 0.7:
            background = draw_rail(background, float(top[1]), rng)
    rgba = np.dstack([canvas.rgb, canvas.alpha])
    warp = placement.warp
    if warp.is_projective:
        # No turn: one homography from canvas pixels to the photo (much cheaper than remap).
        ox, oy = canvas.origin
        to_model = np.array([[1.0, 0.0, ox], [0.0, 1.0, oy], [0.0, 0.0, 1.0]])
        fg = cv2.warpPerspective(
            rgba,
            warp.matrix @ to_model,
            (SIZE, SIZE),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0,
        )
    else:
        map_x, map_y = warp.inverse_maps(SIZE, SIZE, canvas.origin)
        fg = cv2.remap(
            rgba, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0
        )
    alpha = np.clip(fg[..., 3], 0.0, 1.0)
    if rng.random() < 0.85:
        # A soft drop shadow: short and tight on a table, longer on a wall or sweep.
        offset = rng.uniform(1, 6 if pose is Pose.FLAT else 16, 2) * rng.choice([-1, 1], 2)
        sigma = float(rng.uniform(2, 10 if pose is Pose.FLAT else 16))
        shift_m = np.array([[1, 0, offset[0]], [0, 1, abs(offset[1])]], np.float32)
        shadow = np.asarray(cv2.warpAffine(alpha, shift_m, (SIZE, SIZE)), np.float32)
        shadow = blur_map(shadow, sigma)
        strength = np.float32(rng.uniform(0.15, 0.5))
        background *= (1.0 - strength * shadow)[..., None]
    background *= (1.0 - alpha)[..., None]
    background += fg[..., :3]
    return background


def _visibility(
    points: Points,
    covered: npt.NDArray[np.float64],
    plan: str,
    image: Image,
    rng: np.random.Generator,
) -> npt.NDArray[np.int64]:
    """Visibility per landmark; for "occluded" rows, first draws an occluder over one."""
    visibility = np.zeros(len(points), np.int64)
    visibility[covered > 0.5] = 1
    if plan == "occluded":
        occ = _occluder(rng, image, points[int(rng.integers(0, len(points)))])
        for i, (x, y) in enumerate(points):
            xi, yi = round(x), round(y)
            if 0 <= xi < SIZE and 0 <= yi < SIZE and occ[yi, xi] >= 0.5:
                visibility[i] = 1
    outside = (points < 0).any(axis=1) | (points > SIZE - 1).any(axis=1)
    visibility[outside] = 2
    return visibility


def render_sample(
    seed: int,
    index: int,
    backgrounds: tuple[str, ...] | None = None,
    textures: str | None = None,
    photo_backgrounds: str | None = None,
) -> Sample:
    """Renders image `index` of the data set generated with `seed`.

    Args:
        seed: the data set's seed.
        index: the image's index in it.
        backgrounds: only these background `STYLES` (e.g. `("room", "lab")` for a set of
            cluttered scenes); None: every style, in each pose's usual proportions. The garment,
            its pose and its landmark positions are the same either way; the scene differs.
        textures: a folder of real photos; `TEXTURE_SHARE` of garments are then cut from a
            texture of one of them (`photo_textures`), everything else as without. None:
            drawn fabrics only.
        photo_backgrounds: a labelled photo folder; `BACKGROUND_SHARE` of backgrounds are then
            one of its photos with the garment painted over (`photo_backgrounds`). None: drawn
            backgrounds only.
    """
    rng = np.random.default_rng([seed, index])
    plan, kind, pose = _choose(rng)
    garment = build_garment(rng, kind, pose)
    # Cloth is never ruler-straight: bend every edge a little (landmarks move with it).
    drape = rng.uniform(0.005, 0.02) if pose is Pose.FLAT else rng.uniform(0.01, 0.035)
    garment = garment.displaced(SmoothField(rng, float(drape), (1.0, 3.5)))
    hold = None
    if pose is Pose.HELD:
        # Hung from two hands, the garment sags under its own weight.
        hold = figures.sample_hold(rng, garment)
        garment = garment.displaced(hold.gravity)
    if textures is None:
        dress = _dress(rng, kind)
    else:
        texture_rng = np.random.default_rng([seed, index, _TEXTURE_STREAM])
        dress = _dress(rng, kind, texture_bank(textures), texture_rng)
    fraction, turn, rotation, keystone, variation = _plan_geometry(rng, plan, pose)
    centred = pose in WORN_POSES and rng.random() < 0.7
    placement = _place(rng, garment, plan, fraction, turn, rotation, keystone, centred)

    canvas = _make_canvas(garment, pose, placement)
    drawn = _draw_foreground(canvas, garment, dress, pose, turn, hold, rng)
    match = dress.fabrics["main"].colour if rng.random() < 0.12 else None
    if backgrounds is not None and "studio" not in backgrounds:
        match = None  # a garment on a backdrop of its own colour is a studio shot
    scenes: tuple[Image, ...] = ()
    photo_rng = None
    if photo_backgrounds is not None:
        scenes = background_bank(photo_backgrounds)
        photo_rng = np.random.default_rng([seed, index, _BACKGROUND_STREAM])
    image = _photograph(
        canvas, placement, pose, match, drawn.hook_top, rng, backgrounds, scenes, photo_rng
    )

    points = placement.to_image(garment.landmarks)
    visibility = _visibility(points, drawn.covered, plan, image, rng)
    final = degrade(image, rng)
    quality = int(rng.integers(40, 96))
    return Sample(
        jpeg=encode_jpeg(final, quality),
        clothes_type=garment.clothes_type,
        variation_type=variation,
        visibility=visibility,
        points=np.clip(np.round(points), 0, SIZE - 1).astype(np.int64),
        kind=str(kind),
        pose=str(pose),
        plan=plan,
        category=_category(kind, rng, drawn.graphic),
        view=_view(pose, fraction),
        arms=tuple(arm.style for arm in garment.arms) if pose in WORN_POSES else (),
    )
