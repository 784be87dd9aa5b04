"""Every hostile or odd upload of the corpus against one real server.

Each case must get exactly its documented status (never a 5xx), with the usual
`{"detail": ...}` body, and the server must answer a normal request correctly straight after,
so no case leaves it broken, stuck or slower to answer.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.app.live_server import metric_samples
from tests.robustness.corpus import CORPUS_SERVER_SETTINGS, Case, build_corpus
from tests.robustness.servers import (
    NUM_LANDMARKS,
    ProcessServer,
    assert_serves_normally,
    read_head,
    running_server,
)

pytestmark = pytest.mark.slow

CORPUS = build_corpus()


@pytest.fixture(scope="module")
def corpus_server(
    robust_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ProcessServer]:
    root = tmp_path_factory.mktemp("corpus_server")
    with running_server(root, {"MODEL_DIR": robust_model_dir, **CORPUS_SERVER_SETTINGS}) as live:
        yield live


@pytest.fixture(scope="module")
def http(corpus_server: ProcessServer) -> Iterator[httpx.Client]:
    with corpus_server.client() as client:
        yield client


def send_over_socket(server: ProcessServer, data: bytes) -> tuple[int, dict[str, str], bytes]:
    """Writes `data` as it is and reads one response: (status, headers, body)."""
    address = urlsplit(server.base_url)
    assert address.hostname is not None and address.port is not None
    with socket.create_connection((address.hostname, address.port), timeout=10) as connection:
        connection.sendall(data)
        head, _, body = read_head(connection).partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        while len(body) < length:
            chunk = connection.recv(65536)
            if not chunk:
                break
            body += chunk
    return int(status_line.split()[1]), headers, body


def send(server: ProcessServer, case: Case) -> httpx.Response:
    """Sends a case on a fresh connection, so no case inherits another's connection state."""
    if case.wire is not None:
        status, headers, body = send_over_socket(server, case.wire)
        return httpx.Response(status, headers=headers, content=body)
    with server.client() as client:
        if case.files is not None or case.fields is not None:
            return client.request(
                case.method,
                case.path,
                params=case.params,
                files=list(case.files or ()),
                data=dict(case.fields or {}),
            )
        content = case.chunk_stream() if case.chunks is not None else case.body
        return client.request(
            case.method, case.path, params=case.params, headers=case.headers, content=content
        )


@pytest.mark.parametrize("case", CORPUS, ids=[case.name for case in CORPUS])
def test_corpus_case_gets_its_documented_status_and_server_stays_well(
    corpus_server: ProcessServer, http: httpx.Client, case: Case
) -> None:
    response = send(corpus_server, case)

    assert response.status_code == case.status, response.text[:500]
    if case.status == 200:
        body = response.json()
        assert len(body["landmarks"]) == NUM_LANDMARKS
        if case.size is not None:
            assert (body["image"]["width"], body["image"]["height"]) == case.size
        if case.params.get("overlay") == "true":
            assert body["overlay"]
    elif case.detail is not None:
        assert response.headers["content-type"] == "application/json"
        assert case.detail in response.json()["detail"]
    assert_serves_normally(http)


def test_corpus_has_enough_cases() -> None:
    assert len(CORPUS) >= 40
    assert {case.status for case in CORPUS} >= {200, 400, 405, 413, 415, 422}


def test_corpus_left_no_server_error_and_nothing_in_flight(
    corpus_server: ProcessServer, http: httpx.Client
) -> None:
    # Runs after the cases (pytest keeps file order): the metrics saw every one of them.
    samples = metric_samples(http)
    statuses = {
        name.split('status="')[1].split('"')[0]
        for name in samples
        if name.startswith("landmarks_http_requests_total")
    }
    assert statuses and not any(status.startswith("5") for status in statuses)
    assert samples["landmarks_images_in_flight{}"] == 0
    assert corpus_server.files_in_tmp() == []
    assert list(corpus_server.tmp_dir.iterdir()) == []
    assert "Traceback" not in corpus_server.log()
