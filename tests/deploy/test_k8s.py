"""The Kubernetes manifests: built with kustomize semantics, valid against the Kubernetes schemas.

There is no kustomize binary here, so `build()` implements the small subset of kustomize these
manifests use: `resources` (files and directories holding a kustomization), `namespace`, `images`
and `patches` given by `path` (strategic-merge patches matched by kind and name; lists of objects
with a `name` merge by name, as containers, env and ports do, other lists are replaced). Anything
else in a kustomization fails the test rather than being silently ignored. Each resulting object
is then validated offline with `kubernetes-validate` (strict: unknown fields are errors).
"""

from __future__ import annotations

import copy
import re
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlparse

import kubernetes_validate
import pytest
import yaml
from apscheduler.triggers.cron import CronTrigger

from brandpulse.api.settings import Settings
from tests.deploy.conftest import K8S_DIR, container_model_dir, instructions, load_yaml

KUBERNETES_VERSION = "1.33.0"
SUPPORTED_KEYS = {"apiVersion", "kind", "resources", "namespace", "images", "patches"}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume", "StorageClass"}
POD_TEMPLATE_KINDS = {"Deployment", "Job", "StatefulSet", "DaemonSet"}
OVERLAYS = sorted(path.parent for path in (K8S_DIR / "overlays").glob("*/kustomization.yaml"))


def _documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def _merge(base: Any, patch: Any) -> Any:
    """A strategic-merge patch, as far as these manifests need it."""
    if isinstance(base, dict) and isinstance(patch, dict):
        merged = dict(base)
        for key, value in patch.items():
            merged[key] = _merge(base[key], value) if key in base else copy.deepcopy(value)
        return merged
    named = (
        isinstance(base, list)
        and isinstance(patch, list)
        and all(isinstance(item, dict) and "name" in item for item in base + patch)
    )
    if named:
        by_name = {item["name"]: item for item in patch}
        merged_list = [
            _merge(item, by_name.pop(item["name"])) if item["name"] in by_name else item for item in base
        ]
        return merged_list + [copy.deepcopy(item) for item in patch if item["name"] in by_name]
    return copy.deepcopy(patch)


def _pod_spec(obj: dict[str, Any]) -> dict[str, Any] | None:
    if obj["kind"] in POD_TEMPLATE_KINDS:
        return obj["spec"]["template"]["spec"]
    if obj["kind"] == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return None


def build(directory: Path) -> list[dict[str, Any]]:
    """The objects `kustomize build directory` would print (for the subset described above)."""
    kustomization = load_yaml(directory / "kustomization.yaml")
    unsupported = set(kustomization) - SUPPORTED_KEYS
    assert not unsupported, f"{directory}: extend build() in this test for {sorted(unsupported)}"
    objects: list[dict[str, Any]] = []
    for entry in kustomization.get("resources", []):
        path = (directory / entry).resolve()
        objects += build(path) if path.is_dir() else _documents(path)
    for patch_entry in kustomization.get("patches", []):
        assert set(patch_entry) == {"path"}, f"{directory}: only `patches: - path:` is implemented"
        for patch in _documents(directory / patch_entry["path"]):
            targets = [
                index
                for index, obj in enumerate(objects)
                if obj["kind"] == patch["kind"] and obj["metadata"]["name"] == patch["metadata"]["name"]
            ]
            assert len(targets) == 1, f"patch {patch_entry['path']} matches {len(targets)} objects"
            objects[targets[0]] = _merge(objects[targets[0]], patch)
    images = {image["name"]: image for image in kustomization.get("images", [])}
    for obj in objects:
        spec = _pod_spec(obj)
        for container in (spec or {}).get("containers", []) + (spec or {}).get("initContainers", []):
            name, _, tag = container["image"].partition(":")
            if name in images:
                image = images[name]
                container["image"] = f"{image.get('newName', name)}:{image.get('newTag', tag or 'latest')}"
    if "namespace" in kustomization:
        for obj in objects:
            if obj["kind"] not in CLUSTER_SCOPED:
                obj["metadata"]["namespace"] = kustomization["namespace"]
    return objects


def _by_kind(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {obj["metadata"]["name"]: obj for obj in objects if obj["kind"] == kind}


@pytest.fixture(scope="module", params=[K8S_DIR / "base", *OVERLAYS], ids=lambda path: path.name)
def objects(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    """The built objects of the base and of each overlay."""
    return build(request.param)


def test_there_is_a_production_overlay():
    assert K8S_DIR / "overlays" / "production" in OVERLAYS


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


def test_the_production_overlay_pins_images_and_a_namespace():
    objects = build(K8S_DIR / "overlays" / "production")
    for obj in objects:
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == "brandpulse"
        for container in (_pod_spec(obj) or {}).get("containers", []):
            name, _, tag = container["image"].rpartition(":")
            assert "/" in name and tag not in ("", "latest"), container["image"]


def test_every_workload_runs_as_the_images_non_root_user(objects):
    runs = " ".join(str(args) for name, args in instructions("api") if name == "RUN")
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


def test_the_retrain_cronjob_shares_the_apis_image_secret_and_models_volume(objects):
    pod = _pod_spec(_by_kind(objects, "CronJob")["brandpulse-retrain"])
    api_pod = _pod_spec(_by_kind(objects, "Deployment")["brandpulse-api"])
    (container,), (api,) = pod["containers"], api_pod["containers"]
    assert container["image"] == api["image"]
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
