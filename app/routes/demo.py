"""GET /: the demo page, plain HTML, CSS and JavaScript from app/static (no build step).

The page and its assets need no API key: it asks for one when POST /landmarks answers 401.
None of it is in the OpenAPI document, which describes the API, not the page.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

# Next to the code, not the working directory: `python -m app` may run from anywhere.
STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
STATIC_URL = "/static"

# The page loads only its own files and talks only to this service; the overlay arrives as a
# data: URL. A browser enforcing this blocks anything else the page might try to load.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)

router = APIRouter(include_in_schema=False)


# HEAD too, for uptime checks that probe the front page.
@router.api_route("/", methods=["GET", "HEAD"], response_class=FileResponse)
async def demo_page() -> FileResponse:
    """The demo page."""
    return FileResponse(
        STATIC_DIR / "index.html",
        media_type="text/html",
        headers={"Content-Security-Policy": CONTENT_SECURITY_POLICY, "Cache-Control": "no-cache"},
    )


def static_files() -> StaticFiles:
    """The page's CSS and JavaScript, mounted at STATIC_URL."""
    return StaticFiles(directory=STATIC_DIR)
