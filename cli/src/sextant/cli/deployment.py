"""What the container image and the Helm chart run, read back from their sources.

The chart tests and the distributed end-to-end test start each service with the command
the Dockerfile's entrypoint and the chart's container args make, and the environment the
chart renders for it, so the image, the chart and the tests cannot drift apart.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

REPOSITORY = Path(__file__).resolve().parents[4]
DOCKERFILE = REPOSITORY / "Dockerfile"
CHART = REPOSITORY / "deploy" / "helm" / "sextant"

Manifest = dict[str, Any]


def _instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of each line, continuations joined, comments dropped."""
    joined: list[str] = []
    pending = ""
    for line in dockerfile.read_text().splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        joined.append(pending + stripped)
        pending = ""
    return [
        (part[0].upper(), part[1] if len(part) > 1 else "")
        for part in (entry.split(None, 1) for entry in joined)
    ]


def final_stage(dockerfile: Path = DOCKERFILE) -> list[tuple[str, str]]:
    """The instructions of the image's last stage (what runs in a pod)."""
    stages: list[list[tuple[str, str]]] = []
    for instruction in _instructions(dockerfile):
        if instruction[0] == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(instruction)
    return stages[-1]


def entrypoint(dockerfile: Path = DOCKERFILE) -> list[str]:
    """The final stage's ENTRYPOINT, in its exec (JSON) form."""
    found = [args for name, args in final_stage(dockerfile) if name == "ENTRYPOINT"]
    command: list[str] = json.loads(found[-1])
    return command


def build_command(dockerfile: Path = DOCKERFILE) -> list[str]:
    """The ``uv sync`` that installs the services into the image."""
    for name, args in _instructions(dockerfile):
        if name == "RUN" and args.startswith("uv sync"):
            return shlex.split(args)
    raise ValueError(f"{dockerfile} installs nothing with uv sync")


def render(
    values: Mapping[str, Any] | None = None,
    *,
    chart: Path = CHART,
    release: str = "sextant",
    namespace: str = "sextant",
) -> list[Manifest]:
    """Every object the chart renders for ``values`` (no cluster, no helm binary)."""
    import helm_python

    loaded = helm_python.Chart.load(chart)
    rendered = loaded.render(dict(values or {}), name=release, namespace=namespace, is_install=True)
    return [
        document
        for path, text in sorted(rendered.items())
        if path.endswith((".yaml", ".yml"))
        for document in yaml.safe_load_all(text)
        if document
    ]


def of_kind(manifests: list[Manifest], kind: str) -> dict[str, Manifest]:
    """The objects of one kind by their ``app.kubernetes.io/name`` label (the service)."""
    return {
        m["metadata"]["labels"]["app.kubernetes.io/name"]: m for m in manifests if m["kind"] == kind
    }


def container_env(
    container: Mapping[str, Any], secrets: Mapping[str, Mapping[str, str]]
) -> dict[str, str]:
    """A container's environment as the kubelet would set it, Secrets resolved from
    ``secrets`` (name → key → value); a missing Secret key fails as the pod would."""
    env: dict[str, str] = {}
    for variable in container.get("env", []):
        if "value" in variable:
            env[variable["name"]] = str(variable["value"])
            continue
        ref = variable["valueFrom"]["secretKeyRef"]
        env[variable["name"]] = secrets[ref["name"]][ref["key"]]
    return env
