"""Process-level set-up shared by the command lines: logging, seeding, torch threads, CPU features."""

from __future__ import annotations

import logging
import os
import random
from pathlib import Path

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


# CPU flags of native bfloat16 arithmetic (Intel Cooper Lake / Sapphire Rapids and later, AMD
# Zen 4 and later). Without them bf16 autocast is emulated and slower than float32.
NATIVE_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


def cpu_has_native_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether the CPU computes in bfloat16 natively (Linux's CPU flags; False where unknown)."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return False
    for line in text.splitlines():
        if line.startswith("flags"):
            return bool(NATIVE_BF16_FLAGS & set(line.partition(":")[2].split()))
    return False
