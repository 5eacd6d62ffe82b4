"""The Dockerfiles: slim, non-root, cached dependency layers, and every file they need copied."""

from __future__ import annotations

import fnmatch
import re
import subprocess
import sys
import tomllib
import zipfile

import pytest

from tests.conftest import REPO_ROOT
from tests.deploy.conftest import DOCKERFILES, instructions, stage

# The images and their locks; `learning` is the API Dockerfile's `learning` target (retrain).
REQUIREMENTS = {"api": "api.txt", "learning": "learning.txt", "dash": "web.txt", "train": "training.txt"}
EXTRAS = {"api": ["api"], "learning": ["api", "learning"], "dash": ["web"], "train": ["training"]}
WITH_TORCH = {"api", "learning", "train"}
# What fits models but does not serve them: left out of the API image (about 200 MB).
FITTING_ONLY = {"scikit-learn", "scipy", "joblib", "threadpoolctl"}
PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())


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


def _lock_names(service: str) -> dict[str, str]:
    text = (REPO_ROOT / "requirements" / REQUIREMENTS[service]).read_text()
    pins = re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", text, re.MULTILINE)
    return {name.lower().replace("_", "-"): version for name, version in pins}


def _name(requirement: str) -> str:
    return re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0].lower().replace("_", "-")


@pytest.mark.parametrize("service", sorted(DOCKERFILES))
def test_copied_files_exist_and_reach_the_build_context(service):
    ignored = _dockerignore()
    copies = [args for name, args in instructions(service) if name == "COPY" and "--from=" not in args]
    assert copies
    for args in copies:
        *sources, _destination = str(args).split()
        for source in sources:
            assert (REPO_ROOT / source).exists(), f"{service}: COPY {source}: no such file"
            assert not _ignored(source, ignored), f"{service}: COPY {source} is excluded by .dockerignore"
    # pyproject's metadata names the readme and the package directory: both must be there.
    sources = {source for args in copies for source in str(args).split()[:-1]}
    assert {"pyproject.toml", PYPROJECT["project"]["readme"], "src"} <= sources


@pytest.mark.parametrize("service", sorted(DOCKERFILES))
def test_slim_multistage_non_root(service):
    steps = instructions(service)
    bases = [str(args) for name, args in steps if name == "ARG" and str(args).startswith("PYTHON_IMAGE=")]
    assert bases and "-slim" in bases[0]
    final = stage(service)
    assert final[0] == ("FROM", "${PYTHON_IMAGE}") or str(final[0][1]).startswith("${PYTHON_IMAGE} ")
    assert not any(name == "RUN" and "pip install" in str(args) for name, args in final), "built elsewhere"
    users = [str(args) for name, args in final if name == "USER"]
    assert users and users[-1] not in ("root", "0")


def test_the_learning_target_adds_fitting_to_the_api_and_probes_nothing():
    learning = stage("api", "learning")
    assert [str(args) for name, args in learning if name == "USER"][-1] == "brandpulse"
    assert ("HEALTHCHECK", "NONE") in learning
    assert FITTING_ONLY & set(_lock_names("learning")) == FITTING_ONLY
    assert not FITTING_ONLY & set(_lock_names("api")), "the API image serves without scikit-learn"


@pytest.mark.parametrize("service", sorted(DOCKERFILES))
def test_dependencies_are_installed_before_the_code_is_copied(service):
    steps = instructions(service)
    copies = [str(args) for name, args in steps if name == "COPY"]
    lock = f"requirements/{REQUIREMENTS[service]}"
    lock_index = next(index for index, args in enumerate(copies) if args.startswith(lock))
    code_index = next(index for index, args in enumerate(copies) if args.startswith("src "))
    assert lock_index < code_index
    runs = " ".join(str(args) for name, args in steps if name == "RUN")
    assert "pip install --no-deps /src" in runs, "the package itself adds no unpinned dependency"


@pytest.mark.parametrize("service", sorted(REQUIREMENTS))
def test_locks_pin_every_dependency_and_never_torch_or_cuda(service):
    pins = _lock_names(service)
    assert not {name for name in pins if name == "torch" or name.startswith(("nvidia-", "triton"))}
    needed = [
        requirement
        for extra in EXTRAS[service]
        for requirement in PYPROJECT["project"]["optional-dependencies"][extra]
    ]
    if service in WITH_TORCH:
        needed += PYPROJECT["project"]["dependencies"]
    missing = {_name(req) for req in needed if not req.startswith("brandpulse")} - set(pins) - {"torch"}
    assert not missing, (
        f"requirements/{REQUIREMENTS[service]} is stale, run requirements/compile.sh: {missing}"
    )


@pytest.mark.parametrize("service", sorted(WITH_TORCH & set(DOCKERFILES)))
def test_torch_comes_from_the_cpu_index_at_the_project_pin(service):
    steps = dict(
        (str(args).split("=")[0], str(args)) for name, args in instructions(service) if name == "ARG"
    )
    (pin,) = [req for req in PYPROJECT["project"]["dependencies"] if _name(req) == "torch"]
    assert steps["TORCH_VERSION"] == f"TORCH_VERSION={pin.split('==')[1]}"
    assert steps["TORCH_INDEX_URL"].endswith("/whl/cpu")


@pytest.mark.parametrize("service", ["api", "dash"])
def test_servers_have_a_healthcheck_on_healthz_and_match_compose(service, compose):
    steps = stage(service)
    (healthcheck,) = [str(args) for name, args in steps if name == "HEALTHCHECK"]
    assert "/healthz" in healthcheck and "python" in healthcheck
    (cmd,) = [args for name, args in steps if name == "CMD"]
    assert cmd == compose["services"][service]["command"]


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
