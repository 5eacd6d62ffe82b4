"""The Dockerfile: one file, a target per image; slim, non-root, cached dependency layers, and every
file it needs copied."""

from __future__ import annotations

import fnmatch
import re
import subprocess
import sys
import tomllib
import zipfile

import pytest

from tests.conftest import REPO_ROOT
from tests.deploy.conftest import COMPOSE_FILE, TARGETS, build_steps, instructions, load_yaml, stage, stages

# Each target installs its own lock (`learning`, retrain's image, installs the API's, then its own).
LOCKS = {
    "api": ["api.txt"],
    "learning": ["api.txt", "learning.txt"],
    "web": ["web.txt"],
    "training": ["training.txt"],
}
EXTRAS = {"api": ["api"], "learning": ["api", "learning"], "web": ["web"], "training": ["training"]}
WITH_TORCH = {"api", "learning", "training"}
SERVERS = {"api": "api", "web": "dash"}  # target -> its compose service
# What fits models but does not serve them: left out of the API image (about 200 MB).
FITTING_ONLY = {"scikit-learn", "scipy", "joblib", "threadpoolctl"}
PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
TORCH_INSTALL = 'pip install --no-deps --index-url "${TORCH_INDEX_URL}" "torch==${TORCH_VERSION}"'


def _dockerignore() -> list[str]:
    lines = (REPO_ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith(("#", "!"))]


def _ignored(path: str, patterns: list[str]) -> bool:
    parts = path.strip("/").split("/")
    prefixes = ["/".join(parts[: index + 1]) for index in range(len(parts))]
    return any(
        fnmatch.fnmatch(prefix, pattern.removeprefix("**/")) or fnmatch.fnmatch(prefix, pattern)
        for prefix in prefixes
        for pattern in patterns
    )


def _lock_names(lock: str) -> dict[str, str]:
    text = (REPO_ROOT / "requirements" / lock).read_text()
    pins = re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", text, re.MULTILINE)
    return {name.lower().replace("_", "-"): version for name, version in pins}


def _name(requirement: str) -> str:
    return re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _context_copies(steps: list[tuple[str, object]]) -> list[str]:
    """The arguments of the COPY instructions that take files from the build context."""
    return [str(args) for name, args in steps if name == "COPY" and "--from=" not in str(args)]


def test_one_dockerfile_whose_targets_are_the_images_and_api_is_the_default():
    names = list(stages())
    assert set(TARGETS) <= set(names)
    assert names[-1] == "api", "a plain `docker build .` builds the API"
    assert len(names) == len(set(names)), "stage names are unique"
    # Nothing else builds this project's code: the former per-package Dockerfiles are gone.
    assert not list((REPO_ROOT / "src").rglob("Dockerfile*"))


def test_copied_files_exist_and_reach_the_build_context():
    ignored = _dockerignore()
    copies = _context_copies(instructions())
    assert copies
    for args in copies:
        *sources, _destination = args.split()
        for source in sources:
            assert (REPO_ROOT / source).exists(), f"COPY {source}: no such file"
            assert not _ignored(source, ignored), f"COPY {source} is excluded by .dockerignore"


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_every_target_installs_the_package_from_its_metadata_files(target):
    # pyproject's metadata names the readme and the package directory: both must be there.
    sources = {source for args in _context_copies(build_steps(target)) for source in args.split()[:-1]}
    assert {"pyproject.toml", PYPROJECT["project"]["readme"], "src"} <= sources
    runs = " ".join(str(args) for name, args in build_steps(target) if name == "RUN")
    assert "pip install --no-deps /src" in runs, "the package itself adds no unpinned dependency"


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_slim_multistage_non_root(target):
    bases = [
        str(args) for name, args in instructions() if name == "ARG" and str(args).startswith("PYTHON_IMAGE=")
    ]
    assert bases and "-slim" in bases[0]
    final = stage(target)
    assert final[0] == ("FROM", "${PYTHON_IMAGE}") or str(final[0][1]).startswith("${PYTHON_IMAGE} ")
    assert not any(name == "RUN" and "pip install" in str(args) for name, args in final), "built elsewhere"
    users = [str(args) for name, args in final if name == "USER"]
    assert users and users[-1] not in ("root", "0")
    (useradd,) = [str(args) for name, args in final if name == "RUN" and "useradd" in str(args)]
    assert "--uid 10001" in useradd and useradd.split()[-1] == users[-1]
    # The environment comes from a build stage without pip: nothing at run time installs packages.
    (venv,) = [str(args) for name, args in final if name == "COPY" and "/opt/venv" in str(args)]
    assert venv == f"--from={target}-venv /opt/venv /opt/venv"
    runs = [str(args) for name, args in build_steps(f"{target}-venv") if name == "RUN"]
    assert "pip uninstall --yes --quiet pip" in runs[-1], f"{target}: {runs[-1]}"


def test_the_learning_target_adds_fitting_to_the_api_and_probes_nothing():
    learning = stage("learning")
    assert [str(args) for name, args in learning if name == "USER"][-1] == "brandpulse"
    assert ("HEALTHCHECK", "NONE") in learning
    assert FITTING_ONLY & set(_lock_names("learning.txt")) == FITTING_ONLY
    assert not FITTING_ONLY & set(_lock_names("api.txt")), "the API image serves without scikit-learn"
    # The same settings and registry folder as the API's image.
    api_env = [(name, args) for name, args in stage("api") if name in ("ENV", "WORKDIR", "RUN")]
    assert api_env == [(name, args) for name, args in learning if name in ("ENV", "WORKDIR", "RUN")]


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_each_target_installs_its_own_locks_only(target):
    locks = [
        args.split()[0].removeprefix("requirements/")
        for args in _context_copies(build_steps(target))
        if args.startswith("requirements/")
    ]
    assert locks == LOCKS[target]


@pytest.mark.parametrize("target", ["api", "training", "web"])
def test_dependencies_are_installed_before_the_code_is_copied(target):
    copies = _context_copies(build_steps(target))
    (lock_index,) = [
        index for index, args in enumerate(copies) if args.startswith(f"requirements/{target}.txt")
    ]
    (code_index,) = [index for index, args in enumerate(copies) if args.startswith("src ")]
    assert lock_index < code_index


@pytest.mark.parametrize("lock", sorted({lock for locks in LOCKS.values() for lock in locks}))
def test_locks_pin_every_dependency_and_never_torch_or_cuda(lock):
    target = lock.removesuffix(".txt")
    pins = _lock_names(lock)
    assert not {name for name in pins if name == "torch" or name.startswith(("nvidia-", "triton"))}
    needed = [
        requirement
        for extra in EXTRAS[target]
        for requirement in PYPROJECT["project"]["optional-dependencies"][extra]
    ]
    if target in WITH_TORCH:
        needed += PYPROJECT["project"]["dependencies"]
    missing = {_name(req) for req in needed if not req.startswith("brandpulse")} - set(pins) - {"torch"}
    assert not missing, f"requirements/{lock} is stale, run requirements/compile.sh: {missing}"


ALL_LOCKS = sorted({lock for locks in LOCKS.values() for lock in locks})
# A pin may carry an environment marker (async-timeout, which redis needs on Python < 3.11.3).
HASHED_PIN = re.compile(r"[a-z0-9][a-z0-9._-]*==[^\s\\;]+(?: ; [^;\\]+?)?(?: --hash=sha256:[0-9a-f]{64})+")


def _lock_requirements(lock: str) -> list[str]:
    """The lock's requirement lines, each with its continuation lines joined."""
    lines = (REPO_ROOT / "requirements" / lock).read_text().splitlines()
    joined, current = [], ""
    for line in lines:
        stripped = line.split(" #", 1)[0].strip() if not line.lstrip().startswith("#") else ""
        if not stripped:
            continue
        piece = stripped.removesuffix("\\").strip()
        current = f"{current} {piece}".strip()
        if not stripped.endswith("\\"):
            joined.append(current)
            current = ""
    assert not current, f"{lock} ends inside a requirement"
    return joined


@pytest.mark.parametrize("lock", ALL_LOCKS)
def test_every_pin_of_the_locks_carries_its_hashes(lock):
    """pip installs a hashed lock in hash-checking mode: every file checked, every package pinned."""
    requirements = _lock_requirements(lock)
    assert len(requirements) == len(_lock_names(lock)) > 10
    for requirement in requirements:
        assert HASHED_PIN.fullmatch(requirement), (
            f"requirements/{lock}: not pinned with hashes: {requirement}"
        )


@pytest.mark.parametrize("lock", ["api.txt", "learning.txt"])
def test_locks_with_redis_install_on_python_before_3_11_3(lock):
    """redis needs async-timeout on Python < 3.11.3 (Debian bookworm's 3.11.2); pip-compile on a
    newer Python leaves it out, so compile.sh adds it with its marker and hashes."""
    requirements = _lock_requirements(lock)
    assert any(req.startswith("redis==") for req in requirements)
    [pin] = [req for req in requirements if req.startswith("async-timeout==")]
    assert '; python_full_version < "3.11.3" --hash=sha256:' in pin


@pytest.mark.parametrize("lock", ALL_LOCKS)
def test_only_torch_is_left_out_of_a_hashed_lock(lock):
    """What a hashed lock leaves unpinned must be installed by a `pip install` of its own: torch."""
    text = (REPO_ROOT / "requirements" / lock).read_text()
    _, _, tail = text.partition("# The following packages are considered to be unsafe")
    left_out = {line.removeprefix("# ").strip() for line in tail.splitlines()[1:] if line.startswith("# ")}
    assert left_out <= {"torch"}, f"requirements/{lock} leaves {left_out} unpinned"
    assert "setuptools" in _lock_names(lock), "setuptools (torch, dash need it) is pinned and hashed"
    assert "--find-links" not in text and "/opt/" not in text, "a machine's paths leaked into the lock"


# ---------------------------------------------------------------- the locks' dependency audit

AUDIT = REPO_ROOT / "requirements" / "audit.py"
FAKE_PIP_AUDIT = """
import json, os, sys
args = sys.argv[1:]
assert "--disable-pip" in args and "--require-hashes" in args, args
output = args[args.index("--output") + 1]
mode = os.environ["FAKE_AUDIT"]
if mode == "offline":
    sys.exit("requests.exceptions.ConnectionError: HTTPSConnectionPool(host='api.osv.dev', port=443): "
             "Max retries exceeded with url: /v1/query (Caused by NameResolutionError(...))")
if mode == "broken":
    sys.exit("pip_audit: error: requirement file could not be parsed")
vulns = [{"id": "GHSA-xxxx-yyyy-zzzz", "fix_versions": ["3.1.4"], "aliases": ["CVE-2099-0001"]}]
dependencies = {
    "clean": [{"name": "flask", "version": "3.1.3", "vulns": []}],
    "vulnerable": [{"name": "flask", "version": "3.1.3", "vulns": vulns},
                   {"name": "click", "version": "8.5.1", "vulns": []}],
    "not-served": [{"name": "flask", "skip_reason": "Dependency not found on PyPI and could not be audited"}],
}[mode]
with open(output, "w") as handle:
    json.dump({"dependencies": dependencies, "fixes": []}, handle)
sys.exit(1 if mode == "vulnerable" else 0)
"""


def _audit(tmp_path, mode: str, **env: str) -> subprocess.CompletedProcess[str]:
    fake = tmp_path / "fake_pip_audit.py"
    fake.write_text(FAKE_PIP_AUDIT)
    environment = {
        "PATH": "/usr/bin:/bin",
        "PIP_AUDIT": f"{sys.executable} {fake}",
        "FAKE_AUDIT": mode,
        **env,
    }
    return subprocess.run(
        [sys.executable, str(AUDIT), str(REPO_ROOT / "requirements" / "web.txt")],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
    )


def test_the_audit_fails_on_a_known_vulnerability(tmp_path):
    done = _audit(tmp_path, "vulnerable")
    assert done.returncode == 1
    assert "flask==3.1.3 has GHSA-xxxx-yyyy-zzzz (CVE-2099-0001); fixed in: 3.1.4" in done.stdout
    assert "dependency audit failed: 1 known vulnerabilities" in done.stderr


def test_the_audit_passes_a_clean_lock(tmp_path):
    done = _audit(tmp_path, "clean")
    assert done.returncode == 0, done.stderr
    assert "1 pins audited" in done.stdout and "0 known vulnerabilities" in done.stdout


@pytest.mark.parametrize(("mode", "source"), [("offline", "OSV (api.osv.dev)"), ("not-served", "PyPI")])
def test_an_unreachable_source_is_said_plainly_and_fails_only_where_required(tmp_path, mode, source):
    service = "osv" if mode == "offline" else "pypi"
    done = _audit(tmp_path, mode, AUDIT_SERVICE=service)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"dependency audit skipped: {source}")
    assert "unreachable" in done.stdout.splitlines()[0]
    assert _audit(tmp_path, mode, AUDIT_SERVICE=service, AUDIT_REQUIRE_SOURCE="1").returncode == 2


def test_any_other_audit_failure_fails(tmp_path):
    done = _audit(tmp_path, "broken")
    assert done.returncode == 1
    assert "could not be parsed" in done.stderr


def test_make_audit_audits_every_lock_and_ci_runs_it():
    makefile = (REPO_ROOT / "Makefile").read_text()
    (recipe,) = re.findall(r"^audit:.*\n\t(.+)$", makefile, re.MULTILINE)
    assert recipe == "$(PY) requirements/audit.py $(LOCKS)"
    (locks,) = re.findall(r"^LOCKS := (.+)$", makefile, re.MULTILINE)
    assert locks.split() == [f"requirements/{lock}" for lock in ALL_LOCKS]
    ci = (REPO_ROOT / ".ci" / "run").read_text().splitlines()
    assert ci.index("make audit") < ci.index("make test")
    assert any(_name(req) == "pip-audit" for req in PYPROJECT["project"]["optional-dependencies"]["dev"])


def test_torch_comes_from_the_cpu_index_at_the_project_pin():
    defaults = dict(
        str(args).split("=", 1) for name, args in instructions() if name == "ARG" and "=" in str(args)
    )
    (pin,) = [req for req in PYPROJECT["project"]["dependencies"] if _name(req) == "torch"]
    assert defaults["TORCH_VERSION"] == pin.split("==")[1]
    assert defaults["TORCH_INDEX_URL"].endswith("/whl/cpu")


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_torch_is_installed_alone_first_and_only_where_the_model_runs(target):
    runs = [str(args) for name, args in build_steps(target) if name == "RUN"]
    installs = [index for index, args in enumerate(runs) if "torch==" in args]
    if target not in WITH_TORCH:
        assert not installs, "the web image has no torch"
        return
    assert runs[installs[0]] == TORCH_INSTALL, "torch alone first, from TORCH_INDEX_URL"
    # Then again with its dependencies (the CUDA libraries of a GPU index), after the lock.
    assert any('--index-url "${TORCH_INDEX_URL}" "torch==${TORCH_VERSION}"' in runs[i] for i in installs[1:])


def test_every_stage_that_reads_the_torch_arguments_declares_them():
    """A build argument declared before the first FROM reaches a stage only through its own ARG."""
    for name, (_base, steps) in stages().items():
        used = " ".join(str(args) for step, args in steps if step == "RUN")
        declared = {str(args) for step, args in steps if step == "ARG"}
        for arg in ("TORCH_VERSION", "TORCH_INDEX_URL"):
            assert f"${{{arg}}}" not in used or arg in declared, f"{name} uses {arg} without ARG"


@pytest.mark.parametrize("target", sorted(SERVERS))
def test_servers_have_a_healthcheck_on_healthz_and_match_compose(target, compose):
    steps = stage(target)
    (healthcheck,) = [str(args) for name, args in steps if name == "HEALTHCHECK"]
    assert "/healthz" in healthcheck and "python" in healthcheck
    (cmd,) = [args for name, args in steps if name == "CMD"]
    assert cmd == compose["services"][SERVERS[target]]["command"]


@pytest.mark.parametrize("path", [COMPOSE_FILE, REPO_ROOT / "compose.gpu.yml"])
def test_compose_builds_each_service_from_its_target(path):
    services = load_yaml(path)["services"]
    built = {name: service["build"] for name, service in services.items() if "build" in service}
    expected = {service: target for target, names in TARGETS.items() for service in names}
    for name, build in built.items():
        if name not in expected:  # the proxy: deploy/caddy's own Dockerfile
            assert build["context"] != ".", name
            continue
        assert build["context"] == "." and build.get("dockerfile", "Dockerfile") == "Dockerfile", name
        assert build["target"] == expected[name], name
    if path == COMPOSE_FILE:
        assert set(expected) <= set(built)


def test_the_wheel_the_images_install_carries_model_seed_list_and_assets(tmp_path):
    """The images `pip install` the project: its wheel must hold every data file the code reads."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--quiet",
            "--wheel-dir",
            str(tmp_path),
            str(REPO_ROOT),
        ],
        check=True,
        cwd=tmp_path,
    )
    (wheel,) = tmp_path.glob("brandpulse-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in (
        "brandpulse/model/bundled/review_stars.safetensors",
        "brandpulse/model/bundled/review_stars.card.json",
        "brandpulse/model/bundled/recipe.toml",
        "brandpulse/api/storage/seed/brands.csv",
        "brandpulse/dash/assets/bootstrap.min.css",
        "brandpulse/dash/assets/brandpulse.js",
        "brandpulse/dash/assets/favicon.ico",
    ):
        assert required in names, required
