"""GET /docs (Swagger UI) and /redoc, with their JavaScript and CSS served by this service.

FastAPI's built-in pages load both from a CDN, so they are blank on a machine without internet.
The assets here come from the `fastapi-offline` package (which ships Swagger UI's and ReDoc's
bundles), mounted at DOCS_ASSETS_URL. Neither page needs the API key; Swagger UI's
"Authorize" button takes it for the "Try it out" calls.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS_ASSETS_URL = "/docs-assets"

# Both pages are made of our own markup, inline scripts and styles included; what the policy is
# for is keeping every load on this origin. ReDoc's side menu shows a Redocly logo from
# cdn.redoc.ly (unconditionally, in its bundle): the browser refuses it under `img-src` and
# ReDoc then leaves the logo out, so an offline machine's browser waits for nothing.
DOCS_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; "
    "connect-src 'self'; frame-ancestors 'none'"
)

router = APIRouter(include_in_schema=False)


def _urls(request: Request) -> tuple[str, str]:
    """The OpenAPI document's URL and the assets' prefix, under the app's root path."""
    root = request.scope.get("root_path", "").rstrip("/")
    return f"{root}{request.app.openapi_url}", f"{root}{DOCS_ASSETS_URL}"


def _offline(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = DOCS_CONTENT_SECURITY_POLICY
    return page


@router.get("/docs", response_class=HTMLResponse)
async def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI: the operations, their schemas and "Try it out"."""
    openapi_url, assets = _urls(request)
    return _offline(
        get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{request.app.title} - Swagger UI",
            swagger_js_url=f"{assets}/swagger-ui-bundle.js",
            swagger_css_url=f"{assets}/swagger-ui.css",
            swagger_favicon_url=f"{assets}/favicon.png",
            # The validator badge is an image from validator.swagger.io.
            swagger_ui_parameters={"validatorUrl": None},
        )
    )


@router.get("/redoc", response_class=HTMLResponse)
async def redoc(request: Request) -> HTMLResponse:
    """ReDoc: the same document as one long, readable page."""
    openapi_url, assets = _urls(request)
    return _offline(
        get_redoc_html(
            openapi_url=openapi_url,
            title=f"{request.app.title} - ReDoc",
            redoc_js_url=f"{assets}/redoc.standalone.js",
            redoc_favicon_url=f"{assets}/favicon.png",
            with_google_fonts=False,
        )
    )


def docs_assets() -> StaticFiles:
    """Swagger UI's and ReDoc's bundles, from the installed fastapi-offline package."""
    return StaticFiles(packages=[("fastapi_offline", "static")])
