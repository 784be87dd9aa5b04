"""The OpenAPI document covers every status the routes can answer with, in-process."""

from __future__ import annotations

from typing import Any

import pytest

from app.error_handlers import CLIENT_CLOSED_REQUEST, STATUS_BY_ERROR
from app.main import create_app
from app.settings import Settings

UPLOAD_ROUTES = ["/landmarks", "/landmarks/overlay", "/landmarks/batch"]


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return create_app(Settings()).openapi()


@pytest.mark.parametrize("path", UPLOAD_ROUTES)
def test_upload_routes_document_every_mapped_error_status(spec: dict[str, Any], path: str) -> None:
    # 499 is never seen by a client (it went away); every other mapped status can be.
    mapped = {status for _, status in STATUS_BY_ERROR} - {CLIENT_CLOSED_REQUEST}
    documented = {int(status) for status in spec["paths"][path]["post"]["responses"]}
    assert mapped | {200} <= documented


@pytest.mark.parametrize("path", UPLOAD_ROUTES)
def test_error_answers_are_documented_as_detail_objects(spec: dict[str, Any], path: str) -> None:
    for status, response in spec["paths"][path]["post"]["responses"].items():
        if status == "200":
            continue
        schema = response["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/ErrorResponse"}, status


def test_overload_answers_document_retry_after(spec: dict[str, Any]) -> None:
    for path in UPLOAD_ROUTES:
        headers = spec["paths"][path]["post"]["responses"]["503"]["headers"]
        assert headers["Retry-After"]["schema"] == {"type": "integer"}
