"""Process-level set-up shared by the command lines: logging, seeding, torch threads."""

from __future__ import annotations

import logging
import os
import random

import numpy as np
import torch


def configure_logging(level: str | int = "INFO") -> None:
    """Configure the root logger once, for a command-line entry point."""
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and PyTorch so a run can be repeated."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def use_threads(threads: int | None) -> int:
    """Let PyTorch use `threads` compute threads (default: every core); return the number."""
    count = threads or os.cpu_count() or 1
    torch.set_num_threads(count)
    return count
