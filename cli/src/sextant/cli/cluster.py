"""A rendered chart release run as local processes, the way a cluster would run it: the
migrations Job's containers in order, then ``spec.replicas`` processes per Deployment,
each the image's entrypoint plus the chart's args, with the environment the chart
renders (Secrets resolved from a map, Service names pointed at loopback ports).

The distributed end-to-end test and ``cli/bench/bench_distributed.py`` run the chart
through this, so what they run cannot drift from what the chart deploys.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from sextant.cli import deployment
from sextant.runtime.embedded_pg import free_port

BIN = Path(sys.executable).parent
Secrets = Mapping[str, Mapping[str, str]]


@dataclass
class Pod:
    """One process of a Deployment, on a loopback port."""

    service: str
    port: int
    argv: list[str]
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                self.argv, env=self.env, stdout=log, stderr=log, stdin=subprocess.DEVNULL
            )

    def kill(self) -> None:
        """SIGKILL, as an OOM kill or a lost node would end it."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def metrics(self) -> str:
        return httpx.get(f"http://127.0.0.1:{self.port}/metrics", timeout=5).text


@dataclass
class Fleet:
    """Every process of a release; ``stop`` ends them all (call it in a finaliser)."""

    pods: list[Pod] = field(default_factory=list)
    ports: dict[str, int] = field(default_factory=dict)

    def of(self, service: str) -> list[Pod]:
        return [pod for pod in self.pods if pod.service == service]

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def stop(self) -> None:
        for pod in self.pods:
            if pod.process is not None and pod.process.poll() is None:
                pod.process.send_signal(signal.SIGTERM)
        for pod in self.pods:
            if pod.process is not None:
                try:
                    pod.process.wait(15)
                except subprocess.TimeoutExpired:
                    pod.kill()

    def logs(self) -> str:
        return "\n".join(
            f"--- {pod.service}:{pod.port} exit {pod.process and pod.process.poll()}\n"
            + pod.log.read_text(errors="replace")[-1500:]
            for pod in self.pods
            if pod.log.exists()
        )


def base_env(workdir: Path) -> dict[str, str]:
    """What the image's ENV gives every container, here (PATH to this environment)."""
    return {
        "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
        "HOME": str(workdir),
        "SEXTANT_DATA_DIR": str(workdir / "data"),
        "PYTHONUNBUFFERED": "1",
    }


def with_port(args: list[str], port: int) -> list[str]:
    """The chart's container args with the pod's port swapped for a free loopback one."""
    swapped = list(args)
    swapped[swapped.index("--port") + 1] = str(port)
    return [*swapped, "--host", "127.0.0.1"]


def localised(env: dict[str, str], ports: Mapping[str, int], release: str) -> dict[str, str]:
    """The gateway's service URLs (cluster Service names) pointed at the local processes."""
    if "SEXTANT_GATEWAY_SERVICE_URLS" not in env:
        return env
    urls = json.loads(env["SEXTANT_GATEWAY_SERVICE_URLS"])
    for name, url in urls.items():
        if urlsplit(url).hostname != f"{release}-{name}":
            raise ValueError(f"the chart names {name} {url}, not its Service")
        urls[name] = f"http://127.0.0.1:{ports[name]}"
    return env | {"SEXTANT_GATEWAY_SERVICE_URLS": json.dumps(urls)}


def run_jobs(manifests: list[deployment.Manifest], secrets: Secrets, workdir: Path) -> None:
    """Each Job's init containers, then its containers, to completion; a failure raises
    with the command's output."""
    for job in (m for m in manifests if m["kind"] == "Job"):
        pod = job["spec"]["template"]["spec"]
        for container in [*pod.get("initContainers", []), *pod["containers"]]:
            env = base_env(workdir) | deployment.container_env(container, secrets)
            command = [str(BIN / container["command"][0]), *container["command"][1:]]
            done = subprocess.run(
                command, env=env, capture_output=True, text=True, timeout=300, check=False
            )
            if done.returncode != 0:
                raise RuntimeError(f"{container['name']}: {done.stdout}{done.stderr}")


def start_release(
    manifests: list[deployment.Manifest],
    secrets: Secrets,
    workdir: Path,
    fleet: Fleet,
    *,
    release: str = "sextant",
) -> None:
    """Start ``spec.replicas`` processes of every Deployment into ``fleet`` (the first
    replica of each on the port its Service stands for)."""
    entrypoint = deployment.entrypoint()
    deployments = deployment.of_kind(manifests, "Deployment")
    fleet.ports |= {name: free_port() for name in deployments}
    for name, manifest in deployments.items():
        (container,) = manifest["spec"]["template"]["spec"]["containers"]
        env = localised(deployment.container_env(container, secrets), fleet.ports, release)
        for replica in range(manifest["spec"].get("replicas", 1)):
            port = fleet.ports[name] if replica == 0 else free_port()
            argv = [str(BIN / entrypoint[0]), *entrypoint[1:], *with_port(container["args"], port)]
            fleet.pods.append(
                Pod(name, port, argv, base_env(workdir) | env, workdir / f"{name}-{replica}.log")
            )
    for pod in fleet.pods:
        if pod.process is None:
            pod.start()
