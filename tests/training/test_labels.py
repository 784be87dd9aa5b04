"""Soft label maps: the seed's printed example, overlaps, profiles, and the vectorised speed."""

from __future__ import annotations

import numpy as np
import pytest

from training.labels import RING_PROFILE, LabelProfile, make_label_map

SEED_POINTS = np.array(
    [[115, 59], [149, 60], [82, 153], [185, 150], [93, 198], [171, 197]], dtype=np.float32
)


def loop_label_map(points: np.ndarray, ring: tuple[float, ...] = RING_PROFILE) -> np.ndarray:
    """The straightforward per-pixel reference: float32 [256, 256, 7], larger probability wins."""
    label = np.zeros((256, 256, 7), dtype=np.float32)
    label[..., 0] = 1.0
    for y in range(256):
        for x in range(256):
            best, best_class = 0.0, 0
            for index, (px, py) in enumerate(points):
                distance = int(max(abs(x - round(px)), abs(y - round(py))))
                p = ring[distance] if distance < len(ring) else 0.0
                if p > best:
                    best, best_class = p, index + 1
            if best_class:
                label[y, x, 0] = 1.0 - best
                label[y, x, best_class] = best
    return label


def test_ring_map_reproduces_the_seed_printout() -> None:
    label = make_label_map(SEED_POINTS).numpy()
    row = label[59, 105:126]
    background = [round(float(v), 1) for v in row[:, 0]]
    landmark_1 = [round(float(v), 1) for v in row[:, 1]]
    expected_landmark = [0.0, 0.5, 0.6, 0.6, 0.7, 0.7, 0.8, 0.8, 1, 1, 1, 1, 1]
    expected_landmark += [0.8, 0.8, 0.7, 0.7, 0.6, 0.6, 0.5, 0.0]
    assert landmark_1 == expected_landmark
    assert background == [round(1 - p, 1) for p in expected_landmark]
    assert np.all(row[:, 2:] == 0)


def test_label_pixels_sum_to_one() -> None:
    label = make_label_map(SEED_POINTS).numpy()
    np.testing.assert_allclose(label.sum(axis=-1), 1.0, atol=1e-6)


def test_overlap_gives_the_pixel_to_the_larger_probability() -> None:
    points = SEED_POINTS.copy()
    points[1] = [121, 59]  # 6 px right of landmark 1: their rings overlap.
    label = make_label_map(points).numpy()
    # x=119 is distance 4 from landmark 1 (0.8) and 2 from landmark 2 (1.0).
    assert label[59, 119, 2] == pytest.approx(1.0) and label[59, 119, 1] == 0
    # x=117: distance 2 from landmark 1 (1.0), 4 from landmark 2 (0.8).
    assert label[59, 117, 1] == pytest.approx(1.0) and label[59, 117, 2] == 0


def test_vectorised_map_equals_the_per_pixel_loop() -> None:
    points = np.random.default_rng(1).uniform(0, 255, size=(6, 2)).astype(np.float32)
    points[3] = points[2] + 5  # force an overlap
    np.testing.assert_allclose(make_label_map(points).numpy(), loop_label_map(points), atol=1e-6)


def test_gaussian_profile_peaks_at_the_point_and_cuts_off() -> None:
    profile = LabelProfile(kind="gaussian", sigma=3.0, cutoff=0.05)
    label = make_label_map(SEED_POINTS, profile).numpy()
    assert label[59, 115, 1] == pytest.approx(1.0)
    assert label[59, 118, 1] == pytest.approx(np.exp(-9 / 18), rel=1e-5)
    assert label[59, 125, 1] == 0.0


def test_profile_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="ring profile"):
        LabelProfile(ring=(1.0, 1.5))
    with pytest.raises(ValueError, match="kind"):
        LabelProfile(kind="square")  # type: ignore[arg-type]
