"""The overlay: class colours blended on landmark pixels only, a dot per landmark, PNG out."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from app.overlay import blend_class_map, draw_landmarks, encode_png, render_overlay
from tests.app.images import PALETTE, random_rgb

NAMES = ["left_collar", "right_collar", "left_sleeve", "right_sleeve", "left_hem", "right_hem"]


def test_blend_class_map_tints_landmark_pixels_and_keeps_background() -> None:
    pixels = np.full((512, 512, 3), 100, dtype=np.uint8)
    class_map = np.zeros((256, 256), dtype=np.uint8)
    class_map[10:20, 30:40] = 1  # red
    class_map[100:110, 100:110] = 3  # blue
    blended = blend_class_map(pixels, class_map, PALETTE)

    # Landmark pixels: 0.4 * photo + 0.6 * colour (model pixel (30, 10) -> upload (60..61, 20..21)).
    np.testing.assert_array_equal(blended[20, 60], [193, 40, 40])
    np.testing.assert_array_equal(blended[200, 200], [40, 40, 193])
    # Background pixels are exactly the photo, not blended with white.
    np.testing.assert_array_equal(blended[0, 0], [100, 100, 100])
    assert (blended[np.repeat(class_map, 2, 0).repeat(2, 1) == 0] == 100).all()


def test_blend_class_map_uses_nearest_neighbour_at_upload_size() -> None:
    pixels = random_rgb(300, 700)
    class_map = np.random.default_rng(3).integers(0, 7, (256, 256), dtype=np.uint8)
    blended = blend_class_map(pixels, class_map, PALETTE)
    assert blended.shape == (300, 700, 3) and blended.dtype == np.uint8
    # Nearest neighbour invents no classes: every pixel is the photo or a class blend.
    photo = (blended == pixels).all(axis=-1)
    candidates = np.stack(
        [np.round(0.4 * pixels + 0.6 * colour).astype(int) for colour in PALETTE[1:]]
    )
    is_blend = (np.abs(candidates - blended[None].astype(int)) <= 1).all(axis=-1).any(axis=0)
    assert (photo | is_blend).all()


def test_draw_landmarks_marks_each_point_in_its_colour() -> None:
    pixels = np.full((400, 600, 3), 128, dtype=np.uint8)
    points = np.array(
        [
            [100.0, 100.0],
            [500.0, 100.0],
            [100.0, 300.0],
            [500.0, 300.0],
            [300.0, 150.0],
            [300.0, 350.0],
        ]
    )
    detected = np.array([True] * 6)
    canvas = draw_landmarks(
        pixels, points, detected, [tuple(c) for c in PALETTE[1:].tolist()], NAMES
    )
    assert canvas.shape == pixels.shape
    for (x, y), colour in zip(points.astype(int), PALETTE[1:], strict=True):
        np.testing.assert_array_equal(canvas[y, x], colour)
    # The input is left alone.
    assert (pixels == 128).all()


def test_draw_landmarks_draws_undetected_as_a_ring() -> None:
    pixels = np.full((400, 400, 3), 128, dtype=np.uint8)
    points = np.array([[200.0, 200.0]])
    canvas = draw_landmarks(pixels, points, np.array([False]), [(255, 0, 0)], ["left_collar"])
    np.testing.assert_array_equal(canvas[200, 200], [128, 128, 128])  # hollow centre
    assert (canvas != 128).any()


def test_render_overlay_keeps_upload_size_and_encodes_png() -> None:
    pixels = random_rgb(123, 457)
    class_map = np.zeros((256, 256), dtype=np.uint8)
    points = np.array([[10.0, 10.0]] * 6)
    overlay = render_overlay(pixels, class_map, points, np.ones(6, bool), PALETTE, NAMES)
    assert overlay.shape == (123, 457, 3)
    png = encode_png(overlay)
    decoded = Image.open(io.BytesIO(png))
    assert decoded.format == "PNG" and decoded.size == (457, 123) and decoded.mode == "RGB"
    np.testing.assert_array_equal(np.asarray(decoded), overlay)
