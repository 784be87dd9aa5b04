"""`python -m app.predict`: landmarks for image files on disk, without a server (or with one).

    inputs (folders, globs, files) -> find_images -> one task per file, at most `window` in
    flight -> LocalAnswerer (the service's own pipeline and batcher) or RemoteAnswerer (POST
    /landmarks on a running server) -> the API's response body -> JSON line or CSV row, in input
    order, plus the overlay file when asked for

Local mode builds the model runtime, micro-batcher, CPU pool and pipeline with
`app.service.start_service` from the same `Settings` (LANDMARKS_* environment variables) as the
server, and turns each answer into the body with `LandmarkResponse.from_analysis`, the route's
own conversion: a line is what POST /landmarks returns for that file with the same query options
(`overlay=false` unless --embed-overlay), plus the file's path in `file`. Bad files are reported
on stderr with the API's own messages and skipped.

Exit status: 0 all files answered, 1 some file failed, 2 usage error (bad options, no files
matched, unusable model directory, unreachable server or a key it refuses), 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import csv
import dataclasses
import glob
import io
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import warnings
from collections import deque
from collections.abc import Callable, Coroutine, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, TextIO

from PIL import Image
from pydantic import ValidationError

from app.errors import (
    EmptyInputError,
    InvalidParameterError,
    LandmarkServiceError,
    ModelLoadError,
    PayloadTooLargeError,
)
from app.metrics import ServiceMetrics
from app.model_runtime import ModelMetadata
from app.overlay import OverlayFormat
from app.pipeline import Analysis, AnalysisOptions
from app.schemas import LandmarkResponse, MetadataResponse
from app.service import Service, configure_logging, start_service
from app.settings import Settings

PROG = "python -m app.predict"
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

# What a folder walk picks up (case-insensitive). Files named explicitly or matched by a glob
# are taken whatever their name: the bytes are sniffed, as the API does.
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".jpe", ".png", ".webp", ".bmp"})
OVERLAY_SUFFIXES: dict[str, str] = {"png": ".png", "jpeg": ".jpg"}
API_KEY_HEADER = "X-API-Key"
# Per HTTP request in --url mode: generous, as the server bounds its own waits (upload and
# queue timeouts) and answers 408/503 itself.
HTTP_TIMEOUT_S = 120.0
# A 503 (queue full or timed out) is retried after its Retry-After, this many times at most.
HTTP_RETRIES = 3
MAX_RETRY_WAIT_S = 10.0
_GLOB_CHARACTERS = frozenset("*?[")


class UsageError(Exception):
    """A problem with the command line or its environment: reported in one line, exit 2."""


class FileError(Exception):
    """One file could not be answered; the run goes on with the others."""


@dataclasses.dataclass(frozen=True)
class Answer:
    """One file's answer.

    Attributes:
        body: the POST /landmarks response body for the file (the overlay fields null unless
            --embed-overlay).
        overlay_image: the encoded overlay, when --overlay-dir asked for it.
    """

    body: dict[str, Any]
    overlay_image: bytes | None


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What one file's task produced: its output record, or why it has none."""

    path: Path
    record: str | None = None
    error: str | None = None


class Answerer(Protocol):
    """Answers one image file; local (the model in this process) or remote (a server)."""

    landmark_names: tuple[str, ...]
    max_upload_bytes: int
    window: int

    def check_options(self, options: AnalysisOptions) -> None:
        """Raises UsageError for options that would fail every file."""
        ...

    async def answer(
        self, data: bytes, options: AnalysisOptions, *, embed: bool, keep_overlay: bool
    ) -> Answer:
        """The body POST /landmarks gives for `data`.

        Args:
            data: the file's bytes.
            options: the query options; `overlay` is on when the overlay is embedded or kept.
            embed: leave the base64 overlay in the body (else its fields are null, as for an
                `overlay=false` request).
            keep_overlay: return the overlay's bytes in `Answer.overlay_image`.

        Raises:
            FileError: this file cannot be answered.
            UsageError: no file can be (a key or query value the server refuses).
        """
        ...

    async def aclose(self) -> None:
        """Frees what the answerer holds."""
        ...


# === Finding the files ===


def find_images(inputs: Sequence[str]) -> list[Path]:
    """Expands the command line's inputs into image files, in order, each once.

    Args:
        inputs: folders (walked recursively for files with an image suffix, sorted), glob
            patterns (`**` spans folders; every matching file, sorted) or file paths.

    Raises:
        UsageError: an input matches no file.
    """
    found: dict[Path, None] = {}
    for item in inputs:
        matches = _expand(item)
        if not matches:
            raise UsageError(f"{item}: {_why_nothing_matched(item)}")
        found.update(dict.fromkeys(matches))
    return list(found)


def _expand(item: str) -> list[Path]:
    path = Path(item)
    if path.is_dir():
        return sorted(
            child
            for child in path.rglob("*")
            if child.suffix.lower() in IMAGE_SUFFIXES and child.is_file()
        )
    if path.is_file():
        return [path]
    if _GLOB_CHARACTERS & set(item):
        return sorted(
            Path(match) for match in glob.glob(item, recursive=True) if Path(match).is_file()
        )
    return []


def _why_nothing_matched(item: str) -> str:
    if Path(item).is_dir():
        suffixes = ", ".join(sorted(IMAGE_SUFFIXES))
        return f"the folder holds no image files (looked for {suffixes}, recursively)"
    if _GLOB_CHARACTERS & set(item):
        return "the pattern matched no files"
    return "no such file or folder"


def overlay_paths(files: Sequence[Path], overlay_dir: Path, overlay_format: str) -> list[Path]:
    """Where each file's overlay goes: its path below the inputs' common folder, in `overlay_dir`.

    The suffix becomes the overlay's (`.png` or `.jpg`); where that would give two inputs the
    same overlay, or name an input itself, the input's whole name is kept and the overlay's
    suffix appended instead (`a.png` -> `a.png.png`), so no overlay overwrites another or a photo.
    """
    suffix = OVERLAY_SUFFIXES[overlay_format]
    absolute = [Path(os.path.abspath(path)) for path in files]
    root = Path(os.path.commonpath([path.parent for path in absolute]))
    relative = [path.relative_to(root) for path in absolute]
    plain = [overlay_dir / path.with_suffix(suffix) for path in relative]
    counts: dict[Path, int] = {}
    for target in plain:
        key = Path(os.path.abspath(target))
        counts[key] = counts.get(key, 0) + 1
    inputs = set(absolute)
    targets = []
    for path, target in zip(relative, plain, strict=True):
        key = Path(os.path.abspath(target))
        if counts[key] > 1 or key in inputs:
            target = overlay_dir / path.with_name(path.name + suffix)
        targets.append(target)
    return targets


def read_image_file(path: Path, max_bytes: int) -> bytes:
    """Reads one image file, refusing it as the API refuses such an upload.

    Raises:
        PayloadTooLargeError: over MAX_UPLOAD_BYTES (checked before reading it).
        EmptyInputError: 0 bytes.
        FileError: the file cannot be read.
    """
    try:
        size = path.stat().st_size
        if size > max_bytes:
            # The API's words for a raw upload over the limit (app/uploads.py), so that local
            # and --url runs report such a file alike.
            raise PayloadTooLargeError(
                f"the request body is {size} bytes; the limit is {max_bytes} bytes"
            )
        data = path.read_bytes()
    except OSError as exc:
        raise FileError(f"cannot read the file: {exc.strerror or exc}") from exc
    if not data:
        # decode_image's words for the same case; checked here too so that --url mode does not
        # send an empty body (the API's message for that speaks of multipart fields).
        raise EmptyInputError("the image is empty (0 bytes)")
    return data


# === Answering: in this process ===


class LocalAnswerer:
    """The model in this process, behind the service's own batcher and pipeline."""

    def __init__(self, service: Service, settings: Settings, concurrency: int | None) -> None:
        self._service = service
        metadata = service.pipeline.metadata
        self.landmark_names = tuple(spec.name for spec in metadata.landmarks)
        self.max_upload_bytes = settings.MAX_UPLOAD_BYTES
        # Two batches' worth keeps the model busy (one batch decodes while the other runs)
        # without holding many decoded photos; QUEUE_LENGTH is the pipeline's own ceiling.
        self.window = min(concurrency or 2 * settings.MAX_BATCH_SIZE, settings.QUEUE_LENGTH)

    @classmethod
    async def start(cls, settings: Settings, concurrency: int | None) -> LocalAnswerer:
        """Loads and warms up the model as the service does at startup.

        Raises:
            UsageError: the model directory is unusable.
        """
        try:
            service = await start_service(settings, ServiceMetrics())
        except ModelLoadError as exc:
            raise UsageError(exc.message) from exc
        return cls(service, settings, concurrency)

    def check_options(self, options: AnalysisOptions) -> None:
        """Refuses a --top-k the model cannot serve, with the API's message."""
        try:
            self._service.pipeline.check_options(options)
        except InvalidParameterError as exc:
            raise UsageError(exc.message) from exc

    async def answer(
        self, data: bytes, options: AnalysisOptions, *, embed: bool, keep_overlay: bool
    ) -> Answer:
        """The pipeline's answer, turned into the body by the route's own conversion."""
        pipeline = self._service.pipeline
        try:
            analysis = await pipeline.analyse(data, options)
        except LandmarkServiceError as exc:
            raise FileError(exc.message) from exc
        overlay_image = analysis.overlay_image if keep_overlay else None
        embedded = analysis
        if not embed:
            # Rendered for --overlay-dir only: the line is the body of an `overlay=false`
            # request.
            embedded = dataclasses.replace(analysis, overlay_image=None, overlay_media_type=None)
        if embedded.overlay_image is not None:
            # A photo's base64 overlay runs to megabytes: build it off the event loop, which
            # feeds the batcher (the route does the same).
            body = await pipeline.run_in_pool(_body_of, embedded, pipeline.metadata)
        else:
            body = _body_of(embedded, pipeline.metadata)
        return Answer(body, overlay_image)

    async def aclose(self) -> None:
        """Stops the batcher and the CPU pool."""
        await self._service.aclose()


def _body_of(analysis: Analysis, metadata: ModelMetadata) -> dict[str, Any]:
    """The POST /landmarks body, as the JSON value the route serialises."""
    body: dict[str, Any] = LandmarkResponse.from_analysis(analysis, metadata).model_dump(
        mode="json"
    )
    return body


# === Answering: a running server ===


class RemoteAnswerer:
    """POST /landmarks on a running server, the raw file as the body, several at once."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        metadata: MetadataResponse,
        concurrency: int | None,
    ) -> None:
        self._base_url = base_url
        self._api_key = api_key
        self.landmark_names = tuple(landmark.name for landmark in metadata.landmarks)
        self.max_upload_bytes = metadata.limits.max_upload_bytes
        limits = metadata.limits
        # As in local mode, from the server's own limits: beyond its QUEUE_LENGTH it would
        # answer 503.
        self.window = min(concurrency or 2 * limits.max_batch_size, limits.queue_length)
        # urllib blocks; one thread per request in flight.
        self._pool = ThreadPoolExecutor(max_workers=self.window, thread_name_prefix="http")

    @classmethod
    async def connect(
        cls, base_url: str, api_key: str | None, concurrency: int | None
    ) -> RemoteAnswerer:
        """Checks that the server is there and ready, and reads its limits (GET /metadata).

        Raises:
            UsageError: unreachable, not ready, or not this service.
        """
        status, body, _ = await asyncio.to_thread(_http, "GET", f"{base_url}/metadata")
        if status == 503:
            raise UsageError(f"the server at {base_url} is not ready: {_detail(status, body)}")
        if status != 200:
            raise UsageError(
                f"{base_url}/metadata answered {status}: {_detail(status, body)}; is this the "
                "landmark service?"
            )
        try:
            metadata = MetadataResponse.model_validate_json(body)
        except ValidationError as exc:
            raise UsageError(
                f"{base_url}/metadata did not answer as the landmark service does"
            ) from exc
        return cls(base_url, api_key, metadata, concurrency)

    def check_options(self, options: AnalysisOptions) -> None:
        """Nothing to check here: the server answers 422 for a --top-k it cannot serve."""

    async def answer(
        self, data: bytes, options: AnalysisOptions, *, embed: bool, keep_overlay: bool
    ) -> Answer:
        """The server's body for `data`, its overlay split off unless it is to be embedded."""
        query = urllib.parse.urlencode(
            {
                "top_k": options.top_k,
                "overlay": "true" if options.overlay else "false",
                "overlay_format": options.overlay_format,
            }
        )
        url = f"{self._base_url}/landmarks?{query}"
        loop = asyncio.get_running_loop()
        for attempt in range(HTTP_RETRIES + 1):
            status, body, retry_after = await loop.run_in_executor(
                self._pool, self._post, url, data
            )
            if status != 503 or attempt == HTTP_RETRIES:
                break
            # Queue full or timed out: the server says when to come back.
            await asyncio.sleep(min(retry_after or 1.0, MAX_RETRY_WAIT_S))
        # Parsing a body with a base64 overlay (megabytes) is blocking work: off the loop.
        return await loop.run_in_executor(
            self._pool, self._interpret, status, body, embed, keep_overlay
        )

    @staticmethod
    def _interpret(status: int, body: bytes, embed: bool, keep_overlay: bool) -> Answer:
        """Turns the server's response into an answer, or into the error it reports."""
        if status in (401, 422):
            # A refused key or query value fails every file alike: a usage error.
            raise UsageError(_detail(status, body))
        if status != 200:
            raise FileError(_detail(status, body))
        try:
            LandmarkResponse.model_validate_json(body)
            # The body as the server sent it, not a re-serialisation.
            answer_body: dict[str, Any] = json.loads(body)
        except ValidationError as exc:
            raise FileError(f"the server's answer is not a landmark response: {exc}") from exc
        overlay_image = None
        if keep_overlay and answer_body.get("overlay") is not None:
            try:
                overlay_image = base64.b64decode(answer_body["overlay"], validate=True)
            except binascii.Error as exc:
                raise FileError(f"the server's overlay is not base64: {exc}") from exc
        if not embed:
            answer_body["overlay"] = None
            answer_body["overlay_media_type"] = None
        return Answer(answer_body, overlay_image)

    def _post(self, url: str, data: bytes) -> tuple[int, bytes, float | None]:
        headers = {"Content-Type": "application/octet-stream"}
        if self._api_key:
            headers[API_KEY_HEADER] = self._api_key
        try:
            return _http("POST", url, data, headers)
        except UsageError as exc:
            # The server went away mid-run: this file fails; the next ones will say so too.
            raise FileError(str(exc)) from exc

    async def aclose(self) -> None:
        """Waits for requests still running (none after a normal end) and frees the threads."""
        await asyncio.to_thread(self._pool.shutdown, wait=True)


def _http(
    method: str, url: str, data: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, bytes, float | None]:
    """One request with urllib (the app's dependencies hold no HTTP client).

    Returns:
        The status, the body, and Retry-After in seconds when given.

    Raises:
        UsageError: the server cannot be reached.
    """
    request = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as response:
            return response.status, response.read(), None
    except urllib.error.HTTPError as error:
        with error:
            retry_after = error.headers.get("Retry-After")
            seconds = float(retry_after) if retry_after and retry_after.isdigit() else None
            return error.code, error.read(), seconds
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise UsageError(f"cannot reach {url}: {reason}") from exc


def _detail(status: int, body: bytes) -> str:
    """The `detail` of an error body, or the status and the start of whatever came back."""
    try:
        detail = json.loads(body).get("detail")
    except (ValueError, AttributeError):
        detail = None
    if isinstance(detail, str):
        return detail
    return f"HTTP {status}: {body[:200].decode('utf-8', errors='replace')}"


# === Output ===


class RecordWriter:
    """Formats answers as JSON lines or CSV rows and writes them to the output."""

    def __init__(self, stream: TextIO, output_format: str, landmark_names: Sequence[str]) -> None:
        self._stream = stream
        self._format = output_format
        self._names = tuple(landmark_names)

    def header(self) -> str | None:
        """The CSV header line (JSON lines have none)."""
        if self._format != "csv":
            return None
        columns = ["file", "width", "height"]
        for name in self._names:
            columns += [f"{name}_x", f"{name}_y", f"{name}_probability", f"{name}_detected"]
        return _csv_line(columns)

    def record(self, path: Path, body: dict[str, Any]) -> str:
        """One file's line, newline included."""
        if self._format == "csv":
            by_name = {landmark["name"]: landmark for landmark in body["landmarks"]}
            row: list[object] = [str(path), body["image"]["width"], body["image"]["height"]]
            for name in self._names:
                landmark = by_name[name]
                detected = "true" if landmark["detected"] else "false"
                row += [landmark["x"], landmark["y"], landmark["probability"], detected]
            return _csv_line(row)
        line = {"file": str(path), **body}
        return json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n"

    def write(self, text: str) -> None:
        """Writes and flushes, so that a reader of a pipe sees each file as it is answered."""
        self._stream.write(text)
        self._stream.flush()


def _csv_line(values: Sequence[object]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(values)
    return buffer.getvalue()


class Progress:
    """A one-line progress bar on stderr, redrawn in place (tqdm is not a dependency)."""

    _WIDTH = 24
    _REDRAW_S = 0.1

    def __init__(self, total: int, stream: TextIO, enabled: bool) -> None:
        self._total = total
        self._stream = stream
        self._enabled = enabled
        self._done = 0
        self._failed = 0
        self._started = time.monotonic()
        self._drawn_at = 0.0
        self._shown = 0

    def start(self) -> None:
        """Shows the empty bar, so that a slow first batch does not look like a hang."""
        self._draw(time.monotonic())

    def advance(self, failed: bool) -> None:
        """Counts one finished file."""
        self._done += 1
        self._failed += int(failed)
        now = time.monotonic()
        # Redrawing on every file would cost more than a small image's answer.
        if now - self._drawn_at >= self._REDRAW_S or self._done == self._total:
            self._draw(now)

    @contextmanager
    def suspended(self) -> Iterator[None]:
        """Clears the bar while something else is printed to the terminal, then redraws it."""
        if not self._enabled or not self._shown:
            yield
            return
        self._stream.write("\r" + " " * self._shown + "\r")
        self._shown = 0
        try:
            yield
        finally:
            self._draw(time.monotonic())

    def close(self) -> None:
        """Ends the bar's line."""
        if self._enabled and self._shown:
            self._stream.write("\n")
            self._stream.flush()
            self._shown = 0

    def _draw(self, now: float) -> None:
        if not self._enabled:
            return
        self._drawn_at = now
        fraction = self._done / self._total if self._total else 1.0
        filled = round(fraction * self._WIDTH)
        elapsed = now - self._started
        rate = self._done / elapsed if elapsed > 0 else 0.0
        text = f"[{'#' * filled}{'.' * (self._WIDTH - filled)}] {self._done}/{self._total} images"
        if self._failed:
            text += f", {self._failed} failed"
        if rate > 0:
            remaining = (self._total - self._done) / rate
            text += f", {rate:.1f}/s, {remaining:.0f} s left"
        # Pad over the previous text: it may have been longer.
        self._stream.write("\r" + text.ljust(self._shown))
        self._stream.flush()
        self._shown = len(text)


# === The run ===


@dataclasses.dataclass(frozen=True)
class RunPlan:
    """The parsed command line."""

    files: list[Path]
    options: AnalysisOptions
    output_format: str
    output: Path | None
    overlay_targets: list[Path] | None
    embed_overlay: bool
    progress: bool


async def run(
    answerer: Answerer,
    plan: RunPlan,
    stream: TextIO,
    stderr: TextIO,
    *,
    records_on_terminal: bool = False,
) -> int:
    """Answers every file of the plan and writes the records to `stream` in input order.

    Args:
        answerer: local or remote.
        plan: the files and options.
        stream: where the records go.
        stderr: where failures and the progress bar go.
        records_on_terminal: `stream` is the terminal the bar is drawn on, so the bar is
            cleared around each record.

    Returns:
        EXIT_OK, or EXIT_FAILED when some file could not be answered.

    Raises:
        UsageError: from the answerer (a key or query value the server refuses).
    """
    keep_overlay = plan.overlay_targets is not None
    writer = RecordWriter(stream, plan.output_format, answerer.landmark_names)
    progress = Progress(len(plan.files), stderr, plan.progress)
    header = writer.header()
    if header is not None:
        writer.write(header)
    progress.start()

    async def answer_one(index: int) -> Outcome:
        path = plan.files[index]
        try:
            data = await asyncio.to_thread(read_image_file, path, answerer.max_upload_bytes)
            answer = await answerer.answer(
                data, plan.options, embed=plan.embed_overlay, keep_overlay=keep_overlay
            )
            # Formatting (a megabyte of base64 with --embed-overlay) and the overlay file
            # are blocking work: off the loop.
            return await asyncio.to_thread(_finish, writer, plan, index, answer)
        except (FileError, LandmarkServiceError) as exc:
            message = exc.message if isinstance(exc, LandmarkServiceError) else str(exc)
            return Outcome(path, error=message)

    failures = 0

    def consume(outcome: Outcome) -> None:
        nonlocal failures
        if outcome.error is not None:
            failures += 1
            with progress.suspended():
                print(f"{outcome.path}: {outcome.error}", file=stderr, flush=True)
        elif outcome.record is not None:
            if records_on_terminal:
                with progress.suspended():
                    writer.write(outcome.record)
            else:
                writer.write(outcome.record)
        progress.advance(failed=outcome.error is not None)

    try:
        await _in_order(len(plan.files), answer_one, answerer.window, consume)
    finally:
        progress.close()
    if failures:
        print(
            f"{failures} of {len(plan.files)} files failed; the others were answered",
            file=stderr,
        )
        return EXIT_FAILED
    return EXIT_OK


def _finish(writer: RecordWriter, plan: RunPlan, index: int, answer: Answer) -> Outcome:
    """Writes the overlay file, if any, and formats the record (in a worker thread)."""
    path = plan.files[index]
    if plan.overlay_targets is not None:
        if answer.overlay_image is None:
            raise FileError("the answer carries no overlay")
        target = plan.overlay_targets[index]
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(answer.overlay_image)
        except OSError as exc:
            raise FileError(f"cannot write the overlay {target}: {exc.strerror or exc}") from exc
    return Outcome(path, record=writer.record(path, answer.body))


async def _in_order(
    count: int,
    work: Callable[[int], Coroutine[Any, Any, Outcome]],
    window: int,
    consume: Callable[[Outcome], None],
) -> None:
    """Runs `work(0..count-1)` with at most `window` in flight, consuming results in order.

    In order, so that the output lines follow the inputs; the window bounds the decoded photos
    held at once, while keeping enough in flight for the batcher to fill its batches.
    """
    pending: deque[asyncio.Task[Outcome]] = deque()
    try:
        for index in range(count):
            pending.append(asyncio.create_task(work(index)))
            if len(pending) >= window:
                consume(await pending.popleft())
        while pending:
            consume(await pending.popleft())
    finally:
        # A fatal error or an interrupt: the files still in flight are abandoned.
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


# === The command line ===

_DESCRIPTION = """\
Finds the six garment landmarks in image files with the service's model and settings, without
a server; or, with --url, asks a running server. Prints one JSON line per image: the body POST
/landmarks returns for that file with the same query options (overlay=false unless
--embed-overlay), plus the file's path in "file". Or CSV rows with --format csv.
"""

_EPILOG = """\
Settings: the service's LANDMARKS_* environment variables apply as they do to the server
(MODEL_DIR, FLIP_AVERAGE, DETECTION_THRESHOLD, MAX_PIXELS, MAX_UPLOAD_BYTES, MAX_BATCH_SIZE,
BATCH_WAIT_MS, QUEUE_LENGTH, QUEUE_TIMEOUT_S, WORKERS_THREADS, LOG_LEVEL), so the answers equal
the API's. With --url the server's own settings apply.

Bad files are reported on stderr as "<file>: <the API's error message>" and skipped.

Overlays: --overlay-dir DIR writes each file's overlay (the API's overlay image) at its path
below the inputs' common folder, inside DIR, with the suffix .png or .jpg.

Exit status: 0 all files answered; 1 some file failed; 2 usage error (bad options, an input
that matches no file, an unusable model directory, an unreachable server or a refused key).

Examples:
  python -m app.predict examples/photos > landmarks.jsonl
  python -m app.predict 'photos/**/*.jpg' --format csv --output landmarks.csv
  python -m app.predict examples/photos --overlay-dir overlays --overlay-format jpeg
  python -m app.predict examples/photos --url http://localhost:8000 --api-key "$KEY"
"""


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The command line's parser."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="image files, folders (searched recursively for .jpg, .jpeg, .png, .webp and "
        ".bmp files) or glob patterns (quoted; ** spans folders)",
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--model",
        type=Path,
        metavar="DIR",
        help="models/<name> (its highest version) or models/<name>/<version> "
        "(default: LANDMARKS_MODEL_DIR, else models/garment_landmarks)",
    )
    source.add_argument(
        "--url",
        help="ask the server at URL (e.g. http://localhost:8000) instead of loading the model",
    )
    parser.add_argument(
        "--api-key",
        metavar="KEY",
        help="with --url: the server's key, sent as X-API-Key (default: LANDMARKS_API_KEY)",
    )
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="FILE",
        help="write the records to FILE (.jsonl or .csv) instead of stdout",
    )
    parser.add_argument(
        "--format",
        choices=("jsonl", "csv"),
        help="jsonl: the API's JSON body per line; csv: file, width, height, then x, y, "
        "probability, detected per landmark (default: csv when FILE ends in .csv, else jsonl)",
    )
    parser.add_argument(
        "--top-k",
        type=_non_negative_int,
        default=0,
        metavar="N",
        help="the API's top_k: also list up to N candidate peaks per landmark (jsonl only; "
        "default 0)",
    )
    parser.add_argument(
        "--overlay-dir",
        type=Path,
        metavar="DIR",
        help="write each file's overlay image into DIR",
    )
    parser.add_argument(
        "--overlay-format",
        choices=("png", "jpeg"),
        default="png",
        help="the API's overlay_format: the overlay's encoding (default png)",
    )
    parser.add_argument(
        "--embed-overlay",
        action="store_true",
        help="keep the base64 overlay in each JSON line, as the API's overlay=true",
    )
    parser.add_argument(
        "--concurrency",
        type=_positive_int,
        metavar="N",
        help="images in flight at once (default: 2 x MAX_BATCH_SIZE, at most QUEUE_LENGTH; "
        "with --url the server's)",
    )
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="a progress bar on stderr (default: when stderr is a terminal)",
    )
    return parser


def make_plan(args: argparse.Namespace, stderr: TextIO) -> RunPlan:
    """Checks the options against each other and finds the files.

    Raises:
        UsageError: contradictory options, an input that matches nothing, or an output or
            overlay folder that cannot be written.
    """
    if args.api_key is not None and args.url is None:
        raise UsageError("--api-key goes with --url")
    output: Path | None = args.output
    output_format: str = args.format or (
        "csv" if output is not None and output.suffix.lower() == ".csv" else "jsonl"
    )
    if output_format == "csv" and args.top_k > 0:
        raise UsageError("--top-k needs --format jsonl: CSV has no columns for candidates")
    if output_format == "csv" and args.embed_overlay:
        raise UsageError("--embed-overlay needs --format jsonl")
    if output is not None and not output.parent.is_dir():
        raise UsageError(f"--output {output}: the folder {output.parent} does not exist")
    files = find_images(args.inputs)
    overlay_targets = None
    if args.overlay_dir is not None:
        try:
            args.overlay_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"--overlay-dir {args.overlay_dir}: {exc.strerror or exc}") from exc
        overlay_targets = overlay_paths(files, args.overlay_dir, args.overlay_format)
    overlay_format: OverlayFormat = args.overlay_format
    return RunPlan(
        files=files,
        options=AnalysisOptions(
            top_k=args.top_k,
            overlay=args.embed_overlay or overlay_targets is not None,
            overlay_format=overlay_format,
        ),
        output_format=output_format,
        output=output,
        overlay_targets=overlay_targets,
        embed_overlay=args.embed_overlay,
        progress=_is_terminal(stderr) if args.progress is None else args.progress,
    )


def load_settings(model_dir: Path | None) -> Settings:
    """The service's settings from the environment, MODEL_DIR replaced by --model if given.

    Raises:
        UsageError: a LANDMARKS_* variable is invalid.
    """
    try:
        return Settings() if model_dir is None else Settings(MODEL_DIR=model_dir)
    except ValidationError as exc:
        problems = "; ".join(
            f"LANDMARKS_{'.'.join(str(part) for part in error['loc']) or 'settings'}: "
            f"{error['msg']}"
            for error in exc.errors()
        )
        raise UsageError(f"invalid settings: {problems}") from exc


def _base_url(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(f"--url {url}: expected http://host:port or https://host:port")
    return url.rstrip("/")


def _api_key(args: argparse.Namespace) -> str | None:
    key: str | None = args.api_key
    if key is None:
        # The server's own variable, so that a client beside it needs no flag.
        key = os.environ.get("LANDMARKS_API_KEY", "").strip() or None
    return key


async def _main(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    plan = make_plan(args, stderr)
    answerer: LocalAnswerer | RemoteAnswerer
    if args.url is not None:
        answerer = await RemoteAnswerer.connect(
            _base_url(args.url), _api_key(args), args.concurrency
        )
    else:
        settings = load_settings(args.model)
        configure_logging(settings.LOG_LEVEL)
        answerer = await LocalAnswerer.start(settings, args.concurrency)
    try:
        answerer.check_options(plan.options)
        # Opened only now, so that a run that cannot start leaves an existing file alone.
        with _open_output(plan.output, stdout) as stream:
            return await run(
                answerer,
                plan,
                stream,
                stderr,
                records_on_terminal=plan.output is None and _is_terminal(stdout),
            )
    finally:
        await answerer.aclose()


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command; returns its exit status.

    Args:
        argv: the arguments (default: sys.argv[1:]).
    """
    args = build_parser().parse_args(argv)  # exits 2 itself on a malformed command line
    stdout, stderr = sys.stdout, sys.stderr
    try:
        with warnings.catch_warnings():
            # PIL warns about a header over its pixel limit before `decode_image` refuses the
            # file with the API's message; the warning would only repeat that on stderr.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return asyncio.run(_main(args, stdout, stderr))
    except UsageError as exc:
        print(f"{PROG}: error: {exc}", file=stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`| head`): nothing left to write to. Point stdout at devnull
        # so that the interpreter's final flush does not fail a second time.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_FAILED


@contextmanager
def _open_output(path: Path | None, stdout: TextIO) -> Iterator[TextIO]:
    if path is None:
        yield stdout
        return
    try:
        stream = path.open("w", encoding="utf-8", newline="")
    except OSError as exc:
        raise UsageError(f"--output {path}: {exc.strerror or exc}") from exc
    with stream:
        yield stream


def _is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


if __name__ == "__main__":
    sys.exit(main())
