"""The GPU images' torch index: it serves the pinned torch for the images' Python as a CUDA build.

compose.gpu.yml builds the API and training images with `TORCH_INDEX_URL=${TORCH_INDEX_URL_GPU:-…}`
and the Dockerfile installs `torch==$TORCH_VERSION` from it. This test asks that index, as pip
would, for the torch files (the PEP 691 JSON simple page, or its HTML form), picks the CPython 3.11
manylinux x86_64 wheel of that version and reads its metadata file (PEP 658 `<wheel URL>.metadata`,
a few kB), never the wheel itself: a CUDA build requires NVIDIA's CUDA packages on Linux.

It needs the network: where the index cannot be reached at all it skips (even in CI, where the
flag turns other skips into failures), since an outage of the index says nothing about this
repository. An index that answers but lacks the wheel or its CUDA requirements fails.
"""

from __future__ import annotations

import hashlib
import re
from email.parser import Parser
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urldefrag, urljoin, urlparse

import pytest
import requests
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename
from packaging.version import Version

from tests.deploy.conftest import COMPOSE_FILES, ENV_EXAMPLE, instructions, load_yaml

GPU_COMPOSE = COMPOSE_FILES[2]
GPU_ARG = re.compile(r"^\$\{TORCH_INDEX_URL_GPU:-(?P<default>[^}]+)\}$")
SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"
TIMEOUT = 20.0
# The images: python:3.11-slim-bookworm on x86_64 (glibc 2.36, so manylinux_2_28 wheels install).
PYTHON_TAG = "cp311"
PLATFORM = {
    "python_version": "3.11",
    "python_full_version": "3.11.2",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "os_name": "posix",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
    "extra": "",
}
# NVIDIA's wheels of the CUDA libraries: nvidia-<library>-cu<major> (nvidia-cudnn-cu13, …), and
# since CUDA 13 also the cuda-toolkit meta-package (cuda-toolkit[cublas,…]==13.0.3).
CUDA_REQUIREMENT = re.compile(r"^nvidia-[a-z0-9-]+-cu(?P<major>\d+)$|^cuda-toolkit$")


def _gpu_index() -> str:
    """The default TORCH_INDEX_URL_GPU of compose.gpu.yml (the same for every GPU service)."""
    services = load_yaml(GPU_COMPOSE)["services"]
    defaults = set()
    for name, service in services.items():
        match = GPU_ARG.match(str(service["build"]["args"]["TORCH_INDEX_URL"]))
        assert match, f"{name}: TORCH_INDEX_URL must be ${{TORCH_INDEX_URL_GPU:-<default index>}}"
        defaults.add(match["default"])
    (default,) = defaults
    return default


def _torch_version() -> str:
    """The torch the images install (the Dockerfile's ARG TORCH_VERSION, one for every target)."""
    versions = {
        str(args).split("=", 1)[1]
        for name, args in instructions()
        if name == "ARG" and str(args).startswith("TORCH_VERSION=")
    }
    (version,) = versions
    return version


def _get(url: str, accept: str | None = None) -> requests.Response:
    """GET `url`; a skip when its host cannot be reached at all (DNS, refused, timeout)."""
    try:
        return requests.get(url, headers={"Accept": accept} if accept else {}, timeout=TIMEOUT)
    except (requests.ConnectionError, requests.Timeout) as error:
        pytest.skip(f"{urlparse(url).hostname} is unreachable from here, the GPU index is unchecked: {error}")


class _Anchors(HTMLParser):
    """The files of a PEP 503 HTML simple page, in the PEP 691 JSON shape."""

    def __init__(self, base: str) -> None:
        super().__init__()
        self.base, self.files = base, []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "a":
            return
        attributes = dict(attrs)
        url = urljoin(self.base, attributes.get("href") or "")
        metadata = attributes.get("data-core-metadata") or attributes.get("data-dist-info-metadata")
        hashes = dict([metadata.split("=", 1)]) if metadata and "=" in metadata else {}
        self.files.append(
            {
                "filename": urldefrag(url).url.rsplit("/", 1)[-1],
                "url": url,
                "core-metadata": hashes or bool(metadata),
                "yanked": "data-yanked" in attributes,
            }
        )


def _files(index: str, project: str) -> list[dict[str, Any]]:
    """The files `index` lists for `project`, as PEP 691 JSON (asked for) or parsed from HTML."""
    page = f"{index.rstrip('/')}/{project}/"
    response = _get(page, accept=f"{SIMPLE_JSON}, text/html;q=0.1")
    assert response.status_code == 200, f"{page}: HTTP {response.status_code}"
    if response.headers.get("Content-Type", "").startswith(SIMPLE_JSON):
        return [
            {
                **item,
                "url": urljoin(page, item["url"]),
                "core-metadata": item.get("core-metadata", item.get("data-dist-info-metadata", False)),
            }
            for item in response.json()["files"]
        ]
    anchors = _Anchors(page)
    anchors.feed(response.text)
    return anchors.files


def _image_wheel(files: list[dict[str, Any]], version: str) -> dict[str, Any] | None:
    """The file pip takes in the images: `version` (any local label), cp311, manylinux x86_64."""
    for item in files:
        if not item["filename"].endswith(".whl") or item.get("yanked"):
            continue
        _, wheel_version, _, tags = parse_wheel_filename(item["filename"])
        fits = any(
            tag.interpreter == PYTHON_TAG
            and tag.abi == PYTHON_TAG
            and tag.platform.startswith("manylinux")
            and tag.platform.endswith("_x86_64")
            for tag in tags
        )
        if fits and wheel_version.public == Version(version).public:
            return item
    return None


def _cuda_majors(requirements: list[str]) -> set[int]:
    """The CUDA major versions the requirements pull in on the images' platform."""
    majors = set()
    for line in requirements:
        requirement = Requirement(line)
        if requirement.marker is not None and not requirement.marker.evaluate(PLATFORM):
            continue
        match = CUDA_REQUIREMENT.match(canonicalize_name(requirement.name))
        if match is None:
            continue
        if match["major"]:
            majors.add(int(match["major"]))
        else:  # cuda-toolkit: its pinned release
            (pin,) = [spec.version for spec in requirement.specifier if spec.operator == "=="]
            majors.add(Version(pin).major)
    return majors


def test_the_gpu_services_and_env_example_name_one_index():
    index = _gpu_index()
    assert urlparse(index).scheme == "https", index
    assert f"# TORCH_INDEX_URL_GPU={index}\n" in ENV_EXAMPLE.read_text(encoding="utf-8")


@pytest.mark.timeout(120)
def test_the_gpu_index_serves_the_pinned_torch_as_a_cuda_build():
    index, version = _gpu_index(), _torch_version()
    files = _files(index, "torch")
    wheel = _image_wheel(files, version)
    served = {str(parse_wheel_filename(f["filename"])[1]) for f in files if f["filename"].endswith(".whl")}
    assert wheel is not None, (
        f"{index} has no torch {version} wheel for {PYTHON_TAG} manylinux x86_64; its newest versions: "
        f"{sorted(served, key=Version)[-8:]}"
    )
    metadata_url = urldefrag(wheel["url"]).url + ".metadata"
    response = _get(metadata_url)
    assert response.status_code == 200, (
        f"{metadata_url}: HTTP {response.status_code} (the index serves no PEP 658 metadata, so the wheel's "
        "requirements cannot be read without downloading it)"
    )
    expected = wheel.get("core-metadata")
    if isinstance(expected, dict) and "sha256" in expected:
        assert hashlib.sha256(response.content).hexdigest() == expected["sha256"], metadata_url
    metadata = Parser().parsestr(response.content.decode("utf-8"))
    assert canonicalize_name(metadata["Name"]) == "torch"
    assert Version(metadata["Version"]).public == Version(version).public
    majors = _cuda_majors(metadata.get_all("Requires-Dist") or [])
    assert majors, f"{wheel['filename']} from {index} requires no CUDA libraries on Linux: a CPU build"
    (major,) = majors
    assert f"CUDA {major}" in GPU_COMPOSE.read_text(encoding="utf-8"), (
        f"compose.gpu.yml should say which CUDA its default index brings: CUDA {major}"
    )
