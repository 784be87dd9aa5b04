"""The one mapping from service errors to HTTP status and {"detail": ...}."""

from __future__ import annotations

import json

import pytest

from app import errors
from app.error_handlers import error_response, status_for


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (errors.EmptyInputError("x"), 400),
        (errors.MalformedRequestError("x"), 400),
        (errors.CorruptImageError("x"), 400),
        (errors.InvalidParameterError("x"), 422),
        (errors.UnsupportedFormatError("x"), 415),
        (errors.PayloadTooLargeError("x"), 413),
        (errors.TooManyPixelsError("x"), 413),
        (errors.TooManyImagesError("x"), 413),
        (errors.AuthenticationError("x"), 401),
        (errors.ModelNotReadyError("x"), 503),
        (errors.QueueFullError("x"), 503),
        (errors.QueueTimeoutError("x"), 503),
        (errors.InferenceError("x"), 500),
        (errors.ModelLoadError("x"), 500),
    ],
)
def test_status_for_maps_every_error_class(error: errors.LandmarkServiceError, status: int) -> None:
    assert status_for(error) == status


def test_error_response_has_detail_and_retry_after_for_overload() -> None:
    response = error_response(errors.QueueFullError("busy"))
    assert response.status_code == 503
    assert json.loads(bytes(response.body)) == {"detail": "busy"}
    assert response.headers["retry-after"] == "1"


def test_error_response_omits_retry_after_when_not_ready() -> None:
    response = error_response(errors.ModelNotReadyError("loading"))
    assert "retry-after" not in response.headers
