"""`python -m app`: serve on LANDMARKS_HOST:LANDMARKS_PORT with uvicorn.

One process serves one copy of the model; scale with more processes or containers rather than
uvicorn workers, each of which would load its own model.

The HTTP parser is uvicorn's h11 implementation, not httptools (uvicorn's default when
installed): httptools puts no limit on the size of request headers, so one connection sending
headers without end grows the process by as much as it sends. h11 answers 400 once a request's
head passes `MAX_HEADER_BYTES` (about; uvicorn reads the socket in chunks).
"""

from __future__ import annotations

import uvicorn

from app.settings import get_settings

# h11's own default; nginx's default allows 4 header lines of 8 KiB each.
MAX_HEADER_BYTES = 16 * 1024


def main() -> None:
    """Runs the server until interrupted."""
    settings = get_settings()
    uvicorn.run(
        "app.main:app",
        host=settings.HOST,
        port=settings.PORT,
        log_level=settings.LOG_LEVEL.lower(),
        http="h11",
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
    )


if __name__ == "__main__":
    main()
