"""The HTTP service against the bare SavedModel, measured side by side in one run.

    python -m benchmarks.bench_service [--model models/garment_landmarks] [--quick]

Three processes take part, so that none measures itself while another of its own parts runs:

- this one, the client: builds the uploads, times the service's own CPU steps directly
  (decode+resize, post-processing and JSON, overlay rendering and PNG encoding, from
  app/pipeline.py, app/overlay.py and app/schemas.py), then drives the server over HTTP with
  `--client`: `raw` (default) writes prebuilt HTTP/1.1 requests to keep-alive sockets and reads
  the Content-Length answers, `httpx` uses an `httpx.AsyncClient` as a Python caller would;
  it never imports TensorFlow;
- the server: `uvicorn app.main:app` on loopback (`benchmarks.harness`) with the service's
  default settings, LANDMARKS_MAX_BATCH_SIZE from `--batch-size` (and LANDMARKS_FLIP_AVERAGE
  false with `--single-pass`);
- the bare model: this module started again with `--bare-worker`, which loads the SavedModel
  with `tf.saved_model.load(...).signatures["serving_default"]` (`serving_single_pass` for a
  mirror-averaged model with `--single-pass`) and, when asked, calls it on the
  same images already decoded and resized to 256 (by the app's own functions, untimed), in
  batches of `--batch-size`, fetching every output as numpy as the service does.

Blocks alternate: bare, service (one configuration), bare, service (next configuration), ...,
bare. Each service block's ratio is its images/s over the mean of the two bare blocks around it,
so a drift in what else the machine runs moves both sides. Each configuration runs `--rounds`
times; the table gives every round's ratio. The bare model runs with no client beside it, the
service with its client on the same cores: the ratio charges the service for a real client's
HTTP work, and the table reports the client's and the server's CPU time per image so that share
can be read off.

Without `--model` an untrained full-width U-Net (`build_model("unet", 1.0)`, the real network's
cost) is exported to a temporary directory first (`benchmarks.harness.model_directory`).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import cv2
import httpx
import numpy as np

from app.batcher import MicroBatcher
from app.decoding import decode_image
from app.geometry import resize_for_model
from app.model_runtime import (
    SIGNATURE_NAME,
    SINGLE_PASS_SIGNATURE_NAME,
    ModelMetadata,
    read_metadata,
    resolve_version_dir,
)
from app.overlay import encode_jpeg, encode_png, render_overlay
from app.pipeline import Analysis, AnalysisOptions, LandmarkPipeline
from app.schemas import LandmarkResponse
from app.service import keep_image_buffers_in_the_heap
from benchmarks.harness import (
    REPO_ROOT,
    LiveServer,
    metric_samples,
    model_directory,
    server_environment,
    start_server,
    stop_server,
)
from benchmarks.load_test import encode_image, synthetic_photo

MAX_PIXELS = 40_000_000  # the service's default LANDMARKS_MAX_PIXELS
DEFAULT_BATCH_SIZE = 8  # the service's default LANDMARKS_MAX_BATCH_SIZE
IMAGES_PER_SET = 8
JPEG_QUALITY = 90
UPLOAD_SIZES: tuple[tuple[int, int], ...] = ((640, 480), (256, 256))
COMPONENT_SIZES: tuple[tuple[int, int], ...] = (
    (256, 256),
    (640, 480),
    (1920, 1080),
    (4032, 3024),  # a 12-megapixel phone photo
)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# === Workload ===


@dataclass(frozen=True)
class ImageSet:
    """JPEG uploads of one size.

    Attributes:
        width: upload width.
        height: upload height.
        uploads: JPEG bytes, `IMAGES_PER_SET` distinct photos.
    """

    width: int
    height: int
    uploads: tuple[bytes, ...]

    @property
    def label(self) -> str:
        return f"{self.width}x{self.height}"

    @property
    def mean_bytes(self) -> float:
        return sum(len(data) for data in self.uploads) / len(self.uploads)


def build_image_set(width: int, height: int) -> ImageSet:
    uploads = tuple(
        encode_image(synthetic_photo(width, height, seed), "JPEG", quality=JPEG_QUALITY)
        for seed in range(IMAGES_PER_SET)
    )
    return ImageSet(width, height, uploads)


def model_inputs(image_sets: list[ImageSet], size: int) -> np.ndarray:
    """uint8 [N, S, S, 3]: every upload decoded and resized by the app's own functions."""
    return np.stack(
        [
            resize_for_model(decode_image(data, MAX_PIXELS).pixels, size)
            for image_set in image_sets
            for data in image_set.uploads
        ]
    )


def fake_outputs(size: int, top_k: int, seed: int = 0) -> dict[str, np.ndarray]:
    """One image's model outputs with the contract's shapes and a trained model's look: six
    small blobs of landmark classes on background."""
    rng = np.random.default_rng(seed)
    landmarks = rng.uniform(10, size - 10, size=(6, 2)).astype(np.float32)
    class_map = np.zeros((size, size), dtype=np.uint8)
    rows, columns = np.mgrid[0:size, 0:size]
    for index, (x, y) in enumerate(landmarks):
        class_map[(columns - x) ** 2 + (rows - y) ** 2 <= 16] = index + 1
    return {
        "landmarks": landmarks,
        "scores": rng.uniform(0.3, 1.0, size=6).astype(np.float32),
        "class_map": class_map,
        "candidate_points": rng.uniform(0, size, size=(6, top_k, 2)).astype(np.float32),
        "candidate_scores": np.sort(rng.uniform(0, 1, size=(6, top_k)), axis=1)[:, ::-1]
        .astype(np.float32)
        .copy(),
    }


# === Component costs (in this process, no server running) ===


def median_ms(function: Callable[[], object], repeats: int) -> float:
    """Median wall time of `function()` over `repeats` calls after one untimed call, in ms."""
    function()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000.0


@dataclass
class ComponentCosts:
    """Per-image costs of the service's CPU steps, ms (median), keyed by upload size."""

    decode_resize: dict[str, float] = field(default_factory=dict)
    decode_resize_full: dict[str, float] = field(default_factory=dict)
    upload_bytes: dict[str, int] = field(default_factory=dict)
    postprocess_json: dict[str, float] = field(default_factory=dict)
    render: dict[str, float] = field(default_factory=dict)
    png: dict[str, float] = field(default_factory=dict)
    jpeg: dict[str, float] = field(default_factory=dict)
    overlay_json: dict[str, float] = field(default_factory=dict)
    overlay_bytes: dict[str, int] = field(default_factory=dict)
    jpeg_overlay_bytes: dict[str, int] = field(default_factory=dict)


def measure_components(metadata: ModelMetadata, repeats: int) -> ComponentCosts:
    """Times the app's own functions on one upload per size.

    `LandmarkPipeline._prepare` and `_finish` are the exact per-image steps a request runs in
    the CPU pool (decode+resize; coordinate mapping and rounding); they are called directly
    here, with model outputs of the contract's shapes. The JSON step is what the route does:
    `LandmarkResponse.from_analysis(...).model_dump_json()`.
    """
    # Configured as the service configures its process (app/service.py).
    cv2.setNumThreads(1)
    keep_image_buffers_in_the_heap()
    batcher = MicroBatcher(
        lambda images: {}, max_batch_size=1, max_wait_s=0.0, queue_length=1, queue_timeout_s=1.0
    )
    costs = ComponentCosts()
    with ThreadPoolExecutor(max_workers=1) as executor:
        pipeline = LandmarkPipeline(
            metadata,
            batcher,
            executor,
            max_pixels=MAX_PIXELS,
            max_in_flight=1,
            detection_threshold=0.5,
        )
        for width, height in COMPONENT_SIZES:
            measure_size(pipeline, width, height, repeats, costs)
    return costs


def measure_size(
    pipeline: LandmarkPipeline, width: int, height: int, repeats: int, costs: ComponentCosts
) -> None:
    """Fills `costs` for one upload size (overlay steps only for sizes other than 256x256)."""
    metadata = pipeline.metadata
    outputs = fake_outputs(metadata.size, metadata.top_k)
    names = [spec.name for spec in metadata.landmarks]
    plain = AnalysisOptions(top_k=0, overlay=False)
    label = f"{width}x{height}"
    data = encode_image(synthetic_photo(width, height, 99), "JPEG", quality=JPEG_QUALITY)
    costs.upload_bytes[label] = len(data)
    # Without an overlay a large JPEG is decoded at a reduced scale; with one, in full.
    costs.decode_resize[label] = median_ms(lambda: pipeline._prepare(data, False), repeats)
    costs.decode_resize_full[label] = median_ms(lambda: pipeline._prepare(data, True), repeats)
    item = pipeline._prepare(data, True)

    def json_body(analysis: Analysis) -> str:
        return LandmarkResponse.from_analysis(analysis, metadata).model_dump_json()

    costs.postprocess_json[label] = median_ms(
        lambda: json_body(pipeline._finish(item, outputs, plain)), repeats
    )
    if (width, height) == (metadata.size, metadata.size) or item.pixels is None:
        return
    analysis = pipeline._finish(item, outputs, plain)
    points = np.array([[landmark.x, landmark.y] for landmark in analysis.landmarks])
    detected = np.array([landmark.detected for landmark in analysis.landmarks])
    pixels = item.pixels

    def render() -> np.ndarray:
        return render_overlay(
            pixels, outputs["class_map"], points, detected, metadata.palette, names
        )

    rendered = render()
    with_overlay = dataclasses.replace(analysis, overlay_image=encode_png(rendered))
    costs.render[label] = median_ms(render, repeats)
    costs.png[label] = median_ms(lambda: encode_png(rendered), repeats)
    costs.jpeg[label] = median_ms(lambda: encode_jpeg(rendered), repeats)
    costs.overlay_bytes[label] = len(json_body(with_overlay))
    with_jpeg = dataclasses.replace(analysis, overlay_image=encode_jpeg(rendered))
    costs.jpeg_overlay_bytes[label] = len(json_body(with_jpeg))
    # The overlay's share of the JSON step: base64 of the PNG and its copy into the body.
    costs.overlay_json[label] = median_ms(lambda: json_body(with_overlay), repeats) - median_ms(
        lambda: json_body(analysis), repeats
    )


# === The bare model, in its own process ===


def bare_worker(model_dir: Path, inputs_path: Path, batch_size: int, signature_name: str) -> None:
    """Serves timing requests on stdin/stdout, one JSON object per line (see BareModel)."""
    import tensorflow as tf

    signature = tf.saved_model.load(str(resolve_version_dir(model_dir))).signatures[signature_name]
    inputs = np.load(inputs_path)
    # Batches of `batch_size` consecutive images, wrapping around the set.
    batches = [
        inputs[(start + np.arange(batch_size)) % len(inputs)]
        for start in range(0, len(inputs), batch_size)
    ]

    def call(images: np.ndarray) -> dict[str, np.ndarray]:
        outputs = signature(images=tf.constant(images))
        return {name: value.numpy() for name, value in outputs.items()}

    call(batches[0])
    call(batches[0][:1])
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        if request["op"] == "throughput":
            calls = math.ceil(request["images"] / batch_size)
            cpu_started, started = time.process_time(), time.perf_counter()
            for index in range(calls):
                call(batches[index % len(batches)])
            seconds = time.perf_counter() - started
            reply = {
                "images": calls * batch_size,
                "seconds": seconds,
                "cpu_seconds": time.process_time() - cpu_started,
            }
        elif request["op"] == "calls":
            # Back-to-back calls at a given batch size (benchmarks/load_curve.py).
            batch = inputs[np.arange(request["batch"]) % len(inputs)]
            call(batch)
            durations = []
            for _ in range(request["calls"]):
                started = time.perf_counter()
                call(batch)
                durations.append(time.perf_counter() - started)
            reply = {"durations": durations}
        elif request["op"] == "latency":
            latencies = []
            for index in range(request["calls"]):
                started = time.perf_counter()
                call(inputs[index % len(inputs)][np.newaxis])
                latencies.append(time.perf_counter() - started)
            reply = {"latencies": latencies}
        else:
            return
        print(json.dumps(reply), flush=True)


class BareModel:
    """The `--bare-worker` subprocess, driven over pipes."""

    def __init__(
        self, model_dir: Path, inputs: np.ndarray, batch_size: int, signature: str, work: Path
    ) -> None:
        inputs_path = work / "bare_inputs.npy"
        np.save(inputs_path, inputs)
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "benchmarks.bench_service",
                "--bare-worker",
                str(inputs_path),
                "--model",
                str(model_dir),
                "--batch-size",
                str(batch_size),
                "--signature",
                signature,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            cwd=REPO_ROOT,
            env=server_environment({}),
        )
        self._read()  # {"ready": true}

    def _read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the bare-model worker exited with {self.process.wait()}")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def ask(self, **request: object) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        return self._read()

    def close(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.write(json.dumps({"op": "quit"}) + "\n")
            self.process.stdin.flush()
            self.process.wait(timeout=30)


# === The service over HTTP ===


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


@dataclass
class ServiceBlock:
    """One timed stretch of requests against the server."""

    images: int
    seconds: float
    latencies_s: list[float]
    server_cpu_s: float
    client_cpu_s: float
    model_calls: float
    inference_s: float

    @property
    def rate(self) -> float:
        return self.images / self.seconds

    @property
    def mean_batch(self) -> float:
        return self.images / self.model_calls if self.model_calls else float("nan")

    @property
    def model_busy(self) -> float:
        """Share of the block's wall time the batcher spent inside model calls."""
        return self.inference_s / self.seconds


MULTIPART_BOUNDARY = "bench-boundary-7d1c2a9e"
# How a block asks for the overlay: not at all, as PNG, or as JPEG (`overlay_format`).
OverlayMode = Literal["false", "png", "jpeg"]
OVERLAY_MODES: tuple[OverlayMode, ...] = ("false", "png", "jpeg")


def multipart_body(data: bytes) -> bytes:
    """A multipart/form-data body with the JPEG as file field `image` (what httpx sends)."""
    head = (
        f"--{MULTIPART_BOUNDARY}\r\n"
        'Content-Disposition: form-data; name="image"; filename="photo.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    ).encode("ascii")
    return head + data + f"\r\n--{MULTIPART_BOUNDARY}--\r\n".encode("ascii")


Client = Literal["raw", "httpx"]
CLIENTS: tuple[Client, ...] = ("raw", "httpx")


def overlay_query(overlay: OverlayMode) -> str:
    return "overlay=false" if overlay == "false" else f"overlay=true&overlay_format={overlay}"


def check_first_body(body: dict[str, Any], overlay: OverlayMode) -> None:
    """The first answer of each block is read in full: the right shape, overlay as asked."""
    wanted = overlay != "false"
    if (body["overlay"] is not None) != wanted or len(body["landmarks"]) != 6:
        raise RuntimeError(f"unexpected body: {str(body)[:300]}")


async def _post_all_httpx(
    base_url: str, bodies: list[bytes], overlay: OverlayMode, requests: int, concurrency: int
) -> list[float]:
    counter = iter(range(requests))
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"content-type": f"multipart/form-data; boundary={MULTIPART_BOUNDARY}"}
    url = f"/landmarks?{overlay_query(overlay)}"

    async def worker(http: httpx.AsyncClient) -> None:
        for index in counter:
            body = bodies[index % len(bodies)]
            started = time.perf_counter()
            response = await http.post(url, content=body, headers=headers)
            latencies.append(time.perf_counter() - started)
            if response.status_code != 200:
                raise RuntimeError(f"{response.status_code}: {response.text[:300]}")
            if index == 0:
                check_first_body(response.json(), overlay)

    async with httpx.AsyncClient(base_url=base_url, timeout=300.0, limits=limits) as http:
        await asyncio.gather(*(worker(http) for _ in range(concurrency)))
    return latencies


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One HTTP/1.1 response with a Content-Length body (what uvicorn sends for JSON)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = next(
        int(line.split(":", 1)[1])
        for line in lines[1:]
        if line.lower().startswith("content-length:")
    )
    return status, await reader.readexactly(length)


async def _post_all_raw(
    base_url: str, bodies: list[bytes], overlay: OverlayMode, requests: int, concurrency: int
) -> list[float]:
    """Keep-alive connections sending prebuilt request bytes: a client that costs the shared
    cores far less than httpx, the way a load generator on another machine would cost nothing."""
    counter = iter(range(requests))
    latencies: list[float] = []
    url = httpx.URL(base_url)
    host, port = url.host, url.port or 80
    messages = [
        (
            f"POST /landmarks?{overlay_query(overlay)} HTTP/1.1\r\n"
            f"host: {host}:{port}\r\n"
            f"content-type: multipart/form-data; boundary={MULTIPART_BOUNDARY}\r\n"
            f"content-length: {len(body)}\r\n\r\n"
        ).encode("ascii")
        + body
        for body in bodies
    ]

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            for index in counter:
                started = time.perf_counter()
                writer.write(messages[index % len(messages)])
                status, payload = await _read_response(reader)
                latencies.append(time.perf_counter() - started)
                if status != 200:
                    raise RuntimeError(f"{status}: {payload[:300]!r}")
                if index == 0:
                    check_first_body(json.loads(payload), overlay)
        finally:
            writer.close()
            await writer.wait_closed()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies


async def _post_all(
    base_url: str,
    image_set: ImageSet,
    overlay: OverlayMode,
    requests: int,
    concurrency: int,
    client: Client,
) -> tuple[float, list[float]]:
    """Sends `requests` uploads over `concurrency` connections; (seconds, latencies)."""
    # The multipart bodies are built once: rebuilding the same bytes for every request would
    # take CPU from the server and the model on this two-core machine.
    bodies = [multipart_body(data) for data in image_set.uploads]
    post = _post_all_raw if client == "raw" else _post_all_httpx
    started = time.perf_counter()
    latencies = await post(base_url, bodies, overlay, requests, concurrency)
    return time.perf_counter() - started, latencies


def run_service_block(
    server: LiveServer,
    image_set: ImageSet,
    overlay: OverlayMode,
    requests: int,
    concurrency: int,
    client: Client,
) -> ServiceBlock:
    """Warms the connection pool and the code path, then times `requests` requests."""
    asyncio.run(
        _post_all(server.base_url, image_set, overlay, 2 * concurrency, concurrency, client)
    )
    with server.client() as http:
        before = metric_samples(http)
    pid = server.process.pid
    server_cpu, client_cpu = process_cpu_seconds(pid), time.process_time()
    seconds, latencies = asyncio.run(
        _post_all(server.base_url, image_set, overlay, requests, concurrency, client)
    )
    server_cpu = process_cpu_seconds(pid) - server_cpu
    client_cpu = time.process_time() - client_cpu
    with server.client() as http:
        after = metric_samples(http)
    calls = after["landmarks_batch_size_count{}"] - before["landmarks_batch_size_count{}"]
    inference = (
        after["landmarks_inference_seconds_sum{}"] - before["landmarks_inference_seconds_sum{}"]
    )
    return ServiceBlock(requests, seconds, latencies, server_cpu, client_cpu, calls, inference)


# === Reporting ===


def percentile_ms(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) * 1000.0


@dataclass
class ThroughputRow:
    label: str
    ratios: list[float] = field(default_factory=list)
    service_rates: list[float] = field(default_factory=list)
    bare_rates: list[float] = field(default_factory=list)
    mean_batches: list[float] = field(default_factory=list)
    model_busy: list[float] = field(default_factory=list)
    server_cpu_ms: list[float] = field(default_factory=list)
    client_cpu_ms: list[float] = field(default_factory=list)
    bare_cpu_ms: list[float] = field(default_factory=list)
    latencies_c8: list[float] = field(default_factory=list)


def fmt_list(values: list[float], pattern: str) -> str:
    return ", ".join(pattern.format(value) for value in values)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="models/<name>[/<version>]; default: untrained")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--requests", type=int, default=128, help="per throughput block")
    parser.add_argument("--latency-requests", type=int, default=40, help="per c=1 block")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=30, help="per component timing")
    parser.add_argument(
        "--client",
        choices=CLIENTS,
        default="raw",
        help="raw: prebuilt requests on keep-alive sockets (light); httpx: httpx.AsyncClient",
    )
    parser.add_argument(
        "--single-pass",
        action="store_true",
        help="a mirror-averaged model served single-pass: LANDMARKS_FLIP_AVERAGE=false, and the "
        "bare model calls serving_single_pass",
    )
    parser.add_argument("--quick", action="store_true", help="small counts, for a smoke run")
    parser.add_argument("--signature", default=SIGNATURE_NAME, help=argparse.SUPPRESS)
    parser.add_argument("--bare-worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.bare_worker is not None:
        bare_worker(args.model, args.bare_worker, args.batch_size, args.signature)
        return 0
    if args.quick:
        args.requests, args.latency_requests, args.rounds, args.repeats = 16, 8, 1, 5
    # Absolute, because the server and workers run with the repository root as working directory.
    model = None if args.model is None else args.model.resolve()
    # Without --model: an untrained full-width U-Net, the real network's cost.
    with (
        model_directory(model, "unet", 1.0) as model_dir,
        tempfile.TemporaryDirectory() as scratch,
    ):
        benchmark(model_dir, args, Path(scratch))
    return 0


def benchmark(model_dir: Path, args: argparse.Namespace, work: Path) -> None:
    version_dir = resolve_version_dir(model_dir)
    metadata = read_metadata(version_dir)
    image_sets = [build_image_set(width, height) for width, height in UPLOAD_SIZES]
    configs = [(image_set, overlay) for image_set in image_sets for overlay in OVERLAY_MODES]
    single_pass = args.single_pass and metadata.flip_average
    signature = SINGLE_PASS_SIGNATURE_NAME if single_pass else SIGNATURE_NAME
    averaged = " mirror-averaged" if metadata.flip_average and not single_pass else ""
    print(
        f"model {version_dir} ({metadata.architecture}{averaged}, signature {signature}), "
        f"batch size {args.batch_size}"
    )

    # === Components, before any other process of ours runs ===
    components = measure_components(metadata, args.repeats)

    # === Bare model and server, side by side ===
    inputs = model_inputs(image_sets, metadata.size)
    bare = BareModel(model_dir, inputs, args.batch_size, signature, work)
    server = start_server(
        work / "server.log",
        {
            "MODEL_DIR": model_dir,
            "MAX_BATCH_SIZE": args.batch_size,
            "FLIP_AVERAGE": not args.single_pass,
            "LOG_LEVEL": "warning",
        },
    )
    rows = {
        (image_set.label, overlay): ThroughputRow(image_set.label) for image_set, overlay in configs
    }
    latencies_c1: dict[tuple[str, OverlayMode], list[float]] = {}
    try:
        previous = bare.ask(op="throughput", images=args.requests)
        for _ in range(args.rounds):
            for image_set, overlay in configs:
                block = run_service_block(
                    server, image_set, overlay, args.requests, args.concurrency, args.client
                )
                following = bare.ask(op="throughput", images=args.requests)
                bare_rate = statistics.mean(
                    reply["images"] / reply["seconds"] for reply in (previous, following)
                )
                bare_cpu = statistics.mean(
                    reply["cpu_seconds"] / reply["images"] for reply in (previous, following)
                )
                row = rows[(image_set.label, overlay)]
                row.ratios.append(block.rate / bare_rate)
                row.service_rates.append(block.rate)
                row.bare_rates.append(bare_rate)
                row.mean_batches.append(block.mean_batch)
                row.model_busy.append(block.model_busy)
                row.server_cpu_ms.append(block.server_cpu_s / block.images * 1000)
                row.client_cpu_ms.append(block.client_cpu_s / block.images * 1000)
                row.bare_cpu_ms.append(bare_cpu * 1000)
                row.latencies_c8.extend(block.latencies_s)
                print(
                    f"  {image_set.label} overlay={overlay}: service {block.rate:.2f}/s, "
                    f"bare {bare_rate:.2f}/s, ratio {block.rate / bare_rate:.3f}, "
                    f"mean batch {block.mean_batch:.1f}",
                    flush=True,
                )
                previous = following
        for image_set, overlay in configs:
            _, latencies = asyncio.run(
                _post_all(
                    server.base_url, image_set, overlay, args.latency_requests, 1, args.client
                )
            )
            latencies_c1[(image_set.label, overlay)] = latencies
        bare_latencies = bare.ask(op="latency", calls=args.latency_requests)["latencies"]
    finally:
        stop_server(server)
        bare.close()

    print_report(args, metadata, image_sets, rows, latencies_c1, bare_latencies, components)


def print_report(
    args: argparse.Namespace,
    metadata: ModelMetadata,
    image_sets: list[ImageSet],
    rows: dict[tuple[str, OverlayMode], ThroughputRow],
    latencies_c1: dict[tuple[str, OverlayMode], list[float]],
    bare_latencies: list[float],
    components: ComponentCosts,
) -> None:
    bare_ms = 1000.0 / statistics.mean(rate for row in rows.values() for rate in row.bare_rates)
    sizes = ", ".join(f"{s.label} JPEG ~{s.mean_bytes / 1024:.0f} KiB" for s in image_sets)
    print()
    print(
        f"### Throughput at concurrency {args.concurrency} "
        f"(batch size {args.batch_size}, {args.client} client)"
    )
    print()
    print(f"Uploads: {sizes}; {args.requests} requests per block, {args.rounds} round(s).")
    print()
    print(
        "| upload | overlay | service / bare, median | each round | CPU-time ratio | "
        "service img/s | bare img/s | mean batch | model busy | server CPU ms/img | "
        "client CPU ms/img | bare CPU ms/img |"
    )
    print("| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for (label, overlay), row in rows.items():
        server_cpu = statistics.mean(row.server_cpu_ms)
        client_cpu = statistics.mean(row.client_cpu_ms)
        bare_cpu = statistics.mean(row.bare_cpu_ms)
        print(
            f"| {label} | {overlay} | **{statistics.median(row.ratios):.3f}** | "
            f"{fmt_list(row.ratios, '{:.2f}')} | {bare_cpu / (server_cpu + client_cpu):.3f} | "
            f"{statistics.mean(row.service_rates):.2f} | {statistics.mean(row.bare_rates):.2f} | "
            f"{statistics.mean(row.mean_batches):.1f} | {statistics.mean(row.model_busy):.0%} | "
            f"{server_cpu:.1f} | {client_cpu:.1f} | {bare_cpu:.1f} |"
        )
    print()
    print(
        "CPU-time ratio: bare CPU per image / (server + client CPU per image), what the ratio "
        "would be on cores that nothing else uses. Model busy: share of the wall time the "
        "batcher spent in model calls."
    )
    print()
    print("### Latency (ms)")
    print()
    print("| upload | overlay | c=1 p50 | c=1 p99 | c=8 p50 | c=8 p99 |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for (label, overlay), row in rows.items():
        one = latencies_c1[(label, overlay)]
        print(
            f"| {label} | {overlay} | {percentile_ms(one, 50):.0f} | "
            f"{percentile_ms(one, 99):.0f} | {percentile_ms(row.latencies_c8, 50):.0f} | "
            f"{percentile_ms(row.latencies_c8, 99):.0f} |"
        )
    print(
        f"| bare model, batch 1 | - | {percentile_ms(bare_latencies, 50):.0f} | "
        f"{percentile_ms(bare_latencies, 99):.0f} | | |"
    )
    print()
    print(
        f"c=1: {args.latency_requests} requests each; c=8: "
        f"{args.requests * args.rounds} requests each (the throughput blocks)."
    )
    print()
    print("### Service CPU steps per image (ms, median; in the client process, server idle)")
    print()
    print(f"Bare model per image in this run, batch {args.batch_size}: {bare_ms:.0f} ms.")
    print()
    print(
        "| upload | JPEG KiB | decode+resize | decode+resize, overlay on (full decode) | "
        "post-process+JSON | overlay render | PNG encode | JPEG encode | PNG overlay in JSON "
        "(base64) | response KiB, PNG overlay | response KiB, JPEG overlay |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for label, decode in components.decode_resize.items():
        render = components.render.get(label)
        print(
            f"| {label} | {components.upload_bytes[label] / 1024:.0f} | {decode:.2f} | "
            f"{components.decode_resize_full[label]:.2f} | "
            f"{components.postprocess_json[label]:.2f} | "
            + (
                f"{render:.2f} | {components.png[label]:.2f} | "
                f"{components.jpeg[label]:.2f} | {components.overlay_json[label]:.2f} | "
                f"{components.overlay_bytes[label] / 1024:.0f} | "
                f"{components.jpeg_overlay_bytes[label] / 1024:.0f} |"
                if render is not None
                else "- | - | - | - | - | - |"
            )
        )


if __name__ == "__main__":
    sys.exit(main())
