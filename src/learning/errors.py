"""Why a round of `retrain` cannot run: its errors, and the check that this environment can fit models."""

from __future__ import annotations


class RetrainError(RuntimeError):
    """A round that cannot run: missing corpus, unreadable champion, schema not upgraded, …"""


class RetrainBusy(RetrainError):
    """Another round holds the lock."""


def fitting_unavailable() -> str | None:
    """Why this environment cannot fit models, or None: the API image serves without scikit-learn."""
    try:
        import sklearn  # noqa: F401
    except ImportError:
        return (
            "retrain fits models with scikit-learn, which this environment lacks: run it in the "
            "brandpulse-learning image (the Dockerfile's `learning` target; the compose `retrain` "
            "service) or install the `learning` extra (pip install 'brandpulse[api,learning]')"
        )
    return None
