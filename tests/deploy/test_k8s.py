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

from brandpulse.api.settings import Settings, SettingsError
from tests.conftest import skip_or_fail
from tests.deploy.conftest import K8S_DIR, container_model_dir, load_yaml, stage

KUBERNETES_VERSION = "1.33.0"
POD_TEMPLATE_KINDS = {"Deployment", "Job", "StatefulSet", "DaemonSet"}
OVERLAYS = sorted(path.parent for path in (K8S_DIR / "overlays").glob("*/kustomization.yaml"))
PRODUCTION = K8S_DIR / "overlays" / "production"
# The pods that run this project's Python code (a read-only root with a /tmp emptyDir each).
PYTHON_WORKLOADS = {
    "brandpulse-api", "brandpulse-dash", "brandpulse-migrate", "brandpulse-retrain", "brandpulse-privacy",
}  # fmt: skip
RUNTIME_DEFAULT = {"type": "RuntimeDefault"}
# The workloads that run the API's code, and so need its SECRET_KEY.
API_CODE = {"brandpulse-api", "brandpulse-migrate", "brandpulse-retrain", "brandpulse-privacy"}


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
    expected = {"Deployment", "Service", "HorizontalPodAutoscaler", "Ingress", "Job", "CronJob"}
    assert expected | {"NetworkPolicy"} <= set(kinds)
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


def test_the_api_scales_on_cpu_measured_against_what_a_pod_is_sized_for(objects):
    """What tests/deploy/test_replicas.py shows with compose: replicas that agree, served only
    while ready. Here: readiness on /readyz (checked every 5 s, out after two failures), liveness
    on /healthz, and an HPA on CPU utilisation, which Kubernetes measures against the CPU request:
    the request is the cores the pod's workers use, one single-threaded worker a core."""
    deployments = _by_kind(objects, "Deployment")
    (api,) = deployments["brandpulse-api"]["spec"]["template"]["spec"]["containers"]
    readiness = api["readinessProbe"]
    assert readiness["httpGet"]["path"] == "/readyz" and api["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert readiness["periodSeconds"] * readiness["failureThreshold"] <= 10
    resources = api["resources"]
    assert resources["requests"]["cpu"] == resources["limits"]["cpu"] == "2"
    environment = {variable["name"]: variable.get("value") for variable in api["env"]}
    assert int(environment["WEB_CONCURRENCY"]) * int(environment["TORCH_THREADS"]) == 2
    (hpa,) = _by_kind(objects, "HorizontalPodAutoscaler").values()
    (metric,) = hpa["spec"]["metrics"]
    assert metric["type"] == "Resource" and metric["resource"]["name"] == "cpu"
    assert metric["resource"]["target"] == {"type": "Utilization", "averageUtilization": 70}
    assert hpa["spec"]["minReplicas"] >= 2, "one pod down (a crash, a rollout) must leave one serving"


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
    for service in ("migrate", "api", "dash"):
        assert containers[service]["command"] == compose["services"][service]["command"]
    # Redis: the same, with the password each fills in its own way (compose `${…}`, Kubernetes `$(…)`).
    redis, written = containers["redis"]["command"], compose["services"]["redis"]["command"]
    as_compose = [re.sub(r"^\$\((\w+)\)$", r"${\1}", part) for part in redis]
    as_written = [re.sub(r"^\$\{(\w+):\?[^}]*\}$", r"${\1}", part) for part in written]
    assert as_compose == as_written
    # The privacy job: compose's service runs it on a schedule; here the CronJob is the schedule.
    privacy = compose["services"]["privacy"]["command"]
    assert containers["privacy"]["command"] == privacy[: privacy.index("--schedule")]


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
        assert spec["securityContext"]["seccompProfile"] == RUNTIME_DEFAULT, name
        for container in [*spec["containers"], *spec.get("initContainers", [])]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["capabilities"] == {"drop": ["ALL"]}, name
            assert context["readOnlyRootFilesystem"] is True, name
            assert not context.get("privileged"), name
            assert context.get("seccompProfile", RUNTIME_DEFAULT) == RUNTIME_DEFAULT, name


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
    mounts = container["volumeMounts"]
    return {claims[mount["name"]]: mount["mountPath"] for mount in mounts if mount["name"] in claims}


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


# ---------------------------------------------------------------- hardening (issue 25)


def _workloads(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Workload name -> its pod template (metadata and spec)."""
    result = {}
    for obj in objects:
        if obj["kind"] in POD_TEMPLATE_KINDS:
            result[obj["metadata"]["name"]] = obj["spec"]["template"]
        elif obj["kind"] == "CronJob":
            result[obj["metadata"]["name"]] = obj["spec"]["jobTemplate"]["spec"]["template"]
    return result


def test_the_python_pods_write_only_to_an_empty_dir_on_tmp(objects):
    workloads = _workloads(objects)
    assert set(workloads) >= PYTHON_WORKLOADS
    for name in PYTHON_WORKLOADS:
        pod = workloads[name]["spec"]
        empty_dirs = {volume["name"] for volume in pod.get("volumes", []) if "emptyDir" in volume}
        for container in pod["containers"]:
            tmp = [mount for mount in container.get("volumeMounts", []) if mount["mountPath"] == "/tmp"]
            assert len(tmp) == 1 and tmp[0]["name"] in empty_dirs, f"{name}: /tmp on an emptyDir"


def test_the_models_volume_is_read_only_in_the_api_pods_only(objects):
    workloads = _workloads(objects)
    read_only = {}
    for name, template in workloads.items():
        pod = template["spec"]
        claims = {
            volume["name"]: volume["persistentVolumeClaim"]
            for volume in pod.get("volumes", [])
            if "persistentVolumeClaim" in volume
        }
        for container in pod["containers"]:
            for mount in container.get("volumeMounts", []):
                claim = claims.get(mount["name"])
                if claim and claim["claimName"] == "brandpulse-models":
                    read_only[name] = bool(mount.get("readOnly")) and bool(claim.get("readOnly"))
    assert read_only == {"brandpulse-api": True, "brandpulse-migrate": False, "brandpulse-retrain": False}


def test_every_pod_running_the_api_code_gets_the_secret_key(objects):
    workloads = _workloads(objects)
    for name in API_CODE:
        (container,) = workloads[name]["spec"]["containers"]
        reference = {"secretKeyRef": {"name": "brandpulse-secrets", "key": "SECRET_KEY"}}
        assert _env(container)["SECRET_KEY"] == reference, name


def test_the_secret_templates_placeholders_are_refused_by_the_api():
    """Applied unedited, the template's token and key stop the API at start (and say why)."""
    (secret,) = _documents(K8S_DIR / "base" / "secret.example.yaml")
    values = secret["stringData"]
    assert set(values) == {"DATABASE_URL", "ADMIN_TOKEN", "SECRET_KEY", "REDIS_PASSWORD"}
    for key, value in values.items():
        assert "CHANGE-ME" in value, f"{key}: keep it an obvious placeholder"
    for key in ("ADMIN_TOKEN", "SECRET_KEY"):
        with pytest.raises(SettingsError, match="placeholder"):
            Settings.from_env({key: values[key]})


def test_redis_asks_for_the_password_of_the_secret(objects):
    deployments, services = _by_kind(objects, "Deployment"), _by_kind(objects, "Service")
    (redis,) = deployments["brandpulse-redis"]["spec"]["template"]["spec"]["containers"]
    reference = {"secretKeyRef": {"name": "brandpulse-secrets", "key": "REDIS_PASSWORD"}}
    env = _env(redis)
    assert env["REDIS_PASSWORD"] == env["REDISCLI_AUTH"] == reference  # redis-cli (the probe) authenticates
    command = redis["command"]
    assert command[command.index("--requirepass") + 1] == "$(REDIS_PASSWORD)"
    assert redis["readinessProbe"]["exec"]["command"] == ["redis-cli", "ping"]
    (api,) = deployments["brandpulse-api"]["spec"]["template"]["spec"]["containers"]
    names = [item["name"] for item in api["env"]]
    # Kubernetes fills in $(VAR) only from variables defined earlier in the list.
    assert names.index("REDIS_PASSWORD") < names.index("RATE_LIMIT_STORAGE_URI")
    assert _env(api)["REDIS_PASSWORD"] == reference
    uri = urlparse(_env(api)["RATE_LIMIT_STORAGE_URI"])
    assert uri.password == "$(REDIS_PASSWORD)" and uri.hostname in services


def test_the_api_trusts_only_the_dash_pods_by_a_headless_service(objects):
    deployments, services = _by_kind(objects, "Deployment"), _by_kind(objects, "Service")
    (api,) = deployments["brandpulse-api"]["spec"]["template"]["spec"]["containers"]
    hops = _env(api)["TRUSTED_PROXIES"]
    assert Settings.from_env({"TRUSTED_PROXIES": hops}).trusted_proxies == (hops,), "one name, no network"
    service = services[hops]
    assert service["spec"]["clusterIP"] == "None", "headless: the name resolves to the pods' own addresses"
    assert service["spec"]["publishNotReadyAddresses"] is True
    selected = [
        name
        for name, deployment in deployments.items()
        if service["spec"]["selector"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    ]
    assert selected == ["brandpulse-dash"]


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    assert set(selector) <= {"matchLabels"}, "only matchLabels here"
    return selector.get("matchLabels", {}).items() <= labels.items()


def test_network_policies_deny_by_default_and_allow_only_the_callers(objects):
    """Who may connect to each workload's pods: the union of the policies that select them."""
    policies = list(_by_kind(objects, "NetworkPolicy").values())
    workloads = _workloads(objects)
    deny_all = [policy for policy in policies if policy["spec"]["podSelector"] == {}]
    assert len(deny_all) == 1 and deny_all[0]["spec"]["policyTypes"] == ["Ingress"]
    assert "ingress" not in deny_all[0]["spec"], "the default: nothing may connect"
    for policy in policies:
        assert policy["spec"]["policyTypes"] == ["Ingress"], policy["metadata"]["name"]

    def callers(name: str) -> list[tuple[str, tuple[int | str, ...]]]:
        labels = workloads[name]["metadata"]["labels"]
        found = []
        for policy in policies:
            if not _selects(policy["spec"]["podSelector"], labels):
                continue
            for rule in policy["spec"].get("ingress", []):
                ports = tuple(port["port"] for port in rule["ports"])
                for peer in rule["from"]:
                    if "namespaceSelector" in peer:
                        found.append((f"namespace {peer['namespaceSelector']['matchLabels']}", ports))
                        assert peer["podSelector"]["matchLabels"], "some pods of that namespace, not all"
                        continue
                    found += [
                        (other, ports)
                        for other, template in workloads.items()
                        if _selects(peer["podSelector"], template["metadata"]["labels"])
                    ]
        return found

    ingress_controller = "namespace {'kubernetes.io/metadata.name': 'ingress-nginx'}"
    assert callers("brandpulse-dash") == [(ingress_controller, ("http",))]
    assert callers("brandpulse-api") == [("brandpulse-dash", ("http",))]
    assert callers("brandpulse-redis") == [("brandpulse-api", ("redis",))]
    for job in ("brandpulse-migrate", "brandpulse-retrain", "brandpulse-privacy"):
        assert callers(job) == [], f"{job} serves nothing"
    # The named ports exist on the pods they select.
    named = {"brandpulse-dash": "http", "brandpulse-api": "http", "brandpulse-redis": "redis"}
    for name, port in named.items():
        (container,) = workloads[name]["spec"]["containers"]
        assert port in {item["name"] for item in container["ports"]}


def test_the_privacy_cronjob_expires_personal_data_every_night(objects):
    cronjob = _by_kind(objects, "CronJob")["brandpulse-privacy"]
    spec = cronjob["spec"]
    assert spec["schedule"] == Settings.from_env({}).personal_data_schedule
    CronTrigger.from_crontab(spec["schedule"], timezone=spec["timeZone"])
    assert spec["timeZone"] == "Etc/UTC" and spec["concurrencyPolicy"] == "Forbid"
    pod = spec["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    (container,) = pod["containers"]
    assert container["command"] == ["flask", "--app", "brandpulse.api", "privacy", "expire"]
    (api,) = _pod_spec(_by_kind(objects, "Deployment")["brandpulse-api"])["containers"]
    assert container["image"] == api["image"], "the API's image"
    env = _env(container)
    assert env["DATABASE_URL"] == _env(api)["DATABASE_URL"]
    days = int(env["PERSONAL_DATA_RETENTION_DAYS"])
    assert days == Settings.from_env({}).personal_data_retention_days
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(container["resources"][kind])
