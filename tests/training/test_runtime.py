"""Process set-up helpers: reading the CPU's bfloat16 support."""

from __future__ import annotations

from pathlib import Path

import pytest

from brandpulse.training.runtime import cpu_has_native_bf16

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
