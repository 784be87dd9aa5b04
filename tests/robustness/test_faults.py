"""Clients that misbehave at the socket level, and a model that answers too late.

Each test drives a real `python -m app` server with raw sockets, then checks that the server
is still healthy (ready, answering a known image) and has let go of what the bad client held:
no image left in flight (`landmarks_images_in_flight` back to 0), no spooled upload left open
in its private TMPDIR, no memory growth over repeated faults, and no traceback in its log.
"""

from __future__ import annotations

import asyncio
import select
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import numpy as np
import pytest

from app.batcher import MicroBatcher
from app.errors import QueueTimeoutError
from tests.app.exports import export_full_seed
from tests.app.images import encode, random_rgb
from tests.app.live_server import MIB, metric_samples
from tests.robustness.servers import (
    NUM_LANDMARKS,
    ProcessServer,
    assert_serves_normally,
    running_server,
)

UPLOAD_TIMEOUT_S = 2.0
FAULT_SERVER_SETTINGS: dict[str, object] = {
    "MAX_UPLOAD_BYTES": 2 * MIB,
    "MAX_PIXELS": 4_000_000,
    "UPLOAD_TIMEOUT_S": UPLOAD_TIMEOUT_S,
    "OVERLAY_DEFAULT": "false",
    "LOG_LEVEL": "info",
}
BOUNDARY = b"robustness-boundary"


@pytest.fixture(scope="module")
def fault_server(
    robust_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ProcessServer]:
    root = tmp_path_factory.mktemp("fault_server")
    with running_server(root, {"MODEL_DIR": robust_model_dir, **FAULT_SERVER_SETTINGS}) as live:
        yield live


@pytest.fixture(scope="module")
def http(fault_server: ProcessServer) -> Iterator[httpx.Client]:
    with fault_server.client() as client:
        yield client


@pytest.fixture(scope="module")
def overlay_photo() -> bytes:
    """A PNG of noise just under the 2 MiB limit, so the overlay answer is about as large."""
    return encode(random_rgb(700, 900, seed=3), "PNG")


# === Helpers ===


def connect(server: ProcessServer) -> socket.socket:
    address = urlsplit(server.base_url)
    assert address.hostname is not None and address.port is not None
    return socket.create_connection((address.hostname, address.port), timeout=10)


def request_head(target: str, content_type: bytes, length: int) -> bytes:
    """A POST head for `target` (path and query) declaring a body of `length` bytes."""
    return (
        b"POST "
        + target.encode()
        + b" HTTP/1.1\r\nHost: test\r\nContent-Type: "
        + content_type
        + b"\r\nContent-Length: %d\r\n\r\n" % length
    )


def multipart_head(filename: bytes = b"photo.png") -> bytes:
    """The opening of a multipart body with one file part named `image`."""
    return (
        b"--"
        + BOUNDARY
        + b'\r\nContent-Disposition: form-data; name="image"; filename="'
        + filename
        + b'"\r\nContent-Type: image/png\r\n\r\n'
    )


def disconnect_mid_raw_upload(server: ProcessServer) -> None:
    """Declares 1 MB, sends half of it, closes."""
    with connect(server) as connection:
        connection.sendall(request_head("/landmarks", b"image/png", 1_000_000))
        connection.sendall(b"\x89PNG\r\n\x1a\n" + b"\x00" * 500_000)


def disconnect_mid_multipart_upload(server: ProcessServer) -> None:
    """Declares 1.9 MB of multipart, sends 1.5 MB (enough to spool to disk), closes."""
    with connect(server) as connection:
        content_type = b"multipart/form-data; boundary=" + BOUNDARY
        connection.sendall(request_head("/landmarks", content_type, 1_900_000))
        connection.sendall(multipart_head() + b"\x89PNG\r\n\x1a\n" + b"\x00" * 1_500_000)


def read_response(connection: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response with a Content-Length: (status, headers, body)."""
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = connection.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before a full response head: {received!r}")
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {
        name.strip().lower(): value.strip()
        for name, _, value in (line.partition(":") for line in lines)
    }
    while len(body) < int(headers.get("content-length", "0")):
        chunk = connection.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(status_line.split()[1]), headers, body


def closed_by_peer(connection: socket.socket, timeout_s: float = 5.0) -> bool:
    """Whether the server closes the connection within `timeout_s`."""
    connection.settimeout(timeout_s)
    try:
        return connection.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def wait_until(condition: Callable[[], bool], timeout_s: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def status_count(http: httpx.Client, route: str, status: int) -> float:
    key = f'landmarks_http_requests_total{{method="POST",route="{route}",status="{status}"}}'
    return metric_samples(http).get(key, 0.0)


def assert_recovered(server: ProcessServer, http: httpx.Client) -> None:
    """Healthy, nothing in flight, no spooled upload open, no error logged."""
    assert_serves_normally(http)
    assert wait_until(lambda: server.in_flight(http) == 0), "images still in flight"
    assert wait_until(lambda: server.files_in_tmp() == []), server.files_in_tmp()
    assert list(server.tmp_dir.iterdir()) == []
    samples = metric_samples(http)
    assert not [name for name in samples if 'status="5' in name and "_total" in name]
    log = server.log()
    assert "Traceback" not in log and "unhandled error" not in log, log[-3000:]


# === Disconnects ===


@pytest.mark.slow
def test_disconnect_mid_upload_is_a_499_not_a_server_error(
    fault_server: ProcessServer, http: httpx.Client
) -> None:
    before = status_count(http, "/landmarks", 499)
    for _ in range(5):
        disconnect_mid_raw_upload(fault_server)
        disconnect_mid_multipart_upload(fault_server)

    # Counted as nginx's "client closed request", not as a 500 with a traceback in the log.
    assert wait_until(lambda: status_count(http, "/landmarks", 499) == before + 10)
    assert_recovered(fault_server, http)
    assert "the client disconnected after sending" in fault_server.log()


@pytest.mark.slow
def test_repeated_disconnects_do_not_grow_memory_or_open_files(
    fault_server: ProcessServer, http: httpx.Client
) -> None:
    def round_of_disconnects() -> None:
        dropped = status_count(http, "/landmarks", 499)
        for _ in range(10):
            disconnect_mid_raw_upload(fault_server)
            disconnect_mid_multipart_upload(fault_server)
        # Settled: the server has seen all twenty go away and closed their spooled files.
        assert wait_until(lambda: status_count(http, "/landmarks", 499) == dropped + 20)
        assert wait_until(lambda: fault_server.files_in_tmp() == [])

    round_of_disconnects()  # warm-up: allocator pools, spool buffers, thread stacks
    rss_before = fault_server.rss_bytes()
    files_before = len(fault_server.open_files())
    for _ in range(3):
        round_of_disconnects()

    # 60 dropped uploads of 0.5-1.5 MB each: a leak of the buffers would be 60 MB or more.
    growth = fault_server.rss_bytes() - rss_before
    assert growth < 20 * MIB, f"RSS grew {growth / MIB:.1f} MiB over 60 disconnects"
    assert len(fault_server.open_files()) <= files_before
    assert_recovered(fault_server, http)


@pytest.mark.slow
@pytest.mark.parametrize("target", ["/landmarks?overlay=true", "/landmarks/overlay"])
def test_disconnect_mid_response_frees_the_request(
    fault_server: ProcessServer, http: httpx.Client, overlay_photo: bytes, target: str
) -> None:
    head = request_head(target, b"image/png", len(overlay_photo))
    for _ in range(3):
        with connect(fault_server) as connection:
            connection.sendall(head + overlay_photo)
            assert connection.recv(12).startswith(b"HTTP/1.1 200")
        # Gone before reading anything: the answer is computed and dropped.
        with connect(fault_server) as connection:
            connection.sendall(head + overlay_photo)

    assert_recovered(fault_server, http)


# === Slow clients ===


@pytest.mark.slow
def test_stalled_upload_gets_408_and_the_connection_closes(
    fault_server: ProcessServer, http: httpx.Client
) -> None:
    with connect(fault_server) as connection:
        connection.sendall(request_head("/landmarks", b"image/png", 100_000))
        connection.sendall(b"\x89PNG\r\n\x1a\n")
        started = time.monotonic()
        status, headers, body = read_response(connection)
        waited = time.monotonic() - started
        assert status == 408
        assert headers["connection"] == "close"
        assert b"did not arrive within 2 s" in body
        assert closed_by_peer(connection)
    assert UPLOAD_TIMEOUT_S - 0.5 < waited < UPLOAD_TIMEOUT_S + 5
    assert_recovered(fault_server, http)


@pytest.mark.slow
def test_trickled_upload_is_cut_off_after_the_upload_timeout(
    fault_server: ProcessServer, http: httpx.Client
) -> None:
    # The limit is on the whole body, not on silence: a byte every 0.1 s does not keep it alive.
    # The first 1.2 MB arrive at once, so the part has spooled to a temporary file by then.
    content_type = b"multipart/form-data; boundary=" + BOUNDARY
    with connect(fault_server) as connection:
        connection.sendall(request_head("/landmarks", content_type, 1_900_000))
        connection.sendall(multipart_head() + b"\x89PNG\r\n\x1a\n" + b"\x00" * 1_200_000)
        started = time.monotonic()
        while time.monotonic() - started < UPLOAD_TIMEOUT_S + 5:
            readable, _, _ = select.select([connection], [], [], 0.1)
            if readable:
                break
            connection.sendall(b"\x00")
        status, headers, body = read_response(connection)
        assert status == 408, body
        assert headers["connection"] == "close"
    assert time.monotonic() - started < UPLOAD_TIMEOUT_S + 5
    assert_recovered(fault_server, http)


# === Queue timeout ===


@pytest.fixture(scope="module")
def slow_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The full-width seed network (random weights): tens of ms per model call, as in use."""
    root = tmp_path_factory.mktemp("slow_models") / "seed_full"
    export_full_seed(root / "1", "seed_full")
    return root


@pytest.mark.slow
def test_queue_timeout_returns_503_with_retry_after_and_recovers(
    slow_model_dir: Path, tmp_path: Path
) -> None:
    # Thirty-two images with one model call each (MAX_BATCH_SIZE 1): the last ones wait behind
    # thirty-one calls of the full-width network, so they pass the 0.6 s queue timeout (sixteen
    # were once enough, until an idle 2-core machine answered all of them within it). A lone
    # image afterwards needs one call (well under 0.6 s).
    settings: dict[str, object] = {
        "MODEL_DIR": slow_model_dir,
        "QUEUE_TIMEOUT_S": 0.6,
        "BATCH_WAIT_MS": 0,
        "MAX_BATCH_SIZE": 1,
        "MAX_IMAGES_PER_REQUEST": 32,
        "QUEUE_LENGTH": 64,
        "OVERLAY_DEFAULT": "false",
    }
    png = encode(random_rgb(48, 64), "PNG")
    with running_server(tmp_path, settings) as server, server.client() as http:
        crowd = http.post("/landmarks/batch", files=[("images", ("a.png", png))] * 32)
        assert crowd.status_code == 503, crowd.text
        assert crowd.headers["retry-after"] == "5"
        assert crowd.json()["detail"].startswith("no model result within 0.6 s")

        # The timed-out images are skipped, not run: the model is free again at once.
        assert http.get("/readyz").status_code == 200
        lone = http.post("/landmarks", content=png, headers={"content-type": "image/png"})
        assert lone.status_code == 200, lone.text
        assert len(lone.json()["landmarks"]) == NUM_LANDMARKS
        assert server.in_flight(http) == 0
        assert "Traceback" not in server.log()


def test_batcher_skips_jobs_whose_callers_gave_up() -> None:
    # In-process: a timed-out first job must not take one of the batch's slots.
    calls: list[int] = []

    def predict(images: np.ndarray) -> dict[str, np.ndarray]:
        calls.append(len(images))
        return {"value": images[:, 0, 0, 0].astype(np.float32)}

    async def scenario() -> list[float]:
        batcher = MicroBatcher(
            predict, max_batch_size=2, max_wait_s=2.0, queue_length=8, queue_timeout_s=0.1
        )
        await batcher.start()
        try:
            image = np.zeros((4, 4, 3), dtype=np.uint8)
            # Company is announced but never comes, so the first job waits out its timeout
            # as the forming batch's first member.
            with batcher.expecting(1):
                with pytest.raises(QueueTimeoutError):
                    await batcher.submit(image)
                started = time.monotonic()
                results = await asyncio.gather(batcher.submit(image + 1), batcher.submit(image + 2))
                assert time.monotonic() - started < 1.0  # not the 2 s batch wait
            return [float(result["value"]) for result in results]
        finally:
            await batcher.stop()

    assert asyncio.run(scenario()) == [1.0, 2.0]
    assert calls == [2]
