"""The images built and the compose stack run for real, as a user runs them (docs/deploy.md).

A copy of the checkout with its own `.env` (generated password and admin token, free ports) is
brought up with `docker compose` under a project name of its own: every image is built (api,
learning, web, training, proxy), `up --wait` is timed, and then everything goes through the
published ports: the page, a prediction, a stored review, the admin list and the CSV export with
the token from `.env`, and a review sent through the web page with a forged X-Forwarded-For (not
the address stored). Then what operators do and what goes wrong: `restart api`, the API's main
process killed (the restart policy), `down` and `up` again (the volume keeps the data), a second
`up` (the migration changes nothing), the proxy with compose.proxy.yml (HTTPS with Caddy's
internal certificate, the web port on loopback only, a body limit, the visitor's address as Caddy
saw it) and the `train` profile (a short training writes a checkpoint to ./models). Every
process of every service must run as a non-root user, and every container with the hardening of
docker-compose.yml (read-only root, no capabilities, no-new-privileges). Image sizes and start
times are printed at the end and kept in artifacts/containers.json. (Several API replicas behind
the load balancer: tests/deploy/test_replicas.py, on the images built here.)

Without a Docker engine the tests skip, with the reason; BRANDPULSE_REQUIRE_DOCKER=1 (set by
.ci/run where ../shared/tools/docker-local.sh gives it an engine) turns that into a failure.
Where no image registry is reachable, docker-local.sh's stand-ins replace the public base images
and tests/support/docker.py builds one for redis (and haproxy); TORCH_INDEX_URL (or
docker-local.sh's local index, when it answers) gives the torch wheel.
"""

from __future__ import annotations

import csv
import http.client
import io
import ipaddress
import json
import secrets
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.deploy.conftest import running_stack
from tests.support.docker import (
    IMAGES,
    ComposeProject,
    Stack,
    image_size,
    kill_process,
    run,
)
from tests.support.page_callbacks import submit_through_the_page
from tests.support.servers import wait_until

pytestmark = [pytest.mark.containers, pytest.mark.slow, pytest.mark.timeout(2400)]

API_OVERHEAD_MB = 150.0  # the API image may exceed base image + torch by this much
# The images by name, as the figures show them.
NAMED_IMAGES = {
    "api": IMAGES["api"],
    "learning": IMAGES["retrain"],
    "web": IMAGES["dash"],
    "train": IMAGES["train"],
    "proxy": IMAGES["proxy"],
}
BASE_IMAGE = "python:3.11-slim-bookworm"
SERVING = ("db", "redis", "api", "dash", "privacy")  # what a plain `up` keeps running
REVIEW_TEXT = "Container test: the parcel came a day early, well packed, and the staff were friendly."
FORGED = "203.0.113.66"  # what a visitor writes in X-Forwarded-For, hoping it is stored
# Capabilities kept after `cap_drop: [ALL]` (docker-compose.yml says why).
KEPT_CAPABILITIES = {"db": {"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_SETGID", "CAP_SETUID"}}
# Measures, inside an image, what the torch wheel and its dependencies take (the files pip installed).
TORCH_FOOTPRINT = """
import importlib.metadata as md, json, os
from packaging.requirements import Requirement
seen = {}
def walk(name):
    key = name.lower().replace('_', '-')
    if key in seen:
        return
    seen[key] = dist = md.distribution(name)
    for text in dist.requires or []:
        requirement = Requirement(text)
        if requirement.marker is None or requirement.marker.evaluate({'extra': ''}):
            walk(requirement.name)
walk('torch')
size = lambda dist: sum(os.path.getsize(p) for f in dist.files or [] if os.path.isfile(p := f.locate()))
print(json.dumps({key: size(dist) for key, dist in seen.items()}))
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Stack]:
    """The whole stack, every image built, up (`up --wait`), torn down with its volumes afterwards."""
    with running_stack(
        request,
        tmp_path_factory.mktemp("checkout"),
        "containers",
        ["docker-compose.yml", "compose.override.yml"],
        build=list(IMAGES),
    ) as stack:
        yield stack


def test_every_service_is_healthy_after_up_wait(stack):
    """`up --wait` returned 0 (the fixture) and every serving service is healthy.

    How long it took is a figure ("up to healthy (s)"), not an assertion: a slower CPU or a busy
    machine may take longer. The bound a user meets is the healthchecks' own: an API that is not
    ready by the end of its start period turns unhealthy and `up --wait` fails.
    """
    listing = stack.project.compose("ps", "--all", "--format", "json").stdout
    ps = [json.loads(line) for line in listing.splitlines() if line.strip()]
    states = {row["Service"]: (row["State"], row.get("Health", ""), row.get("ExitCode")) for row in ps}
    for service in SERVING:
        assert states[service][:2] == ("running", "healthy"), states
    assert states["migrate"][0] == "exited" and states["migrate"][2] == 0, states


def test_image_sizes_and_the_api_image_is_base_plus_torch_plus_little(stack):
    sizes = {name: image_size(image) for name, image in NAMED_IMAGES.items()}
    base = image_size(BASE_IMAGE)
    torch_files = json.loads(
        run(["docker", "run", "--rm", "--entrypoint", "python", IMAGES["api"], "-c", TORCH_FOOTPRINT]).stdout
    )
    torch_bytes = sum(torch_files.values())
    overhead = sizes["api"] - base - torch_bytes
    stack.figures["image sizes (MB)"] = {name: round(size / 1e6) for name, size in sizes.items()}
    stack.figures["base image (MB)"] = round(base / 1e6)
    stack.figures["torch + its dependencies installed (MB)"] = round(torch_bytes / 1e6)
    stack.figures["API image - base - torch (MB)"] = round(overhead / 1e6)
    assert overhead <= API_OVERHEAD_MB * 1e6, stack.figures
    assert sizes["web"] < base + 300e6, "the web image carries no torch and no model"


def test_page_prediction_review_admin_list_and_csv_export(stack):
    page = requests.get(f"{stack.web_url}/", timeout=10)
    assert page.status_code == 200 and "BrandPulse" in page.text
    brand = requests.get(f"{stack.api_url}/api/brands/random", timeout=10).json()["name"]
    prediction = requests.post(f"{stack.api_url}/api/predict", json={"review": REVIEW_TEXT}, timeout=30)
    assert prediction.status_code == 200, prediction.text
    assert prediction.json()["suggested_rating"] >= 4  # the bundled model, as served
    review = requests.post(
        f"{stack.api_url}/api/review",
        json={"brand": brand, "text": REVIEW_TEXT, "rating": 5},
        headers={"User-Agent": "container-test"},
        timeout=30,
    )
    assert review.status_code == 201, review.text
    assert requests.get(f"{stack.api_url}/api/reviews", timeout=10).status_code == 401  # the token is needed
    (stored,) = [row for row in stack.reviews() if row["text"] == REVIEW_TEXT]
    assert stored["brand"] == brand and stored["rating"] == 5 and stored["user_agent"] == "container-test"
    export = requests.get(f"{stack.api_url}/api/reviews/export.csv", headers=stack.admin, timeout=10)
    assert export.status_code == 200
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert [(row["text"], row["label"], row["brand"]) for row in rows] == [(REVIEW_TEXT, "5", brand)]


def stored_review(stack: Stack, text: str) -> dict[str, Any]:
    """The stored review with this text, read back as the admin: `GET /api/reviews/{id}`."""
    (listed,) = [row for row in stack.reviews() if row["text"] == text]
    response = requests.get(f"{stack.api_url}/api/reviews/{listed['id']}", headers=stack.admin, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def _container_addresses(project: ComposeProject, service: str) -> set[str]:
    networks = project.inspect(service)["NetworkSettings"]["Networks"].values()
    return {network["IPAddress"] for network in networks if network.get("IPAddress")}


def test_a_forged_forwarded_for_sent_to_the_web_port_is_not_stored(stack):
    """A visitor reaching the web port directly is its TCP peer: the X-Forwarded-For it writes is
    not believed by the web server (its only trusted hop is `proxy`), and the API takes the
    address the web server found (its trusted hops: `dash`, `proxy`), not the web server's own."""
    brand = requests.get(f"{stack.api_url}/api/brands/random", timeout=10).json()["name"]
    text = f"Container test through the page: helpful staff and a quick refund {secrets.token_hex(3)}."
    headers = {"X-Forwarded-For": FORGED, "User-Agent": "container-test-forger"}
    message = submit_through_the_page(stack.web_url, brand, text, headers)
    assert message.startswith("Thank you!"), message
    review = stored_review(stack, text)
    address = review["ip_address"]
    assert address and address != FORGED and FORGED not in json.dumps(review)
    ipaddress.ip_address(address)
    # The visitor as the web server saw it (Docker's port forwarding), not the web server itself:
    # the API believed dash's X-Forwarded-For, resolving the name `dash`.
    assert address not in _container_addresses(stack.project, "dash"), address
    assert review["user_agent"] == "container-test-forger"


def test_every_container_runs_hardened(stack):
    """What docker-compose.yml asks for is what the engine runs: a read-only root file system,
    no capabilities (the database's entrypoint keeps the few it needs), no-new-privileges; the API
    cannot write the models volume, and writes only to its tmpfs."""
    for service in (*SERVING, "migrate"):
        host = stack.project.inspect(service)["HostConfig"]
        assert host["ReadonlyRootfs"] is True, service
        assert [cap.removeprefix("CAP_") for cap in host["CapDrop"]] == ["ALL"], service
        kept = {f"CAP_{cap.removeprefix('CAP_')}" for cap in host.get("CapAdd") or []}
        assert kept == KEPT_CAPABILITIES.get(service, set()), service
        assert "no-new-privileges:true" in (host.get("SecurityOpt") or []), service
        assert "/tmp" in (host.get("Tmpfs") or {}), service
    (models,) = [
        mount
        for mount in stack.project.inspect("api")["Mounts"]
        if mount["Destination"] == "/app/instance/models"
    ]
    assert models["RW"] is False
    probe = (
        "import os, pathlib\n"
        "for path in ('/app/x', '/app/instance/models/x', '/tmp/x'):\n"
        "    try:\n"
        "        pathlib.Path(path).write_text('x'); print(path, 'written'); os.remove(path)\n"
        "    except OSError as error:\n"
        "        print(path, error.strerror)\n"
        "status = dict(line.split(':', 1) for line in open('/proc/1/status'))\n"
        "print('CapEff', status['CapEff'].strip(), 'NoNewPrivs', status['NoNewPrivs'].strip())\n"
    )
    out = stack.project.compose("exec", "-T", "api", "python", "-c", probe).stdout
    assert "/app/x Read-only file system" in out, out
    assert "/app/instance/models/x Read-only file system" in out, out
    assert "/tmp/x written" in out, out
    assert "CapEff 0000000000000000 NoNewPrivs 1" in out, out


def test_every_process_of_every_service_runs_as_a_non_root_user(stack):
    users = {service: stack.project.process_users(service) for service in SERVING}
    for service, processes in users.items():
        assert processes, service
        root = [command for uid, command in processes if uid == 0]
        if service == "db":
            # docker-local.sh's PostgreSQL stand-in starts the server with `su postgres -c …`, which
            # stays as its parent; the official image drops to `postgres` with gosu (exec). The
            # server's own processes must still be unprivileged.
            root = [command for command in root if command != "su"]
        assert not root, f"{service} runs {root} as root"
    assert stack.project.inspect("api")["Config"]["User"] == "brandpulse"


def test_a_second_up_reruns_the_migration_without_changing_anything(stack):
    before = stack.reviews()
    brands = requests.get(f"{stack.api_url}/api/brands", timeout=10).json()
    stack.project.compose("up", "--detach", "--wait", "--no-build", timeout=300)
    migrate = stack.project.inspect("migrate")["State"]
    assert migrate["Status"] == "exited" and migrate["ExitCode"] == 0
    assert stack.reviews() == before
    assert requests.get(f"{stack.api_url}/api/brands", timeout=10).json() == brands


def test_restarting_the_api_keeps_the_data(stack):
    before = stack.reviews()
    started = time.monotonic()
    stack.project.compose("restart", "api", timeout=120)
    stack.figures["api restart to healthy (s)"] = round(
        time.monotonic() - started + stack.project.wait_healthy("api"), 1
    )
    stack.wait_serving()
    assert stack.reviews() == before


def test_the_restart_policy_brings_back_a_killed_api(stack):
    container = stack.project.inspect("api")
    pid, restarts = container["State"]["Pid"], container["RestartCount"]
    kill_process(pid)  # the container's main process: the gunicorn master
    started = time.monotonic()
    wait_until(lambda: stack.project.inspect("api")["RestartCount"] > restarts, 60, "api was not restarted")
    stack.project.wait_healthy("api")
    stack.figures["api killed to healthy again (s)"] = round(time.monotonic() - started, 1)
    stack.wait_serving()
    assert stack.project.inspect("api")["State"]["Pid"] != pid
    assert requests.post(f"{stack.api_url}/api/predict", json={"review": REVIEW_TEXT}, timeout=30).ok


def test_down_then_up_keeps_the_data_in_the_volume(stack):
    before = stack.reviews()
    assert before
    stack.project.compose("down", "--timeout", "20", timeout=180)
    started = time.monotonic()
    stack.project.compose("up", "--detach", "--wait", "--no-build", timeout=300)
    stack.figures["up to healthy again, volume kept (s)"] = round(time.monotonic() - started, 1)
    stack.wait_serving()
    assert stack.reviews() == before


def test_the_proxy_serves_the_page_over_https_with_caddys_internal_certificate(stack, tmp_path):
    """compose.proxy.yml, as docs/deploy.md says for production: Caddy starts (no profile named),
    the web port moves to the loopback interface, bodies over the limit get 413, and the address
    stored for a review sent through Caddy with a forged X-Forwarded-For is the one Caddy saw."""
    web_port = stack.env["WEB_PUBLISH"].rsplit(":", 1)[1]
    proxied = ComposeProject(
        stack.project.directory,
        stack.project.name,
        [*stack.project.files, "compose.proxy.yml"],
        {"WEB_PUBLISH": web_port},  # the overlay binds it to 127.0.0.1 itself
    )
    proxied.compose("up", "--detach", "--no-build", "proxy", timeout=180)
    bindings = proxied.inspect("dash")["HostConfig"]["PortBindings"]["8050/tcp"]
    assert [(binding["HostIp"], binding["HostPort"]) for binding in bindings] == [("127.0.0.1", web_port)]
    proxied.wait_healthy("dash")
    root_ca = tmp_path / "caddy-root.crt"
    container = proxied.container("proxy")

    def copy_root_certificate() -> bool:
        copied = run(
            ["docker", "cp", f"{container}:/data/caddy/pki/authorities/local/root.crt", str(root_ca)],
            check=False,
        )
        return copied.returncode == 0

    wait_until(copy_root_certificate, 60, "Caddy made no local certificate authority", 0.5)
    site = f"https://localhost:{stack.env['HTTPS_PUBLISH']}"
    url = f"{site}/"

    def page() -> requests.Response | None:
        try:
            return requests.get(url, verify=str(root_ca), timeout=5)  # verified against Caddy's own CA
        except requests.exceptions.ConnectionError:
            return None

    response = wait_until(page, 60, f"{url} does not answer")
    assert response.status_code == 200 and "BrandPulse" in response.text
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(url, timeout=5)  # not a publicly trusted certificate: the internal CA's
    plain = requests.get(f"http://localhost:{stack.env['HTTP_PUBLISH']}/", allow_redirects=False, timeout=5)
    assert plain.status_code in (301, 302, 308) and plain.headers["Location"].startswith("https://")
    assert all(uid != 0 for uid, _ in proxied.process_users("proxy"))
    host = proxied.inspect("proxy")["HostConfig"]
    assert host["ReadonlyRootfs"] is True and "no-new-privileges:true" in host["SecurityOpt"]

    # A 6 MB body never reaches dash: Caddy answers 413 on its declared length, before a byte of it
    # is sent (sending it, as the test once did, raced Caddy closing the connection: CI, stop 36).
    assert _status_of_unsent_body(int(stack.env["HTTPS_PUBLISH"]), root_ca, 6 * 1024 * 1024) == 413

    # Through Caddy, a forged X-Forwarded-For is still not what is stored: Caddy sends dash the
    # address it saw (Docker's port forwarding), dash believes `proxy`, the API believes `dash`.
    brand = requests.get(f"{stack.api_url}/api/brands/random", timeout=10).json()["name"]
    text = f"Container test through the proxy: it fitted well and felt sturdy {secrets.token_hex(3)}."
    message = submit_through_the_page(site, brand, text, {"X-Forwarded-For": FORGED}, verify=str(root_ca))
    assert message.startswith("Thank you!"), message
    address = stored_review(stack, text)["ip_address"]
    assert address and address != FORGED
    assert address not in _container_addresses(proxied, "proxy") | _container_addresses(proxied, "dash"), (
        address
    )


def _status_of_unsent_body(port: int, root_ca: Path, length: int) -> int:
    """The status Caddy answers to a POST that declares a `length`-byte body and sends none of it."""
    context = ssl.create_default_context(cafile=str(root_ca))
    connection = http.client.HTTPSConnection("localhost", port, context=context, timeout=30)
    try:
        connection.putrequest("POST", "/_dash-update-component")
        connection.putheader("Content-Type", "application/json")
        connection.putheader("Content-Length", str(length))
        connection.endheaders()  # the headers only: an answer now means the body was never waited for
        return connection.getresponse().status
    finally:
        connection.close()


def test_a_new_install_whose_model_does_not_load_stops_at_migrate_and_says_why(stack):
    """MODEL_PATH naming a missing file: `up` fails, the API never starts, the logs name the file.

    What a user relies on is asserted, not only an exit code: `migrate` ends with `model check`,
    which exits non-zero, so the API (which waits for `migrate` to complete successfully) is never
    started. No `--wait-timeout`: Compose 2.26's answer to an expired one is a coin toss (it exits
    0 or 1 depending on which of two ready `select` cases Go picks; fixed upstream in
    docker/compose 06f4f9d, "dependency wait timeout surfaced only by luck"), while a failed
    dependency is reported every time.
    """
    missing = "/app/instance/models/missing.safetensors"
    # A second project (its own volumes) without the override file, so it publishes no port.
    project = ComposeProject(
        stack.project.directory,
        f"{stack.project.name}nomodel",
        [name for name in stack.project.files if name != "compose.override.yml"],
        {"MODEL_PATH": missing},
    )
    try:
        up = project.compose("up", "--detach", "--wait", "--no-build", "api", timeout=300, check=False)
        migrate = project.inspect("migrate")["State"]
        assert (migrate["Status"], migrate["ExitCode"]) == ("exited", 1), migrate
        api = project.compose("ps", "--all", "--quiet", "api").stdout.split()
        if api:  # created with the others, never started
            state = project.inspect("api")["State"]
            assert (state["Status"], state["StartedAt"][:4]) == ("created", "0001"), state
        assert up.returncode != 0, "up must fail when the model does not load"
        assert "didn't complete successfully" in up.stderr, up.stderr[-2000:]
        migrate_logs = project.compose("logs", "--no-color", "migrate").stdout
        assert f"no champion recorded ({missing}: " in migrate_logs
        assert f"cannot load the model: {missing}: No such file or directory" in migrate_logs
    finally:
        project.down()


def test_the_train_profile_writes_a_checkpoint_to_the_mounted_folder(stack):
    directory = stack.project.directory
    rows = [
        {"text": text, "stars": stars}
        for index in range(60)
        for text, stars in (
            (f"Wonderful service number {index}, quick and friendly, I loved it.", 5),
            (f"Terrible experience number {index}, late, rude and broken. Never again.", 1),
            (f"It was fine, order {index} arrived, nothing special either way.", 3),
        )
    ]
    with (directory / "data" / "small.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["text", "stars"])
        writer.writeheader()
        writer.writerows(rows)
    started = time.monotonic()
    stack.project.compose(
        "--profile", "train", "run", "--rm", "--no-deps", "train",
        "train", "--data", "data/small.csv", "--label-column", "stars", "--labels", "stars5",
        "--epochs", "1", "--max-steps", "4", "--batch-size", "16",
        "--out", "models/smoke.safetensors", "--log-dir", "runs/smoke",
        timeout=900,
    )  # fmt: skip
    stack.figures["train profile, 4 steps (s)"] = round(time.monotonic() - started, 1)
    checkpoint = directory / "models" / "smoke.safetensors"
    assert checkpoint.is_file() and checkpoint.stat().st_size > 100_000
    assert checkpoint.stat().st_uid == 10001  # written by the image's unprivileged user


def test_the_learning_image_has_what_retrain_needs(stack):
    result = stack.project.compose(
        "--profile", "learning", "run", "--rm", "--no-deps", "--entrypoint", "python", "retrain",
        "-c", "import sklearn, scipy; from brandpulse.learning.retrain import main; main(['--help'])",
        timeout=300,
    )  # fmt: skip
    assert "--schedule" in result.stdout
