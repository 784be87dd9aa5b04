"""Lower-body garments (trousers, shorts, skirts) and dresses."""

from __future__ import annotations

import numpy as np

from training.synth.garment_model import (
    BODY,
    Garment,
    Kind,
    Part,
    Pose,
    Stroke,
    mirror_poly,
    uniform,
)
from training.synth.geometry import (
    chain,
    cubic,
    pt,
    quad,
)
from training.synth.tops import build_top


def build_lower(rng: np.random.Generator, kind: Kind) -> Garment:
    """Samples trousers, shorts or a skirt (clothes_type 2, four landmarks).

    Units here: the waistband half-width is about 0.85, as on the matching tops.
    """
    waist = uniform(rng, 0.75, 0.95)
    parts: list[Part] = []
    strokes: list[Stroke] = []
    band = uniform(rng, 0.1, 0.2)
    if kind is Kind.SKIRT:
        length = uniform(rng, 1.5, 3.5)
        hem_half = waist * uniform(rng, 1.1, 1.8)
        sag = uniform(rng, -0.02, 0.15)
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
        poly = chain(np.stack([pt(0.0, 0.0)]), right, mirror_poly(right))
        parts.append(Part(poly, BODY))
        hems = (pt(-hem_half, length), pt(hem_half, length))
        hem_y = length
    else:
        length = uniform(rng, 3.4, 4.4) if kind is Kind.TROUSERS else uniform(rng, 1.1, 1.7)
        outer = waist * uniform(rng, 1.0, 1.15)
        opening = uniform(rng, 0.35, 0.6)
        rise = uniform(rng, 0.9, 1.3)
        right = chain(
            cubic(
                pt(waist, 0.0), pt(waist * 1.1, rise * 0.5), pt(outer, rise), pt(outer, length), 10
            ),
            np.stack([pt(outer - opening, length), pt(0.02, rise)]),
        )
        poly = chain(np.stack([pt(0.0, 0.0)]), right, mirror_poly(right))
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
    top = build_top(rng, base_kind, pose, bodice_length=uniform(rng, 1.7, 2.1))
    waist_y, waist_half = top.hem_y, top.hem_half
    length = waist_y + uniform(rng, 1.6, 3.8)
    hem_half = waist_half * uniform(rng, 1.2, 2.0)
    sag = uniform(rng, 0.0, 0.12)
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
    skirt = chain(skirt_right, mirror_poly(skirt_right))
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
