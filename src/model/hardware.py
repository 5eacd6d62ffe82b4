"""What this machine offers a process: the CPUs it may keep busy, native bfloat16 arithmetic.

Read from the operating system only (affinity mask, cgroup quota, `/proc/cpuinfo`): importing this
module loads nothing, so the API's settings and gunicorn's configuration can size the workers
without importing torch. `runtime.py` builds the torch set-up on top of it.
"""

from __future__ import annotations

import math
import os
from pathlib import Path


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
