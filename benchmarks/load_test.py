"""Load test: a real uvicorn server on loopback, many concurrent clients, every answer checked.

    python -m benchmarks.load_test [--model DIR] [--requests 2000] [--concurrency 32]

What it does, in order:

1. Builds 16 distinct uploads (JPEG and PNG, 200x300 to 1280x720, one with an EXIF rotation,
   one greyscale, one with an alpha channel) and computes each one's expected answer with a
   direct call of the SavedModel's `serving_default` signature on the service's own decode and
   resize (`app.decoding.decode_image`, `app.geometry.resize_for_model`), mapped to upload
   pixels with the documented x = (u + 0.5) * W / 256 - 0.5, y = (v + 0.5) * H / 256 - 0.5.
2. Starts `uvicorn app.main:app` (`benchmarks.harness`) with that model.
3. Warm-up: `--warmup` requests, then reads the server's RSS (VmRSS in /proc/<pid>/status).
4. The run: `--requests` requests at `--concurrency`, the uploads cycled, alternating multipart
   and raw-body uploads, every 7th with `overlay=true` (within 112 requests every upload goes
   both ways and with an overlay). A 503 whose `detail` says the queue is full and that carries
   `Retry-After` is the documented overload answer and is counted apart; the client then waits
   as Retry-After says (or `--backoff-ms`) before its next request.
5. Reads the RSS again and checks the criteria; exits 1 when any fails:
   - no response other than 200 and the documented 503 (no transport errors either);
   - every 200 has the upload's size and each landmark's (x, y) within 1e-3 px of the expected
     answer (after the service's own rounding to 0.01 px, see `EXPECTED_DECIMALS`) and its
     probability within 1e-4;
   - RSS after the run at most 10 % above RSS after the warm-up;
   - the server still ready afterwards and no traceback in its log.

Without `--model` it exports the real U-Net at width 1/8 with random weights (a few seconds per
thousand requests on two cores). `tests/app/test_load.py` runs the same code at CI size.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import io
import json
import os
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import httpx
import numpy as np
from PIL import Image

from app.decoding import decode_image
from app.geometry import resize_for_model
from app.model_runtime import resolve_version_dir
from benchmarks.harness import LiveServer, model_directory, start_server, stop_server

MODEL_SIZE = 256
NUM_LANDMARKS = 6
MAX_PIXELS = 40_000_000  # the service's default LANDMARKS_MAX_PIXELS
# The service rounds coordinates to 0.01 px and probabilities to 1e-4 (app/pipeline.py); the
# expected answers are rounded the same way before comparing.
EXPECTED_DECIMALS = 2
PROBABILITY_DECIMALS = 4
COORDINATE_TOLERANCE_PX = 1e-3
PROBABILITY_TOLERANCE = 1e-4
RSS_GROWTH_LIMIT = 0.10
# The `detail` of the documented overload 503s (app/pipeline.py, app/batcher.py).
QUEUE_FULL_DETAILS = ("at capacity", "inference queue is full")
# Coprime with the 16 uploads, so that each of them is sometimes drawn on.
OVERLAY_EVERY = 7
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# === Uploads ===


def synthetic_photo(width: int, height: int, seed: int) -> np.ndarray:
    """A product-photo-like RGB image: light gradient background, a textured garment shape.

    Smooth areas plus mild sensor noise compress like a real photo (a 640x480 JPEG at quality
    90 is tens of kilobytes, not the hundreds that pure noise takes), so decode cost and upload
    size are realistic.

    Returns:
        uint8 [height, width, 3] RGB.
    """
    rng = np.random.default_rng(seed)
    rows = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, np.newaxis, np.newaxis]
    columns = np.linspace(0.0, 1.0, width, dtype=np.float32)[np.newaxis, :, np.newaxis]
    tint = rng.uniform(200, 250, size=3).astype(np.float32)
    image = tint - 30.0 * rows - 10.0 * columns  # [H, W, 3]
    # A T-shirt outline: shoulders, sleeves, body, in fractions of the image.
    outline = np.array(
        [
            (0.38, 0.12), (0.62, 0.12), (0.85, 0.25), (0.78, 0.42), (0.68, 0.36),
            (0.68, 0.9), (0.32, 0.9), (0.32, 0.36), (0.22, 0.42), (0.15, 0.25),
        ]
    )  # fmt: skip
    jitter = rng.uniform(-0.03, 0.03, size=outline.shape)
    polygon = ((outline + jitter) * [width, height]).astype(np.int32)
    mask = np.zeros((height, width), dtype=np.uint8)
    cv2.fillPoly(mask, [polygon], 1)
    colour = rng.uniform(20, 230, size=3).astype(np.float32)
    stripes = 12.0 * np.sin(rows * rng.uniform(20, 60) + columns * rng.uniform(0, 10))
    garment = colour + stripes
    image = np.where(mask[..., np.newaxis] > 0, garment, image)
    image = image + rng.normal(0.0, 3.0, size=image.shape).astype(np.float32)
    return np.clip(image, 0, 255).astype(np.uint8)


def encode_image(pixels: np.ndarray, image_format: str, **params: object) -> bytes:
    """Encodes an RGB, RGBA or greyscale array with PIL."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, image_format, **params)
    return buffer.getvalue()


@dataclass(frozen=True)
class Upload:
    """One distinct test upload.

    Attributes:
        name: e.g. `640x480.jpg`, for messages.
        data: the file's bytes.
        mime: its media type.
    """

    name: str
    data: bytes
    mime: str


def build_uploads() -> list[Upload]:
    """The 16 distinct uploads the load test cycles through."""
    uploads = []
    # (width, height, format); sizes above, below and at the model's 256.
    shapes = [
        (640, 480, "JPEG"), (480, 640, "JPEG"), (256, 256, "JPEG"), (1280, 720, "JPEG"),
        (800, 600, "JPEG"), (300, 200, "JPEG"), (1024, 768, "JPEG"), (200, 300, "JPEG"),
        (640, 480, "PNG"), (256, 256, "PNG"), (320, 240, "PNG"), (512, 384, "PNG"),
        (400, 400, "PNG"),
    ]  # fmt: skip
    for seed, (width, height, image_format) in enumerate(shapes):
        pixels = synthetic_photo(width, height, seed)
        if image_format == "JPEG":
            data = encode_image(pixels, "JPEG", quality=90)
            uploads.append(Upload(f"{width}x{height}.jpg", data, "image/jpeg"))
        else:
            uploads.append(
                Upload(f"{width}x{height}.png", encode_image(pixels, "PNG"), "image/png")
            )
    # EXIF orientation 6 (rotate 90 degrees clockwise to view): stored 600x400, served 400x600.
    exif = Image.Exif()
    exif[0x0112] = 6
    rotated = encode_image(synthetic_photo(600, 400, 20), "JPEG", quality=90, exif=exif.tobytes())
    uploads.append(Upload("600x400-exif6.jpg", rotated, "image/jpeg"))
    grey = cv2.cvtColor(synthetic_photo(360, 480, 21), cv2.COLOR_RGB2GRAY)
    uploads.append(Upload("360x480-grey.jpg", encode_image(grey, "JPEG", quality=90), "image/jpeg"))
    rgba = np.dstack([synthetic_photo(300, 300, 22), np.full((300, 300), 180, dtype=np.uint8)])
    uploads.append(Upload("300x300-rgba.png", encode_image(rgba, "PNG"), "image/png"))
    return uploads


# === Expected answers ===


@dataclass(frozen=True)
class Expected:
    """The answer the service must give for one upload.

    Attributes:
        width: upload width W after EXIF rotation.
        height: upload height H after EXIF rotation.
        points: float64 [6, 2] (x, y) in upload pixels, rounded as the service rounds.
        probabilities: float64 [6], rounded as the service rounds.
    """

    width: int
    height: int
    points: np.ndarray
    probabilities: np.ndarray


# Expected answers keyed by whether the request asks for the overlay: without one the service
# decodes large JPEGs at a reduced scale, which moves a landmark by a fraction of a pixel.
ExpectedAnswers = dict[bool, list[Expected]]


def expected_answers(model_dir: Path, uploads: list[Upload]) -> ExpectedAnswers:
    """Runs the SavedModel directly on the service's decode and resize of each upload.

    Decoding follows the service: in full for requests with an overlay, with `min_side` (a
    reduced JPEG decode where one fits) for requests without. The model is loaded in this
    process only for this; the server loads its own copy.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    loaded = tf.saved_model.load(str(resolve_version_dir(model_dir)))
    answers: ExpectedAnswers = {}
    for overlay in (True, False):
        min_side = None if overlay else MODEL_SIZE
        decoded = [decode_image(upload.data, MAX_PIXELS, min_side=min_side) for upload in uploads]
        batch = np.stack([resize_for_model(image.pixels, MODEL_SIZE) for image in decoded])
        outputs = loaded.signatures["serving_default"](images=tf.constant(batch))
        landmarks = outputs["landmarks"].numpy().astype(np.float64)  # [N, 6, 2] model space
        scores = outputs["scores"].numpy().astype(np.float64)  # [N, 6]
        answers[overlay] = []
        for index, image in enumerate(decoded):
            # The documented mapping, written out here rather than taken from app.geometry.
            scale = np.array([image.width / MODEL_SIZE, image.height / MODEL_SIZE])
            points = (landmarks[index] + 0.5) * scale - 0.5
            answers[overlay].append(
                Expected(
                    width=image.width,
                    height=image.height,
                    points=np.round(points, EXPECTED_DECIMALS),
                    probabilities=np.round(scores[index], PROBABILITY_DECIMALS),
                )
            )
    return answers


def check_answer(body: dict[str, object], expected: Expected, overlay: bool) -> str | None:
    """Returns what is wrong with a 200 response's body, or None when it is right."""
    if body.get("image") != {"width": expected.width, "height": expected.height}:
        return f"image {body.get('image')}, expected {expected.width}x{expected.height}"
    landmarks = body.get("landmarks")
    if not isinstance(landmarks, list) or len(landmarks) != NUM_LANDMARKS:
        return f"expected {NUM_LANDMARKS} landmarks, got {landmarks!r}"
    for index, landmark in enumerate(landmarks):
        if landmark.get("id") != index + 1:
            return f"landmark {index} has id {landmark.get('id')}"
        got = np.array([landmark["x"], landmark["y"]], dtype=np.float64)
        error = float(np.abs(got - expected.points[index]).max())
        if error > COORDINATE_TOLERANCE_PX:
            return (
                f"landmark {index + 1} at {got.tolist()}, expected "
                f"{expected.points[index].tolist()} (off by {error:.4f} px)"
            )
        if abs(landmark["probability"] - expected.probabilities[index]) > PROBABILITY_TOLERANCE:
            return (
                f"landmark {index + 1} probability {landmark['probability']}, expected "
                f"{expected.probabilities[index]}"
            )
    overlay_field = body.get("overlay")
    if overlay:
        if not isinstance(overlay_field, str):
            return "overlay requested but missing"
        if not base64.b64decode(overlay_field[:12]).startswith(PNG_SIGNATURE):
            return "overlay is not a base64 PNG"
    elif overlay_field is not None:
        return "overlay=false but an overlay came back"
    return None


# === Driving the server ===


@dataclass
class Tally:
    """What one phase (warm-up or run) of requests got back.

    Attributes:
        attempts: requests sent.
        latencies_s: wall time of each 200, seconds.
        rejected: documented 503s (queue full, with Retry-After).
        errors: anything else: `<status> <detail>` or the transport error, by count.
        wrong: 200s whose body did not match the expected answer, first few messages.
        wrong_count: how many 200s were wrong.
        seconds: the phase's wall time.
    """

    attempts: int = 0
    latencies_s: list[float] = field(default_factory=list)
    rejected: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    wrong: list[str] = field(default_factory=list)
    wrong_count: int = 0
    seconds: float = 0.0

    @property
    def accepted(self) -> int:
        return len(self.latencies_s)

    def percentile_ms(self, q: float) -> float:
        if not self.latencies_s:
            return float("nan")
        return float(np.percentile(self.latencies_s, q)) * 1000.0


def is_documented_overload(response: httpx.Response) -> bool:
    """A 503 the README documents for a full queue: Retry-After and a queue-full detail."""
    if response.status_code != 503 or "retry-after" not in response.headers:
        return False
    try:
        detail = response.json().get("detail", "")
    except ValueError:
        return False
    return isinstance(detail, str) and any(text in detail for text in QUEUE_FULL_DETAILS)


async def drive(
    base_url: str,
    uploads: list[Upload],
    expected: ExpectedAnswers,
    *,
    requests: int,
    concurrency: int,
    backoff_s: float | None,
    first_index: int = 0,
) -> Tally:
    """Sends `requests` requests from `concurrency` concurrent workers and checks each answer.

    Request i uses upload i mod 16, as multipart in even passes over the uploads and as the raw
    body in odd ones; every `OVERLAY_EVERY`-th asks for the overlay. After a documented 503 the
    worker pauses `backoff_s`, or as long as Retry-After says when that is None.
    """
    tally = Tally()
    counter = iter(range(first_index, first_index + requests))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def one(http: httpx.AsyncClient, index: int) -> None:
        upload = uploads[index % len(uploads)]
        overlay = index % OVERLAY_EVERY == 0
        params = {"overlay": "true" if overlay else "false"}
        started = time.perf_counter()
        try:
            if (index // len(uploads)) % 2 == 0:
                files = {"image": (upload.name, upload.data, upload.mime)}
                response = await http.post("/landmarks", params=params, files=files)
            else:
                headers = {"Content-Type": upload.mime}
                response = await http.post(
                    "/landmarks", params=params, content=upload.data, headers=headers
                )
        except httpx.HTTPError as exc:
            tally.errors[f"{type(exc).__name__}: {exc}"] += 1
            return
        elapsed = time.perf_counter() - started
        if response.status_code == 200:
            tally.latencies_s.append(elapsed)
            problem = check_answer(
                response.json(), expected[overlay][index % len(uploads)], overlay
            )
            if problem is not None:
                tally.wrong_count += 1
                if len(tally.wrong) < 10:
                    tally.wrong.append(f"{upload.name}: {problem}")
        elif is_documented_overload(response):
            tally.rejected += 1
            pause = float(response.headers["retry-after"]) if backoff_s is None else backoff_s
            await asyncio.sleep(pause)
        else:
            tally.errors[f"{response.status_code} {response.text[:200]}"] += 1

    async def worker(http: httpx.AsyncClient) -> None:
        for index in counter:
            tally.attempts += 1
            await one(http, index)

    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=base_url, timeout=120.0, limits=limits) as http:
        await asyncio.gather(*(worker(http) for _ in range(concurrency)))
    tally.seconds = time.perf_counter() - started
    return tally


def read_rss_bytes(pid: int) -> int:
    """The process's resident set size (VmRSS in /proc/<pid>/status), bytes."""
    for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS in /proc/{pid}/status")


# === The whole test ===


@dataclass(frozen=True)
class LoadConfig:
    """Sizes and server settings of one load test.

    Attributes:
        requests: requests in the measured run.
        concurrency: concurrent client workers.
        warmup: requests before the first RSS reading.
        queue_length: the server's LANDMARKS_QUEUE_LENGTH.
        max_batch_size: the server's LANDMARKS_MAX_BATCH_SIZE.
        backoff_ms: a worker's pause after a documented 503; None: what Retry-After says.
        max_seconds: the whole test (after the server is up) stops and fails after this.
    """

    requests: int = 2000
    concurrency: int = 32
    warmup: int = 300
    queue_length: int = 64
    max_batch_size: int = 8
    backoff_ms: float | None = None
    max_seconds: float = 900.0

    def server_settings(self, model_dir: Path) -> dict[str, object]:
        return {
            "MODEL_DIR": model_dir,
            "QUEUE_LENGTH": self.queue_length,
            "MAX_IMAGES_PER_REQUEST": min(16, self.queue_length),
            "MAX_BATCH_SIZE": self.max_batch_size,
            "LOG_LEVEL": "warning",
        }


@dataclass
class LoadReport:
    """Everything a load test measured, and its verdict (`failures`)."""

    config: LoadConfig
    warmup: Tally
    run: Tally
    rss_after_warmup: int
    rss_after_run: int
    rss_peak: int
    ready_after: bool
    traceback_in_log: bool
    timed_out: bool = False

    @property
    def rss_growth(self) -> float:
        return self.rss_after_run / self.rss_after_warmup - 1.0

    def failures(self) -> list[str]:
        """Every criterion that failed, in words; empty when the test passed."""
        problems = []
        if self.timed_out:
            problems.append(f"did not finish within {self.config.max_seconds:g} s")
        for phase, tally in (("warm-up", self.warmup), ("run", self.run)):
            if tally.errors:
                problems.append(f"{phase}: unexpected responses {dict(tally.errors)}")
            if tally.wrong_count:
                problems.append(
                    f"{phase}: {tally.wrong_count} wrong answers, e.g. {tally.wrong[:3]}"
                )
        if self.run.accepted == 0:
            problems.append("run: no request was accepted")
        if self.rss_growth > RSS_GROWTH_LIMIT:
            problems.append(
                f"RSS grew {self.rss_growth:+.1%} from warm-up to the end of the run "
                f"(limit {RSS_GROWTH_LIMIT:.0%})"
            )
        if not self.ready_after:
            problems.append("the server was not ready after the run")
        if self.traceback_in_log:
            problems.append("the server log holds a traceback")
        return problems

    def summary(self) -> str:
        """A Markdown summary: one table row per phase, then memory and the verdict."""
        mib = 1024 * 1024
        lines = [
            "| phase | requests | 200 | 503 (queue full) | other | wrong | "
            "throughput (200/s) | p50 ms | p99 ms |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for phase, tally in (("warm-up", self.warmup), ("run", self.run)):
            lines.append(
                f"| {phase} | {tally.attempts} | {tally.accepted} | {tally.rejected} | "
                f"{sum(tally.errors.values())} | {tally.wrong_count} | "
                f"{tally.accepted / tally.seconds:.1f} | {tally.percentile_ms(50):.0f} | "
                f"{tally.percentile_ms(99):.0f} |"
            )
        lines += [
            "",
            f"Server RSS: {self.rss_after_warmup / mib:.0f} MiB after warm-up, "
            f"{self.rss_after_run / mib:.0f} MiB after the run ({self.rss_growth:+.1%}), "
            f"peak sampled {self.rss_peak / mib:.0f} MiB.",
            f"Concurrency {self.config.concurrency}, QUEUE_LENGTH {self.config.queue_length}, "
            f"MAX_BATCH_SIZE {self.config.max_batch_size}; run took {self.run.seconds:.1f} s.",
        ]
        failures = self.failures()
        lines.append(
            "Verdict: PASS" if not failures else "Verdict: FAIL\n- " + "\n- ".join(failures)
        )
        return "\n".join(lines)


async def _load(
    server: LiveServer, uploads: list[Upload], expected: ExpectedAnswers, config: LoadConfig
) -> tuple[Tally, Tally, int, int, int]:
    pid = server.process.pid
    backoff_s = None if config.backoff_ms is None else config.backoff_ms / 1000.0
    warmup = await drive(
        server.base_url,
        uploads,
        expected,
        requests=config.warmup,
        concurrency=config.concurrency,
        backoff_s=backoff_s,
    )
    # Let freed buffers settle before the baseline reading.
    await asyncio.sleep(0.5)
    rss_after_warmup = read_rss_bytes(pid)
    peak = rss_after_warmup

    async def sample_peak() -> None:
        nonlocal peak
        while True:
            peak = max(peak, read_rss_bytes(pid))
            await asyncio.sleep(0.25)

    sampler = asyncio.create_task(sample_peak())
    try:
        run = await drive(
            server.base_url,
            uploads,
            expected,
            requests=config.requests,
            concurrency=config.concurrency,
            backoff_s=backoff_s,
            first_index=config.warmup,
        )
    finally:
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler
    await asyncio.sleep(0.5)
    rss_after_run = read_rss_bytes(pid)
    return warmup, run, rss_after_warmup, rss_after_run, max(peak, rss_after_run)


def run_load_test(model_dir: Path, config: LoadConfig, work_dir: Path) -> LoadReport:
    """Computes the expected answers, starts a server, loads it, and measures.

    Args:
        model_dir: `models/<name>` or `models/<name>/<version>`.
        config: sizes and server settings.
        work_dir: where the server log goes (`server.log`).
    """
    uploads = build_uploads()
    expected = expected_answers(model_dir, uploads)
    server = start_server(work_dir / "server.log", config.server_settings(model_dir))
    try:
        try:
            warmup, run, rss_warm, rss_run, rss_peak = asyncio.run(
                asyncio.wait_for(_load(server, uploads, expected, config), config.max_seconds)
            )
        except TimeoutError:
            empty = Tally()
            return LoadReport(config, empty, empty, 1, 1, 1, False, False, timed_out=True)
        with server.client() as http:
            ready = http.get("/readyz").status_code == 200
    finally:
        stop_server(server)
    return LoadReport(
        config=config,
        warmup=warmup,
        run=run,
        rss_after_warmup=rss_warm,
        rss_after_run=rss_run,
        rss_peak=rss_peak,
        ready_after=ready,
        traceback_in_log="Traceback" in server.log(),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    defaults = LoadConfig()
    parser.add_argument("--model", type=Path, help="models/<name>[/<version>]; default: tiny")
    parser.add_argument("--requests", type=int, default=defaults.requests)
    parser.add_argument("--concurrency", type=int, default=defaults.concurrency)
    parser.add_argument("--warmup", type=int, default=defaults.warmup)
    parser.add_argument("--queue-length", type=int, default=defaults.queue_length)
    parser.add_argument("--max-batch-size", type=int, default=defaults.max_batch_size)
    parser.add_argument(
        "--backoff-ms", type=float, help="pause after a 503 (default: its Retry-After)"
    )
    parser.add_argument("--max-seconds", type=float, default=defaults.max_seconds)
    parser.add_argument("--json", type=Path, help="also write the figures here as JSON")
    args = parser.parse_args(argv)
    config = LoadConfig(
        requests=args.requests,
        concurrency=args.concurrency,
        warmup=args.warmup,
        queue_length=args.queue_length,
        max_batch_size=args.max_batch_size,
        backoff_ms=args.backoff_ms,
        max_seconds=args.max_seconds,
    )
    # Absolute, because the server and workers run with the repository root as working directory.
    model = None if args.model is None else args.model.resolve()
    # Without --model: the real U-Net at width 1/8, random weights.
    with (
        model_directory(model, "unet", 0.125) as model_dir,
        tempfile.TemporaryDirectory() as work,
    ):
        report = run_load_test(model_dir, config, Path(work))
        if report.failures():
            print((Path(work) / "server.log").read_text(errors="replace")[-4000:])
    print(report.summary())
    if args.json is not None:
        figures = {
            "requests": report.run.attempts,
            "accepted": report.run.accepted,
            "rejected_503": report.run.rejected,
            "errors": dict(report.run.errors),
            "wrong": report.run.wrong_count,
            "throughput_per_s": report.run.accepted / report.run.seconds,
            "p50_ms": report.run.percentile_ms(50),
            "p99_ms": report.run.percentile_ms(99),
            "rss_after_warmup": report.rss_after_warmup,
            "rss_after_run": report.rss_after_run,
            "rss_peak": report.rss_peak,
            "failures": report.failures(),
        }
        args.json.write_text(json.dumps(figures, indent=2), encoding="utf-8")
    return 1 if report.failures() else 0


if __name__ == "__main__":
    sys.exit(main())
