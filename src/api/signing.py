"""The server's secret key, and the keys derived from it for each use.

`SECRET_KEY` signs the prediction tokens `/api/predict` hands out (a review sent back with one
is stored with the model's own figures, not the client's) and keys the client pseudonyms kept
after an address is erased (`pseudonyms.py`). Each use gets its own key, derived with HMAC from
the secret and the use's name, so no value of one use can be replayed as another.

With no SECRET_KEY a random key is generated at its first use and kept in
`<DATA_DIR>/secret_key` (mode 0600; created exclusively, so concurrent workers agree on one):
enough for one machine (`make run`). Several machines sharing a database (compose
replicas, Kubernetes) must share one SECRET_KEY, or each keys pseudonyms its own way.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import threading
import time
from functools import lru_cache
from pathlib import Path

from brandpulse.api.settings import Settings, current_settings

logger = logging.getLogger(__name__)

KEY_FILE = "secret_key"
GENERATED_KEY_BYTES = 32
KEY_READ_ATTEMPTS = 20
_lock = threading.Lock()
_generated: dict[Path, bytes] = {}


def _read_key(path: Path) -> bytes:
    """The key in `path`, waiting a moment for another process that is still writing it."""
    for _ in range(KEY_READ_ATTEMPTS):
        key = path.read_text(encoding="ascii").strip().encode("ascii")
        if len(key) >= GENERATED_KEY_BYTES:
            break
        time.sleep(0.05)
    return key


def _key_file_secret(data_dir: Path) -> bytes:
    """The key kept in `data_dir`, created (0600) the first time it is asked for."""
    path = (data_dir / KEY_FILE).resolve()
    with _lock:
        if path in _generated:
            return _generated[path]
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            key = _read_key(path)
        else:
            key = secrets.token_hex(GENERATED_KEY_BYTES).encode("ascii")
            with os.fdopen(fd, "w", encoding="ascii") as file:
                file.write(key.decode("ascii") + "\n")
            logger.warning(
                "no SECRET_KEY: generated one in %s (set SECRET_KEY where machines share a database)", path
            )
        if len(key) < GENERATED_KEY_BYTES:
            raise RuntimeError(f"{path} holds no usable key: delete it to have a new one generated")
        _generated[path] = key
        return key


def secret_key(settings: Settings | None = None) -> bytes:
    """The server's secret: SECRET_KEY, else the generated key of DATA_DIR."""
    settings = settings or current_settings()
    if settings.secret_key:
        return settings.secret_key.encode("utf-8")
    return _key_file_secret(settings.data_dir)


def derived_key(purpose: str, settings: Settings | None = None) -> bytes:
    """The key of one use of the secret (e.g. "prediction-token", "client-pseudonym")."""
    return _derive(secret_key(settings), purpose)


@lru_cache(maxsize=32)
def _derive(secret: bytes, purpose: str) -> bytes:
    return hmac.new(secret, b"brandpulse:" + purpose.encode("utf-8"), hashlib.sha256).digest()
