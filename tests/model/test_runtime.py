"""Process set-up helpers: the CPU's bfloat16 support, the CPUs a process may use."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from brandpulse.model.runtime import available_cpus, cgroup_cpu_quota, cpu_has_native_bf16

CPUINFO = """processor\t: 0
vendor_id\t: AuthenticAMD
flags\t\t: fpu vme sse2 avx2 {extra}
bugs\t\t: sysret_ss_attrs
"""


@pytest.mark.parametrize(
    ("extra", "native"),
    [("avx512f avx512_bf16", True), ("amx_bf16 amx_tile", True), ("avx512f avx512_vnni", False), ("", False)],
)
def test_native_bf16_is_read_from_the_cpu_flags(tmp_path, extra, native):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(CPUINFO.format(extra=extra))
    assert cpu_has_native_bf16(cpuinfo) is native


def test_unknown_cpus_are_treated_as_without_bf16(tmp_path):
    assert cpu_has_native_bf16(tmp_path / "missing") is False
    (tmp_path / "empty").write_text("")
    assert cpu_has_native_bf16(tmp_path / "empty") is False


def test_this_machine_agrees_with_its_own_flags():
    flags = Path("/proc/cpuinfo")
    if not flags.is_file():
        pytest.skip("no /proc/cpuinfo on this system")
    text = flags.read_text()
    assert cpu_has_native_bf16() is ("avx512_bf16" in text or "amx_bf16" in text)


@pytest.mark.parametrize(
    ("files", "quota"),
    [
        ({"cpu.max": "max 100000\n"}, None),  # cgroup v2, no limit
        ({"cpu.max": "150000 100000\n"}, 1.5),  # cgroup v2, 1.5 CPUs
        ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),  # v1, no limit
        ({"cpu/cpu.cfs_quota_us": "200000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 2.0),  # v1, 2 CPUs
        ({"cpu.max": "garbage"}, None),
        ({}, None),  # no cgroup file system at all
    ],
)
def test_cgroup_cpu_quota_is_read_from_v2_or_v1_files(tmp_path, files, quota):
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert cgroup_cpu_quota(tmp_path) == quota


def test_available_cpus_is_the_affinity_mask_capped_by_the_quota(tmp_path):
    affinity = len(os.sched_getaffinity(0))
    assert available_cpus(tmp_path) == affinity  # no quota
    (tmp_path / "cpu.max").write_text("50000 100000\n")  # half a CPU still gets one thread
    assert available_cpus(tmp_path) == 1
    (tmp_path / "cpu.max").write_text(f"{(affinity + 4) * 100000} 100000\n")  # quota above the mask
    assert available_cpus(tmp_path) == affinity
