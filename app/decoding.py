"""Upload bytes -> RGB uint8 [H, W, 3], with every check an untrusted upload needs.

Order matters: the format is sniffed from the magic bytes (the Content-Type header is never
trusted), the declared size is checked against the pixel limit from the header alone (PIL opens
lazily), and only then are pixels decoded. EXIF orientation is applied so that coordinates refer
to the image as a viewer shows it, and every mode (greyscale, palette, alpha, CMYK, 16-bit) ends
as 8-bit RGB.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import ExifTags, Image, ImageOps

from app.errors import (
    CorruptImageError,
    EmptyInputError,
    TooManyPixelsError,
    UnsupportedFormatError,
)

logger = logging.getLogger(__name__)

# PIL format names of the accepted formats, and how people spell them.
SUPPORTED_FORMATS: tuple[str, ...] = ("JPEG", "PNG", "WEBP", "BMP")
SUPPORTED_FORMAT_NAMES: tuple[str, ...] = ("JPEG", "PNG", "WebP", "BMP")
SUPPORTED_FORMATS_TEXT = "JPEG, PNG, WebP or BMP"

# Formats people do send that we recognise only to name them in the 415 message.
_KNOWN_UNSUPPORTED: tuple[tuple[bytes, int, str], ...] = (
    (b"GIF87a", 0, "GIF"),
    (b"GIF89a", 0, "GIF"),
    (b"II*\x00", 0, "TIFF"),
    (b"MM\x00*", 0, "TIFF"),
    (b"ftypheic", 4, "HEIC"),
    (b"ftypheix", 4, "HEIC"),
    (b"ftypmif1", 4, "HEIF"),
    (b"ftypavif", 4, "AVIF"),
    (b"\x00\x00\x00\x0cjP  ", 0, "JPEG 2000"),
    (b"\xff\x4f\xff\x51", 0, "JPEG 2000"),
    (b"\x00\x00\x01\x00", 0, "ICO"),
    (b"8BPS", 0, "PSD"),
    (b"%PDF", 0, "PDF"),
)

_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I"})
_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})


# The scales libjpeg can decode at directly (its scaled inverse DCT), largest first.
_JPEG_REDUCTIONS = (8, 4, 2)


@dataclass(frozen=True)
class DecodedImage:
    """A decoded upload.

    Attributes:
        pixels: uint8 [h, w, 3] RGB, EXIF orientation applied, C-contiguous. The full image
            (h, w = height, width) unless `decode_image` was allowed to reduce a JPEG; then
            each pixel is the average of a `reduction` x `reduction` block of the full image.
        width: the upload's width W after EXIF rotation, whatever `pixels` holds.
        height: the upload's height H after EXIF rotation.
        source_format: the sniffed PIL format name (`JPEG`, `PNG`, `WEBP` or `BMP`).
        source_mode: the PIL mode before conversion (e.g. `P`, `I;16`, `CMYK`), for logs.
    """

    pixels: np.ndarray
    width: int
    height: int
    source_format: str
    source_mode: str

    @property
    def reduction(self) -> int:
        """How many upload pixels one pixel of `pixels` spans along each axis (1, 2, 4 or 8)."""
        return self.width // int(self.pixels.shape[1])


def configure_pil(max_pixels: int) -> None:
    """Points PIL's own decompression-bomb guard at the service's pixel limit.

    PIL warns above `MAX_IMAGE_PIXELS` and raises above twice that; `decode_image` treats both
    as 413, and its own header check catches everything in between first.
    """
    Image.MAX_IMAGE_PIXELS = max_pixels


def sniff_format(data: bytes) -> str:
    """Identifies the image format from its magic bytes.

    Args:
        data: the upload's first bytes (the whole upload is fine).

    Returns:
        One of `SUPPORTED_FORMATS`.

    Raises:
        UnsupportedFormatError: the bytes are another image format, or no image at all.
    """
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    # "BM" alone is too weak a signature: also require a plausible info-header size.
    if data[:2] == b"BM" and len(data) >= 18 and data[14] in (12, 16, 40, 52, 56, 64, 108, 124):
        return "BMP"
    for signature, offset, name in _KNOWN_UNSUPPORTED:
        if data[offset : offset + len(signature)] == signature:
            raise UnsupportedFormatError(
                f"{name} images are not supported; send {SUPPORTED_FORMATS_TEXT}"
            )
    raise UnsupportedFormatError(
        f"the upload is not a recognised image; send {SUPPORTED_FORMATS_TEXT}"
    )


def check_pixel_count(width: int, height: int, max_pixels: int) -> None:
    """Raises TooManyPixelsError when `width * height` exceeds `max_pixels`."""
    if width * height > max_pixels:
        raise TooManyPixelsError(
            f"the image is {width}x{height} = {width * height / 1e6:.1f} megapixels; "
            f"the limit is {max_pixels / 1e6:.1f} megapixels"
        )


def decode_image(data: bytes, max_pixels: int, *, min_side: int | None = None) -> DecodedImage:
    """Decodes and validates one uploaded image.

    Args:
        data: the uploaded file's bytes.
        max_pixels: the largest width x height accepted, checked before any pixel is decoded.
        min_side: when given, a JPEG may be decoded at 1/2, 1/4 or 1/8 of its size, as long as
            both sides stay at least this long and the scale divides both exactly (so pixel
            centres stay on the half-pixel grid: reduced pixel i covers upload pixels
            [r*i, r*i + r)). libjpeg then skips most of the inverse DCT: a 1920x1080 photo
            decodes many times faster. None (default): always the full image.

    Returns:
        The image as RGB uint8 [h, w, 3] in its EXIF-corrected orientation, with the upload's
        own width and height.

    Raises:
        EmptyInputError: `data` is empty.
        UnsupportedFormatError: not JPEG, PNG, WebP or BMP.
        TooManyPixelsError: declared size over `max_pixels`, or PIL's bomb guard fired.
        CorruptImageError: the header or the pixel data does not decode (e.g. truncated).
    """
    if not data:
        raise EmptyInputError("the image is empty (0 bytes)")
    image_format = sniff_format(data)
    corrupt_message = _corrupt_message(image_format)
    try:
        # `formats=` stops PIL from falling back to any other plugin whatever the bytes say.
        image = Image.open(io.BytesIO(data), formats=[image_format])
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _bomb_error(max_pixels) from exc
    except Exception as exc:
        # PIL's parsers raise a wide, undocumented range of exceptions on malformed headers
        # (OSError, SyntaxError, ValueError, struct.error, IndexError...); all mean bad input.
        raise CorruptImageError(corrupt_message) from exc

    with image:
        width, height = image.size
        check_pixel_count(width, height, max_pixels)
        reduction = 1
        if image_format == "JPEG" and min_side is not None:
            reduction = _jpeg_reduction(width, height, min_side)
        pixels = _decode_plain_jpeg(data, image, reduction) if image_format == "JPEG" else None
        if pixels is not None:
            source_mode = image.mode
        else:
            pixels, source_mode = _decode_with_pil(image, reduction, max_pixels)
    if pixels.shape[0] * reduction != height:
        # EXIF turned the image by 90 degrees.
        width, height = height, width
    return DecodedImage(
        pixels=pixels,
        width=width,
        height=height,
        source_format=image_format,
        source_mode=source_mode,
    )


_EXIF_ORIENTATION = ExifTags.Base.Orientation
# EXIF orientation (1..8) -> the OpenCV calls that turn the pixels as PIL's
# `ImageOps.exif_transpose` does (tests/app/test_decoding.py checks every one).
_ORIENTATION_TURNS: dict[int, Callable[[np.ndarray], np.ndarray]] = {
    2: lambda p: cv2.flip(p, 1),
    3: lambda p: cv2.rotate(p, cv2.ROTATE_180),
    4: lambda p: cv2.flip(p, 0),
    5: cv2.transpose,
    6: lambda p: cv2.rotate(p, cv2.ROTATE_90_CLOCKWISE),
    7: lambda p: cv2.rotate(cv2.transpose(p), cv2.ROTATE_180),
    8: lambda p: cv2.rotate(p, cv2.ROTATE_90_COUNTERCLOCKWISE),
}
_OPENCV_REDUCTIONS = {
    1: cv2.IMREAD_COLOR,
    2: cv2.IMREAD_REDUCED_COLOR_2,
    4: cv2.IMREAD_REDUCED_COLOR_4,
    8: cv2.IMREAD_REDUCED_COLOR_8,
}


def _corrupt_message(image_format: str) -> str:
    return f"the {image_format} data is truncated or corrupt and cannot be decoded"


def _decode_plain_jpeg(data: bytes, image: Image.Image, reduction: int) -> np.ndarray | None:
    """A complete YCbCr or greyscale JPEG decoded by OpenCV, or None to leave it to PIL.

    Both call libjpeg-turbo with the same settings and give the same pixels, at every scale
    (tests/app/test_decoding.py compares them), but OpenCV hands over a numpy array directly,
    without PIL's chunked reads and copy: several times faster (BENCHMARKS.md). Anything
    else (CMYK, whose conversions differ; a file that does not end with the end-of-image
    marker, which libjpeg would fill with grey where PIL reports it truncated) goes the PIL
    way. Orientation is read by PIL, as on that way, and applied here.

    Returns:
        uint8 [h, w, 3] RGB, oriented, C-contiguous; or None.
    """
    if image.mode not in ("RGB", "L") or not data.endswith(b"\xff\xd9"):
        return None
    try:
        orientation = image.getexif().get(_EXIF_ORIENTATION, 1)
    except Exception:
        logger.info("ignoring unreadable EXIF data", exc_info=True)
        orientation = 1
    flags = _OPENCV_REDUCTIONS[reduction] | cv2.IMREAD_IGNORE_ORIENTATION
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    width, height = image.size
    if bgr is None or bgr.shape[:2] != (height // reduction, width // reduction):
        return None
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    turn = _ORIENTATION_TURNS.get(orientation)
    return rgb if turn is None else np.ascontiguousarray(turn(rgb))


def _decode_with_pil(image: Image.Image, reduction: int, max_pixels: int) -> tuple[np.ndarray, str]:
    """Every other upload: PIL decodes, orients and converts it. Returns (pixels, PIL mode)."""
    corrupt_message = _corrupt_message(str(image.format))
    if reduction > 1:
        width, height = image.size
        image.draft(None, (width // reduction, height // reduction))
        if image.size != (width // reduction, height // reduction):
            # Never expected: draft picks exactly this scale for a JPEG.
            raise CorruptImageError(corrupt_message)
    try:
        image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _bomb_error(max_pixels) from exc
    except Exception as exc:
        # As with the header: truncated or damaged pixel data surfaces as many exception types.
        raise CorruptImageError(corrupt_message) from exc
    source_mode = image.mode
    return to_rgb_array(_apply_exif_orientation(image)), source_mode


def _jpeg_reduction(width: int, height: int, min_side: int) -> int:
    """The largest libjpeg scale-down that divides both sides and keeps both >= `min_side`."""
    for reduction in _JPEG_REDUCTIONS:
        if (
            width % reduction == 0
            and height % reduction == 0
            and min(width, height) // reduction >= min_side
        ):
            return reduction
    return 1


def _bomb_error(max_pixels: int) -> TooManyPixelsError:
    return TooManyPixelsError(
        "the image declares too many pixels (a possible decompression bomb); "
        f"the limit is {max_pixels / 1e6:.1f} megapixels"
    )


def _apply_exif_orientation(image: Image.Image) -> Image.Image:
    """Rotates/flips the image as its EXIF Orientation tag says (in place), and returns it.

    In place: `exif_transpose` otherwise copies every image, even the many that need no turn.
    A damaged EXIF block must not cost the user the whole request: the pixels are fine, so the
    image is served unrotated and the problem only logged.
    """
    try:
        ImageOps.exif_transpose(image, in_place=True)
    except Exception:
        logger.info("ignoring unreadable EXIF data", exc_info=True)
    return image


def to_rgb_array(image: Image.Image) -> np.ndarray:
    """Converts any PIL mode to 8-bit RGB.

    Transparent pixels (alpha channel, palette or colour-key transparency) are composited onto
    white, the colour of a product photo's background; 16-bit greyscale is scaled (not clipped)
    to 8 bits.

    Args:
        image: a loaded PIL image in any mode.

    Returns:
        uint8 [H, W, 3] RGB, C-contiguous.
    """
    mode = image.mode
    if mode == "RGB" and "transparency" not in image.info:
        rgb = np.asarray(image, dtype=np.uint8)
    elif mode in _SIXTEEN_BIT_MODES:
        # convert("L") would clip every value above 255 to white; rescale 0..65535 instead.
        grey = np.clip(np.asarray(image).astype(np.int64), 0, 65535)
        grey8 = ((grey * 255 + 32767) // 65535).astype(np.uint8)
        rgb = np.repeat(grey8[..., np.newaxis], 3, axis=-1)
    elif mode in _ALPHA_MODES or "transparency" in image.info:
        rgb = composite_on_white(np.asarray(image.convert("RGBA"), dtype=np.uint8))
    else:
        # L, 1, P without transparency, CMYK, YCbCr, LAB...: PIL's conversion is exact enough.
        rgb = np.asarray(image.convert("RGB"), dtype=np.uint8)
    return np.ascontiguousarray(rgb)


def composite_on_white(rgba: np.ndarray) -> np.ndarray:
    """Alpha-composites an RGBA image over a white background.

    Args:
        rgba: uint8 [H, W, 4], straight (not premultiplied) alpha.

    Returns:
        uint8 [H, W, 3].
    """
    colour = rgba[..., :3].astype(np.uint32)
    alpha = rgba[..., 3:4].astype(np.uint32)
    # Integer arithmetic with rounding: colour * a/255 + 255 * (1 - a/255).
    blended = (colour * alpha + 255 * (255 - alpha) + 127) // 255
    return blended.astype(np.uint8)
