"""The one place where errors become HTTP responses: a status code and `{"detail": "<text>"}`.

Service errors (app/errors.py) map by class; FastAPI's request-validation errors and Starlette's
HTTP exceptions (404, 405...) are reshaped to the same single-string `detail`, so a client needs
one error format. Anything else is a bug: it is logged with its traceback and answered with a
generic 500 that leaks nothing.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.errors import (
    AuthenticationError,
    ClientDisconnectedError,
    CorruptImageError,
    EmptyInputError,
    InferenceError,
    InvalidParameterError,
    LandmarkServiceError,
    MalformedRequestError,
    ServiceUnavailableError,
    TooLargeError,
    UnsupportedFormatError,
    UploadTimeoutError,
)

logger = logging.getLogger(__name__)

# nginx's "client closed request": never seen by a client, only by the metrics and the log.
CLIENT_CLOSED_REQUEST = 499

# Most specific first; the first class the error is an instance of wins.
STATUS_BY_ERROR: tuple[tuple[type[LandmarkServiceError], int], ...] = (
    (EmptyInputError, 400),
    (MalformedRequestError, 400),
    (CorruptImageError, 400),
    (InvalidParameterError, 422),
    (UnsupportedFormatError, 415),
    (UploadTimeoutError, 408),
    (TooLargeError, 413),
    (AuthenticationError, 401),
    (ClientDisconnectedError, CLIENT_CLOSED_REQUEST),
    (ServiceUnavailableError, 503),
    (InferenceError, 500),
)


def status_for(error: LandmarkServiceError) -> int:
    """The HTTP status code for a service error (500 for anything unmapped)."""
    for error_class, status in STATUS_BY_ERROR:
        if isinstance(error, error_class):
            return status
    return 500


def error_response(error: LandmarkServiceError) -> JSONResponse:
    """The response for a service error, with `Retry-After` on retryable 503s.

    A 408 also closes the connection (RFC 9110 asks for it): the rest of a stalled body would
    otherwise keep it open. A 413 does not, on purpose: uvicorn then reads and discards the
    unread body, which is what lets a client that is still sending see the 413 at all (closing
    with unread data makes the kernel reset the connection, and the client gets a broken pipe).
    """
    headers = {}
    if isinstance(error, ServiceUnavailableError) and error.retry_after_s is not None:
        headers["Retry-After"] = str(error.retry_after_s)
    if isinstance(error, UploadTimeoutError):
        headers["Connection"] = "close"
    return JSONResponse({"detail": error.message}, status_code=status_for(error), headers=headers)


def format_validation_error(error: RequestValidationError) -> str:
    """Flattens FastAPI's list of validation problems into one sentence per problem."""
    problems = []
    for problem in error.errors():
        location = ".".join(str(part) for part in problem.get("loc", ()))
        problems.append(f"{location}: {problem.get('msg', 'invalid value')}")
    return "; ".join(problems) or "invalid request"


async def _service_error_handler(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, LandmarkServiceError):  # pragma: no cover - registration guarantees
        raise exc
    status = status_for(exc)
    if status == CLIENT_CLOSED_REQUEST:
        # Routine on mobile networks; not an error of ours, so no traceback and no ERROR line.
        logger.info("%s %s: %s", request.method, request.url.path, exc.message)
    elif status >= 500:
        logger.error("%s %s failed: %s", request.method, request.url.path, exc.message)
    return error_response(exc)


async def _validation_error_handler(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, RequestValidationError):  # pragma: no cover
        raise exc
    return JSONResponse({"detail": format_validation_error(exc)}, status_code=422)


async def _http_exception_handler(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, StarletteHTTPException):  # pragma: no cover
        raise exc
    return JSONResponse(
        {"detail": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers
    )


async def _unexpected_error_handler(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error in %s %s", request.method, request.url.path)
    return JSONResponse({"detail": "internal server error"}, status_code=500)


def install_exception_handlers(app: FastAPI) -> None:
    """Registers the handlers above on an app."""
    app.add_exception_handler(LandmarkServiceError, _service_error_handler)
    app.add_exception_handler(RequestValidationError, _validation_error_handler)
    app.add_exception_handler(StarletteHTTPException, _http_exception_handler)
    app.add_exception_handler(Exception, _unexpected_error_handler)
