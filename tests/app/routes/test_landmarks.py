"""POST /landmarks, /landmarks/overlay and /landmarks/batch end to end, on real servers.

`server` serves the colour-matching oracle model (known answers); `keyed_server` the random tiny
U-Net with an API key and a two-image queue (see tests/app/conftest.py).
"""

from __future__ import annotations

import asyncio
import base64
import io
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import numpy as np
import pytest
from PIL import Image

from app.decoding import decode_image
from app.geometry import resize_for_model
from tests.app.exports import LANDMARK_NAMES
from tests.app.images import (
    PALETTE,
    encode,
    landmark_scene,
    png_declaring,
    random_rgb,
    with_exif_orientation,
)
from tests.app.live_server import API_KEY, MIB, LiveServer, metric_samples

pytestmark = pytest.mark.slow

# Model-space centres of the coloured blocks, far enough apart to be separate peaks.
SCENE_CENTRES = [(60, 50), (190, 50), (40, 130), (215, 130), (80, 220), (175, 220)]


@pytest.fixture(scope="module")
def scene() -> tuple[np.ndarray, np.ndarray]:
    """A 512 x 768 upload (2 x 3 upload pixels per model pixel) and its landmark centres."""
    return landmark_scene(512, 768, SCENE_CENTRES)


def points_of(body: dict[str, Any]) -> np.ndarray:
    return np.array([[landmark["x"], landmark["y"]] for landmark in body["landmarks"]])


# === Happy paths ===


@pytest.mark.parametrize(
    ("image_format", "params", "mime"),
    [
        ("JPEG", {"quality": 90}, "image/jpeg"),
        ("PNG", {}, "image/png"),
        ("WEBP", {"quality": 90}, "image/webp"),
        ("BMP", {}, "image/bmp"),
    ],
)
def test_landmarks_accepts_multipart_in_every_format(
    client: httpx.Client, image_format: str, params: dict[str, object], mime: str
) -> None:
    data = encode(random_rgb(90, 160), image_format, **params)
    response = client.post("/landmarks", files={"image": (f"photo.{image_format}", data, mime)})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == {"name": "oracle", "version": 2}
    assert body["image"] == {"width": 160, "height": 90}
    assert [landmark["id"] for landmark in body["landmarks"]] == [1, 2, 3, 4, 5, 6]
    assert [landmark["name"] for landmark in body["landmarks"]] == list(LANDMARK_NAMES)
    for landmark in body["landmarks"]:
        assert set(landmark) == {"id", "name", "x", "y", "probability", "detected", "candidates"}
        assert 0.0 <= landmark["probability"] <= 1.0
        assert landmark["candidates"] is None
    assert body["overlay"]  # OVERLAY_DEFAULT is true on this server


@pytest.mark.parametrize("content_type", ["image/png", "image/jpeg", "application/octet-stream"])
def test_landmarks_accepts_raw_body_whatever_the_declared_type(
    client: httpx.Client, content_type: str
) -> None:
    # PNG bytes sent as image/jpeg still work: the bytes are sniffed, the header is not trusted.
    data = encode(random_rgb(40, 50), "PNG")
    response = client.post(
        "/landmarks",
        content=data,
        params={"overlay": "false"},
        headers={"content-type": content_type},
    )
    assert response.status_code == 200, response.text
    assert response.json()["image"] == {"width": 50, "height": 40}
    assert response.json()["overlay"] is None


def test_landmarks_finds_known_positions_in_upload_pixels(
    client: httpx.Client, scene: tuple[np.ndarray, np.ndarray]
) -> None:
    pixels, expected = scene
    response = client.post("/landmarks", files={"image": ("scene.png", encode(pixels, "PNG"))})
    body = response.json()
    assert body["image"] == {"width": 512, "height": 768}
    # Block centres: model pixel (u, v) -> upload (2u + 0.5, 3v + 1); a convention error of
    # half a model pixel would be off by 0.5 and 1 pixel here.
    np.testing.assert_allclose(points_of(body), expected, atol=0.02)
    assert all(landmark["detected"] for landmark in body["landmarks"])
    assert all(landmark["probability"] > 0.99 for landmark in body["landmarks"])


def test_landmarks_applies_exif_orientation_before_mapping(
    client: httpx.Client, scene: tuple[np.ndarray, np.ndarray]
) -> None:
    pixels, expected = scene
    stored = np.rot90(pixels, 1)  # stored on its side; orientation 6 turns it upright
    data = with_exif_orientation(np.ascontiguousarray(stored), 6, "PNG")
    body = client.post("/landmarks", content=data, headers={"content-type": "image/png"}).json()
    assert body["image"] == {"width": 512, "height": 768}
    np.testing.assert_allclose(points_of(body), expected, atol=0.02)


def test_landmarks_top_k_returns_distinct_candidates_in_upload_pixels(
    client: httpx.Client, scene: tuple[np.ndarray, np.ndarray]
) -> None:
    pixels, expected = scene
    body = client.post(
        "/landmarks",
        files={"image": ("scene.png", encode(pixels, "PNG"))},
        params={"top_k": 3, "overlay": "false"},
    ).json()
    for landmark, centre in zip(body["landmarks"], expected, strict=True):
        candidates = landmark["candidates"]
        assert 1 <= len(candidates) <= 3
        # The best candidate lies on the block (3 x 3 model pixels = 6 x 9 upload pixels).
        assert (
            abs(candidates[0]["x"] - centre[0]) <= 2.5 and abs(candidates[0]["y"] - centre[1]) <= 4
        )
        assert candidates[0]["probability"] > 0.99
        probabilities = [candidate["probability"] for candidate in candidates]
        assert probabilities == sorted(probabilities, reverse=True)


def test_landmarks_match_a_direct_savedmodel_call(
    keyed_server: LiveServer, tiny_model_dir: Path
) -> None:
    import tensorflow as tf

    data = encode(random_rgb(333, 517, seed=11), "JPEG", quality=92)
    with keyed_server.client(headers={"X-API-Key": API_KEY}) as http:
        body = http.post("/landmarks", content=data, params={"top_k": 5}).json()

    # The reference: the contract's steps by hand on the exported model.
    pixels = decode_image(data, 40_000_000).pixels
    signature = tf.saved_model.load(str(tiny_model_dir / "1")).signatures["serving_default"]
    outputs = signature(images=tf.constant(resize_for_model(pixels)[None]))
    scale = np.array([517 / 256, 333 / 256])
    points = (outputs["landmarks"].numpy()[0] + 0.5) * scale - 0.5
    scores = outputs["scores"].numpy()[0]
    candidate_points = (outputs["candidate_points"].numpy()[0] + 0.5) * scale - 0.5
    candidate_scores = outputs["candidate_scores"].numpy()[0]

    assert body["model"] == {"name": "tiny_unet", "version": 1}
    np.testing.assert_allclose(points_of(body), points, atol=0.011)
    for index, landmark in enumerate(body["landmarks"]):
        assert landmark["probability"] == pytest.approx(float(scores[index]), abs=1e-4)
        assert landmark["detected"] == bool(scores[index] >= 0.5)
        kept = candidate_scores[index] > 0
        found = [[candidate["x"], candidate["y"]] for candidate in landmark["candidates"]]
        np.testing.assert_allclose(found, candidate_points[index][kept], atol=0.011)


# === Overlay ===


def test_overlay_route_returns_png_of_the_upload_size(
    client: httpx.Client, scene: tuple[np.ndarray, np.ndarray]
) -> None:
    pixels, expected = scene
    response = client.post(
        "/landmarks/overlay", files={"image": ("scene.png", encode(pixels, "PNG"))}
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    overlay = Image.open(io.BytesIO(response.content))
    assert overlay.format == "PNG" and overlay.size == (512, 768)
    canvas = np.asarray(overlay.convert("RGB"))
    for (x, y), colour in zip(expected.round().astype(int), PALETTE[1:], strict=True):
        np.testing.assert_array_equal(canvas[y, x], colour)  # the landmark's dot and class
    # Far from every block and label, the photo is untouched.
    np.testing.assert_array_equal(canvas[5, 256], [128, 128, 128])
    np.testing.assert_array_equal(canvas[760, 5], [128, 128, 128])


def test_landmarks_overlay_field_is_the_same_png(
    client: httpx.Client, scene: tuple[np.ndarray, np.ndarray]
) -> None:
    pixels, _ = scene
    data = encode(pixels, "PNG")
    body = client.post("/landmarks", files={"image": ("scene.png", data)}).json()
    image_only = client.post("/landmarks/overlay", files={"image": ("scene.png", data)}).content
    decoded = base64.b64decode(body["overlay"], validate=True)
    assert Image.open(io.BytesIO(decoded)).size == (512, 768)
    assert decoded == image_only
    assert body["overlay_media_type"] == "image/png"


def test_overlay_format_jpeg_gives_a_jpeg_of_the_same_picture(
    client: httpx.Client, scene: tuple[np.ndarray, np.ndarray]
) -> None:
    pixels, expected = scene
    data = encode(pixels, "PNG")
    png = client.post("/landmarks/overlay", files={"image": ("scene.png", data)}).content
    response = client.post(
        "/landmarks/overlay?overlay_format=jpeg", files={"image": ("scene.png", data)}
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/jpeg"
    jpeg = Image.open(io.BytesIO(response.content))
    assert jpeg.format == "JPEG" and jpeg.size == (512, 768)
    # The same rendering, only lossy: close to the PNG everywhere, the dots in their colours.
    lossless = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    lossy = np.asarray(jpeg.convert("RGB")).astype(int)
    assert np.abs(lossy - lossless).mean() < 3
    for (x, y), colour in zip(expected.round().astype(int), PALETTE[1:], strict=True):
        assert np.abs(lossy[y, x] - colour).max() < 40

    body = client.post(
        "/landmarks?overlay_format=jpeg", files={"image": ("scene.png", data)}
    ).json()
    assert body["overlay_media_type"] == "image/jpeg"
    assert base64.b64decode(body["overlay"], validate=True) == response.content


def test_overlay_media_type_is_null_without_overlay(client: httpx.Client) -> None:
    data = encode(random_rgb(20, 30), "PNG")
    body = client.post("/landmarks?overlay=false", files={"image": ("a.png", data)}).json()
    assert body["overlay"] is None and body["overlay_media_type"] is None


@pytest.mark.parametrize("path", ["/landmarks", "/landmarks/overlay", "/landmarks/batch"])
def test_unknown_overlay_format_is_422(client: httpx.Client, path: str) -> None:
    field_name = "images" if path.endswith("batch") else "image"
    response = client.post(
        f"{path}?overlay_format=gif", files={field_name: ("a.png", encode(random_rgb(8, 8), "PNG"))}
    )
    assert response.status_code == 422
    assert "overlay_format" in response.text


# === Batches ===


def test_batch_returns_results_in_upload_order(client: httpx.Client) -> None:
    files = [
        ("images", (f"{index}.png", encode(random_rgb(30 + index, 40), "PNG"), "image/png"))
        for index in range(4)
    ]
    response = client.post("/landmarks/batch", files=files, params={"overlay": "false"})
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [result["image"]["height"] for result in results] == [30, 31, 32, 33]
    assert all(len(result["landmarks"]) == 6 for result in results)


def test_batch_bad_image_fails_the_request_naming_its_index(client: httpx.Client) -> None:
    good = encode(random_rgb(30, 30), "PNG")
    files = [
        ("images", ("0.png", good)),
        ("images", ("1.gif", encode(random_rgb(4, 4), "GIF"))),
        ("images", ("2.png", good)),
    ]
    response = client.post("/landmarks/batch", files=files)
    assert response.status_code == 415
    assert response.json()["detail"].startswith("images[1]: GIF images are not supported")


def test_batch_over_the_image_limit_returns_413(client: httpx.Client) -> None:
    small = encode(random_rgb(8, 8), "PNG")
    files = [("images", (f"{index}.png", small)) for index in range(5)]
    response = client.post("/landmarks/batch", files=files)
    assert response.status_code == 413
    assert "at most 4 per request" in response.json()["detail"]


# === Bad input ===


@dataclass
class BadRequest:
    """A request that must be refused with `status` and a detail containing `detail`."""

    path: str = "/landmarks"
    content: bytes | None = None
    content_type: str = "image/jpeg"
    files: list[tuple[str, Any]] | None = None
    params: dict[str, str] = field(default_factory=dict)
    status: int = 400
    detail: str = ""


_JPEG = encode(random_rgb(64, 64), "JPEG")
_PNG = encode(random_rgb(64, 64), "PNG")

BAD_REQUESTS = {
    "empty_body": BadRequest(content=b"", status=400, detail="request body is empty"),
    "empty_file": BadRequest(files=[("image", ("a.png", b""))], status=400, detail="empty"),
    "text_not_an_image": BadRequest(
        content=b"just text",
        status=415,
        detail="not a recognised image; send JPEG, PNG, WebP or BMP",
    ),
    "gif": BadRequest(
        content=encode(random_rgb(4, 4), "GIF"),
        content_type="image/gif",
        status=415,
        detail="GIF images are not supported",
    ),
    "tiff": BadRequest(
        content=encode(random_rgb(4, 4), "TIFF"),
        content_type="image/tiff",
        status=415,
        detail="TIFF images are not supported",
    ),
    "truncated_jpeg": BadRequest(
        content=_JPEG[: len(_JPEG) // 2], status=400, detail="JPEG data is truncated or corrupt"
    ),
    "truncated_png": BadRequest(
        files=[("image", ("a.png", _PNG[:100]))],
        status=400,
        detail="PNG data is truncated or corrupt",
    ),
    "too_many_bytes_raw": BadRequest(
        content=b"\xff\xd8\xff" + b"\x00" * (2 * MIB),
        status=413,
        detail="the limit is 2097152 bytes",
    ),
    "too_many_bytes_multipart": BadRequest(
        files=[("image", ("a.jpg", b"\xff\xd8\xff" + b"\x00" * (2 * MIB + 100_000)))],
        status=413,
        detail="2097152 bytes per image",
    ),
    "file_over_limit_inside_framing_allowance": BadRequest(
        files=[("image", ("a.jpg", b"\xff\xd8\xff" + b"\x00" * (2 * MIB)))],
        status=413,
        detail="image is 2097155 bytes; the limit is 2097152 bytes",
    ),
    "too_many_pixels": BadRequest(
        content=png_declaring(2100, 2000),
        content_type="image/png",
        status=413,
        detail="2100x2000 = 4.2 megapixels; the limit is 4.0 megapixels",
    ),
    "decompression_bomb": BadRequest(
        content=png_declaring(100_000, 100_000),
        content_type="image/png",
        status=413,
        detail="too many pixels (a possible decompression bomb); the limit is 4.0 megapixels",
    ),
    "wrong_field_name": BadRequest(
        files=[("file", ("a.png", _PNG))],
        status=422,
        detail="multipart field 'image' is missing (got 'file')",
    ),
    "text_field_instead_of_file": BadRequest(
        files=[("image", (None, "hello"))], status=422, detail="must be a file upload"
    ),
    "two_files": BadRequest(
        files=[("image", ("a.png", _PNG)), ("image", ("b.png", _PNG))],
        status=422,
        detail="send exactly one file in 'image'",
    ),
    "malformed_multipart": BadRequest(
        content=b"--x\r\nnonsense",
        content_type="multipart/form-data",
        status=400,
        detail="invalid multipart body",
    ),
    "negative_top_k": BadRequest(
        content=_PNG,
        params={"top_k": "-1"},
        status=422,
        detail="query.top_k: Input should be greater than or equal to 0",
    ),
    "top_k_beyond_model": BadRequest(
        content=_PNG, params={"top_k": "6"}, status=422, detail="top_k must be between 0 and 5"
    ),
    "non_integer_top_k": BadRequest(
        content=_PNG, params={"top_k": "many"}, status=422, detail="query.top_k"
    ),
    "non_boolean_overlay": BadRequest(
        content=_PNG, params={"overlay": "perhaps"}, status=422, detail="query.overlay"
    ),
    "batch_as_raw_body": BadRequest(
        path="/landmarks/batch",
        content=_PNG,
        content_type="image/png",
        status=415,
        detail="multipart/form-data",
    ),
    "batch_wrong_field_name": BadRequest(
        path="/landmarks/batch",
        files=[("image", ("a.png", _PNG))],
        status=422,
        detail="multipart field 'images' is missing",
    ),
    "batch_bad_top_k": BadRequest(
        path="/landmarks/batch",
        files=[("images", ("a.png", _PNG))],
        params={"top_k": "-2"},
        status=422,
        detail="query.top_k",
    ),
}


@pytest.mark.parametrize("case", BAD_REQUESTS.values(), ids=BAD_REQUESTS.keys())
def test_bad_input_returns_clear_4xx(client: httpx.Client, case: BadRequest) -> None:
    if case.files is not None:
        response = client.post(case.path, files=case.files, params=case.params)
    else:
        response = client.post(
            case.path,
            content=case.content,
            params=case.params,
            headers={"content-type": case.content_type},
        )
    assert response.status_code == case.status, response.text
    assert response.headers["content-type"] == "application/json"
    assert case.detail in response.json()["detail"]


def test_streamed_body_over_the_limit_is_cut_off(client: httpx.Client) -> None:
    sent = 0

    def chunks() -> Iterator[bytes]:
        # No Content-Length (chunked): the server must count while reading and stop.
        nonlocal sent
        for _ in range(64):
            sent += 256 * 1024
            yield b"\xff" * (256 * 1024)

    response = client.post("/landmarks", content=chunks(), headers={"content-type": "image/jpeg"})
    assert response.status_code == 413
    assert response.json()["detail"] == "the request body exceeds the limit of 2097152 bytes"


def test_declared_length_over_the_limit_is_refused_before_the_body(server: LiveServer) -> None:
    # Declare 10 GB, send almost nothing, and get the answer at once: nothing was waited for.
    address = urlsplit(server.base_url)
    with socket.create_connection((address.hostname, address.port), timeout=10) as connection:
        connection.sendall(
            b"POST /landmarks HTTP/1.1\r\nHost: test\r\nContent-Type: image/jpeg\r\n"
            b"Content-Length: 10000000000\r\n\r\n\xff\xd8\xff"
        )
        received = b""
        while b"\r\n\r\n" not in received or not received.rstrip().endswith(b"}"):
            chunk = connection.recv(65536)
            if not chunk:
                break
            received += chunk
    status_line, _, rest = received.partition(b"\r\n")
    assert status_line.startswith(b"HTTP/1.1 413")
    assert b"the request body is 10000000000 bytes; the limit is 2097152 bytes" in rest


def test_server_stays_healthy_and_counts_bad_input_by_status(
    client: httpx.Client, scene: tuple[np.ndarray, np.ndarray]
) -> None:
    client.post("/landmarks", content=b"GIF89a...", headers={"content-type": "image/gif"})
    samples = metric_samples(client)
    assert (
        samples['landmarks_http_requests_total{method="POST",route="/landmarks",status="415"}'] >= 1
    )
    assert not any('status="500"' in name for name in samples)
    pixels, expected = scene
    answer = client.post("/landmarks", files={"image": ("scene.png", encode(pixels, "PNG"))})
    np.testing.assert_allclose(points_of(answer.json()), expected, atol=0.02)


# === Throughput ===


def test_concurrent_requests_share_model_calls(server: LiveServer, client: httpx.Client) -> None:
    before = metric_samples(client)
    uploads = [encode(random_rgb(64, 64, seed=seed), "PNG") for seed in range(12)]

    async def burst() -> list[int]:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as http:
            responses = await asyncio.gather(
                *(
                    http.post("/landmarks", content=data, params={"overlay": "false"})
                    for data in uploads
                )
            )
        return [response.status_code for response in responses]

    assert asyncio.run(burst()) == [200] * 12
    after = metric_samples(client)
    calls = after["landmarks_batch_size_count{}"] - before["landmarks_batch_size_count{}"]
    images = after["landmarks_batch_size_sum{}"] - before["landmarks_batch_size_sum{}"]
    assert images == 12
    assert calls < 12, "no model call took more than one image"
    assert (
        after['landmarks_batch_size_bucket{le="1.0"}']
        - before['landmarks_batch_size_bucket{le="1.0"}']
        < calls
    )
    for name in (
        "landmarks_inference_seconds_count{}",
        "landmarks_queue_wait_seconds_count{}",
        'landmarks_http_request_duration_seconds_count{route="/landmarks"}',
    ):
        assert after[name] > before.get(name, 0)


# === API key and overload (keyed_server) ===


def test_api_key_is_required_on_landmark_routes_when_set(keyed_server: LiveServer) -> None:
    png = encode(random_rgb(32, 32), "PNG")
    with keyed_server.client() as http:
        for path, kwargs in (
            ("/landmarks", {"content": png}),
            ("/landmarks/overlay", {"content": png}),
            ("/landmarks/batch", {"files": [("images", ("a.png", png))]}),
        ):
            missing = http.post(path, **kwargs)
            assert missing.status_code == 401
            assert missing.json() == {"detail": "missing API key: send it in the X-API-Key header"}
            wrong = http.post(path, headers={"X-API-Key": API_KEY + "x"}, **kwargs)
            assert wrong.status_code == 401 and wrong.json() == {"detail": "invalid API key"}
            right = http.post(path, headers={"X-API-Key": API_KEY}, **kwargs)
            assert right.status_code == 200, right.text
        # Probes, metadata, metrics and docs stay open.
        for path in ("/healthz", "/readyz", "/metadata", "/metrics", "/openapi.json"):
            assert http.get(path).status_code == 200


def test_overlay_default_comes_from_settings(keyed_server: LiveServer) -> None:
    png = encode(random_rgb(32, 32), "PNG")
    with keyed_server.client(headers={"X-API-Key": API_KEY}) as http:
        assert http.post("/landmarks", content=png).json()["overlay"] is None
        assert http.post("/landmarks", content=png, params={"overlay": "true"}).json()["overlay"]


def test_full_queue_returns_503_with_retry_after(keyed_server: LiveServer) -> None:
    # QUEUE_LENGTH is 2 here; 16 simultaneous large uploads with overlays cannot all fit.
    data = encode(random_rgb(1024, 1024, seed=7), "JPEG", quality=90)

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(
            base_url=keyed_server.base_url, timeout=60, headers={"X-API-Key": API_KEY}
        ) as http:
            return list(
                await asyncio.gather(
                    *(
                        http.post("/landmarks", content=data, params={"overlay": "true"})
                        for _ in range(16)
                    )
                )
            )

    responses = asyncio.run(burst())
    statuses = sorted(response.status_code for response in responses)
    assert set(statuses) == {200, 503}, statuses
    for response in responses:
        if response.status_code == 503:
            assert response.headers["retry-after"] == "1"
            assert "at capacity" in response.json()["detail"]
    # Once the burst is over the service answers again.
    with keyed_server.client(headers={"X-API-Key": API_KEY}) as http:
        assert http.post("/landmarks", content=data).status_code == 200


def _batch_counts(http: httpx.Client) -> tuple[float, float]:
    samples = metric_samples(http)
    return samples["landmarks_batch_size_count{}"], samples["landmarks_batch_size_sum{}"]


def test_request_whose_body_is_still_arriving_joins_the_forming_batch(
    server: LiveServer, client: httpx.Client
) -> None:
    """A request counts as on its way from its headers on, not only once its body is read.

    Request A sends its headers and half its body; request B arrives whole. B's batch waits
    for A (BATCH_WAIT_MS is 50 ms on this server) and both share one model call. Without the
    early announcement B goes alone the moment it is queued.
    """
    body = encode(random_rgb(64, 64, seed=1), "PNG")
    head = (
        "POST /landmarks?overlay=false HTTP/1.1\r\nHost: test\r\n"
        f"Content-Type: image/png\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    host, port = server.base_url.removeprefix("http://").split(":")
    before = _batch_counts(client)
    with socket.create_connection((host, int(port)), timeout=30) as slow:
        slow.sendall(head + body[: len(body) // 2])
        time.sleep(0.2)  # A's handler is running, reading its body
        with httpx.Client(base_url=server.base_url, timeout=30) as other:
            fast = threading.Thread(
                target=lambda: other.post(
                    "/landmarks",
                    params={"overlay": "false"},
                    content=body,
                    headers={"Content-Type": "image/png"},
                ).raise_for_status()
            )
            fast.start()
            time.sleep(0.01)
            slow.sendall(body[len(body) // 2 :])
            fast.join(timeout=30)
        answer = b""
        while chunk := slow.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200")
    count, total = _batch_counts(client)
    assert (count - before[0], total - before[1]) == (1, 2)
