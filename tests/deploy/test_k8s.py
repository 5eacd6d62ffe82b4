"""The Kubernetes manifests: built by the real `kustomize`, valid against the Kubernetes schemas.

The base and every overlay go through `kustomize build` (Debian's `kustomize` package, from the
trixie suite: `apt-get install -t trixie kustomize`; the KUSTOMIZE variable names another
binary). Without it these tests skip, and fail where services are required (CI). Each object it
prints is then validated offline with `kubernetes-validate` (strict: unknown fields are errors).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlparse

import kubernetes_validate
import pytest
import yaml
from apscheduler.triggers.cron import CronTrigger

from brandpulse.api.settings import Settings
from tests.conftest import skip_or_fail
from tests.deploy.conftest import K8S_DIR, container_model_dir, load_yaml, stage

KUBERNETES_VERSION = "1.33.0"
POD_TEMPLATE_KINDS = {"Deployment", "Job", "StatefulSet", "DaemonSet"}
OVERLAYS = sorted(path.parent for path in (K8S_DIR / "overlays").glob("*/kustomization.yaml"))
PRODUCTION = K8S_DIR / "overlays" / "production"


def _documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def _pod_spec(obj: dict[str, Any]) -> dict[str, Any] | None:
    if obj["kind"] in POD_TEMPLATE_KINDS:
        return obj["spec"]["template"]["spec"]
    if obj["kind"] == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return None


@pytest.fixture(scope="session")
def kustomize() -> str:
    """The kustomize binary: $KUSTOMIZE, else `kustomize` on PATH."""
    named = os.environ.get("KUSTOMIZE")
    binary = shutil.which(named or "kustomize")
    if binary is None:
        where = f"KUSTOMIZE={named} is not an executable" if named else "kustomize is not on PATH"
        skip_or_fail(f"{where}: apt-get install -t trixie kustomize (Debian trixie's package)")
    return binary


def kustomize_build(kustomize: str, directory: Path) -> list[dict[str, Any]]:
    """The objects `kustomize build directory` prints; any warning on stderr fails the test
    (deprecated fields, for one, are only warned about)."""
    result = subprocess.run(
        [kustomize, "build", str(directory)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, f"kustomize build {directory} failed:\n{result.stderr}"
    assert not result.stderr.strip(), f"kustomize build {directory} warned:\n{result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def _by_kind(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {obj["metadata"]["name"]: obj for obj in objects if obj["kind"] == kind}


@pytest.fixture(scope="module", params=[K8S_DIR / "base", *OVERLAYS], ids=lambda path: path.name)
def objects(request: pytest.FixtureRequest, kustomize: str) -> list[dict[str, Any]]:
    """The built objects of the base and of each overlay."""
    return kustomize_build(kustomize, request.param)


@pytest.fixture(scope="module")
def production(kustomize: str) -> list[dict[str, Any]]:
    """The built objects of the production overlay."""
    return kustomize_build(kustomize, PRODUCTION)


def test_there_is_a_production_overlay():
    assert PRODUCTION in OVERLAYS


def test_every_object_is_valid_for_the_pinned_kubernetes_version(objects):
    kinds = sorted({obj["kind"] for obj in objects})
    assert {"Deployment", "Service", "HorizontalPodAutoscaler", "Ingress", "Job", "CronJob"} <= set(kinds)
    for obj in objects:
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{obj['kind']}/{obj['metadata']['name']}: {error.message} at {list(error.path)}")


def test_the_secret_template_is_valid_and_not_applied():
    (secret,) = _documents(K8S_DIR / "base" / "secret.example.yaml")
    kubernetes_validate.validate(secret, KUBERNETES_VERSION, strict=True)
    resources = load_yaml(K8S_DIR / "base" / "kustomization.yaml")["resources"]
    assert "secret.example.yaml" not in resources


def test_secret_references_name_keys_of_the_secret_template(objects):
    (secret,) = _documents(K8S_DIR / "base" / "secret.example.yaml")
    for obj in objects:
        for container in (_pod_spec(obj) or {}).get("containers", []):
            for variable in container.get("env", []):
                ref = variable.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["name"] == secret["metadata"]["name"]
                    assert ref["key"] in secret["stringData"], f"{container['name']}: {ref['key']}"


def test_api_and_dash_have_probes_requests_and_limits(objects):
    deployments = _by_kind(objects, "Deployment")
    for name in ("brandpulse-api", "brandpulse-dash"):
        (container,) = deployments[name]["spec"]["template"]["spec"]["containers"]
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert "readinessProbe" in container
        assert {"cpu", "memory"} <= set(container["resources"]["requests"])
        assert {"cpu", "memory"} <= set(container["resources"]["limits"])
    (api,) = deployments["brandpulse-api"]["spec"]["template"]["spec"]["containers"]
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"


def test_probes_point_at_routes_and_ports_that_exist(objects, api_routes, dash_routes):
    routes = {"api": api_routes, "dash": dash_routes}
    for obj in objects:
        for container in (_pod_spec(obj) or {}).get("containers", []):
            port_names = {port.get("name") for port in container.get("ports", [])}
            port_numbers = {port["containerPort"] for port in container.get("ports", [])}
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                if probe not in container:
                    continue
                check = container[probe].get("httpGet") or container[probe].get("tcpSocket")
                if check is None:  # an exec probe (redis-cli ping)
                    assert container[probe]["exec"]["command"], f"{container['name']} {probe}"
                    continue
                if "path" in check:
                    assert check["path"] in routes[container["name"]], f"{container['name']} {probe}: {check}"
                assert check["port"] in port_names | port_numbers


def test_services_hpa_and_ingress_point_at_things_that_exist(objects):
    deployments = _by_kind(objects, "Deployment")
    services = _by_kind(objects, "Service")
    for service in services.values():
        selected = [
            deployment
            for deployment in deployments.values()
            if service["spec"]["selector"].items()
            <= deployment["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert len(selected) == 1, (
            f"Service {service['metadata']['name']} selects {len(selected)} Deployments"
        )
        (container,) = selected[0]["spec"]["template"]["spec"]["containers"]
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in {item["name"] for item in container["ports"]}
    for deployment in deployments.values():
        template_labels = deployment["spec"]["template"]["metadata"]["labels"].items()
        assert deployment["spec"]["selector"]["matchLabels"].items() <= template_labels
    (hpa,) = _by_kind(objects, "HorizontalPodAutoscaler").values()
    assert hpa["spec"]["scaleTargetRef"]["name"] == "brandpulse-api"
    assert "replicas" not in deployments["brandpulse-api"]["spec"], "the HPA owns the API's replica count"
    for ingress in _by_kind(objects, "Ingress").values():
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                assert backend["name"] in services
                service_ports = services[backend["name"]]["spec"]["ports"]
                assert backend["port"].get("name") in {port["name"] for port in service_ports}


def test_the_containers_run_what_the_compose_services_run(objects, compose):
    containers = {
        container["name"]: container
        for obj in objects
        for container in (_pod_spec(obj) or {}).get("containers", [])
    }
    for service in ("migrate", "api", "dash", "redis"):
        assert containers[service]["command"] == compose["services"][service]["command"]


def test_the_production_overlay_pins_images_and_a_namespace(production):
    kustomization = load_yaml(PRODUCTION / "kustomization.yaml")
    pinned = {f"{image['newName']}:{image['newTag']}" for image in kustomization["images"]}
    images = set()
    for obj in production:
        if obj["kind"] == "Namespace":
            assert obj["metadata"]["name"] == kustomization["namespace"]
            assert "namespace" not in obj["metadata"], "a Namespace is not namespaced"
        else:
            assert obj["metadata"]["namespace"] == kustomization["namespace"]
        for container in (_pod_spec(obj) or {}).get("containers", []):
            name, _, tag = container["image"].rpartition(":")
            assert "/" in name and tag not in ("", "latest"), container["image"]
            images.add(container["image"])
    assert pinned <= images, f"images of the overlay not used by any container: {pinned - images}"


def test_the_production_overlay_patches_apply(production):
    """The overlay's patches change what they are meant to, and only that."""
    (hpa,) = _by_kind(production, "HorizontalPodAutoscaler").values()
    patch = load_yaml(PRODUCTION / "api-hpa.yaml")
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (
        patch["spec"]["minReplicas"],
        patch["spec"]["maxReplicas"],
    )
    assert hpa["spec"]["metrics"] == load_yaml(K8S_DIR / "base" / "api-hpa.yaml")["spec"]["metrics"]
    (ingress,) = _by_kind(production, "Ingress").values()
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert "cert-manager.io/cluster-issuer" in ingress["metadata"]["annotations"]
    assert ingress["metadata"]["labels"] == {"app.kubernetes.io/name": "brandpulse"}, "kept from the base"
    (tls,) = ingress["spec"]["tls"]
    assert {rule["host"] for rule in ingress["spec"]["rules"]} <= set(tls["hosts"])


def test_every_workload_runs_as_the_images_non_root_user(objects):
    runs = " ".join(str(args) for name, args in stage("api") if name == "RUN")
    uid = int(re.search(r"useradd [^&]*--uid (\d+)", runs).group(1))
    assert uid != 0
    for obj in objects:
        spec = _pod_spec(obj)
        if spec is None:
            continue
        name = f"{obj['kind']}/{obj['metadata']['name']}"
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["runAsUser"] == spec["securityContext"]["runAsGroup"] == uid, name
        for container in spec["containers"]:
            assert container["securityContext"]["allowPrivilegeEscalation"] is False, name
            assert container["securityContext"]["capabilities"]["drop"] == ["ALL"], name


def _env(container: dict[str, Any]) -> dict[str, Any]:
    """A container's env: name -> literal value, or the `valueFrom` mapping."""
    return {item["name"]: item.get("value", item.get("valueFrom")) for item in container.get("env", [])}


def _claim_mounts(pod: dict[str, Any], container: dict[str, Any]) -> dict[str, str]:
    """PersistentVolumeClaim name -> where the container mounts it."""
    claims = {
        volume["name"]: volume["persistentVolumeClaim"]["claimName"]
        for volume in pod.get("volumes", [])
        if "persistentVolumeClaim" in volume
    }
    return {claims[mount["name"]]: mount["mountPath"] for mount in container["volumeMounts"]}


def test_the_retrain_cronjob_runs_one_round_at_a_time(objects):
    cronjob = _by_kind(objects, "CronJob")["brandpulse-retrain"]
    spec = cronjob["spec"]
    assert spec["concurrencyPolicy"] == "Forbid", "two rounds never overlap"
    assert spec["schedule"] == Settings.from_env({}).retrain_schedule
    CronTrigger.from_crontab(spec["schedule"], timezone=spec["timeZone"])
    assert spec["startingDeadlineSeconds"] > 0
    assert spec["successfulJobsHistoryLimit"] >= 1 and spec["failedJobsHistoryLimit"] >= 1
    job = spec["jobTemplate"]["spec"]
    assert 0 < job["activeDeadlineSeconds"] <= 2 * 3600
    assert job["backoffLimit"] <= 2
    pod = job["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    (container,) = pod["containers"]
    # One round per Job: the CronJob is the schedule, so no `--schedule` (which never exits).
    assert container["command"] == ["retrain"] and "args" not in container
    # Bad settings (2) and a lock held by another round (75) are not retried.
    (rule,) = [rule for rule in job["podFailurePolicy"]["rules"] if "onExitCodes" in rule]
    assert rule["action"] == "FailJob" and rule["onExitCodes"]["containerName"] == container["name"]
    assert {2, 75} <= set(rule["onExitCodes"]["values"])
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(container["resources"][kind])
    threads = int(_env(container)["RETRAIN_THREADS"])
    assert 1 <= threads <= float(container["resources"]["limits"]["cpu"])


def _name_and_tag(image: str) -> tuple[str, str]:
    """An image reference's name and tag ("" when it has none); a registry's port is part of the name."""
    name, colon, tag = image.rpartition(":")
    return (name, tag) if colon and "/" not in tag else (image, "")


def test_the_retrain_cronjob_shares_the_apis_build_secret_and_models_volume(objects):
    pod = _pod_spec(_by_kind(objects, "CronJob")["brandpulse-retrain"])
    api_pod = _pod_spec(_by_kind(objects, "Deployment")["brandpulse-api"])
    (container,), (api,) = pod["containers"], api_pod["containers"]
    # The Dockerfile's `learning` target, built from the same commit as the API: the same tag.
    (name, tag), (_, api_tag) = _name_and_tag(container["image"]), _name_and_tag(api["image"])
    assert name.endswith("brandpulse-learning") or name.endswith("/learning"), name
    assert tag == api_tag
    env, api_env = _env(container), _env(api)
    assert env["DATABASE_URL"] == api_env["DATABASE_URL"], "the same secret reference"
    # The registry's checkpoints: the same claim, mounted at the MODEL_DIR both resolve to.
    mounts = _claim_mounts(pod, container)
    assert mounts["brandpulse-models"] == _claim_mounts(api_pod, api)["brandpulse-models"]
    assert container_model_dir(env) == container_model_dir(api_env)
    assert mounts["brandpulse-models"] == str(container_model_dir(env))
    # The base corpus is copied onto that volume (docs/deploy.md): an absolute path inside it.
    corpus = PurePosixPath(env["RETRAIN_BASE_CORPUS"])
    assert corpus.is_absolute() and corpus.is_relative_to(mounts["brandpulse-models"])


def test_every_api_replica_counts_rate_limits_in_the_redis_service(objects):
    """RATE_LIMIT_STORAGE_URI names a Service (port included) in front of the Redis Deployment."""
    deployments, services = _by_kind(objects, "Deployment"), _by_kind(objects, "Service")
    (api,) = deployments["brandpulse-api"]["spec"]["template"]["spec"]["containers"]
    uri = urlparse(_env(api)["RATE_LIMIT_STORAGE_URI"])
    assert uri.scheme == "redis" and uri.hostname in services
    service = services[uri.hostname]
    (port,) = [port for port in service["spec"]["ports"] if port["port"] == uri.port]
    redis = deployments["brandpulse-redis"]
    assert service["spec"]["selector"].items() <= redis["spec"]["template"]["metadata"]["labels"].items()
    (container,) = redis["spec"]["template"]["spec"]["containers"]
    assert port["targetPort"] in {item["name"] for item in container["ports"]}
    assert redis["spec"]["replicas"] == 1, "one counter for all replicas"
