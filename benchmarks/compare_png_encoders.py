"""PNG encoders side by side on a 640x480 overlay, and the overlay's render + encode cost.

    python benchmarks/compare_png_encoders.py [--photo PATH] [--repeats 50]

Renders the overlay of one photo (default: the first of examples/photos, resized to 640x480)
with the service's own `app.overlay.render_overlay` and a class map with landmark blobs, then
encodes it with each PNG encoder that is installed: fpng (the service's, `app.overlay`),
OpenCV's libpng at zlib level 1 with run-length matching and the "up" filter (the service's
before), Pillow at level 1, and, when installed, imagecodecs' libpng/libspng and a PNG written
around zlib-ng. Each is checked to decode (Pillow) to the rendered pixels. Times are CPU time
(process_time) of one call, median of `--repeats`, in a process configured as the service's
(one OpenCV thread, image buffers kept in the heap). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import io
import statistics
import struct
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from app.decoding import decode_image
from app.overlay import encode_png, render_overlay
from app.service import keep_image_buffers_in_the_heap
from training.landmarks import CLASS_COLORS, LANDMARK_NAMES

REPO_ROOT = Path(__file__).resolve().parents[1]
PALETTE = np.array(CLASS_COLORS, dtype=np.uint8)  # uint8 [7, 3], background first


def cpu_ms(function: Callable[[], object], repeats: int) -> float:
    function()
    times = []
    for _ in range(repeats):
        started = time.process_time()
        function()
        times.append(time.process_time() - started)
    return statistics.median(times) * 1000


def opencv_fast_png(pixels: np.ndarray) -> bytes:
    params = [
        cv2.IMWRITE_PNG_COMPRESSION,
        1,
        cv2.IMWRITE_PNG_STRATEGY,
        cv2.IMWRITE_PNG_STRATEGY_RLE,
    ]
    if hasattr(cv2, "IMWRITE_PNG_FILTER"):
        params += [cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_UP]
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR), params)
    assert ok
    return encoded.tobytes()


def pillow_png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


def zlib_ng_png(pixels: np.ndarray) -> bytes:
    """A PNG around one zlib-ng level-1 stream of "sub"-filtered rows."""
    from zlib_ng import zlib_ng

    height, width, _ = pixels.shape
    rows = pixels.reshape(height, width * 3)
    filtered = np.empty((height, width * 3 + 1), np.uint8)
    filtered[:, 0] = 1
    filtered[:, 1:4] = rows[:, :3]
    np.subtract(rows[:, 3:], rows[:, :-3], out=filtered[:, 4:])

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib_ng.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib_ng.compress(filtered.tobytes(), 1))
        + chunk(b"IEND", b"")
    )


def encoders() -> dict[str, Callable[[np.ndarray], bytes]]:
    found: dict[str, Callable[[np.ndarray], bytes]] = {
        "fpng (the service's)": encode_png,
        "OpenCV libpng, level 1, RLE, up filter (before)": opencv_fast_png,
        "Pillow, level 1": pillow_png,
    }
    try:
        import imagecodecs

        found["imagecodecs libpng, level 1"] = lambda p: imagecodecs.png_encode(p, level=1)
        found["imagecodecs libspng, level 1"] = lambda p: imagecodecs.spng_encode(p, level=1)
    except ImportError:
        pass
    try:
        import zlib_ng  # noqa: F401

        found["zlib-ng level 1, sub filter"] = zlib_ng_png
    except ImportError:
        pass
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photo", type=Path)
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    cv2.setNumThreads(1)  # as the service runs (app/service.py)
    keep_image_buffers_in_the_heap()
    photo = args.photo or sorted((REPO_ROOT / "examples" / "photos").glob("*.jpg"))[0]
    pixels = decode_image(photo.read_bytes(), 40_000_000).pixels
    pixels = np.ascontiguousarray(cv2.resize(pixels, (640, 480), interpolation=cv2.INTER_AREA))
    class_map = np.zeros((256, 256), np.uint8)
    rng = np.random.default_rng(0)
    for value in range(1, 7):  # one blob per landmark, about a fifth of the image in all
        y, x = rng.integers(30, 226, 2)
        class_map[y - 25 : y + 25, x - 25 : x + 25] = value
    points = rng.uniform(50, 430, (6, 2))
    detected = np.ones(6, bool)
    overlay = render_overlay(pixels, class_map, points, detected, PALETTE, LANDMARK_NAMES)
    render = cpu_ms(
        lambda: render_overlay(pixels, class_map, points, detected, PALETTE, LANDMARK_NAMES),
        args.repeats,
    )
    print(f"{photo.name} at 640x480; render_overlay {render:.2f} ms CPU\n")
    print("| encoder | ms CPU | KiB | render + encode, ms | decodes to the pixels |")
    print("| --- | ---: | ---: | ---: | --- |")
    for name, encode in encoders().items():
        encoded = encode(overlay)
        same = np.array_equal(np.asarray(Image.open(io.BytesIO(encoded)).convert("RGB")), overlay)
        ms = cpu_ms(lambda encode=encode: encode(overlay), args.repeats)
        print(f"| {name} | {ms:.2f} | {len(encoded) / 1024:.0f} | {render + ms:.2f} | {same} |")


if __name__ == "__main__":
    main()
