"""Resizing to the model input and the half-pixel coordinate mapping back to the upload."""

from __future__ import annotations

import numpy as np
import pytest

from app.geometry import image_to_model, model_to_image, resize_for_model


def test_model_to_image_maps_edges_centre_and_pixel_centres() -> None:
    width, height = 1000, 512
    points = np.array(
        [
            [-0.5, -0.5],  # top-left corner of the model image
            [255.5, 255.5],  # bottom-right corner
            [127.5, 127.5],  # centre
            [0.0, 0.0],  # centre of the top-left model pixel
        ]
    )
    mapped = model_to_image(points, width, height)
    np.testing.assert_allclose(mapped[0], [-0.5, -0.5])
    np.testing.assert_allclose(mapped[1], [width - 0.5, height - 0.5])
    np.testing.assert_allclose(mapped[2], [(width - 1) / 2, (height - 1) / 2])
    # A model pixel covers 1000/256 x 2 upload pixels; its centre is their middle.
    np.testing.assert_allclose(mapped[3], [1000 / 256 / 2 - 0.5, 0.5])


def test_model_to_image_is_identity_at_model_size() -> None:
    points = np.random.default_rng(0).uniform(-0.5, 255.5, (6, 2))
    np.testing.assert_allclose(model_to_image(points, 256, 256), points)


def test_image_to_model_inverts_model_to_image() -> None:
    points = np.random.default_rng(1).uniform(-0.5, 255.5, (6, 5, 2))
    round_trip = image_to_model(model_to_image(points, 733, 411), 733, 411)
    np.testing.assert_allclose(round_trip, points)
    assert model_to_image(points, 733, 411).shape == (6, 5, 2)


@pytest.mark.parametrize(("height", "width"), [(1024, 768), (100, 60), (256, 256), (300, 200)])
def test_resize_for_model_returns_uint8_model_input(height: int, width: int) -> None:
    pixels = np.random.default_rng(2).integers(0, 256, (height, width, 3), dtype=np.uint8)
    resized = resize_for_model(pixels)
    assert resized.shape == (256, 256, 3) and resized.dtype == np.uint8


def test_resize_for_model_averages_when_shrinking() -> None:
    # A 2x2 checkerboard of 0/255 at 512 px must become flat grey (area averaging), not keep
    # aliased black and white samples.
    board = np.indices((512, 512)).sum(axis=0) % 2 * 255
    pixels = np.repeat(board[..., None], 3, axis=-1).astype(np.uint8)
    resized = resize_for_model(pixels)
    assert np.abs(resized.astype(int) - 128).max() <= 1


def _centroid(weights: np.ndarray) -> np.ndarray:
    ys, xs = np.indices(weights.shape)
    total = weights.sum()
    return np.array([(weights * xs).sum() / total, (weights * ys).sum() / total])


@pytest.mark.parametrize(("width", "height"), [(1280, 720), (640, 960), (512, 768), (300, 200)])
def test_resize_and_mapping_agree_on_a_synthetic_spot(width: int, height: int) -> None:
    # A bright square whose centre is known in upload pixels: after resizing, its centroid in
    # model space, mapped back, must land on the same upload point.
    spot = np.array([0.37 * width, 0.61 * height])
    half = max(width, height) / 256 * 6
    ys, xs = np.indices((height, width))
    inside = (np.abs(xs - spot[0]) <= half) & (np.abs(ys - spot[1]) <= half)
    pixels = np.repeat((inside * 255).astype(np.uint8)[..., None], 3, axis=-1)
    known = _centroid(inside.astype(float))  # the discrete square's exact centre

    resized = resize_for_model(pixels)
    found = _centroid(resized[..., 0].astype(float))
    np.testing.assert_allclose(found, image_to_model(known, width, height), atol=0.1)
    np.testing.assert_allclose(
        model_to_image(found, width, height), known, atol=0.1 * width / 256 + 0.05
    )
