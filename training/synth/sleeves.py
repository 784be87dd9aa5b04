"""Sleeves of a top: their outline, where they end (cuff or forearm), and the sleeve landmarks."""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from training.synth.arms import (
    FOREARM,
    UPPER_ARM,
    arm_styles,
    bare_arm,
    forearm_direction,
    pose_arm,
)
from training.synth.garment_model import (
    BODY,
    SLEEVE,
    Arm,
    Kind,
    Part,
    Pose,
    Stroke,
    TopDraft,
    uniform,
)
from training.synth.geometry import (
    Points,
    arc,
    chain,
    direction,
    lerp,
    normal_towards_body,
    pt,
    quad,
)


def sleeve_angle(rng: np.random.Generator, pose: Pose) -> float:
    """Sleeve angle from straight down, radians; depends on how the garment is shown."""
    if pose is Pose.FLAT:
        degrees = uniform(rng, 8, 35) if rng.random() < 0.2 else uniform(rng, 30, 105)
    elif pose is Pose.HANGING:
        degrees = uniform(rng, 3, 22)
    elif pose is Pose.HELD:
        # Held up by the shoulders, sleeves hang nearly straight down under their weight.
        degrees = uniform(rng, 2, 14) if rng.random() < 0.75 else uniform(rng, 14, 32)
    else:
        # Arms mostly down beside the body; sometimes held a little away.
        degrees = uniform(rng, 7, 22) if rng.random() < 0.8 else uniform(rng, 22, 50)
    return math.radians(degrees)


def sleeve_outline(
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


def _add_cuff(
    top: TopDraft,
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
    top: TopDraft,
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


def add_sleeves(rng: np.random.Generator, top: TopDraft) -> tuple[list[Arm], list[Points], float]:
    """Sleeves (or armhole facings on a tank) and where a wearer's arms run.

    Returns:
        (arms, [left, right] sleeve landmarks, sleeve length; 0 for sleeveless).
    """
    arms: list[Arm] = []
    styles = arm_styles(rng, top.pose)
    if top.kind is Kind.TANK:
        base_angle = sleeve_angle(rng, top.pose)
        for side, style in zip((-1, 1), styles, strict=True):
            # The wearer's shoulder joint, well outside the strap.
            joint = pt(side * uniform(rng, 0.92, 1.05), top.drop + uniform(rng, 0.15, 0.3))
            pose = pose_arm(rng, top, style, side, joint, base_angle, (UPPER_ARM, FOREARM))
            arms.append(bare_arm(joint, pose, side, 0.3))
            facing = top.armhole_curve * pt(side, 1.0)
            top.strokes.append(Stroke(facing, uniform(rng, 0.02, 0.05), 0.85, BODY))
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
        length, cuff_half = uniform(rng, 2.1, 2.8), uniform(rng, 0.16, 0.27)
        upper = length * uniform(rng, 0.47, 0.54)
        lengths = (upper, length - upper)
    else:
        length, cuff_half = uniform(rng, 0.5, 1.15), uniform(rng, 0.27, 0.42)
        lengths = (UPPER_ARM, FOREARM)
    hang_half = uniform(rng, 0.3, 0.4)
    base_angle = sleeve_angle(rng, top.pose)
    cuffed = (long_sleeves and top.kind is not Kind.JACKET) or rng.random() < 0.3
    look = (cuffed, uniform(rng, 0.12, 0.3), uniform(rng, 0.85, 0.98))
    points: list[Points] = []
    for side, style in zip((-1, 1), styles, strict=True):
        s, a = top.shoulder * pt(side, 1.0), top.armpit * pt(side, 1.0)
        joint = s + pt(-side * 0.1, 0.15)  # about where the sleeve's axis starts
        pose = pose_arm(rng, top, style, side, joint, base_angle, lengths)
        bent = long_sleeves and abs(pose.bend) > math.radians(2)
        tube_len, end_half = length, cuff_half
        if bent:
            # Sleeves bunch up a little at the elbow.
            tube_len = lengths[0]
            end_half = lerp(hang_half, cuff_half, lengths[0] / length) * uniform(rng, 1.0, 1.12)
        outline, cuff, root, d, root_half = sleeve_outline(
            s, a, pose.angle, tube_len, hang_half, end_half, side
        )
        tilt = -side * pose.angle  # the pattern follows the sleeve axis
        sleeve = Part(outline, SLEEVE, tone=uniform(rng, 0.94, 1.03), angle=tilt, pivot=root)
        top.parts.append(sleeve)
        f = d
        if bent:
            elbow = cuff
            f = forearm_direction(d, elbow, lengths[1], pose.bend, side)
            cuff = _add_forearm(top, elbow, f, lengths[1], (end_half, cuff_half), side, sleeve)
            arm = Arm(root, elbow, cuff, side, cuff_half, pose.style)
        elif long_sleeves:
            arm = Arm(root, root + d * lengths[0], cuff, side, cuff_half, pose.style)
        else:
            arm = bare_arm(root, pose, side, cuff_half)
        last = top.parts[-1]
        _add_cuff(top, cuff, f, side, cuff_half, look, (last.angle, last.pivot))
        # The armhole seam where the sleeve meets the body.
        n = normal_towards_body(d, side)
        top.strokes.append(Stroke(np.stack([s, root + n * root_half]), 0.02, 0.8, SLEEVE))
        arms.append(arm)
        points.append(cuff)
    return arms, points, length
