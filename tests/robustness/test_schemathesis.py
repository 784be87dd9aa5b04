"""Property-based fuzzing of every operation against the service's own OpenAPI schema.

Schemathesis reads /openapi.json from a real server and generates requests from it: valid ones
(positive mode) and ones that break the schema (negative mode: wrong types, out-of-range query
values, bodies of the wrong shape). Every answer must be free of server errors, have a status
the schema documents for that operation, a documented Content-Type, and a body that matches the
documented schema for that status. The API key is sent, so the fuzzing reaches past authentication.

Hypothesis drives each operation's strategy directly (`APIOperation.as_strategy`) instead of
through `schemathesis.pytest.from_fixture`: the lazy loader needs the schema from a fixture
(the server starts in one) and, in schemathesis 4.32, sets `Function._nodeid`, which pytest 9
no longer has.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.app.images import encode, random_rgb
from tests.app.live_server import API_KEY, MIB
from tests.robustness.servers import ProcessServer

pytestmark = pytest.mark.slow

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    response_schema_conformance,
    content_type_conformance,
]
OPERATIONS = [
    ("POST", "/landmarks"),
    ("POST", "/landmarks/overlay"),
    ("POST", "/landmarks/batch"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metadata"),
    ("GET", "/metrics"),
]
VALID_PNG = encode(random_rgb(48, 64), "PNG")
EXAMPLES = {GenerationMode.POSITIVE: 50, GenerationMode.NEGATIVE: 30}
# Negative mode needs something to break: the GET routes take no parameters and no body.
FUZZ_RUNS = [
    (method, path, mode)
    for method, path in OPERATIONS
    for mode in EXAMPLES
    if method == "POST" or mode is GenerationMode.POSITIVE
]


@pytest.fixture(scope="module")
def api_schema(keyed_server: ProcessServer) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{keyed_server.base_url}/openapi.json")


def test_fuzzing_covers_every_documented_operation(api_schema: schemathesis.BaseSchema) -> None:
    documented = {
        (operation.method.upper(), operation.path)
        for operation in (result.ok() for result in api_schema.get_all_operations())
    }
    assert documented == set(OPERATIONS)


@pytest.mark.parametrize(
    ("method", "path", "mode"), FUZZ_RUNS, ids=[f"{m} {p} {mode.value}" for m, p, mode in FUZZ_RUNS]
)
def test_fuzzed_answers_conform_to_the_openapi_schema(
    api_schema: schemathesis.BaseSchema, method: str, path: str, mode: GenerationMode
) -> None:
    operation = api_schema[path][method]
    strategy = operation.as_strategy(mode, headers={"X-API-Key": API_KEY})

    @given(case=strategy)
    @settings(
        max_examples=EXAMPLES[mode],
        deadline=None,
        # No example database in the working tree; every run explores afresh.
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    def fuzz(case: schemathesis.Case) -> None:
        case.call_and_validate(checks=CHECKS, timeout=30)

    fuzz()


@pytest.mark.parametrize(
    ("path", "status", "request_options"),
    [
        ("/landmarks", 200, {"params": {"top_k": "2", "overlay": "true"}}),
        ("/landmarks/overlay", 200, {}),
        ("/landmarks", 400, {"content": b"\x89PNG\r\n\x1a\ncut short"}),
        ("/landmarks", 401, {"headers": {"X-API-Key": "wrong"}}),
        ("/landmarks", 413, {"content": b"\x89PNG\r\n\x1a\n" + b"\x00" * MIB}),
        ("/landmarks", 415, {"content": b"GIF89a"}),
        ("/landmarks", 422, {"params": {"top_k": "99"}}),
        ("/landmarks/batch", 415, {}),
    ],
)
def test_real_answers_of_each_status_match_the_schema(
    api_schema: schemathesis.BaseSchema,
    keyed_server: ProcessServer,
    path: str,
    status: int,
    request_options: dict[str, Any],
) -> None:
    # Fuzzing seldom builds a valid image, so the 200 bodies (and the common errors) are
    # produced here on purpose and checked against the same schema.
    options = {"content": VALID_PNG, **request_options}
    headers = {"X-API-Key": API_KEY, "content-type": "image/png", **options.pop("headers", {})}
    with keyed_server.client() as http:
        response = http.post(path, headers=headers, **options)
    assert response.status_code == status, response.text
    operation = api_schema[path]["POST"]
    assert str(status) in operation.definition.raw["responses"]
    operation.validate_response(response)


def test_batch_answer_matches_the_schema(
    api_schema: schemathesis.BaseSchema, keyed_server: ProcessServer
) -> None:
    files = [("images", ("a.png", VALID_PNG)), ("images", ("b.png", VALID_PNG))]
    with keyed_server.client(headers={"X-API-Key": API_KEY}) as http:
        response = http.post("/landmarks/batch", files=files, params={"top_k": "1"})
    assert response.status_code == 200, response.text
    response.request.read()  # schemathesis reads the request back; multipart is streamed
    api_schema["/landmarks/batch"]["POST"].validate_response(response)
