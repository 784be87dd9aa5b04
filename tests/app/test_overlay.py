"""The overlay: class colours blended on landmark pixels only, a dot per landmark, PNG out."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
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


def _reference_blend(pixels: np.ndarray, class_map: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """The blend written out with numpy indexing: every pixel looked up and blended."""
    height, width = pixels.shape[:2]
    classes = cv2.resize(class_map, (width, height), interpolation=cv2.INTER_NEAREST_EXACT)
    colours = palette[np.minimum(classes, len(palette) - 1)]
    blended = cv2.addWeighted(pixels, 0.4, colours, 0.6, 0.0)
    return np.where((classes > 0)[..., None], blended, pixels)


def _blob_map(seed: int, blobs: int = 6) -> np.ndarray:
    rng = np.random.default_rng(seed)
    class_map = np.zeros((256, 256), np.uint8)
    for value in range(1, blobs + 1):
        y, x = rng.integers(0, 256, 2)
        class_map[max(0, y - 3) : y + 3, max(0, x - 4) : x + 2] = value
    class_map[0, 0] = 2  # a corner pixel, and a class in two places
    class_map[255, 255] = 6
    return class_map


@pytest.mark.parametrize(
    ("height", "width"), [(123, 457), (480, 640), (256, 256), (37, 1000), (1001, 333)]
)
def test_blend_equals_a_per_pixel_reference(height: int, width: int) -> None:
    pixels = random_rgb(height, width)
    for seed in range(3):
        class_map = _blob_map(seed)
        np.testing.assert_array_equal(
            blend_class_map(pixels, class_map, PALETTE),
            _reference_blend(pixels, class_map, PALETTE),
        )


def test_scattered_and_empty_class_maps_blend_like_the_reference() -> None:
    pixels = random_rgb(300, 700)
    scattered = np.random.default_rng(5).integers(0, 7, (256, 256), dtype=np.uint8)
    empty = np.zeros((256, 256), np.uint8)
    for class_map in (scattered, empty):
        np.testing.assert_array_equal(
            blend_class_map(pixels, class_map, PALETTE),
            _reference_blend(pixels, class_map, PALETTE),
        )


@pytest.mark.parametrize(("height", "width"), [(1, 1), (1, 7), (5, 3), (480, 640), (999, 1501)])
def test_png_decodes_to_the_same_pixels_as_pillows_png(height: int, width: int) -> None:
    pixels = random_rgb(height, width)
    smooth = cv2.GaussianBlur(pixels, (0, 0), 3)  # photo-like runs, not only noise
    for image in (pixels, smooth, np.zeros_like(pixels)):
        ours = Image.open(io.BytesIO(encode_png(image)))
        pillow_file = io.BytesIO()
        Image.fromarray(image).save(pillow_file, "PNG")
        pillows = Image.open(io.BytesIO(pillow_file.getvalue()))
        assert ours.format == "PNG" and ours.mode == "RGB" and ours.size == (width, height)
        np.testing.assert_array_equal(np.asarray(ours), np.asarray(pillows))
        np.testing.assert_array_equal(np.asarray(ours), image)


def test_png_of_a_photo_is_no_larger_than_zlibs_fastest() -> None:
    # fpng trades a few per cent of size for speed; a regression to stored (uncompressed)
    # blocks or a broken match search would show here.
    photo = cv2.GaussianBlur(random_rgb(480, 640), (0, 0), 2)
    zlib_fastest = io.BytesIO()
    Image.fromarray(photo).save(zlib_fastest, "PNG", compress_level=1)
    assert len(encode_png(photo)) < 1.25 * len(zlib_fastest.getvalue())


def test_png_encoder_rejects_what_is_not_rgb() -> None:
    with pytest.raises(ValueError, match="uint8"):
        encode_png(np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        encode_png(np.zeros((4, 4, 3), np.float32))
