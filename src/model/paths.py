"""Where the package's own files are: importing this module loads nothing (no torch).

The API's settings name the bundled checkpoint as their default model; they import it from here so
that reading the settings (gunicorn's configuration, a command line's `--help`) stays fast.
"""

from __future__ import annotations

from pathlib import Path

# The default model, committed with the code so a new install scores reviews with no network.
BUNDLED_CHECKPOINT = Path(__file__).resolve().parent / "bundled" / "review_stars.safetensors"
