"""Tests for `training.corruptions`: each degrades the photo as named, keeps its geometry, and
repeats exactly for the same seed."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from training.corruptions import CORRUPTIONS, JPEG_QUALITY, corrupt, describe


def _photo(height: int = 200, width: int = 300) -> np.ndarray:
    """A smooth colour gradient with a sharp-edged square: uint8 [H, W, 3] RGB."""
    ys, xs = np.mgrid[0:height, 0:width]
    photo = np.stack(
        [xs * 255 // (width - 1), ys * 255 // (height - 1), (xs + ys) * 255 // (width + height)],
        axis=-1,
    ).astype(np.uint8)
    photo[height // 4 : height // 2, width // 4 : width // 2] = (250, 20, 20)
    return photo


def _edge_strength(photo: np.ndarray) -> float:
    grey = cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY).astype(np.float64)
    return float(np.abs(np.diff(grey, axis=1)).max())


@pytest.mark.parametrize("name", sorted(CORRUPTIONS))
def test_corruption_keeps_shape_and_dtype_changes_pixels_and_repeats(name: str) -> None:
    photo = _photo()
    original = photo.copy()

    first = corrupt(photo, name, seed=3)
    second = corrupt(photo, name, seed=3)

    assert first.shape == photo.shape
    assert first.dtype == np.uint8
    assert not np.array_equal(first, photo)
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(photo, original)  # the input is left alone
    assert describe(name)


def test_grey_has_three_equal_channels() -> None:
    grey = corrupt(_photo(), "grey", seed=0)

    np.testing.assert_array_equal(grey[..., 0], grey[..., 1])
    np.testing.assert_array_equal(grey[..., 1], grey[..., 2])


def test_dark_halves_and_low_contrast_pulls_towards_mid_grey() -> None:
    photo = _photo()

    dark = corrupt(photo, "dark", seed=0).astype(np.int16)
    faded = corrupt(photo, "low_contrast", seed=0).astype(np.int16)

    assert np.abs(dark - photo.astype(np.int16) / 2).max() <= 0.5
    assert np.all(np.abs(faded - 127.5) <= np.abs(photo.astype(np.int16) - 127.5) / 2 + 0.5)


def test_noise_depends_on_the_seed_and_has_the_named_strength() -> None:
    flat = np.full((256, 256, 3), 128, np.uint8)

    one = corrupt(flat, "noise", seed=1).astype(np.float64)
    other = corrupt(flat, "noise", seed=2).astype(np.float64)

    assert not np.array_equal(one, other)
    assert one.std() == pytest.approx(15.0, rel=0.05)
    assert abs(one.mean() - 128) < 0.5


def test_blur_and_low_resolution_soften_edges_and_keep_the_mean() -> None:
    photo = _photo()

    for name in ("blur", "low_resolution"):
        softened = corrupt(photo, name, seed=0)
        assert _edge_strength(softened) < _edge_strength(photo) / 2
        assert abs(float(softened.mean()) - float(photo.mean())) < 2.0


def test_blur_scales_with_the_photo() -> None:
    # The same picture at twice the size must be blurred twice as far, so the model's
    # 256x256 input is degraded the same.
    small = _photo(128, 128)
    large = cv2.resize(small, (512, 512), interpolation=cv2.INTER_NEAREST)

    small_blurred = corrupt(small, "blur", seed=0)
    large_blurred = cv2.resize(
        corrupt(large, "blur", seed=0), (128, 128), interpolation=cv2.INTER_AREA
    )

    assert np.abs(small_blurred.astype(np.int16) - large_blurred).mean() < 3.0


def test_jpeg_round_trip_is_lossy_at_the_named_quality() -> None:
    photo = _photo()
    ok, encoded = cv2.imencode(
        ".jpg", cv2.cvtColor(photo, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]
    )
    assert ok
    expected = cv2.cvtColor(cv2.imdecode(encoded, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)

    np.testing.assert_array_equal(corrupt(photo, f"jpeg_q{JPEG_QUALITY}", seed=0), expected)


def test_unknown_corruption_names_the_known_ones() -> None:
    for call in (lambda: corrupt(_photo(), "fog", seed=0), lambda: describe("fog")):
        with pytest.raises(ValueError, match=r"unknown corruption 'fog'.*blur"):
            call()
