#!/usr/bin/env bash
# Regenerate the pinned lock files the Docker images install (pip-tools: `pip install pip-tools`).
#
# torch is left out of every lock on purpose: the PyPI wheel of torch for Linux is the CUDA build
# and drags in several GB of nvidia-* packages. The Dockerfiles install torch==$TORCH_VERSION by
# itself from the index named by the TORCH_INDEX_URL build arg (the CPU wheel index by default,
# a CUDA one for the GPU variant), so one lock serves both. torch's small pure-Python dependencies
# (sympy, networkx, jinja2, ...) stay pinned here. tests/deploy/test_dockerfiles.py fails if a
# lock ever pins torch or a CUDA package.
set -euo pipefail
cd "$(dirname "$0")/.."
compile=(pip-compile --quiet --strip-extras --no-emit-index-url --no-emit-find-links --upgrade)

# The API and the training job import the model code, so they take the core dependencies too.
# The API's `learning` image target (retrain) adds scikit-learn to the API's dependencies.
"${compile[@]}" --extra api --unsafe-package torch --output-file requirements/api.txt pyproject.toml
"${compile[@]}" --extra api --extra learning --unsafe-package torch --output-file requirements/learning.txt pyproject.toml
"${compile[@]}" --extra training --unsafe-package torch --output-file requirements/training.txt pyproject.toml

# The web front end talks to the API over HTTP only: just the `web` extra, without torch or numpy.
python3 -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["web"]))' \
    | "${compile[@]}" --output-file requirements/web.txt -
