#!/usr/bin/env bash
# Regenerate the pinned lock files the Docker images install (pip-tools: `pip install pip-tools`).
#
# torch is left out of every lock on purpose: the PyPI wheel of torch for Linux is the CUDA build
# and drags in several GB of nvidia-* packages. The Dockerfiles install torch==$TORCH_VERSION by
# itself from the index named by the TORCH_INDEX_URL build arg (the CPU wheel index by default,
# a CUDA one for the GPU variant), so one lock serves both. torch's small pure-Python dependencies
# (sympy, networkx, jinja2, ...) stay pinned here. tests/deploy/test_dockerfiles.py fails if a
# lock ever pins torch or a CUDA package.
#
# Every pin carries the sha256 of each of its PyPI files (--generate-hashes): `pip install -r` then
# runs in hash-checking mode and refuses a file whose hash is not in the lock, and every package
# it installs, dependencies included, must be pinned in the lock. Hence setuptools (which dash and
# torch need) is pinned too, never left to whatever the base image's venv holds; torch alone is
# installed by its own `pip install` from TORCH_INDEX_URL. `make audit` checks these pins against
# the published vulnerabilities (pip-audit).
#
# The locks are resolved against PyPI, plus torch's CPU wheel for its dependencies (PyPI's torch
# would add the CUDA packages): TORCH_FIND_LINKS, torch's CPU wheel index by default, or a folder
# that holds the wheel where that index is out of reach. A machine's own pip configuration (extra
# indexes, local wheel folders, constraints) is ignored: it would leak other files' hashes or caps
# into the locks.
set -euo pipefail
cd "$(dirname "$0")/.."
export PIP_CONFIG_FILE=/dev/null
unset PIP_FIND_LINKS PIP_EXTRA_INDEX_URL PIP_INDEX_URL PIP_CONSTRAINT PIP_NO_INDEX
torch_links=${TORCH_FIND_LINKS:-https://download.pytorch.org/whl/cpu/torch/}
export CUSTOM_COMPILE_COMMAND=requirements/compile.sh  # the header names this script, not a machine's paths
compile=(pip-compile --quiet --strip-extras --generate-hashes --no-emit-index-url --no-emit-find-links --upgrade)

# The API and the training job import the model code, so they take the core dependencies too.
# The API's `learning` image target (retrain) adds scikit-learn to the API's dependencies.
"${compile[@]}" --find-links "$torch_links" --extra api --unsafe-package torch --output-file requirements/api.txt pyproject.toml
"${compile[@]}" --find-links "$torch_links" --extra api --extra learning --unsafe-package torch --output-file requirements/learning.txt pyproject.toml
"${compile[@]}" --find-links "$torch_links" --extra training --unsafe-package torch --output-file requirements/training.txt pyproject.toml

# The web front end talks to the API over HTTP only: just the `web` extra, without torch or numpy.
# --allow-unsafe pins setuptools (dash requires it), which a hashed lock must name like any other.
python3 -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["web"]))' \
    | "${compile[@]}" --allow-unsafe --output-file requirements/web.txt -

# redis needs async-timeout on Python before 3.11.3 (Debian bookworm's 3.11.2, as in the stand-in
# base images of ../shared/tools/docker-local.sh). pip-compile resolves for the Python that runs it
# and leaves that pin out, so it is added here with its marker, hashed like the rest: without it
# `pip install --require-hashes` refuses the lock on such a Python.
for lock in requirements/api.txt requirements/learning.txt; do
    {
        printf '\n# redis needs it on Python < 3.11.3 (added by requirements/compile.sh)\n'
        echo 'async-timeout>=4.0.3' | "${compile[@]}" --no-header --no-annotate --output-file - - \
            | sed '1s/ \\$/ ; python_full_version < "3.11.3" \\/'
    } >> "$lock"
done
