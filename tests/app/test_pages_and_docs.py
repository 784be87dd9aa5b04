"""The demo page, its assets and the offline API docs, in-process (no model, no browser).

tests/app/test_demo_page.py drives the same pages in a real browser against a real server.
"""

from __future__ import annotations

import asyncio
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from app.main import create_app
from app.routes.demo import CONTENT_SECURITY_POLICY
from app.routes.docs import DOCS_CONTENT_SECURITY_POLICY
from app.settings import Settings

API_PATHS = {
    "/landmarks",
    "/landmarks/overlay",
    "/landmarks/batch",
    "/healthz",
    "/readyz",
    "/metadata",
    "/metrics",
}


class _LinkCollector(HTMLParser):
    """Every `src` and `href` attribute of a page, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.links += [value for name, value in attrs if name in ("src", "href") and value]


def links_of(html: str) -> list[str]:
    collector = _LinkCollector()
    collector.feed(html)
    return collector.links


def fetch_all(app: FastAPI, requests: list[tuple[str, str]]) -> list[httpx.Response]:
    """Sends the (method, path) requests in order through httpx's ASGI transport."""

    async def main() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
            return [await client.request(method, path) for method, path in requests]

    return asyncio.run(main())


@pytest.fixture
def keyed_app(tmp_path: Path) -> FastAPI:
    """The app with an API key and no model: none of the pages may need either."""
    return create_app(Settings(MODEL_DIR=tmp_path, API_KEY=SecretStr("secret")))


def test_demo_page_is_served_at_the_root_without_a_key(keyed_app: FastAPI) -> None:
    page, head = fetch_all(keyed_app, [("GET", "/"), ("HEAD", "/")])
    assert page.status_code == 200 and head.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "<title>Garment landmarks demo</title>" in page.text
    assert 'capture="environment"' in page.text and 'accept="image/*"' in page.text


def test_demo_page_loads_only_its_own_files(keyed_app: FastAPI) -> None:
    (page,) = fetch_all(keyed_app, [("GET", "/")])
    links = links_of(page.text)
    # Relative links only (the page also works under a path prefix); `data:` is the favicon.
    assert all(not link.startswith(("/", "http:", "https:")) for link in links), links
    assets = [link for link in links if link.startswith("static/")]
    assert sorted(assets) == ["static/demo.css", "static/demo.js"]
    answers = fetch_all(keyed_app, [("GET", f"/{asset}") for asset in assets])
    assert [answer.status_code for answer in answers] == [200, 200]
    content_types = {answer.headers["content-type"].split(";")[0] for answer in answers}
    assert content_types == {"text/css", "text/javascript"}
    # No web fonts, no CDN: nothing in the assets names another host.
    for answer in answers:
        assert "http://" not in answer.text and "https://" not in answer.text


def test_unknown_static_file_is_a_json_404(keyed_app: FastAPI) -> None:
    (missing,) = fetch_all(keyed_app, [("GET", "/static/nope.js")])
    assert missing.status_code == 404 and missing.json() == {"detail": "Not Found"}


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_docs_load_their_assets_from_the_service(keyed_app: FastAPI, path: str) -> None:
    (page,) = fetch_all(keyed_app, [("GET", path)])
    assert page.status_code == 200
    # The browser refuses any load from elsewhere (ReDoc's bundle has a CDN logo in it).
    assert page.headers["content-security-policy"] == DOCS_CONTENT_SECURITY_POLICY
    assert "img-src 'self' data:;" in DOCS_CONTENT_SECURITY_POLICY
    links = links_of(page.text)
    assert links and all(link.startswith("/docs-assets/") for link in links), links
    assert "http://" not in page.text and "https://" not in page.text
    assets = fetch_all(keyed_app, [("GET", link) for link in links])
    assert [(asset.status_code, len(asset.content) > 1000) for asset in assets] == [
        (200, True)
    ] * len(links)


def test_swagger_ui_has_no_validator_badge(keyed_app: FastAPI) -> None:
    # The badge is an <img> from validator.swagger.io: a request off the machine.
    (page,) = fetch_all(keyed_app, [("GET", "/docs")])
    assert '"validatorUrl": null' in page.text


def test_openapi_documents_the_api_only(tmp_path: Path) -> None:
    spec = create_app(Settings(MODEL_DIR=tmp_path)).openapi()
    assert set(spec["paths"]) == API_PATHS


def test_metrics_label_pages_docs_and_assets_by_route_template(keyed_app: FastAPI) -> None:
    requests = [
        ("GET", "/"),
        ("GET", "/static/demo.js"),
        ("GET", "/static/demo.css"),
        ("GET", "/static/nope.js"),
        ("GET", "/docs"),
        ("GET", "/redoc"),
        ("GET", "/openapi.json"),
        ("GET", "/docs-assets/swagger-ui.css"),
        ("POST", "/healthz"),
        ("GET", "/no/such/page"),
        ("GET", "/metrics"),
    ]
    metrics = fetch_all(keyed_app, requests)[-1].text
    for label in [
        'method="GET",route="/",status="200"} 1.0',
        # A mount is labelled by its template, not by the file: the label set stays bounded.
        'method="GET",route="/static/{path}",status="200"} 2.0',
        'method="GET",route="/static/{path}",status="404"} 1.0',
        'method="GET",route="/docs",status="200"} 1.0',
        'method="GET",route="/redoc",status="200"} 1.0',
        'method="GET",route="/openapi.json",status="200"} 1.0',
        'method="GET",route="/docs-assets/{path}",status="200"} 1.0',
        'method="POST",route="/healthz",status="405"} 1.0',
        'method="GET",route="<unmatched>",status="404"} 1.0',
    ]:
        assert f"landmarks_http_requests_total{{{label}" in metrics, label
