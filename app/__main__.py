"""`python -m app`: serve on LANDMARKS_HOST:LANDMARKS_PORT with uvicorn.

One process serves one copy of the model; scale with more processes or containers rather than
uvicorn workers, each of which would load its own model.
"""

from __future__ import annotations

import uvicorn

from app.settings import get_settings


def main() -> None:
    """Runs the server until interrupted."""
    settings = get_settings()
    uvicorn.run(
        "app.main:app",
        host=settings.HOST,
        port=settings.PORT,
        log_level=settings.LOG_LEVEL.lower(),
    )


if __name__ == "__main__":
    main()
