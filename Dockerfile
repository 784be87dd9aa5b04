# syntax=docker/dockerfile:1.7
#
# The landmark service: `python -m app`, one uvicorn process serving the bundled model on :8000.
#
#   docker build -t garment-landmarks:cpu .                              # CPU (default)
#   docker build --build-arg TF_EXTRA=gpu -t garment-landmarks:gpu .     # NVIDIA GPU
#
# Layers go from least to most often changed: the Python dependencies (hundreds of MB of
# TensorFlow) are installed from a requirements list derived from pyproject.toml before any
# code is copied, so editing app/ or the model rebuilds only the last small layers. Only `app/`
# and the bundled model go in: the training package and its extras (`train`, `dev`) never do.
# docs/CONTAINERS.md explains the compose set-up around this image.

# One pinned base for every stage. The GPU image uses the same base: the `gpu` extra
# (tensorflow[and-cuda]) brings CUDA and cuDNN as pip wheels, so the host needs only the NVIDIA
# driver and the NVIDIA Container Toolkit; no CUDA base image is required.
ARG PYTHON_IMAGE=python:3.11.16-slim-bookworm

# === Requirements: the runtime dependency list, read from pyproject.toml ===
FROM ${PYTHON_IMAGE} AS requirements

# `cpu` (tensorflow-cpu) or `gpu` (tensorflow[and-cuda]); both pinned to 2.21.* in pyproject.toml.
ARG TF_EXTRA=cpu
WORKDIR /build
COPY pyproject.toml ./
# The base dependencies plus exactly one TensorFlow extra. Writing them to a file keeps the
# install layer below cached when pyproject.toml changes elsewhere (tool settings, other
# extras): the file, and so the layer's cache key, stays the same.
RUN python - "${TF_EXTRA}" > requirements.txt <<'PY'
import sys
import tomllib

extra = sys.argv[1]
if extra not in ("cpu", "gpu"):
    sys.exit(f"TF_EXTRA must be cpu or gpu, not {extra!r}")
with open("pyproject.toml", "rb") as file:
    project = tomllib.load(file)["project"]
print("\n".join([*project["dependencies"], *project["optional-dependencies"][extra]]))
PY

# === Wheels: the dependencies PyPI has no binary wheel for, compiled here ===
# fpng-py (the overlay's PNG encoder, app/overlay.py) is published as source only; it needs a
# C++ compiler, which the runtime image should not carry. This stage is thrown away.
FROM ${PYTHON_IMAGE} AS wheels

ARG TF_EXTRA=cpu
WORKDIR /build
COPY --from=requirements /build/requirements.txt ./
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends g++ \
    && rm -rf /var/lib/apt/lists/* \
    && pip wheel --no-cache-dir --disable-pip-version-check --no-deps --wheel-dir /wheels \
        "$(grep -i '^fpng-py' requirements.txt)"

# === Runtime ===
FROM ${PYTHON_IMAGE} AS runtime

ARG TF_EXTRA=cpu
LABEL org.opencontainers.image.title="garment-landmarks" \
      org.opencontainers.image.description="Clothing-landmark detection HTTP service" \
      org.opencontainers.image.licenses="Apache-2.0" \
      garment-landmarks.tensorflow-extra="${TF_EXTRA}"

# No .pyc files at run time (the root filesystem is read-only under compose anyway) and logs
# straight to `docker logs`. NVIDIA_DRIVER_CAPABILITIES tells the NVIDIA runtime to mount the
# CUDA driver libraries when a GPU is attached (docker's `--gpus`/compose's device reservation
# leaves it unset, and the toolkit's fallback may be `utility` only); without a GPU it is inert.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility

# A fixed, unprivileged UID/GID, so bind-mounted model directories and Kubernetes
# `runAsUser` policies can name it. The account owns nothing in the image: code and model stay
# root-owned and read-only to the service.
RUN groupadd --system --gid 10001 landmarks \
    && useradd --system --uid 10001 --gid landmarks --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin landmarks

COPY --from=requirements /build/requirements.txt /tmp/requirements.txt
COPY --from=wheels /wheels /tmp/wheels
# Versions come from pyproject.toml: TensorFlow is pinned to 2.21.* by the extra. The wheels
# stage's builds are found first; everything else comes from the index as binary wheels.
RUN pip install --no-cache-dir --disable-pip-version-check --root-user-action=ignore \
        --find-links /tmp/wheels -r /tmp/requirements.txt \
    && rm -rf /tmp/requirements.txt /tmp/wheels

WORKDIR /opt/landmarks
# The service's settings (app/settings.py); every other LANDMARKS_* setting keeps its default
# unless set at run time. The model path is absolute so that a different working directory or a
# model mounted at /models (docker-compose.yml) cannot shadow the bundled one.
ENV LANDMARKS_MODEL_DIR=/opt/landmarks/models/garment_landmarks \
    LANDMARKS_HOST=0.0.0.0 \
    LANDMARKS_PORT=8000

# The model changes less often than the code, so it goes first.
COPY models/garment_landmarks/ models/garment_landmarks/
COPY app/ app/

USER 10001:10001
EXPOSE 8000

# Healthy = ready: /readyz answers 200 only once the model is loaded and warmed up. urllib
# raises on any non-2xx answer or connection error, so the check exits 1 then (Docker reserves
# other codes). The start period covers importing TensorFlow and the warm-up call.
HEALTHCHECK --interval=10s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('LANDMARKS_PORT', '8000') + '/readyz', timeout=4)"]

# One uvicorn process per container, listening on LANDMARKS_HOST:LANDMARKS_PORT; scale with
# replicas, not workers (each worker would load its own copy of the model).
CMD ["python", "-m", "app"]
