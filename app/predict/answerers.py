"""Answering one file: with the model in this process, or through a running server."""

from __future__ import annotations

import asyncio
import base64
import binascii
import dataclasses
import json
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

from pydantic import ValidationError

from app.errors import (
    InvalidParameterError,
    LandmarkServiceError,
    ModelLoadError,
)
from app.metrics import ServiceMetrics
from app.model_runtime import ModelMetadata
from app.pipeline import Analysis, AnalysisOptions
from app.predict.errors import FileError, UsageError
from app.schemas import LandmarkResponse, MetadataResponse
from app.service import Service, start_service
from app.settings import Settings

API_KEY_HEADER = "X-API-Key"
# Per HTTP request in --url mode: generous, as the server bounds its own waits (upload and
# queue timeouts) and answers 408/503 itself.
HTTP_TIMEOUT_S = 120.0
# A 503 (queue full or timed out) is retried after its Retry-After, this many times at most.
HTTP_RETRIES = 3
MAX_RETRY_WAIT_S = 10.0


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
