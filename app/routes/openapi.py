"""OpenAPI fragments shared by the routes: documented error responses and the upload body."""

from __future__ import annotations

from typing import Any

from app.schemas import ErrorResponse

_ERROR_EXAMPLES: dict[int, tuple[str, dict[str, str]]] = {
    400: (
        "Empty body, truncated or corrupt image, or an unparseable multipart body.",
        {
            "empty": "the request body is empty: send the image as multipart field 'image' "
            "or as the raw body with an image/* Content-Type",
            "truncated": "the JPEG data is truncated or corrupt and cannot be decoded",
        },
    ),
    401: (
        "LANDMARKS_API_KEY is set and X-API-Key is missing or wrong.",
        {"missing": "missing API key: send it in the X-API-Key header", "wrong": "invalid API key"},
    ),
    408: (
        "The request body did not arrive within UPLOAD_TIMEOUT_S (the connection is closed).",
        {"slow": "the request body did not arrive within 60 s; send it faster or smaller"},
    ),
    413: (
        "Too many bytes, too many pixels (incl. decompression bombs) or too many images.",
        {
            "bytes": "the request body is 20971520 bytes; the limit is 10485760 bytes",
            "pixels": "the image is 10000x8000 = 80.0 megapixels; the limit is 40.0 megapixels",
            "batch": "images[2]: the image is 10000x8000 = 80.0 megapixels; the limit is 40.0 "
            "megapixels",
        },
    ),
    415: (
        "Not a JPEG, PNG, WebP or BMP image (sniffed from the bytes, not the Content-Type).",
        {
            "gif": "GIF images are not supported; send JPEG, PNG, WebP or BMP",
            "not_an_image": "the upload is not a recognised image; send JPEG, PNG, WebP or BMP",
        },
    ),
    422: (
        "Wrong multipart field name or a query value out of range.",
        {
            "field": "multipart field 'image' is missing (got 'file')",
            "query": "query.top_k: Input should be greater than or equal to 0",
        },
    ),
    500: (
        "The model call itself failed (logged on the server); the input was fine.",
        {"inference": "the model call failed"},
    ),
    503: (
        "Model not ready, queue full or queue timeout; queue errors carry Retry-After.",
        {
            "full": "the service is at capacity (64 images in flight); retry shortly",
            "timeout": "no model result within 30 s; the service is overloaded, retry later",
        },
    ),
}

# Response headers some error statuses carry (not all of their answers: a model that is not
# loaded yet answers 503 without Retry-After).
_ERROR_HEADERS: dict[int, dict[str, Any]] = {
    503: {
        "Retry-After": {
            "description": "Seconds to wait before retrying; on queue-full and queue-timeout "
            "answers.",
            "schema": {"type": "integer"},
        }
    },
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` entries for the given error statuses, each with examples."""
    responses: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        description, examples = _ERROR_EXAMPLES[status]
        responses[status] = {
            "model": ErrorResponse,
            "description": description,
            "content": {
                "application/json": {
                    "examples": {
                        name: {"value": {"detail": detail}} for name, detail in examples.items()
                    }
                }
            },
        }
        if status in _ERROR_HEADERS:
            responses[status]["headers"] = _ERROR_HEADERS[status]
    return responses


def upload_body(field: str, *, repeated: bool, raw_allowed: bool) -> dict[str, Any]:
    """`openapi_extra` describing a multipart upload (and optionally a raw image body)."""
    binary = {"type": "string", "format": "binary"}
    if repeated:
        multipart_field: dict[str, Any] = {
            "type": "array",
            "items": binary,
            "description": "One part per image, same field name, in the order to answer.",
        }
    else:
        multipart_field = {**binary, "description": "The image: JPEG, PNG, WebP or BMP."}
    content: dict[str, Any] = {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": [field],
                "properties": {field: multipart_field},
            }
        }
    }
    if raw_allowed:
        content["image/*"] = {
            "schema": {
                **binary,
                "description": "The raw image file as the whole body (any image/* type, or "
                "application/octet-stream; the format is sniffed from the bytes).",
            }
        }
    return {"requestBody": {"required": True, "content": content}}
