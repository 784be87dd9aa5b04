"""A corpus of hostile and odd uploads, each with the status the API documents for it.

Everything is generated here in code; nothing binary is checked in. The corpus assumes the
limits of `CORPUS_SERVER_SETTINGS` (1 MiB per upload, 4 megapixels, 4 images per batch).

Three kinds of case:

- an upload sent with httpx (raw body, multipart files or fields, query parameters, headers);
- a chunked upload (a body with no Content-Length, sent as it is generated);
- bytes written to the socket as they are, for what httpx will not send (a Content-Length that
  lies, a malformed request line, conflicting framing headers).

A case with status 200 is odd but valid input: the answer must have six landmarks and, where
`size` is given, the image size the service must report (EXIF rotation included).
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from tests.app.images import encode, png_chunk, png_declaring, random_rgb, with_exif_orientation

KIB = 1024
MIB = 1024 * KIB

CORPUS_SERVER_SETTINGS: dict[str, object] = {
    "MAX_UPLOAD_BYTES": 1 * MIB,
    "MAX_PIXELS": 4_000_000,
    "MAX_IMAGES_PER_REQUEST": 4,
    "QUEUE_LENGTH": 16,
    "OVERLAY_DEFAULT": "false",
    "LOG_LEVEL": "warning",
}
UPLOAD_LIMIT = 1 * MIB

# The documented `detail` fragments.
NOT_AN_IMAGE = "not a recognised image; send JPEG, PNG, WebP or BMP"
TRUNCATED = "truncated or corrupt and cannot be decoded"
BOMB = "too many pixels (a possible decompression bomb)"


@dataclass(frozen=True)
class Case:
    """One request and the answer the API documents for it.

    Attributes:
        name: the test id.
        status: the documented status code.
        method: the HTTP method.
        path: the route.
        params: query parameters.
        headers: request headers (for a raw body, its Content-Type).
        body: the raw body.
        chunks: a body sent chunked, without Content-Length.
        files: multipart file parts as httpx takes them: (field, (filename, bytes, type)).
        fields: multipart text fields.
        wire: exact bytes for the socket, instead of all of the above.
        detail: a fragment the JSON `detail` must contain; None when uvicorn itself answers
            (a malformed request never reaches the app, and its 400 is plain text).
        size: (width, height) a 200 answer must report.
    """

    name: str
    status: int
    method: str = "POST"
    path: str = "/landmarks"
    params: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None
    chunks: tuple[bytes, ...] | None = None
    files: tuple[tuple[str, tuple[str, bytes, str]], ...] | None = None
    fields: Mapping[str, str] | None = None
    wire: bytes | None = None
    detail: str | None = ""
    size: tuple[int, int] | None = None

    def chunk_stream(self) -> Iterator[bytes]:
        """The chunked body, as a generator (which makes httpx send it chunked)."""
        yield from self.chunks or ()


# === Image builders ===


def _image_bytes(image: Image.Image, image_format: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, image_format, **params)
    return buffer.getvalue()


def jpeg_declaring(width: int, height: int) -> bytes:
    """A small real JPEG whose start-of-frame header is patched to declare width x height."""
    data = bytearray(encode(random_rgb(8, 8), "JPEG"))
    start = data.find(b"\xff\xc0")
    if start < 0:
        raise ValueError("no baseline SOF0 marker")
    # FFC0, length (2), precision (1), then height and width (2 bytes each, big-endian).
    data[start + 5 : start + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def webp_declaring(width: int, height: int) -> bytes:
    """A small lossless WebP whose VP8L header is patched to declare width x height (<= 16384)."""
    data = bytearray(encode(random_rgb(8, 8), "WEBP", lossless=True))
    if data[12:16] != b"VP8L" or data[20] != 0x2F:
        raise ValueError("expected a simple-format lossless WebP")
    (bits,) = struct.unpack("<I", data[21:25])
    # 14 bits width-1, 14 bits height-1, then the alpha and version bits, kept as they are.
    bits = (bits & ~((1 << 28) - 1)) | (width - 1) | ((height - 1) << 14)
    data[21:25] = struct.pack("<I", bits)
    return bytes(data)


def bmp_declaring(width: int, height: int) -> bytes:
    """A 24-bit BMP header declaring width x height, followed by a few bytes of pixels."""
    pixels = b"\x00" * 64
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    header = struct.pack("<2sIHHI", b"BM", 14 + len(info) + len(pixels), 0, 0, 14 + len(info))
    return header + info + pixels


def png_raw(width: int, height: int, bit_depth: int, colour_type: int, row: bytes) -> bytes:
    """A PNG written chunk by chunk, every row the same filter-0 `row` bytes."""
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    data = zlib.compress((b"\x00" + row) * height)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", data)
        + png_chunk(b"IEND", b"")
    )


def png_rgb16(width: int, height: int) -> bytes:
    """16 bits per channel RGB, a gradient across each row."""
    values = np.linspace(0, 65535, width * 3).astype(">u2")
    return png_raw(width, height, 16, 2, values.tobytes())


def png_grey16(width: int, height: int) -> bytes:
    """16-bit greyscale (PIL mode I;16)."""
    values = np.linspace(0, 65535, width).astype(">u2")
    return png_raw(width, height, 16, 0, values.tobytes())


def png_with_text_bomb() -> bytes:
    """A small valid PNG with a zTXt chunk that inflates to 64 MiB before the pixels."""
    data = encode(random_rgb(8, 8), "PNG")
    bomb = png_chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(b"\x00" * (64 * MIB), 9))
    ihdr_end = 8 + 25
    return data[:ihdr_end] + bomb + data[ihdr_end:]


def png_with_bad_crc() -> bytes:
    data = bytearray(encode(random_rgb(8, 8), "PNG"))
    data[29] ^= 0xFF  # inside IHDR's CRC
    return bytes(data)


def jpeg_with_corrupt_exif() -> bytes:
    """A JPEG whose APP1 EXIF segment points its first IFD far outside the segment."""
    data = encode(random_rgb(30, 40), "JPEG")
    tiff = b"MM\x00\x2a" + struct.pack(">I", 0xFFFFFF00) + b"\xde\xad\xbe\xef" * 4
    payload = b"Exif\x00\x00" + tiff
    segment = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    return data[:2] + segment + data[2:]


def jpeg_with_orientation_value(value: int) -> bytes:
    """A JPEG whose EXIF Orientation is `value` (valid ones are 1..8)."""
    return with_exif_orientation(random_rgb(30, 40), value, "JPEG")


def animated(image_format: str, **params: object) -> bytes:
    """Three 20 x 24 frames."""
    frames = [Image.fromarray(random_rgb(24, 20, seed=seed)) for seed in range(3)]
    return _image_bytes(frames[0], image_format, save_all=True, append_images=frames[1:], **params)


def cmyk_jpeg() -> bytes:
    return _image_bytes(Image.fromarray(random_rgb(30, 40)).convert("CMYK"), "JPEG")


def palette_png_with_transparency() -> bytes:
    image = Image.fromarray(random_rgb(30, 40)).convert("P", palette=Image.Palette.ADAPTIVE)
    return _image_bytes(image, "PNG", transparency=0)


def grey_alpha_png() -> bytes:
    grey = random_rgb(30, 40)[..., :2]
    return _image_bytes(Image.fromarray(np.ascontiguousarray(grey), "LA"), "PNG")


def text_png_named(fragment: bytes) -> bytes:
    """Text that merely starts like a PNG signature."""
    return b"\x89PNG\r\n\x1a\n" + fragment


# === The corpus ===


def _upload(
    name: str,
    status: int,
    data: bytes,
    *,
    detail: str | None = "",
    content_type: str = "image/png",
    params: Mapping[str, str] | None = None,
    size: tuple[int, int] | None = None,
    path: str = "/landmarks",
) -> Case:
    """A raw-body upload (the declared Content-Type is not trusted by the service)."""
    return Case(
        name=name,
        status=status,
        path=path,
        params=params or {},
        headers={"content-type": content_type},
        body=data,
        detail=detail,
        size=size,
    )


def _multipart(
    name: str,
    status: int,
    files: tuple[tuple[str, tuple[str, bytes, str]], ...],
    *,
    detail: str | None = "",
    size: tuple[int, int] | None = None,
    path: str = "/landmarks",
) -> Case:
    return Case(name=name, status=status, path=path, files=files, detail=detail, size=size)


def _wire(
    name: str, status: int, head: bytes, body: bytes = b"", detail: str | None = None
) -> Case:
    return Case(name=name, status=status, wire=head + b"\r\n" + body, detail=detail)


def _post_head(*header_lines: bytes, path: bytes = b"/landmarks") -> bytes:
    """A POST request line and headers, ending with the blank line's first CRLF."""
    return (
        b"POST "
        + path
        + b" HTTP/1.1\r\nHost: test\r\n"
        + b"".join(line + b"\r\n" for line in header_lines)
    )


def build_corpus() -> list[Case]:
    """Every case; images are a few kilobytes each, the whole corpus about 3 MB."""
    photo = random_rgb(30, 40)  # 40 wide, 30 high
    jpeg = encode(photo, "JPEG", quality=90)
    png = encode(photo, "PNG")
    webp = encode(photo, "WEBP", quality=80)
    bmp = encode(photo, "BMP")
    png_file = ("photo.png", png, "image/png")
    cases = [
        # === Nothing, or not an image ===
        _upload("zero_bytes_raw", 400, b"", detail="request body is empty"),
        _multipart(
            "zero_bytes_file", 400, (("image", ("a.png", b"", "image/png")),), detail="empty"
        ),
        _upload("random_bytes", 415, np.random.default_rng(1).bytes(4096), detail=NOT_AN_IMAGE),
        _upload("text_as_image_png", 415, b"hello, I am text", detail=NOT_AN_IMAGE),
        _upload(
            "html_as_image_jpeg",
            415,
            b"<html><body>not a photo</body></html>",
            content_type="image/jpeg",
            detail=NOT_AN_IMAGE,
        ),
        _upload("svg", 415, b'<svg xmlns="http://www.w3.org/2000/svg"/>', detail=NOT_AN_IMAGE),
        _upload("bm_then_text", 415, b"BM this is not a bitmap", detail=NOT_AN_IMAGE),
        # === Truncated, or a right signature on wrong bytes ===
        _upload("truncated_jpeg", 400, jpeg[: len(jpeg) // 2], detail=TRUNCATED),
        _upload("truncated_png", 400, png[: len(png) // 2], detail=TRUNCATED),
        _upload("truncated_webp", 400, webp[: len(webp) // 2], detail=TRUNCATED),
        _upload("truncated_bmp", 400, bmp[:60], detail=TRUNCATED),
        _upload("png_signature_only", 400, png[:8], detail=TRUNCATED),
        _upload("png_signature_then_text", 400, text_png_named(b"nonsense"), detail=TRUNCATED),
        _upload(
            "jpeg_header_then_garbage", 400, b"\xff\xd8\xff\xe0" + b"\x5a" * 500, detail=TRUNCATED
        ),
        _upload("png_bad_crc", 400, png_with_bad_crc(), detail=TRUNCATED),
        _upload("png_zero_size", 400, png_declaring(0, 0), detail=TRUNCATED),
        # A metadata bomb: PIL refuses to inflate text chunks past 1 MB, as corrupt.
        _upload("png_ztxt_bomb", 400, png_with_text_bomb(), detail=TRUNCATED),
        # The bytes decide, not the declared type: PNG bytes sent as a JPEG are a PNG.
        _upload(
            "png_bytes_declared_jpeg",
            200,
            png,
            content_type="image/jpeg",
            size=(40, 30),
        ),
        _multipart(
            "png_bytes_named_jpg",
            200,
            (("image", ("photo.jpg", png, "image/jpeg")),),
            size=(40, 30),
        ),
        # === Other formats ===
        _upload("gif_animated", 415, animated("GIF"), detail="GIF images are not supported"),
        _upload("tiff", 415, encode(photo, "TIFF"), detail="TIFF images are not supported"),
        _upload("heic_header", 415, b"\x00\x00\x00\x18ftypheic" + b"\x00" * 64, detail="HEIC"),
        _upload("pdf", 415, b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", detail="PDF images"),
        # Animated WebP and PNG are WebP and PNG: the first frame is served.
        _upload("webp_animated", 200, animated("WEBP"), size=(20, 24)),
        _upload("png_animated_apng", 200, animated("PNG"), size=(20, 24)),
        # === Decompression bombs: huge declared size, tiny file ===
        _upload("png_100000x100000", 413, png_declaring(100_000, 100_000), detail=BOMB),
        _upload("png_2pow31", 413, png_declaring(2**31 - 1, 2**31 - 1), detail=BOMB),
        _upload("png_just_over_limit", 413, png_declaring(2001, 2000), detail="4.0 megapixels"),
        _upload("jpeg_sof_65500x65500", 413, jpeg_declaring(65_500, 65_500), detail=BOMB),
        _upload("webp_16384x16384", 413, webp_declaring(16_384, 16_384), detail=BOMB),
        _upload("bmp_100000x100000", 413, bmp_declaring(100_000, 100_000), detail=BOMB),
        _upload("bmp_top_down_huge", 413, bmp_declaring(100_000, -100_000), detail=BOMB),
        # === Odd but valid pixels ===
        _upload("one_by_one", 200, encode(random_rgb(1, 1), "PNG"), size=(1, 1)),
        _upload(
            "thin_1x5000",
            200,
            encode(random_rgb(5000, 1), "PNG"),
            size=(1, 5000),
            params={"overlay": "true"},
        ),
        _upload(
            "thin_5000x1",
            200,
            encode(random_rgb(1, 5000), "PNG"),
            size=(5000, 1),
            params={"overlay": "true"},
        ),
        _upload("png_16bit_rgb", 200, png_rgb16(40, 30), size=(40, 30)),
        _upload("png_16bit_grey", 200, png_grey16(40, 30), size=(40, 30)),
        _upload("jpeg_cmyk", 200, cmyk_jpeg(), size=(40, 30)),
        _upload("png_palette_transparency", 200, palette_png_with_transparency(), size=(40, 30)),
        _upload("png_grey_alpha_la", 200, grey_alpha_png(), size=(40, 30)),
        _upload(
            "png_one_bit",
            200,
            _image_bytes(Image.fromarray(photo).convert("1"), "PNG"),
            size=(40, 30),
        ),
        _upload("jpeg_progressive", 200, encode(photo, "JPEG", progressive=True), size=(40, 30)),
        _upload("bmp_24bit", 200, bmp, size=(40, 30)),
        _upload("webp_lossy", 200, webp, size=(40, 30), params={"overlay": "true"}),
        # === EXIF ===
        *(
            _upload(
                f"exif_orientation_{value}",
                200,
                jpeg_with_orientation_value(value),
                # Orientations 5..8 turn the image by 90 degrees: width and height swap.
                size=(40, 30) if value <= 4 else (30, 40),
            )
            for value in range(1, 9)
        ),
        _upload("exif_orientation_0", 200, jpeg_with_orientation_value(0), size=(40, 30)),
        _upload("exif_orientation_9", 200, jpeg_with_orientation_value(9), size=(40, 30)),
        _upload("exif_corrupt", 200, jpeg_with_corrupt_exif(), size=(40, 30)),
        # === Multipart framing ===
        _multipart(
            "wrong_field_name",
            422,
            (("file", png_file),),
            detail="multipart field 'image' is missing (got 'file')",
        ),
        _multipart(
            "duplicated_image_field",
            422,
            (("image", png_file), ("image", png_file)),
            detail="send exactly one file in 'image'",
        ),
        Case(
            "text_field_not_file",
            422,
            fields={"image": "a photo, honestly"},
            files=(("other", ("x.txt", b"x", "text/plain")),),
            detail="must be a file upload",
        ),
        _upload(
            "multipart_empty_body",
            422,
            b"",
            content_type="multipart/form-data; boundary=xyz",
            detail="multipart field 'image' is missing",
        ),
        _upload(
            "multipart_closing_boundary_only",
            422,
            b"--xyz--\r\n",
            content_type="multipart/form-data; boundary=xyz",
            detail="multipart field 'image' is missing",
        ),
        _upload(
            "multipart_no_boundary",
            400,
            b"--xyz\r\n\r\n--xyz--\r\n",
            content_type="multipart/form-data",
            detail="Missing boundary",
        ),
        _upload(
            "multipart_empty_boundary",
            400,
            b"--\r\n\r\n",
            content_type="multipart/form-data; boundary=",
            detail="invalid multipart body",
        ),
        _upload(
            "multipart_garbage",
            400,
            b"this is not multipart at all",
            content_type="multipart/form-data; boundary=xyz",
            detail="invalid multipart body",
        ),
        _upload(
            "multipart_part_without_name",
            400,
            b'--xyz\r\nContent-Disposition: form-data; filename="a.png"\r\n\r\n'
            + png
            + b"\r\n--xyz--\r\n",
            content_type="multipart/form-data; boundary=xyz",
            detail="invalid multipart body",
        ),
        # Filenames are never used: these must behave like any other name.
        _multipart(
            "filename_path_traversal",
            200,
            (("image", ("../../etc/passwd", png, "image/png")),),
            size=(40, 30),
        ),
        # What a browser sends for an empty file input: no filename means no file.
        _multipart(
            "filename_empty",
            422,
            (("image", ("", png, "image/png")),),
            detail="must be a file upload",
        ),
        _multipart(
            "filename_very_long",
            200,
            (("image", ("x" * 4000 + ".png", png, "image/png")),),
            size=(40, 30),
        ),
        # === Query values ===
        _upload("top_k_negative", 422, png, params={"top_k": "-1"}, detail="query.top_k"),
        _upload("top_k_huge", 422, png, params={"top_k": str(10**9)}, detail="top_k must be"),
        _upload("top_k_text", 422, png, params={"top_k": "many"}, detail="query.top_k"),
        _upload("overlay_maybe", 422, png, params={"overlay": "maybe"}, detail="query.overlay"),
        _upload("top_k_max", 200, png, params={"top_k": "5"}, size=(40, 30)),
        _upload("unknown_parameter_ignored", 200, png, params={"debug": "1"}, size=(40, 30)),
        # === Batches ===
        _upload("batch_raw_body", 415, png, path="/landmarks/batch", detail="multipart/form-data"),
        _multipart(
            "batch_too_many_images",
            413,
            tuple(("images", png_file) for _ in range(5)),
            path="/landmarks/batch",
            detail="at most 4 per request",
        ),
        _multipart(
            "batch_second_image_gif",
            415,
            (("images", png_file), ("images", ("b.gif", animated("GIF"), "image/gif"))),
            path="/landmarks/batch",
            detail="images[1]: GIF images are not supported",
        ),
        _multipart(
            "batch_first_image_bomb",
            413,
            (("images", ("a.png", png_declaring(100_000, 100_000), "image/png")),),
            path="/landmarks/batch",
            detail="images[0]: the image declares too many pixels",
        ),
        # === Sizes and HTTP framing ===
        _upload(
            "over_upload_limit",
            413,
            b"\xff\xd8\xff" + b"\x00" * UPLOAD_LIMIT,
            detail=f"the limit is {UPLOAD_LIMIT} bytes",
        ),
        Case(
            "chunked_over_upload_limit",
            413,
            chunks=tuple(b"\xff" * (64 * KIB) for _ in range(UPLOAD_LIMIT // (64 * KIB) + 4)),
            headers={"content-type": "image/jpeg"},
            detail=f"exceeds the limit of {UPLOAD_LIMIT} bytes",
        ),
        _wire(
            "content_length_huge_body_tiny",
            413,
            _post_head(b"Content-Type: image/png", b"Content-Length: 1000000000000"),
            b"\x89PNG",
            detail="the request body is 1000000000000 bytes",
        ),
        _wire(
            "expect_continue_over_limit",
            413,
            _post_head(
                b"Content-Type: image/png", b"Content-Length: 50000000", b"Expect: 100-continue"
            ),
            detail="the request body is 50000000 bytes",
        ),
        _wire(
            "content_length_not_a_number",
            400,
            _post_head(b"Content-Type: image/png", b"Content-Length: lots"),
            b"\x89PNG",
        ),
        # Both framings: Transfer-Encoding wins, as RFC 9112 says (the whole PNG is read).
        Case(
            "content_length_and_chunked",
            200,
            wire=_post_head(b"Content-Length: 4", b"Transfer-Encoding: chunked")
            + b"\r\n"
            + b"%x\r\n" % len(png)
            + png
            + b"\r\n0\r\n\r\n",
            size=(40, 30),
        ),
        _wire(
            "chunk_size_not_hex",
            400,
            _post_head(b"Content-Type: image/png", b"Transfer-Encoding: chunked"),
            b"zz\r\nabc\r\n0\r\n\r\n",
        ),
        _wire("request_line_garbage", 400, b"HELLO THERE\r\n"),
        # Request heads are bounded (python -m app runs h11, see app/__main__.py): about 16 KiB,
        # or as much as arrives in one socket read (256 KiB). uvicorn answers the 400 itself.
        _wire(
            "header_line_1mib",
            400,
            b"GET /healthz HTTP/1.1\r\nHost: test\r\nX-Padding: " + b"a" * MIB + b"\r\n",
        ),
        _wire(
            "headers_50000",
            400,
            b"GET /healthz HTTP/1.1\r\nHost: test\r\n"
            + b"".join(b"X-H%d: v\r\n" % index for index in range(50_000)),
        ),
        Case("get_on_post_route", 405, method="GET", detail="Method Not Allowed"),
    ]
    names = [case.name for case in cases]
    duplicates = {name for name in names if names.count(name) > 1}
    if duplicates:
        raise ValueError(f"duplicate case names: {sorted(duplicates)}")
    return cases
