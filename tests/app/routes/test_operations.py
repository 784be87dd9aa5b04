"""GET /healthz, /readyz, /metadata, /metrics and the docs, on a real server (`server`)."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.app.exports import LANDMARK_NAMES
from tests.app.images import PALETTE
from tests.app.live_server import MIB, LiveServer

pytestmark = pytest.mark.slow


def test_healthz_returns_ok(client: httpx.Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readyz_returns_ready_after_startup(client: httpx.Client) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200 and response.json() == {"status": "ready"}


def test_metadata_describes_model_landmarks_device_and_limits(client: httpx.Client) -> None:
    body = client.get("/metadata").json()
    # models/oracle holds 1 (junk), 2 and `latest`: the highest integer version is served.
    assert (body["name"], body["version"], body["architecture"]) == ("oracle", 2, "oracle")
    assert body["input_size"] == [256, 256] and body["top_k"] == 5
    assert body["flip_average"] is False
    # An export without a `score` entry (older ones) reports the peak probability.
    assert body["score"] == "peak" and body["detection_threshold"] == 0.5
    assert [landmark["name"] for landmark in body["landmarks"]] == list(LANDMARK_NAMES)
    assert [landmark["color"] for landmark in body["landmarks"]] == PALETTE[1:].tolist()
    assert body["background_color"] == [255, 255, 255]
    assert body["device"] == "CPU"
    assert body["limits"]["max_upload_bytes"] == 2 * MIB
    assert body["limits"]["max_pixels"] == 4_000_000
    assert body["limits"]["supported_formats"] == ["JPEG", "PNG", "WebP", "BMP"]


def test_startup_log_names_device_and_model(server: LiveServer) -> None:
    log = server.log()
    assert "model oracle version 2 (oracle) loaded from" in log
    assert "on CPU" in log
    assert "ready" in log


def test_openapi_documents_bodies_errors_and_convention(client: httpx.Client) -> None:
    spec = client.get("/openapi.json").json()
    operation = spec["paths"]["/landmarks"]["post"]
    assert set(operation["requestBody"]["content"]) == {"multipart/form-data", "image/*"}
    assert {"400", "401", "413", "415", "422", "503"} <= set(operation["responses"])
    assert "examples" in operation["responses"]["413"]["content"]["application/json"]
    assert {"top_k", "overlay", "overlay_format"} == {
        parameter["name"] for parameter in operation["parameters"]
    }
    assert "image/png" in spec["paths"]["/landmarks/overlay"]["post"]["responses"]["200"]["content"]
    assert "images" in json.dumps(spec["paths"]["/landmarks/batch"]["post"]["requestBody"])
    landmark_schema = spec["components"]["schemas"]["LandmarkPoint"]
    assert "(u + 0.5) * W / 256 - 0.5" in landmark_schema["properties"]["x"]["description"]
    assert "centre of the top-left pixel at (0, 0)" in spec["info"]["description"]
    docs = client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


def test_unknown_route_returns_json_404(client: httpx.Client) -> None:
    response = client.get("/nope")
    assert response.status_code == 404 and response.json() == {"detail": "Not Found"}


def test_metrics_are_prometheus_text(client: httpx.Client) -> None:
    response = client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    assert "# TYPE landmarks_http_requests_total counter" in response.text
    assert "# TYPE landmarks_batch_size histogram" in response.text
    assert "landmarks_model_ready 1.0" in response.text
    assert (
        'landmarks_model_info{architecture="oracle",device="CPU",name="oracle",version="2"} 1.0'
        in response.text
    )
