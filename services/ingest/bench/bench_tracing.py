"""Tracing overhead on the webhook accept path: ingest with tracing off and on, in the
same run, measured in turn by the same client (``bench_webhooks``'s).

    .venv/bin/python services/ingest/bench/bench_tracing.py [--seconds 8] [--connections 64]
        [--repeat 3] [--sampled 0.1]

"On" is the real pipeline, not a stand-in: ``OTEL_EXPORTER_OTLP_ENDPOINT`` set, so every
delivery gets its server span, the relay its batch spans (linked to the events), all
batched by the SDK's ``BatchSpanProcessor`` and sent by the OTLP http/protobuf exporter
(the runtime's encoder) to a collector on loopback — here a sink in this process that decodes each
export and counts its spans (so the figure includes encoding and sending, and the count
shows spans really left). "Off" is the default: no exporter, no tracer. "Sampled" is "on"
with ``SEXTANT_TRACING_SAMPLE_RATIO`` at ``--sampled`` (a trace not sampled makes no
span to record or export).

The three servers are ``sextant serve ingest`` (uvicorn, one worker) pinned to one core, each
on its own database of one PostgreSQL (so neither's relay publishes the other's rows),
measured interleaved ``--repeat`` times; the medians decide. The overhead is the extra
server CPU per delivery (what tracing adds to each request, steady while the host's speed
drifts) and the accept rate lost; the target is at most 10 %.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import asyncpg
import httpx
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

sys.path.insert(0, str(Path(__file__).parent))
from bench_webhooks import (
    keep_off_the_server_core,
    measure,
    median_run,
    pull_request_body,
    start_server,
    stop,
    wait_ready,
)

from sextant.runtime.embedded_pg import EmbeddedPostgres, free_port
from sextant.runtime.tokens import (
    InternalTokenSigner,
    generate_keypair,
    load_private_key,
)

TARGET_OVERHEAD = 0.10
MODES = ("off", "on", "sampled")


class Collector:
    """An OTLP/HTTP traces endpoint on loopback that decodes each export and counts spans."""

    def __init__(self) -> None:
        self.spans = 0
        self.exports = 0
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                request = ExportTraceServiceRequest.FromString(body)
                collector.exports += 1
                collector.spans += sum(
                    len(scope.spans)
                    for resource in request.resource_spans
                    for scope in resource.scope_spans
                )
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


async def create_database(url: str, name: str) -> str:
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return url.rsplit("/", 1)[0] + f"/{name}"


async def main(seconds: float, connections: int, repeat: int, sampled: float) -> int:
    keep_off_the_server_core()
    body = pull_request_body()
    collector = Collector()
    with tempfile.TemporaryDirectory(prefix="sextant-bench-tracing-") as tmp:
        work = Path(tmp)
        postgres = EmbeddedPostgres(work / "pg")
        cluster_url = postgres.start()
        servers: dict[str, subprocess.Popen[bytes]] = {}
        runs: dict[str, list[dict[str, float]]] = {mode: [] for mode in MODES}
        try:
            private_pem, public_pem = generate_keypair()
            signer = InternalTokenSigner(load_private_key(private_pem))
            ports: dict[str, int] = {}
            sources: dict[str, dict[str, str]] = {}
            for mode in MODES:
                env = os.environ | {
                    "DATABASE_URL": await create_database(cluster_url, f"ingest_{mode}"),
                    "SEXTANT_INTERNAL_TOKEN_PUBLIC_KEY": public_pem,
                    "SEXTANT_BUS": "local",
                    "SEXTANT_DATA_DIR": str(work / mode),
                    "SEXTANT_LOG_LEVEL": "WARNING",
                    "SEXTANT_DB_POOL_SIZE": str(connections),
                    "SEXTANT_INGEST_MAX_IN_FLIGHT": str(connections * 4),
                }
                env.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
                env.pop("SEXTANT_TRACING_OTLP_ENDPOINT", None)
                if mode != "off":
                    env["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector.url
                env["SEXTANT_TRACING_SAMPLE_RATIO"] = str(sampled if mode == "sampled" else 1.0)
                ports[mode] = free_port()
                command = [sys.executable, "-m", "sextant.cli", "serve", "ingest"]
                command += ["--host", "127.0.0.1", "--port", str(ports[mode])]
                servers[mode] = start_server(command, work / f"{mode}.log", env)
                url = f"http://127.0.0.1:{ports[mode]}"
                # one at a time: starting, each sets the cluster-wide role's password
                wait_ready(f"{url}/readyz", servers[mode], work / f"{mode}.log")
                token = signer.mint(
                    service="ingest", subject="bench", role="tenant_admin", tenant_id=uuid.uuid4()
                )
                sources[mode] = httpx.post(
                    f"{url}/v1/workspaces/{uuid.uuid4()}/sources",
                    json={"kind": "github", "name": "bench"},
                    headers={"Authorization": f"Bearer {token}"},
                ).json()
            number = re.search(rb'"number": ?\d+', body)
            assert number is not None, "the pull_request body has no number"
            numbers = iter(range(10**9))  # across servers and repeats: every delivery new

            def signed_for(secret: str):  # type: ignore[no-untyped-def]
                key = secret.encode()

                def signed(_: int) -> tuple[dict[str, str], bytes]:
                    n = next(numbers)
                    numbered = body.replace(number.group(0), b'"number": %d' % n)
                    return {
                        "Content-Type": "application/json",
                        "X-GitHub-Event": "pull_request",
                        "X-GitHub-Delivery": f"bench-{n}",
                        "X-Hub-Signature-256": "sha256="
                        + hmac.new(key, numbered, hashlib.sha256).hexdigest(),
                    }, numbered

                return signed

            # interleaved, so a drift of the host's speed hits all three; each round starts
            # with the next mode, so none always runs first or after the same one
            for n in range(repeat):
                for mode in MODES[n % len(MODES) :] + MODES[: n % len(MODES)]:
                    runs[mode].append(
                        await measure(
                            servers[mode].pid,
                            ports[mode],
                            f"/v1/hooks/{sources[mode]['id']}",
                            signed_for(sources[mode]["secret"]),
                            seconds,
                            connections,
                        )
                    )
        finally:
            for server in servers.values():
                stop(server)  # the traced one flushes its last spans on the way out
            postgres.stop()
            collector.close()
    report(body, seconds, connections, runs, collector, sampled)
    return 0


def report(
    body: bytes,
    seconds: float,
    connections: int,
    runs: dict[str, list[dict[str, float]]],
    collector: Collector,
    sampled: float,
) -> None:
    print(
        f"tracing overhead on webhook accept, {len(body) / 1000:.1f} KB GitHub pull_request,"
        f" server on one core, {connections} connections, {seconds:.0f} s per phase,"
        f" {len(runs['off'])} interleaved run(s) of each"
    )
    print(f"{'':44}{'deliveries/s':>14}{'p50 ms @70%':>14}{'p99 ms @70%':>14}{'CPU ms each':>13}")
    # the samplers by their OTEL_TRACES_SAMPLER names: a caller's decision kept, a new
    # trace recorded when its id falls in the ratio (SEXTANT_TRACING_SAMPLE_RATIO)
    names = {
        "off": "tracing off",
        "on": "on, parentbased_traceidratio 1.0",
        "sampled": f"on, parentbased_traceidratio {sampled:g}",
    }
    rows = [
        (f"run {n + 1}: {names[mode]}", runs[mode][n])
        for n in range(len(runs["off"]))
        for mode in MODES
    ]
    rows += [(f"median: {names[mode]}", median_run(runs[mode])) for mode in MODES]
    for name, figures in rows:
        print(
            f"{name:44}{figures['rate']:>14,.0f}{figures['p50']:>14.1f}{figures['p99']:>14.1f}"
            f"{figures['cpu_ms']:>13.3f}"
        )
    for mode in ("on", "sampled"):
        pairs = list(zip(runs["off"], runs[mode], strict=True))
        ratios = [round(b["cpu_ms"] / a["cpu_ms"], 3) for a, b in pairs]
        cpu = statistics.median(ratios) - 1
        rate = statistics.median(1 - b["rate"] / a["rate"] for a, b in pairs)
        met = cpu <= TARGET_OVERHEAD and rate <= TARGET_OVERHEAD
        print(
            f"{names[mode]}: server CPU per delivery on/off = {cpu + 1:.3f} ({cpu:+.1%};"
            f" rounds {', '.join(f'{r:.3f}' for r in ratios)}), {rate:.1%} of the accept rate"
            f" lost (medians of the paired runs); target <= {TARGET_OVERHEAD:.0%}:"
            f" {'met' if met else 'NOT met'}"
        )
    print(f"spans received by the OTLP sink: {collector.spans:,} in {collector.exports:,} exports")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3, help="interleaved off/on runs")
    parser.add_argument("--sampled", type=float, default=0.1, help="the sampled server's ratio")
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.seconds, args.connections, args.repeat, args.sampled)))
