"""Reads uploaded images out of a request, never holding more than the limit in memory.

Two ways in: a multipart form (field `image`, or repeated `images` for batches) or the raw
image as the whole body (any non-multipart Content-Type, e.g. `image/jpeg`; the bytes are
sniffed later, the header is not trusted). Size limits apply twice: a declared Content-Length
over the limit is refused before a byte is read, and the bytes actually received are counted
while streaming, so a lying or absent Content-Length (chunked upload) cannot get past it either.
The whole body must arrive within a time limit (UPLOAD_TIMEOUT_S), so a stalled or trickling
client cannot hold a half-read upload forever, and a client that goes away mid-upload ends the
request quietly (ClientDisconnectedError) instead of as a server error.

Nothing here touches the file system by name: a multipart part's filename is never used, and
file parts live in anonymous spooled temporary files that are closed before returning.

This module is the HTTP side of uploads; it parses multipart itself (with Starlette's parser)
instead of declaring `File()` parameters, because FastAPI would read the whole body before any
check and would refuse raw image bodies.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager

from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import ClientDisconnect, Request

from app.errors import (
    ClientDisconnectedError,
    EmptyInputError,
    InvalidParameterError,
    MalformedRequestError,
    PayloadTooLargeError,
    TooManyImagesError,
    UnsupportedFormatError,
    UploadTimeoutError,
)

# Room for multipart boundaries and part headers on top of the file bytes themselves.
MULTIPART_OVERHEAD_BYTES = 64 * 1024
# Text fields are never needed; keep whatever a client sends beside the files small.
_MAX_TEXT_FIELDS = 16
_MAX_TEXT_FIELD_BYTES = 16 * 1024


def media_type(request: Request) -> str:
    """The request's Content-Type without parameters, lower-case ('' when absent)."""
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def check_declared_length(request: Request, limit: int, limit_text: str | None = None) -> None:
    """Refuses a body whose declared Content-Length exceeds `limit`, before reading it.

    Args:
        request: the request.
        limit: most body bytes accepted.
        limit_text: how the error message states the limit (default: `<limit> bytes`).
    """
    declared = request.headers.get("content-length")
    if declared is None:
        return
    try:
        length = int(declared)
    except ValueError:
        raise MalformedRequestError(f"invalid Content-Length header {declared!r}") from None
    if length > limit:
        raise PayloadTooLargeError(
            f"the request body is {length} bytes; the limit is {limit_text or f'{limit} bytes'}"
        )


async def _limited_stream(
    request: Request, limit: int, limit_text: str | None = None
) -> AsyncGenerator[bytes, None]:
    """The body's chunks, failing as soon as more than `limit` bytes have arrived."""
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > limit:
                raise PayloadTooLargeError(
                    f"the request body exceeds the limit of {limit_text or f'{limit} bytes'}"
                )
            yield chunk
    except ClientDisconnect:
        raise ClientDisconnectedError(
            f"the client disconnected after sending {received} bytes of the body"
        ) from None


@asynccontextmanager
async def _upload_deadline(timeout_s: float) -> AsyncIterator[None]:
    """Fails the enclosed body read with UploadTimeoutError after `timeout_s` seconds."""
    try:
        async with asyncio.timeout(timeout_s):
            yield
    except TimeoutError:
        raise UploadTimeoutError(
            f"the request body did not arrive within {timeout_s:g} s; send it faster or smaller"
        ) from None


async def read_raw_body(request: Request, max_bytes: int) -> bytes:
    """The whole body as one image's bytes.

    Raises:
        PayloadTooLargeError: over `max_bytes` (declared or counted).
        EmptyInputError: no body.
    """
    check_declared_length(request, max_bytes)
    body = bytearray()
    async for chunk in _limited_stream(request, max_bytes):
        body += chunk
    if not body:
        raise EmptyInputError(
            "the request body is empty: send the image as multipart field 'image' or as the "
            "raw body with an image/* Content-Type"
        )
    return bytes(body)


async def read_multipart_files(
    request: Request, field: str, max_files: int, max_file_bytes: int
) -> list[bytes]:
    """The files sent under `field` in a multipart body, in order.

    Args:
        request: a multipart/form-data request.
        field: the form field holding the files.
        max_files: most files accepted under `field`.
        max_file_bytes: most bytes per file.

    Raises:
        PayloadTooLargeError: the body or a file is over its limit.
        TooManyImagesError: more than `max_files` files.
        InvalidParameterError: no file under `field` (422), or `field` holds text.
        EmptyInputError: a file is empty.
        MalformedRequestError: the multipart body does not parse.
    """
    body_limit = max_files * max_file_bytes + MULTIPART_OVERHEAD_BYTES
    per_image = f"{max_file_bytes} bytes per image"
    limit_text = (
        f"{per_image} (plus multipart framing)"
        if max_files == 1
        else f"{max_files} images of {per_image} (plus multipart framing)"
    )
    check_declared_length(request, body_limit, limit_text)
    parser = MultiPartParser(
        request.headers,
        _limited_stream(request, body_limit, limit_text),
        # One over the limit, so that "too many" is ours to report (413), not a parse error.
        max_files=max_files + 1,
        max_fields=_MAX_TEXT_FIELDS,
        max_part_size=_MAX_TEXT_FIELD_BYTES,
    )
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        if exc.message.startswith("Too many files"):
            raise TooManyImagesError(f"too many files; at most {max_files} per request") from exc
        raise MalformedRequestError(f"invalid multipart body: {exc.message}") from exc
    try:
        values = form.getlist(field)
        if not values:
            present = sorted(set(form.keys()))
            raise InvalidParameterError(
                f"multipart field {field!r} is missing"
                + (f" (got {', '.join(repr(name) for name in present)})" if present else "")
            )
        uploads = [value for value in values if isinstance(value, UploadFile)]
        if len(uploads) != len(values):
            raise InvalidParameterError(
                f"multipart field {field!r} must be a file upload (a part with a filename)"
            )
        if len(uploads) > max_files == 1:
            raise InvalidParameterError(
                f"send exactly one file in {field!r}; POST /landmarks/batch takes several"
            )
        if len(uploads) > max_files:
            raise TooManyImagesError(
                f"{len(uploads)} files in {field!r}; at most {max_files} per request"
            )
        contents = []
        for index, upload in enumerate(uploads):
            name = field if max_files == 1 else f"{field}[{index}]"
            if upload.size is not None and upload.size > max_file_bytes:
                raise PayloadTooLargeError(
                    f"{name} is {upload.size} bytes; the limit is {max_file_bytes} bytes"
                )
            data = await upload.read()
            if not data:
                raise EmptyInputError(f"{name}: the image is empty (0 bytes)")
            contents.append(data)
        return contents
    finally:
        await form.close()


async def read_single_image(request: Request, max_bytes: int, timeout_s: float) -> bytes:
    """One image from a multipart field `image` or from the raw body.

    Args:
        request: the request.
        max_bytes: MAX_UPLOAD_BYTES.
        timeout_s: UPLOAD_TIMEOUT_S, the longest the body may take to arrive.
    """
    async with _upload_deadline(timeout_s):
        if media_type(request) == "multipart/form-data":
            (data,) = await read_multipart_files(request, "image", 1, max_bytes)
            return data
        return await read_raw_body(request, max_bytes)


async def read_batch_images(
    request: Request, max_images: int, max_bytes: int, timeout_s: float
) -> list[bytes]:
    """The images of a batch request: repeated multipart field `images` (see
    `read_single_image` for `max_bytes` and `timeout_s`)."""
    if media_type(request) != "multipart/form-data":
        raise UnsupportedFormatError(
            "a batch must be sent as multipart/form-data with one 'images' field per image"
        )
    async with _upload_deadline(timeout_s):
        return await read_multipart_files(request, "images", max_images, max_bytes)
