"""Process-level set-up shared by the command lines: logging, seeding, torch threads, CPU features."""

from __future__ import annotations

import logging
import math
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
    """Let PyTorch use `threads` compute threads (default: every available CPU); return the number."""
    count = threads or available_cpus()
    torch.set_num_threads(count)
    return count


def available_cpus(cgroup: Path = Path("/sys/fs/cgroup")) -> int:
    """The CPUs this process can keep busy: its affinity mask, capped by a container's CPU quota.

    `os.cpu_count()` counts the host's cores: a container limited to 2 CPUs on a 64-core host
    would start 64 threads. The quota is the container's cgroup `cpu.max` (v2) or
    `cpu.cfs_quota_us` / `cpu.cfs_period_us` (v1), rounded down, at least 1.
    """
    try:
        count = len(os.sched_getaffinity(0))
    except AttributeError:  # no affinity masks on this platform
        count = os.cpu_count() or 1
    quota = cgroup_cpu_quota(cgroup)
    if quota is not None:
        count = min(count, math.floor(quota))
    return max(1, count)


def cgroup_cpu_quota(cgroup: Path = Path("/sys/fs/cgroup")) -> float | None:
    """CPUs' worth of time the cgroup may use per period, or None without a limit (or cgroups)."""
    try:
        quota, _, period = (cgroup / "cpu.max").read_text().partition(" ")  # v2: "max 100000"
        if quota.strip() == "max":
            return None
        return int(quota) / int(period)
    except (OSError, ValueError, ZeroDivisionError):
        pass
    try:
        quota_us = int((cgroup / "cpu" / "cpu.cfs_quota_us").read_text())  # v1: -1 when unlimited
        period_us = int((cgroup / "cpu" / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return quota_us / period_us if quota_us > 0 and period_us > 0 else None


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


def bf16_is_fast(device: str) -> bool:
    """Whether bfloat16 autocast speeds work up on `device` ("cpu" or "cuda"): native bf16 only."""
    if device.startswith("cuda"):
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    return cpu_has_native_bf16()
