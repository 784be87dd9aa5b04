"""The service's exceptions. Work modules raise them; `app/error_handlers.py` alone maps them to
HTTP status codes and `{"detail": ...}` bodies.

    LandmarkServiceError
    ├── InputError                   the request cannot be served as sent (4xx)
    │   ├── EmptyInputError            no bytes where an image should be            400
    │   ├── MalformedRequestError      unparseable multipart body or header         400
    │   ├── CorruptImageError          a supported format that does not decode      400
    │   ├── InvalidParameterError      a field or value the route cannot use        422
    │   ├── UnsupportedFormatError     not JPEG, PNG, WebP or BMP                   415
    │   ├── UploadTimeoutError         the body took longer than UPLOAD_TIMEOUT_S   408
    │   └── TooLargeError              over a size limit                            413
    │       ├── PayloadTooLargeError     too many bytes
    │       ├── TooManyPixelsError       too many pixels, or a decompression bomb
    │       └── TooManyImagesError       too many images in one batch request
    ├── AuthenticationError          missing or wrong API key                       401
    ├── ClientDisconnectedError      the client went away mid-upload      499 (metrics and logs)
    ├── ServiceUnavailableError      try again later                                503
    │   ├── ModelNotReadyError         the model is not loaded (yet, or any more)
    │   ├── QueueFullError             every queue slot is taken
    │   └── QueueTimeoutError          waited longer than QUEUE_TIMEOUT_S
    ├── InferenceError               the model call itself failed                   500
    └── ModelLoadError               startup only: the model directory is unusable (never served)

Every class takes one human-readable message; it becomes the response's `detail` verbatim, so
it must be safe and useful to show a client.
"""

from __future__ import annotations


class LandmarkServiceError(Exception):
    """Base class of everything the service raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InputError(LandmarkServiceError):
    """The client sent something the service cannot use; the server is fine."""


class EmptyInputError(InputError):
    """Raised when a body or file part holds no bytes."""


class MalformedRequestError(InputError):
    """Raised when the request framing (multipart body, Content-Length) cannot be parsed."""


class CorruptImageError(InputError):
    """Raised when bytes start like a supported format but do not decode (e.g. truncated)."""


class InvalidParameterError(InputError):
    """Raised for a missing or wrong form field or a query value outside the model's range."""


class UnsupportedFormatError(InputError):
    """Raised when the bytes are not JPEG, PNG, WebP or BMP (sniffed, not from the header)."""


class UploadTimeoutError(InputError):
    """Raised when receiving the request body takes longer than UPLOAD_TIMEOUT_S (a stalled or
    trickling client must not hold a connection and a partial upload forever)."""


class TooLargeError(InputError):
    """Base of the size-limit errors."""


class PayloadTooLargeError(TooLargeError):
    """Raised when a body or file exceeds MAX_UPLOAD_BYTES (checked while streaming)."""


class TooManyPixelsError(TooLargeError):
    """Raised when the declared width x height exceeds MAX_PIXELS, or PIL flags a bomb."""


class TooManyImagesError(TooLargeError):
    """Raised when a batch request carries more than MAX_IMAGES_PER_REQUEST images."""


class AuthenticationError(LandmarkServiceError):
    """Raised when an API key is configured and the request lacks it or sends another."""


class ClientDisconnectedError(LandmarkServiceError):
    """Raised when the client closes the connection before its request body has arrived.

    Nobody is left to read the answer; the status (nginx's 499, "client closed request") only
    keeps the event out of the 5xx metrics and the error log.
    """


class ServiceUnavailableError(LandmarkServiceError):
    """Temporarily unable to serve; `retry_after_s` feeds the `Retry-After` header."""

    retry_after_s: int | None = None


class ModelNotReadyError(ServiceUnavailableError):
    """Raised when a request arrives before the model is loaded and warmed, or after shutdown
    began."""


class QueueFullError(ServiceUnavailableError):
    """Raised when admitting the request would exceed QUEUE_LENGTH images in flight."""

    retry_after_s = 1


class QueueTimeoutError(ServiceUnavailableError):
    """Raised when an image waited longer than QUEUE_TIMEOUT_S for its model result."""

    retry_after_s = 5


class InferenceError(LandmarkServiceError):
    """Raised when the model call fails; the input was already validated, so it is ours."""


class ModelLoadError(LandmarkServiceError):
    """Raised at startup when the model directory is missing, incomplete or inconsistent."""
