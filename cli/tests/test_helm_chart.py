"""The Helm chart (deploy/helm/sextant) lints, renders without a helm binary, validates
against a current Kubernetes, and its values change what they say they change."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import helm_python
import kubernetes_validate
import pytest

from sextant.cli import deployment
from sextant.cli.services import SERVICE_NAMES

KUBERNETES = "1.37.0"


@pytest.fixture(scope="module")
def default() -> list[dict[str, Any]]:
    return deployment.render()


def env_names(manifest: dict[str, Any]) -> dict[str, Any]:
    container = manifest["spec"]["template"]["spec"]["containers"][0]
    return {variable["name"]: variable for variable in container["env"]}


def test_the_chart_lints_clean() -> None:
    report = helm_python.lint(deployment.CHART, strict=True, kube_version=f"v{KUBERNETES}")
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


def test_every_rendered_manifest_is_valid_kubernetes(default: list[dict[str, Any]]) -> None:
    for manifest in default:
        kubernetes_validate.validate(manifest, KUBERNETES, strict=True)
    kinds = [m["kind"] for m in default]
    assert kinds.count("Deployment") == kinds.count("Service") == 7
    assert kinds.count("NetworkPolicy") == kinds.count("PodDisruptionBudget") == 7
    assert kinds.count("HorizontalPodAutoscaler") == 6  # archive's is off by default
    assert kinds.count("Ingress") == kinds.count("Job") == 1


def test_each_service_runs_the_image_entrypoint_with_its_name(
    default: list[dict[str, Any]],
) -> None:
    deployments = deployment.of_kind(default, "Deployment")
    assert sorted(deployments) == sorted(SERVICE_NAMES)
    for name, manifest in deployments.items():
        pod = manifest["spec"]["template"]["spec"]
        container = pod["containers"][0]
        assert "command" not in container  # the image's ENTRYPOINT: sextant serve
        assert container["args"] == [name, "--port", "8000"]
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
        env = env_names(manifest)
        assert env["SEXTANT_BUS"]["value"] == "kafka"
        assert env["SEXTANT_MIGRATE_ON_START"]["value"] == "false"
        # The gateway signs callers' tokens; reports signs its calls on a requester's behalf.
        assert ("SEXTANT_INTERNAL_TOKEN_PRIVATE_KEY" in env) == (name in ("gateway", "reports"))


def test_the_gateway_knows_every_service_by_its_service_name(
    default: list[dict[str, Any]],
) -> None:
    env = env_names(deployment.of_kind(default, "Deployment")["gateway"])
    urls = json.loads(env["SEXTANT_GATEWAY_SERVICE_URLS"]["value"])
    assert urls == {
        name: f"http://sextant-{name}:8000" for name in SERVICE_NAMES if name != "gateway"
    }
    assert env["SEXTANT_GATEWAY_REPLICAS"]["value"] == "2"  # the autoscaler's floor
    reports = env_names(deployment.of_kind(default, "Deployment")["reports"])
    assert json.loads(reports["SEXTANT_REPORTS_SERVICE_URLS"]["value"]) == {
        name: f"http://sextant-{name}:8000" for name in SERVICE_NAMES if name != "reports"
    }
    services = deployment.of_kind(default, "Service")
    assert {f"http://{s['metadata']['name']}:8000" for s in services.values()} >= set(urls.values())


def test_only_the_gateway_is_reachable_from_outside(default: list[dict[str, Any]]) -> None:
    (ingress,) = [m for m in default if m["kind"] == "Ingress"]
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == "sextant-gateway"
    inside = {
        "podSelector": {
            "matchLabels": {
                "app.kubernetes.io/part-of": "sextant",
                "app.kubernetes.io/instance": "sextant",
            }
        }
    }
    for name, policy in deployment.of_kind(default, "NetworkPolicy").items():
        (rule,) = policy["spec"]["ingress"]
        if name == "gateway":
            assert rule["from"][0] == inside and len(rule["from"]) == 2
        else:
            assert rule["from"] == [inside], name


def test_replicas_and_an_autoscaler_turned_off() -> None:
    manifests = deployment.render(
        {"services": {"forecast": {"replicas": 5, "autoscaling": {"enabled": False}}}}
    )
    assert deployment.of_kind(manifests, "Deployment")["forecast"]["spec"]["replicas"] == 5
    autoscalers = deployment.of_kind(manifests, "HorizontalPodAutoscaler")
    assert "forecast" not in autoscalers
    assert "replicas" not in deployment.of_kind(manifests, "Deployment")["insights"]["spec"]
    assert autoscalers["insights"]["spec"]["minReplicas"] == 2


def test_an_external_database_and_kafka_from_the_operators_secrets() -> None:
    manifests = deployment.render(
        {
            "database": {"existingSecret": "pg-owner", "urlKey": "dsn"},
            "kafka": {
                "bootstrapServers": "b-1.msk.example:9096",
                "securityProtocol": "SASL_SSL",
                "sasl": {"mechanism": "SCRAM-SHA-512", "existingSecret": "msk"},
                "tls": {"caSecret": "msk-ca"},
            },
        }
    )
    for manifest in [*deployment.of_kind(manifests, "Deployment").values()]:
        env = env_names(manifest)
        assert env["DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {
            "name": "pg-owner",
            "key": "dsn",
        }
        assert env["KAFKA_BOOTSTRAP_SERVERS"]["value"] == "b-1.msk.example:9096"
        assert env["SEXTANT_KAFKA_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
            "name": "msk",
            "key": "password",
        }
        assert env["SEXTANT_KAFKA_SSL_CAFILE"]["value"] == "/etc/sextant/kafka-ca/ca.crt"
    (job,) = [m for m in manifests if m["kind"] == "Job"]
    migrate = job["spec"]["template"]["spec"]["containers"][0]
    assert migrate["command"] == ["sextant", "migrate"]
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert env_names(job)["DATABASE_URL"]["valueFrom"]["secretKeyRef"]["name"] == "pg-owner"


def test_migrations_on_start_when_the_job_is_off() -> None:
    manifests = deployment.render({"migrations": {"enabled": False}})
    assert not [m for m in manifests if m["kind"] == "Job"]
    env = env_names(deployment.of_kind(manifests, "Deployment")["identity"])
    assert env["SEXTANT_MIGRATE_ON_START"]["value"] == "true"


def test_the_schema_refuses_values_naming_a_field() -> None:
    with pytest.raises(helm_python.HelmValuesError, match="/services/gateway/replicas"):
        deployment.render({"services": {"gateway": {"replicas": -1}}})
    with pytest.raises(helm_python.HelmValuesError, match="/kafka/bootstrapServers"):
        deployment.render({"kafka": {"bootstrapServers": ""}})


def test_the_dockerfile_lints_and_runs_what_the_tests_run() -> None:
    linted = subprocess.run(
        [str(Path(sys.executable).parent / "hadolint"), str(deployment.DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert linted.returncode == 0, linted.stdout
    assert deployment.entrypoint() == ["sextant", "serve"]
    # the locked environment the tests run in (`make install`'s uv sync), less the dev tools
    (make_sync,) = [
        line.split("sync", 1)[1].split()
        for line in (deployment.REPOSITORY / "Makefile").read_text().splitlines()
        if "$(UV) sync" in line
    ]
    assert set(make_sync) <= set(deployment.build_command()[2:])
    assert deployment.build_command() == [
        "uv",
        "sync",
        "--all-packages",
        "--frozen",
        "--no-dev",
        "--no-editable",
    ]
    stage = deployment.final_stage()
    assert ("USER", "10001:10001") in stage
    assert not [args for name, args in stage if name == "RUN" and "apt-get" in args]
