# syntax=docker/dockerfile:1
# BrandPulse's images, one target each, built from the repository root:
#   docker build --target api -t brandpulse-api .             # the REST API (gunicorn); the default target
#   docker build --target learning -t brandpulse-learning .   # the API plus what `retrain` fits models with
#   docker build --target training -t brandpulse-train .      # train, evaluate, predict, train-ngram
#   docker build --target web -t brandpulse-dash .            # the web page (gunicorn): no torch, no model
# docker-compose.yml names the same targets. GPU variant (torch's CUDA wheel; docs/deploy.md, "GPU
# variant"), as compose.gpu.yml: --build-arg TORCH_INDEX_URL=https://pypi.org/simple (torch's CUDA
# 13.0 build; or https://download.pytorch.org/whl/cu126 for older drivers).
#
# Each target `X` installs the lock requirements/X.txt and the package into a virtual environment
# (/opt/venv) in its build stage `X-venv` and copies only that environment onto `runtime`. What
# the images share is written once: `venv` (the empty environment), `code` (the files the package
# installs from), `runtime` (the non-root user, uid 10001) and `torch` (torch alone from
# TORCH_INDEX_URL, for every target but `web`). BuildKit builds only the stages a target needs;
# the classic builder builds every stage above it, hence `web` first and `api` last.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu

# ---------------------------------------------------------------- shared stages

FROM ${PYTHON_IMAGE} AS venv
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv

# The package (with the bundled model and brand list as package data), copied into each build
# stage after its dependencies, so editing the code reuses their layers.
FROM scratch AS code
COPY pyproject.toml README.md LICENSE /src/
COPY src /src/src

FROM ${PYTHON_IMAGE} AS runtime
RUN useradd --system --uid 10001 --user-group --create-home --home-dir /app brandpulse
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /app
USER brandpulse

# ---------------------------------------------------------------- web: the front end

# No `pip check`: the package declares torch as a core dependency, which the web image leaves out.
# Nothing at run time installs packages: pip stays out of every image (torch needs setuptools).
FROM venv AS web-venv
COPY requirements/web.txt /tmp/requirements.txt
RUN pip install -r /tmp/requirements.txt
COPY --from=code /src /src
RUN pip install --no-deps /src && pip uninstall --yes --quiet pip

# It talks to the API over HTTP only, so it has no torch and no model.
FROM runtime AS web
COPY --from=web-venv /opt/venv /opt/venv
ENV WEB_HOST=0.0.0.0 WEB_PORT=8050
EXPOSE 8050
# Slim images have no curl: ask /healthz with the standard library.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --start-interval=2s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('WEB_PORT', '8050'), timeout=4)"]
CMD ["gunicorn", "-c", "python:brandpulse.dash.gunicorn_conf", "brandpulse.dash.wsgi:server"]

# ---------------------------------------------------------------- torch: what training, api and learning share

# torch first (the largest layer, changed the least), alone from TORCH_INDEX_URL (the CPU wheel by
# default instead of PyPI's CUDA build); its own dependencies are pinned in the locks.
FROM venv AS torch
ARG TORCH_VERSION
ARG TORCH_INDEX_URL
RUN pip install --no-deps --index-url "${TORCH_INDEX_URL}" "torch==${TORCH_VERSION}"

# ---------------------------------------------------------------- training: the training job

# After the lock, torch once more from its index, with its dependencies: nothing new for the CPU
# wheel; the CUDA libraries (nvidia-*) for a GPU index, which no lock pins.
FROM torch AS training-venv
ARG TORCH_VERSION
ARG TORCH_INDEX_URL
COPY requirements/training.txt /tmp/requirements.txt
RUN pip install -r /tmp/requirements.txt && pip install --index-url "${TORCH_INDEX_URL}" "torch==${TORCH_VERSION}"
COPY --from=code /src /src
RUN pip install --no-deps /src && pip check && pip uninstall --yes --quiet pip

#   docker run --rm -v "$PWD/data:/app/data:ro" -v "$PWD/models:/app/models" brandpulse-train \
#       train --data data/movie_reviews.csv --out models/charcnn.safetensors
FROM runtime AS training
RUN mkdir -p /app/data /app/models /app/runs
COPY --from=training-venv /opt/venv /opt/venv
# A batch job, not a server: nothing to probe.
HEALTHCHECK NONE
CMD ["train", "--help"]

# ---------------------------------------------------------------- api and learning

# The API's environment, with pip still in it: the learning target adds to it.
FROM torch AS api-packages
ARG TORCH_VERSION
ARG TORCH_INDEX_URL
COPY requirements/api.txt /tmp/requirements.txt
RUN pip install -r /tmp/requirements.txt && pip install --index-url "${TORCH_INDEX_URL}" "torch==${TORCH_VERSION}"
COPY --from=code /src /src
RUN pip install --no-deps /src && pip check

# `retrain` fits models: the learning lock adds scikit-learn and SciPy (about 200 MB the API does
# not serve with) to the same environment.
FROM api-packages AS learning-venv
COPY requirements/learning.txt /tmp/learning.txt
RUN pip install -r /tmp/learning.txt && pip check && pip uninstall --yes --quiet pip

FROM api-packages AS api-venv
RUN pip uninstall --yes --quiet pip

# What the API and `retrain` share: the registry's checkpoints (MODEL_DIR; a volume mounted here
# starts with this owner) and the API's settings.
FROM runtime AS api-runtime
RUN mkdir -p /app/instance/models
ENV API_HOST=0.0.0.0 API_PORT=5000 DATA_DIR=/app/instance

FROM api-runtime AS learning
COPY --from=learning-venv /opt/venv /opt/venv
# A batch job (`retrain`, or `retrain --schedule`), not a server: nothing to probe.
HEALTHCHECK NONE
CMD ["retrain", "--help"]

# The default target (the last stage): the API server.
FROM api-runtime AS api
COPY --from=api-venv /opt/venv /opt/venv
EXPOSE 5000
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --start-interval=2s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('API_PORT', '5000'), timeout=4)"]
CMD ["gunicorn", "-c", "python:brandpulse.api.gunicorn_conf", "brandpulse.api.wsgi:app"]
