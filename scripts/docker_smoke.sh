#!/usr/bin/env bash
# Container smoke test; needs a running Docker engine with the compose plugin (2.24 or newer).
#
#   scripts/docker_smoke.sh          # the CPU image (docker-compose.yml)
#   scripts/docker_smoke.sh --gpu    # the GPU image (plus docker-compose.gpu.yml; needs a GPU)
#
# Builds the image, starts the service under its own compose project on a free loopback port,
# waits until the healthcheck reports healthy, posts a PNG to /landmarks and checks that six
# landmarks come back, checks the container's user, read-only root, writable /tmp and that no
# training code is inside, then tears everything down (the built image is kept, as a cache).
# A .env file, if present, applies as it would to `docker compose up`.
#
# Exit status: 0 passed, 1 a check failed, 2 no Docker engine or compose plugin.
# Environment: SMOKE_WAIT_S (default 300) bounds the wait for a healthy container; PYTHON
# (default python3) runs the HTTP client, which uses only the standard library.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
WAIT_S="${SMOKE_WAIT_S:-300}"
files=(-f docker-compose.yml)
variant=cpu
case "${1:-}" in
    "") ;;
    --gpu) files+=(-f docker-compose.gpu.yml); variant=gpu ;;
    *) echo "usage: $0 [--gpu]" >&2; exit 2 ;;
esac

if ! docker info >/dev/null 2>&1; then
    echo "docker_smoke: no Docker engine (docker info failed)" >&2
    exit 2
fi
if ! docker compose version >/dev/null 2>&1; then
    echo "docker_smoke: the docker compose plugin is not installed" >&2
    exit 2
fi
if ! compgen -G "models/garment_landmarks/*/saved_model.pb" >/dev/null; then
    echo "docker_smoke: no bundled model in models/garment_landmarks/<version>/;" \
        "the image cannot be built without it" >&2
    exit 1
fi

project="landmarks-smoke-$$"
compose() { docker compose -p "$project" "${files[@]}" "$@"; }
fail() {
    echo "docker_smoke: FAILED: $*" >&2
    compose logs --no-color --tail 100 landmarks >&2 || true
    exit 1
}
cleanup() { compose down --volumes --remove-orphans >/dev/null 2>&1 || true; }
trap cleanup EXIT

# A free port on the loopback interface, so that a service already on 8000 does not clash.
port=$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
export PUBLISHED_PORT="127.0.0.1:${port}"
# The key, if .env (or this shell) sets one, so that /landmarks answers.
api_key="${LANDMARKS_API_KEY:-}"
if [[ -z "$api_key" && -f .env ]]; then
    api_key=$(sed -n 's/^LANDMARKS_API_KEY=//p' .env | tail -n 1)
fi

echo "== building the $variant image"
compose build landmarks
echo "== starting $project on 127.0.0.1:$port; waiting up to ${WAIT_S}s for healthy"
compose up --detach --wait --wait-timeout "$WAIT_S" landmarks || fail "not healthy in ${WAIT_S}s"

container=$(compose ps --quiet landmarks) || fail "no container"
health=$(docker inspect --format '{{.State.Health.Status}}' "$container") || fail "no health status"
[[ "$health" == healthy ]] || fail "health status is '$health'"

echo "== POST /landmarks"
export SMOKE_URL="http://127.0.0.1:${port}" SMOKE_API_KEY="$api_key"
"$PYTHON" - <<'PY' || fail "/landmarks did not answer with six landmarks"
import json
import os
import struct
import sys
import urllib.request
import zlib

# A 64 x 48 RGB PNG built with the standard library (the host may not have Pillow).
width, height = 64, 48
rows = b"".join(
    b"\x00" + bytes(value for x in range(width) for value in (x * 4, y * 5, (x + y) % 256))
    for y in range(height)
)


def chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


png = (
    b"\x89PNG\r\n\x1a\n"
    + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    + chunk(b"IDAT", zlib.compress(rows))
    + chunk(b"IEND", b"")
)
headers = {"Content-Type": "image/png"}
if os.environ["SMOKE_API_KEY"]:
    headers["X-API-Key"] = os.environ["SMOKE_API_KEY"]
request = urllib.request.Request(
    os.environ["SMOKE_URL"] + "/landmarks?overlay=false", data=png, headers=headers
)
with urllib.request.urlopen(request, timeout=60) as response:
    body = json.load(response)
ids = [landmark["id"] for landmark in body["landmarks"]]
print(f"model {body['model']}, landmark ids {ids}")
sys.exit(0 if ids == [1, 2, 3, 4, 5, 6] else 1)
PY

echo "== inside the container"
uid=$(compose exec -T landmarks id -u) || fail "cannot run commands in the container"
[[ "$uid" == 10001 ]] || fail "runs as uid $uid, expected 10001"
if compose exec -T landmarks sh -c 'touch /opt/landmarks/probe' 2>/dev/null; then
    fail "the root filesystem is writable"
fi
compose exec -T landmarks sh -c 'touch /tmp/probe && rm /tmp/probe' \
    || fail "/tmp is not writable"
if compose exec -T landmarks python -c 'import training' 2>/dev/null; then
    fail "the training package is in the image"
fi
if compose exec -T landmarks python -c 'import matplotlib' 2>/dev/null; then
    fail "the train extra (matplotlib) is in the image"
fi
if [[ "$variant" == gpu ]]; then
    compose exec -T landmarks python -c \
        'import tensorflow as tf, sys; sys.exit(0 if tf.config.list_physical_devices("GPU") else 1)' \
        || fail "TensorFlow sees no GPU in the GPU image"
fi

echo "docker_smoke: passed ($variant image)"
