"""How a wearer's arms are posed: the style of each arm, and the joints of a bent or hanging arm."""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from training.synth.garment_model import WORN_POSES, Arm, Pose, TopDraft, uniform
from training.synth.geometry import (
    Points,
    direction,
    lerp,
    pt,
    rotate,
    signed_angle,
    two_link_elbow,
)

ARM_STYLES = ("down", "close", "front", "hip", "pocket")
"""How a wearer holds each arm: hanging a little away from the body; hanging close to it (a
long sleeve then ends beside or over the hem); bent at the elbow with the forearm in front of
the torso; hand on the hip, elbow out; hand in a trouser pocket. Shop photos show all of
these, and a model that only saw straight arms misses bent sleeves."""


_ARM_STYLE_P = np.array([0.4, 0.15, 0.2, 0.15, 0.1])


UPPER_ARM = 1.25  # shoulder joint to elbow, garment units


FOREARM = 1.15  # elbow to wrist


@dataclasses.dataclass(frozen=True)
class ArmPose:
    """One arm's pose: the upper arm's angle from straight down (outwards), and the bend at
    the elbow (radians the forearm turns from the upper arm towards the body)."""

    angle: float
    bend: float
    style: str


def arm_styles(rng: np.random.Generator, pose: Pose) -> tuple[str, str]:
    """(left, right) arm styles; only wearers vary them. Half the time both arms match."""
    if pose not in WORN_POSES:
        return "down", "down"
    first = str(rng.choice(ARM_STYLES, p=_ARM_STYLE_P))
    if rng.random() < 0.5:
        return first, first
    second = str(rng.choice(ARM_STYLES, p=_ARM_STYLE_P))
    return (first, second) if rng.random() < 0.5 else (second, first)


def pose_arm(
    rng: np.random.Generator,
    top: TopDraft,
    style: str,
    side: int,
    joint: Points,
    base_angle: float,
    lengths: tuple[float, float],
) -> ArmPose:
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
    target = wrist_target(rng, top, style, side)
    if target is not None:
        elbow = two_link_elbow(joint, target, lengths[0], lengths[1], side)
        upper = elbow - joint
        angle = math.atan2(side * upper[0], upper[1])
        bend = side * signed_angle(upper, target - elbow)
        # Elbows out, but not flapping: a close target would swing the elbow up sideways.
        low, high = (15, 50) if style == "hip" else (3, 30)
        angle = min(max(angle, math.radians(low)), math.radians(high))
        return ArmPose(angle, min(max(bend, 0.0), math.radians(150)), style)
    if style == "front":
        # Upper arm hanging, forearm across the waist or chest.
        return ArmPose(
            math.radians(uniform(rng, 3, 16)), math.radians(uniform(rng, 65, 120)), style
        )
    if style == "close":
        angle, bend = math.radians(uniform(rng, 1.5, 5)), math.radians(uniform(rng, -3, 6))
        return ArmPose(angle, bend, style)
    # The two sides never match exactly, least of all in a flat lay.
    angle = max(math.radians(3), base_angle + math.radians(uniform(rng, -7, 7)))
    bend = 0.0
    if top.worn:
        bend = math.radians(uniform(rng, -5, 14))  # relaxed arms are never quite straight
    elif top.pose is Pose.FLAT and rng.random() < 0.12:
        bend = math.radians(uniform(rng, 25, 75))  # a long sleeve folded in over the body
    return ArmPose(angle, bend, style)


def forearm_direction(upper: Points, elbow: Points, fore: float, bend: float, side: int) -> Points:
    """The forearm's unit direction, the bend eased off until the hand stays on its own side.

    A sleeve end past the body's centre line would swap the image order of the two sleeve
    landmarks, which the usable rows of a front view never have.
    """
    while True:
        f = rotate(upper, side * bend)
        if bend <= 0 or side * float((elbow + f * fore)[0]) >= 0.25:
            return f
        bend = max(0.0, bend - math.radians(10))


def bare_arm(joint: Points, pose: ArmPose, side: int, cuff_half: float) -> Arm:
    """The arm of a wearer whose sleeve (if any) ends above the elbow."""
    d = direction(pose.angle, side)
    elbow = joint + d * UPPER_ARM
    f = forearm_direction(d, elbow, FOREARM, pose.bend, side)
    return Arm(joint, elbow, elbow + f * FOREARM, side, cuff_half, pose.style)


def wrist_target(rng: np.random.Generator, top: TopDraft, style: str, side: int) -> Points | None:
    """Where the wrist goes, for the styles defined by a hand position (else None)."""
    armpit_y, hem_y = float(top.armpit[1]), top.side_len
    if style == "hip":
        x = side * top.body_half * uniform(rng, 0.8, 1.0)
        return pt(x, lerp(armpit_y, hem_y, uniform(rng, 0.45, 0.75)))
    if style == "pocket":
        return pt(side * top.hem_half * uniform(rng, 0.45, 0.8), hem_y + uniform(rng, 0.1, 0.4))
    return None
