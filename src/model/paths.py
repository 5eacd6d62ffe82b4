"""Where the package's own files are, and how a file is identified: importing this loads nothing.

The API's settings name the bundled checkpoint as their default model; they import it from here so
that reading the settings (gunicorn's configuration, a command line's `--help`) stays fast.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

# The default model, committed with the code so a new install scores reviews with no network.
BUNDLED_CHECKPOINT = Path(__file__).resolve().parent / "bundled" / "review_stars.safetensors"


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes (checkpoints, data files)."""
    with Path(path).open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
