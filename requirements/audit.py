"""Audit the lock files against the published vulnerabilities of their pins (pip-audit): `make audit`.

    python requirements/audit.py requirements/api.txt requirements/web.txt ...

Each lock is read as it is (`--disable-pip --require-hashes`: every pin hashed, nothing resolved or
installed) and its pins looked up in the vulnerability source, PyPI's by default
(AUDIT_SERVICE=osv for OSV's). Exit status:

- 1 when a pin has a known vulnerability (each is printed with the versions that fix it), or when
  pip-audit fails for any other reason than an unreachable source (a lock it cannot read, say);
- 0 when every pin was audited and none has a known vulnerability;
- 0, saying so plainly ("dependency audit skipped: <source> unreachable"), when the source cannot
  be reached: no connection, or PyPI's answers not found for every pin (a mirror or proxy that
  serves the index but not the per-release JSON the audit reads, as on the team's build machines).
  AUDIT_REQUIRE_SOURCE=1 makes that a failure too (exit 2), where the source must be reachable.

A lock some of whose pins could not be looked up is audited for the others and the rest named.
PIP_AUDIT overrides the pip-audit command (the tests use a stand-in).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TextIO

SOURCES = {
    "pypi": "PyPI's vulnerability feed (pypi.org/pypi/<name>/<version>/json)",
    "osv": "OSV (api.osv.dev)",
}
# What pip-audit (requests, urllib3) says when it cannot reach its source.
UNREACHABLE = (
    "ConnectionError",
    "NameResolutionError",
    "Max retries exceeded",
    "Could not connect",
    "Failed to resolve",
    "Temporary failure in name resolution",
    "Connection refused",
    "ConnectTimeout",
    "ReadTimeout",
    "timed out",
    "SSLError",
    "ProxyError",
)


class Unreachable(Exception):
    """The vulnerability source could not be asked."""


class AuditFailed(Exception):
    """pip-audit failed for another reason than an unreachable source."""


def pip_audit_command() -> list[str]:
    override = os.environ.get("PIP_AUDIT")
    return shlex.split(override) if override else [sys.executable, "-m", "pip_audit"]


def audit(lock: Path, service: str) -> list[dict]:
    """The dependencies pip-audit reports for `lock`: each with `vulns`, or with a `skip_reason`."""
    with tempfile.TemporaryDirectory() as folder:
        output = Path(folder) / "audit.json"
        command = [
            *pip_audit_command(),
            "--disable-pip",
            "--require-hashes",
            "--requirement",
            str(lock),
            "--vulnerability-service",
            service,
            "--format",
            "json",
            "--output",
            str(output),
            "--progress-spinner",
            "off",
        ]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        messages = (done.stderr + done.stdout).strip()
        if not output.is_file():  # no report: pip-audit stopped before it had one
            if any(sign in messages for sign in UNREACHABLE):
                raise Unreachable(_last_line(messages))
            raise AuditFailed(f"pip-audit exited with status {done.returncode}:\n{messages}")
        try:
            report = json.loads(output.read_text() or "{}")
            return list(report["dependencies"])
        except (ValueError, KeyError, TypeError) as error:
            raise AuditFailed(
                f"pip-audit wrote no report that could be read ({error}):\n{messages}"
            ) from None


def _say(text: str, stream: TextIO | None = None) -> None:
    stream = sys.stdout if stream is None else stream
    stream.write(text + "\n")
    stream.flush()


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no answer"


def main(argv: list[str] | None = None) -> int:
    locks = [Path(arg) for arg in (sys.argv[1:] if argv is None else argv)]
    if not locks:
        _say("usage: audit.py LOCK [LOCK ...]", sys.stderr)
        return 2
    service = os.environ.get("AUDIT_SERVICE", "pypi")
    source = SOURCES.get(service, service)
    strict = os.environ.get("AUDIT_REQUIRE_SOURCE", "") not in ("", "0")
    vulnerable = 0
    for lock in locks:
        try:
            dependencies = audit(lock, service)
        except Unreachable as error:
            _say(f"dependency audit skipped: {source} unreachable ({error})")
            return 2 if strict else 0
        except AuditFailed as error:
            _say(f"dependency audit of {lock} failed: {error}", sys.stderr)
            return 1
        skipped = [dep for dep in dependencies if dep.get("skip_reason")]
        audited = [dep for dep in dependencies if not dep.get("skip_reason")]
        if dependencies and not audited:
            _say(
                f"dependency audit skipped: {source} unreachable (no release of the {len(skipped)} "
                f"pins of {lock} was found there: {skipped[0]['skip_reason']})"
            )
            return 2 if strict else 0
        found = [(dep, vuln) for dep in audited for vuln in dep.get("vulns") or []]
        for dep, vuln in found:
            fixes = ", ".join(vuln.get("fix_versions") or []) or "none yet"
            aliases = ", ".join(vuln.get("aliases") or [])
            _say(
                f"{lock}: {dep['name']}=={dep.get('version')} has {vuln.get('id')}"
                + (f" ({aliases})" if aliases else "")
                + f"; fixed in: {fixes}"
            )
        vulnerable += len(found)
        summary = f"{len(audited)} pins audited against {source}, {len(found)} known vulnerabilities"
        if skipped:
            names = ", ".join(f"{dep['name']}" for dep in skipped)
            summary += f"; {len(skipped)} not found there and not audited: {names}"
        _say(f"dependency audit of {lock}: {summary}")
    if vulnerable:
        _say(
            f"dependency audit failed: {vulnerable} known vulnerabilities; raise the pins "
            "(requirements/compile.sh) or the floors in pyproject.toml",
            sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
