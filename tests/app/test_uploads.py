"""Reading uploads (`app.uploads`) from real Starlette requests fed real body chunks.

Each request is built from an ASGI scope and a `receive` that hands over the body in the
chunks given, the way uvicorn does, so the limits are checked as bytes arrive.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

import pytest
from starlette.requests import Request

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
from app.uploads import media_type, read_batch_images, read_single_image

BOUNDARY = "upload-test-boundary"


def request(
    chunks: Sequence[bytes],
    headers: dict[str, str],
    *,
    stall_after: bool = False,
    disconnect_after: bool = False,
) -> Request:
    """A POST whose body arrives in `chunks`; then it stalls or disconnects if asked."""
    pending = list(chunks)

    async def receive() -> dict[str, object]:
        if pending:
            chunk = pending.pop(0)
            more = bool(pending) or stall_after or disconnect_after
            return {"type": "http.request", "body": chunk, "more_body": more}
        if stall_after:
            await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/landmarks",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    return Request(scope, receive)


def multipart(*parts: tuple[str, bytes, str | None]) -> tuple[bytes, dict[str, str]]:
    """A multipart body of (field, content, filename or None for a text field) parts."""
    body = b""
    for field, content, filename in parts:
        disposition = f'form-data; name="{field}"' + (
            f'; filename="{filename}"' if filename else ""
        )
        body += f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n".encode()
        if filename:
            body += b"Content-Type: image/jpeg\r\n"
        body += b"\r\n" + content + b"\r\n"
    body += f"--{BOUNDARY}--\r\n".encode()
    return body, {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}


def run(coroutine: Callable[[], Coroutine[Any, Any, object]]) -> object:
    return asyncio.run(coroutine())


def test_media_type_drops_parameters_and_case() -> None:
    assert media_type(request([], {"Content-Type": "Image/JPEG; q=1"})) == "image/jpeg"
    assert media_type(request([], {})) == ""


def test_raw_body_arrives_whole_from_its_chunks() -> None:
    body = request([b"ab", b"cd", b"e"], {"Content-Type": "image/jpeg"})
    assert run(lambda: read_single_image(body, 10, 5.0)) == b"abcde"


def test_raw_body_over_the_limit_fails_while_arriving_without_a_length() -> None:
    body = request([b"x" * 6, b"x" * 6], {"Content-Type": "image/jpeg"})
    with pytest.raises(PayloadTooLargeError, match="exceeds the limit of 10 bytes"):
        run(lambda: read_single_image(body, 10, 5.0))


def test_declared_length_over_the_limit_fails_before_reading() -> None:
    body = request([b"never read"], {"Content-Type": "image/jpeg", "Content-Length": "999"})
    with pytest.raises(PayloadTooLargeError, match="999 bytes; the limit is 10 bytes"):
        run(lambda: read_single_image(body, 10, 5.0))
    bad = request([b"x"], {"Content-Type": "image/jpeg", "Content-Length": "ten"})
    with pytest.raises(MalformedRequestError, match="invalid Content-Length"):
        run(lambda: read_single_image(bad, 10, 5.0))


def test_empty_raw_body_says_how_to_send_an_image() -> None:
    with pytest.raises(EmptyInputError, match="multipart field 'image'"):
        run(lambda: read_single_image(request([b""], {"Content-Type": "image/png"}), 10, 5.0))


def test_stalled_body_times_out() -> None:
    body = request([b"abc"], {"Content-Type": "image/jpeg"}, stall_after=True)
    with pytest.raises(UploadTimeoutError, match=r"within 0\.05 s"):
        run(lambda: read_single_image(body, 100, 0.05))


def test_client_leaving_mid_body_is_reported_as_such() -> None:
    body = request([b"abc"], {"Content-Type": "image/jpeg"}, disconnect_after=True)
    with pytest.raises(ClientDisconnectedError, match="after sending 3 bytes"):
        run(lambda: read_single_image(body, 100, 5.0))


def test_multipart_image_field_is_read_and_checked() -> None:
    data, headers = multipart(("image", b"JPEGDATA", "a.jpg"))
    assert run(lambda: read_single_image(request([data], headers), 100, 5.0)) == b"JPEGDATA"
    wrong, headers = multipart(("photo", b"JPEGDATA", "a.jpg"))
    with pytest.raises(InvalidParameterError, match="'image' is missing \\(got 'photo'\\)"):
        run(lambda: read_single_image(request([wrong], headers), 100, 5.0))
    text, headers = multipart(("image", b"not a file", None))
    with pytest.raises(InvalidParameterError, match="must be a file upload"):
        run(lambda: read_single_image(request([text], headers), 100, 5.0))
    two, headers = multipart(("image", b"A", "a.jpg"), ("image", b"B", "b.jpg"))
    with pytest.raises(InvalidParameterError, match="exactly one file"):
        run(lambda: read_single_image(request([two], headers), 100, 5.0))
    empty, headers = multipart(("image", b"", "a.jpg"))
    with pytest.raises(EmptyInputError, match="image: the image is empty"):
        run(lambda: read_single_image(request([empty], headers), 100, 5.0))


def test_multipart_file_over_the_limit_names_it() -> None:
    data, headers = multipart(("images", b"A", "a.jpg"), ("images", b"x" * 50, "b.jpg"))
    with pytest.raises(PayloadTooLargeError, match="images\\[1\\] is 50 bytes"):
        run(lambda: read_batch_images(request([data], headers), 4, 10, 5.0))


def test_batch_reads_files_in_order_and_counts_them() -> None:
    data, headers = multipart(*((("images", bytes([65 + i]), f"{i}.jpg")) for i in range(3)))
    assert run(lambda: read_batch_images(request([data], headers), 4, 10, 5.0)) == [
        b"A",
        b"B",
        b"C",
    ]
    with pytest.raises(TooManyImagesError, match="at most 2 per request"):
        run(lambda: read_batch_images(request([data], headers), 2, 10, 5.0))
    with pytest.raises(UnsupportedFormatError, match="multipart/form-data"):
        run(lambda: read_batch_images(request([b"x"], {"Content-Type": "image/png"}), 2, 10, 5.0))


def test_broken_multipart_body_is_a_malformed_request() -> None:
    headers = {"Content-Type": "multipart/form-data"}  # no boundary
    with pytest.raises(MalformedRequestError, match="invalid multipart body"):
        run(lambda: read_single_image(request([b"--x\r\n"], headers), 100, 5.0))
