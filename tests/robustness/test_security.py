"""The API key, the open operational routes, and that no request reaches the file system.

The key is compared in constant time (`hmac.compare_digest`), only from the `X-API-Key`
header, before any of the body is read. Multipart filenames are never used: a hostile one
changes nothing on disk, and the app's source never reads one.
"""

from __future__ import annotations

import ast
import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

import app.deps
from app.deps import require_api_key
from app.errors import AuthenticationError
from app.settings import Settings
from tests.app.images import encode, random_rgb
from tests.app.live_server import API_KEY, REPO_ROOT
from tests.robustness.servers import NUM_LANDMARKS, ProcessServer, read_head

PNG = encode(random_rgb(30, 40), "PNG")
LANDMARK_ROUTES = ["/landmarks", "/landmarks/overlay", "/landmarks/batch"]
OPEN_ROUTES = [
    "/healthz",
    "/readyz",
    "/metadata",
    "/metrics",
    "/docs",
    "/redoc",
    "/openapi.json",
    # The demo page and its assets: the page asks for the key when a request needs it.
    "/",
    "/static/demo.js",
    "/static/demo.css",
]


@pytest.fixture(scope="module")
def http(keyed_server: ProcessServer) -> Iterator[httpx.Client]:
    with keyed_server.client() as client:
        yield client


def upload(http: httpx.Client, path: str, headers: dict[str, str]) -> httpx.Response:
    field = "images" if path.endswith("/batch") else "image"
    return http.post(path, files={field: ("photo.png", PNG, "image/png")}, headers=headers)


# === API key ===


def test_api_key_is_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[bytes, bytes]] = []

    def spy(given: bytes, expected: bytes) -> bool:
        compared.append((given, expected))
        return False

    monkeypatch.setattr(app.deps.hmac, "compare_digest", spy)
    settings = Settings(API_KEY="the-real-key")
    with pytest.raises(AuthenticationError, match="invalid API key"):
        asyncio.run(require_api_key(settings, "the-real-kez"))
    assert compared == [(b"the-real-kez", b"the-real-key")]


@pytest.mark.slow
@pytest.mark.parametrize("path", LANDMARK_ROUTES)
@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        ({}, "missing API key: send it in the X-API-Key header"),
        ({"X-API-Key": ""}, "missing API key: send it in the X-API-Key header"),
        ({"X-API-Key": "x" * len(API_KEY)}, "invalid API key"),
        ({"X-API-Key": API_KEY[:-1]}, "invalid API key"),
        ({"X-API-Key": API_KEY + "x"}, "invalid API key"),
        ({"X-API-Key": API_KEY.upper()}, "invalid API key"),
        (
            {"Authorization": f"Bearer {API_KEY}"},
            "missing API key: send it in the X-API-Key header",
        ),
    ],
    ids=["missing", "empty", "same_length", "prefix", "longer", "upper_case", "bearer"],
)
def test_landmark_routes_refuse_a_missing_or_wrong_key(
    http: httpx.Client, path: str, headers: dict[str, str], detail: str
) -> None:
    response = upload(http, path, headers)
    assert response.status_code == 401
    assert response.json() == {"detail": detail}


@pytest.mark.slow
@pytest.mark.parametrize("path", LANDMARK_ROUTES)
def test_landmark_routes_accept_the_key_whatever_the_header_case(
    http: httpx.Client, path: str
) -> None:
    response = upload(http, path, {"x-api-key": API_KEY})
    assert response.status_code == 200, response.text


@pytest.mark.slow
def test_key_in_the_query_string_is_not_accepted(http: httpx.Client) -> None:
    response = http.post(
        "/landmarks",
        content=PNG,
        params={"api_key": API_KEY, "X-API-Key": API_KEY},
        headers={"content-type": "image/png"},
    )
    assert response.status_code == 401


@pytest.mark.slow
def test_non_utf8_key_bytes_are_a_401_not_an_error(keyed_server: ProcessServer) -> None:
    response = raw_exchange(
        keyed_server,
        b"POST /landmarks HTTP/1.1\r\nHost: test\r\nX-API-Key: \xe9\xff\x80\r\n"
        b"Content-Type: image/png\r\nContent-Length: 0\r\n\r\n",
    )
    assert response.startswith(b"HTTP/1.1 401")


@pytest.mark.slow
def test_key_is_checked_before_the_body_is_read(keyed_server: ProcessServer) -> None:
    # 1 MB declared and none of it sent: the 401 comes at once, nothing was waited for.
    response = raw_exchange(
        keyed_server,
        b"POST /landmarks HTTP/1.1\r\nHost: test\r\nContent-Type: image/png\r\n"
        b"Content-Length: 1000000\r\n\r\n",
    )
    assert response.startswith(b"HTTP/1.1 401")


@pytest.mark.slow
@pytest.mark.parametrize("path", OPEN_ROUTES)
def test_operational_routes_stay_open_without_a_key(http: httpx.Client, path: str) -> None:
    assert http.get(path).status_code == 200


def raw_exchange(server: ProcessServer, data: bytes) -> bytes:
    """Sends `data` and returns the response head and whatever body came with it."""
    address = urlsplit(server.base_url)
    assert address.hostname is not None and address.port is not None
    with socket.create_connection((address.hostname, address.port), timeout=10) as connection:
        connection.sendall(data)
        return read_head(connection)


# === Nothing from a request reaches the file system ===


@pytest.mark.slow
def test_hostile_filenames_write_nothing_anywhere(
    keyed_server: ProcessServer, http: httpx.Client, tmp_path: Path
) -> None:
    # Relative names climb out of the server's working directory into pytest's base temporary
    # directory, which is searched afterwards; the absolute one points at this test's.
    target = tmp_path / "written-by-upload.png"
    names = [
        "../../etc/passwd",
        "../written-by-upload.png",
        "../../written-by-upload.png",
        str(target),
        "..\\..\\windows\\win.ini",
        "photo.png\x00.exe",
    ]
    for name in names:
        response = http.post(
            "/landmarks",
            files={"image": (name, PNG, "image/png")},
            headers={"X-API-Key": API_KEY},
        )
        assert response.status_code == 200, (name, response.text)
        assert len(response.json()["landmarks"]) == NUM_LANDMARKS

    assert not target.exists()
    assert list(keyed_server.work_dir.parents[1].rglob("written-by-upload*")) == []
    assert list(keyed_server.work_dir.iterdir()) == []
    assert list(keyed_server.tmp_dir.iterdir()) == []


@pytest.mark.slow
@pytest.mark.parametrize(
    "path",
    [
        "/static/../main.py",
        "/static/../../pyproject.toml",
        "/static/..%2fmain.py",
        "/static/%2e%2e/settings.py",
        "/static//etc/passwd",
        "/docs-assets/../core.py",
        "/docs-assets/../../fastapi/__init__.py",
    ],
)
def test_static_files_serve_nothing_outside_their_folders(
    keyed_server: ProcessServer, path: str
) -> None:
    # Sent raw: an HTTP client would normalise the dots away before they reach the server.
    response = raw_exchange(
        keyed_server, f"GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n".encode()
    )
    assert response.startswith(b"HTTP/1.1 404"), response[:200]


def _app_sources() -> list[Path]:
    return sorted((REPO_ROOT / "app").rglob("*.py"))


def test_app_never_reads_an_upload_filename() -> None:
    # UploadFile.filename is what the client says; nothing in the app may use it.
    uses = [
        f"{path.relative_to(REPO_ROOT)}:{node.lineno}"
        for path in _app_sources()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Attribute) and node.attr == "filename"
    ]
    assert uses == []


def test_model_directory_comes_only_from_settings() -> None:
    # The model path is read in one place, at startup; no request value can name a path.
    readers = sorted(
        str(path.relative_to(REPO_ROOT))
        for path in _app_sources()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Attribute) and node.attr == "MODEL_DIR"
    )
    assert set(readers) == {"app/service.py"}
