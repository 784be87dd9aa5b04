"""Upload bytes -> RGB uint8: formats, conversions, orientation and every rejection."""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
import pytest
from PIL import Image

from app.decoding import (
    _decode_plain_jpeg,
    _decode_with_pil,
    composite_on_white,
    configure_pil,
    decode_image,
    sniff_format,
)
from app.errors import (
    CorruptImageError,
    EmptyInputError,
    TooManyPixelsError,
    UnsupportedFormatError,
)
from tests.app.images import encode, png_declaring, random_rgb, with_exif_orientation

MAX_PIXELS = 1_000_000


@pytest.mark.parametrize(
    ("image_format", "params"),
    [("PNG", {}), ("WEBP", {"lossless": True}), ("BMP", {})],
)
def test_decode_lossless_formats_returns_exact_rgb(
    image_format: str, params: dict[str, object]
) -> None:
    pixels = random_rgb(17, 23)
    decoded = decode_image(encode(pixels, image_format, **params), MAX_PIXELS)
    assert decoded.source_format == image_format
    assert decoded.pixels.dtype == np.uint8 and decoded.pixels.shape == (17, 23, 3)
    assert decoded.pixels.flags.c_contiguous
    np.testing.assert_array_equal(decoded.pixels, pixels)


def test_decode_jpeg_returns_close_rgb() -> None:
    pixels = np.zeros((32, 48, 3), dtype=np.uint8)
    pixels[:, :24] = (200, 40, 30)
    pixels[:, 24:] = (20, 90, 220)
    decoded = decode_image(encode(pixels, "JPEG", quality=95), MAX_PIXELS)
    assert decoded.source_format == "JPEG" and decoded.pixels.shape == (32, 48, 3)
    assert np.abs(decoded.pixels.astype(int) - pixels).mean() < 4


def test_decode_greyscale_repeats_the_grey_level() -> None:
    grey = np.arange(0, 250, 10, dtype=np.uint8).reshape(5, 5)
    decoded = decode_image(encode(grey, "PNG"), MAX_PIXELS)
    np.testing.assert_array_equal(decoded.pixels, np.repeat(grey[..., None], 3, axis=-1))


def test_decode_one_bit_image_is_black_and_white() -> None:
    image = Image.fromarray(np.array([[0, 255], [255, 0]], dtype=np.uint8)).convert("1")
    decoded = decode_image(encode(image, "BMP"), MAX_PIXELS)
    assert decoded.source_mode == "1"
    np.testing.assert_array_equal(decoded.pixels[..., 0], [[0, 255], [255, 0]])


def test_decode_sixteen_bit_greyscale_scales_instead_of_clipping() -> None:
    levels = np.array([[0, 257 * 100, 65535, 128]], dtype=np.uint16)
    decoded = decode_image(encode(Image.fromarray(levels), "PNG"), MAX_PIXELS)
    assert decoded.source_mode.startswith("I")
    np.testing.assert_array_equal(decoded.pixels[0, :, 0], [0, 100, 255, 0])


def test_decode_sixteen_bit_rgb_keeps_the_high_byte() -> None:
    import cv2

    rgb16 = np.random.default_rng(1).integers(0, 65536, (6, 7, 3), dtype=np.uint16)
    ok, data = cv2.imencode(".png", rgb16[..., ::-1])  # OpenCV writes BGR
    assert ok
    decoded = decode_image(data.tobytes(), MAX_PIXELS)
    np.testing.assert_array_equal(decoded.pixels, (rgb16 >> 8).astype(np.uint8))


def test_decode_rgba_composites_on_white() -> None:
    rgba = np.array([[[255, 0, 0, 255], [255, 0, 0, 0], [0, 0, 0, 128]]], dtype=np.uint8)
    decoded = decode_image(encode(rgba, "PNG"), MAX_PIXELS)
    np.testing.assert_array_equal(
        decoded.pixels[0], [[255, 0, 0], [255, 255, 255], [127, 127, 127]]
    )


def test_decode_webp_with_alpha_composites_on_white() -> None:
    rgba = np.zeros((4, 4, 4), dtype=np.uint8)
    rgba[..., 2] = 255
    rgba[:, :2, 3] = 255
    decoded = decode_image(encode(rgba, "WEBP", lossless=True), MAX_PIXELS)
    np.testing.assert_array_equal(decoded.pixels[:, :2], np.full((4, 2, 3), (0, 0, 255)))
    np.testing.assert_array_equal(decoded.pixels[:, 2:], np.full((4, 2, 3), 255))


def test_decode_greyscale_with_alpha_composites_on_white() -> None:
    la = Image.fromarray(np.array([[[0, 255], [0, 0]]], dtype=np.uint8), "LA")
    decoded = decode_image(encode(la, "PNG"), MAX_PIXELS)
    np.testing.assert_array_equal(decoded.pixels[0], [[0, 0, 0], [255, 255, 255]])


def test_decode_palette_image_maps_through_the_palette() -> None:
    image = Image.new("P", (2, 1))
    image.putpalette([10, 20, 30, 200, 100, 50] + [0] * 762)
    image.putpixel((1, 0), 1)
    decoded = decode_image(encode(image, "PNG"), MAX_PIXELS)
    np.testing.assert_array_equal(decoded.pixels[0], [[10, 20, 30], [200, 100, 50]])


def test_decode_palette_transparency_composites_on_white() -> None:
    image = Image.new("P", (2, 1))
    image.putpalette([10, 20, 30, 200, 100, 50] + [0] * 762)
    image.putpixel((1, 0), 1)
    data = encode(image, "PNG", transparency=0)
    decoded = decode_image(data, MAX_PIXELS)
    np.testing.assert_array_equal(decoded.pixels[0], [[255, 255, 255], [200, 100, 50]])


def test_decode_cmyk_jpeg_converts_to_rgb() -> None:
    cmyk = Image.new("CMYK", (16, 16), (0, 255, 255, 0))  # full magenta + yellow = red
    decoded = decode_image(encode(cmyk, "JPEG", quality=95), MAX_PIXELS)
    assert decoded.source_mode == "CMYK"
    assert np.abs(decoded.pixels.astype(int) - (255, 0, 0)).max() < 8


@pytest.mark.parametrize(
    ("orientation", "expected"),
    [
        (1, lambda a: a),
        (2, lambda a: a[:, ::-1]),
        (3, lambda a: np.rot90(a, 2)),
        (6, lambda a: np.rot90(a, -1)),  # stored rotated 90 degrees anticlockwise
        (8, lambda a: np.rot90(a, 1)),
    ],
)
def test_decode_applies_exif_orientation(
    orientation: int, expected: Callable[[np.ndarray], np.ndarray]
) -> None:
    stored = random_rgb(10, 16)
    decoded = decode_image(with_exif_orientation(stored, orientation, "PNG"), MAX_PIXELS)
    np.testing.assert_array_equal(decoded.pixels, expected(stored))


def test_decode_jpeg_exif_rotation_swaps_width_and_height() -> None:
    decoded = decode_image(with_exif_orientation(random_rgb(20, 40), 6, "JPEG"), MAX_PIXELS)
    assert (decoded.width, decoded.height) == (20, 40)


# PIL warns about the damage while opening; in production that is a log line, here pytest
# would turn it into an error, so it is allowed for exactly this test.
@pytest.mark.filterwarnings("ignore:Corrupt EXIF data:UserWarning")
@pytest.mark.parametrize(
    "exif",
    [
        b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\xff\xff\x01\x12",  # IFD count past the end
        b"Exif\x00\x00II*\x00\xff\xff\xff\x7f",  # IFD offset past the end
        b"Exif\x00\x00garbage that is not TIFF at all",
    ],
)
def test_decode_ignores_corrupt_exif(exif: bytes) -> None:
    pixels = random_rgb(8, 12)
    decoded = decode_image(encode(pixels, "JPEG", exif=exif), MAX_PIXELS)
    assert decoded.pixels.shape == (8, 12, 3)


@pytest.mark.parametrize(
    ("image_format", "params"),
    [("JPEG", {}), ("PNG", {}), ("WEBP", {}), ("BMP", {})],
)
def test_decode_truncated_image_raises_corrupt(
    image_format: str, params: dict[str, object]
) -> None:
    data = encode(random_rgb(64, 64), image_format, **params)
    with pytest.raises(CorruptImageError, match="truncated or corrupt"):
        decode_image(data[: len(data) // 2], MAX_PIXELS)


def test_decode_garbage_after_valid_signature_raises_corrupt() -> None:
    with pytest.raises(CorruptImageError):
        decode_image(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, MAX_PIXELS)


def test_decode_empty_bytes_raises_empty() -> None:
    with pytest.raises(EmptyInputError, match="empty"):
        decode_image(b"", MAX_PIXELS)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (encode(random_rgb(4, 4), "GIF"), "GIF images are not supported"),
        (encode(random_rgb(4, 4), "TIFF"), "TIFF images are not supported"),
        (b"%PDF-1.7\n...", "PDF images are not supported"),
        (b"hello, this is text", "not a recognised image"),
        (b"BM", "not a recognised image"),
    ],
)
def test_decode_other_formats_raise_unsupported_listing_supported(
    data: bytes, message: str
) -> None:
    with pytest.raises(UnsupportedFormatError, match=message) as raised:
        decode_image(data, MAX_PIXELS)
    assert "JPEG, PNG, WebP or BMP" in raised.value.message


def test_sniff_format_ignores_misleading_extension_content() -> None:
    # The bytes decide: PNG data is PNG whatever the client claimed.
    assert sniff_format(encode(random_rgb(2, 2), "PNG")) == "PNG"
    assert sniff_format(encode(random_rgb(2, 2), "WEBP")) == "WEBP"
    assert sniff_format(encode(random_rgb(2, 2), "BMP")) == "BMP"
    assert sniff_format(encode(random_rgb(2, 2), "JPEG")) == "JPEG"


def test_decode_checks_declared_pixels_before_decoding() -> None:
    # The header declares 2000 x 1000 but no pixel data follows: a decoder that decoded first
    # would report corruption; the pixel check must fire first.
    with pytest.raises(TooManyPixelsError, match=r"2000x1000 = 2\.0 megapixels"):
        decode_image(png_declaring(2000, 1000), MAX_PIXELS)


def test_decode_decompression_bomb_raises_too_many_pixels() -> None:
    # Far beyond twice PIL's guard: PIL refuses it at open time.
    with pytest.raises(TooManyPixelsError):
        decode_image(png_declaring(100_000, 100_000), 10**12)


def test_decode_bomb_warning_range_raises_too_many_pixels() -> None:
    # Between the guard and twice the guard PIL only warns (an error under pytest's filters,
    # a log line in production); either way the answer is 413, never a 500.
    previous = Image.MAX_IMAGE_PIXELS
    configure_pil(MAX_PIXELS)
    try:
        with pytest.raises(TooManyPixelsError):
            decode_image(png_declaring(1500, 1000), MAX_PIXELS)
    finally:
        Image.MAX_IMAGE_PIXELS = previous


def test_decode_at_the_pixel_limit_is_accepted() -> None:
    decoded = decode_image(encode(random_rgb(100, 100), "PNG"), 100 * 100)
    assert decoded.pixels.shape == (100, 100, 3)


def test_composite_on_white_rounds_half_alpha() -> None:
    rgba = np.array([[[0, 100, 255, 51]]], dtype=np.uint8)  # alpha 0.2
    np.testing.assert_array_equal(composite_on_white(rgba), [[[204, 224, 255]]])


# === Reduced JPEG decoding (min_side) ===


def smooth_photo(height: int, width: int) -> np.ndarray:
    """A photo-like image (smooth gradients and a block), on which DCT scaling is near exact."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    pixels = np.stack([x / width * 255, y / height * 255, (x + y) / (width + height) * 255], -1)
    pixels[height // 4 : height // 2, width // 3 : width // 2] = (30, 160, 90)
    return pixels.astype(np.uint8)


@pytest.mark.parametrize(
    ("width", "height", "reduction"),
    [
        (1920, 1080, 4),  # 480x270 still covers 256
        (4032, 3024, 8),  # a phone photo: 504x378
        (1000, 1500, 2),  # 1/4 would be 250 wide, under 256
        (640, 480, 1),  # 1/2 would be 240 high
        (1922, 1080, 2),  # 1/4 does not divide 1922
        (1921, 1080, 1),  # no scale divides 1921
    ],
)
def test_decode_jpeg_with_min_side_reduces_only_by_exact_scales_that_keep_min_side(
    width: int, height: int, reduction: int
) -> None:
    data = encode(smooth_photo(height, width), "JPEG", quality=92)
    decoded = decode_image(data, 50_000_000, min_side=256)
    assert (decoded.width, decoded.height) == (width, height)
    assert decoded.reduction == reduction
    assert decoded.pixels.shape == (height // reduction, width // reduction, 3)
    assert decoded.pixels.flags.c_contiguous


def test_decode_reduced_jpeg_matches_block_averages_of_the_full_decode() -> None:
    # The reduced pixel i must stand for upload pixels [4i, 4i + 4): the half-pixel grid that
    # the coordinate mapping relies on. A shifted or differently sampled reduction would leave
    # the block edge of the green patch far from the full decode's block means.
    data = encode(smooth_photo(1080, 1920), "JPEG", quality=95)
    full = decode_image(data, 50_000_000).pixels.astype(np.float64)
    reduced = decode_image(data, 50_000_000, min_side=256).pixels.astype(np.float64)
    block_means = full.reshape(270, 4, 480, 4, 3).mean(axis=(1, 3))
    assert np.abs(reduced - block_means).mean() < 1.5
    shifted = np.roll(block_means, 1, axis=1)
    assert np.abs(reduced - shifted).mean() > np.abs(reduced - block_means).mean() + 0.2


def test_decode_reduced_jpeg_with_exif_rotation_reports_the_upload_size() -> None:
    data = with_exif_orientation(smooth_photo(1080, 1920), 6, "JPEG")
    decoded = decode_image(data, 50_000_000, min_side=256)
    assert (decoded.width, decoded.height) == (1080, 1920)
    assert decoded.reduction == 4 and decoded.pixels.shape == (480, 270, 3)


def test_decode_with_min_side_never_reduces_other_formats() -> None:
    decoded = decode_image(encode(random_rgb(1080, 1920), "PNG"), 50_000_000, min_side=256)
    assert decoded.reduction == 1 and decoded.pixels.shape == (1080, 1920, 3)


def test_decode_reduced_jpeg_still_checks_the_pixel_limit_on_the_full_size() -> None:
    data = encode(smooth_photo(1080, 1920), "JPEG")
    with pytest.raises(TooManyPixelsError, match="1920x1080"):
        decode_image(data, 1920 * 1080 - 1, min_side=256)


# === JPEGs decoded by OpenCV: the same pixels as PIL's way ===


def _both_ways(data: bytes, reduction: int) -> tuple[np.ndarray | None, np.ndarray]:
    """(OpenCV's pixels or None, PIL's pixels) for one JPEG at one scale."""
    with Image.open(io.BytesIO(data)) as image:
        fast = _decode_plain_jpeg(data, image, reduction)
    with Image.open(io.BytesIO(data)) as image:
        slow, _ = _decode_with_pil(image, reduction, 10**9)
    return fast, slow


def _photo(height: int = 96, width: int = 160) -> np.ndarray:
    # Smooth colour gradients with an edge: chroma subsampling and the IDCT both matter.
    ys, xs = np.mgrid[:height, :width]
    pixels = np.stack([xs * 255 // width, ys * 255 // height, (xs + ys) % 256], axis=-1)
    pixels[height // 3 :, width // 2 :] = (200, 30, 90)
    return pixels.astype(np.uint8)


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("reduction", [1, 2, 4, 8])
def test_opencv_jpeg_decoding_equals_pils_at_every_orientation_and_scale(
    orientation: int, reduction: int
) -> None:
    data = with_exif_orientation(_photo(), orientation, "JPEG")
    fast, slow = _both_ways(data, reduction)
    assert fast is not None
    assert fast.flags.c_contiguous and fast.dtype == np.uint8
    np.testing.assert_array_equal(fast, slow)


@pytest.mark.parametrize(
    "params", [{"subsampling": 0}, {"subsampling": 2, "progressive": True}, {"quality": 40}]
)
def test_opencv_jpeg_decoding_equals_pils_for_encoder_settings(params: dict[str, object]) -> None:
    data = encode(_photo(123, 457), "JPEG", **params)
    fast, slow = _both_ways(data, 1)
    assert fast is not None
    np.testing.assert_array_equal(fast, slow)


def test_greyscale_jpeg_decodes_the_same_both_ways() -> None:
    data = encode(Image.fromarray(_photo()).convert("L"), "JPEG")
    fast, slow = _both_ways(data, 2)
    assert fast is not None
    np.testing.assert_array_equal(fast, slow)


def test_cmyk_and_incomplete_jpegs_are_left_to_pil() -> None:
    cmyk = encode(Image.fromarray(_photo()).convert("CMYK"), "JPEG")
    plain = encode(_photo(), "JPEG")
    trailing = plain + b"camera trailer"
    for data in (cmyk, trailing, plain[:-200]):
        with Image.open(io.BytesIO(data)) as image:
            assert _decode_plain_jpeg(data, image, 1) is None
    # PIL still decodes the first two, and reports the truncated one.
    assert decode_image(trailing, 10**9).pixels.shape == (96, 160, 3)
    assert decode_image(cmyk, 10**9).source_mode == "CMYK"
    with pytest.raises(CorruptImageError):
        decode_image(plain[:-200], 10**9)
