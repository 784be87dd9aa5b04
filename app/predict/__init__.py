"""`python -m app.predict`: landmarks for image files on disk, without a server (or with one).

    inputs (folders, globs, files) -> find_images -> one task per file, at most `window` in
    flight -> LocalAnswerer (the service's own pipeline and batcher) or RemoteAnswerer (POST
    /landmarks on a running server) -> the API's response body -> JSON line or CSV row, in input
    order, plus the overlay file when asked for

Local mode builds the model runtime, micro-batcher, CPU pool and pipeline with
`app.service.start_service` from the same `Settings` (LANDMARKS_* environment variables) as the
server, and turns each answer into the body with `LandmarkResponse.from_analysis`, the route's
own conversion: a line is what POST /landmarks returns for that file with the same query options
(`overlay=false` unless --embed-overlay), plus the file's path in `file`. Bad files are reported
on stderr with the API's own messages and skipped.

Exit status: 0 all files answered, 1 some file failed, 2 usage error (bad options, no files
matched, unusable model directory, unreachable server or a key it refuses), 130 interrupted.
"""

from app.predict.cli import main
from app.predict.errors import UsageError
from app.predict.files import find_images, overlay_paths

__all__ = ["UsageError", "find_images", "main", "overlay_paths"]
