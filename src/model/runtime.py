"""Process-level set-up shared by the command lines: logging, seeding, torch threads, CPU features.

The CPU facts themselves (`available_cpus`, `cpu_has_native_bf16`) live in the torch-free
`hardware.py` and are re-exported here.
"""

from __future__ import annotations

import logging
import random

import numpy as np
import torch

from brandpulse.model.hardware import NATIVE_BF16_FLAGS as NATIVE_BF16_FLAGS
from brandpulse.model.hardware import available_cpus as available_cpus
from brandpulse.model.hardware import cgroup_cpu_quota as cgroup_cpu_quota
from brandpulse.model.hardware import cpu_has_native_bf16 as cpu_has_native_bf16


def configure_logging(level: str | int = "INFO") -> None:
    """Configure the root logger once, for a command-line entry point."""
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and PyTorch so a run can be repeated."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def use_threads(threads: int | None) -> int:
    """Let PyTorch use `threads` compute threads (default: every available CPU); return the number."""
    count = threads or available_cpus()
    torch.set_num_threads(count)
    return count


def bf16_is_fast(device: str) -> bool:
    """Whether bfloat16 autocast speeds work up on `device` ("cpu" or "cuda"): native bf16 only."""
    if device.startswith("cuda"):
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    return cpu_has_native_bf16()
