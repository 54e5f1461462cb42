"""Schemathesis over the public API's /openapi.json, against `sextant run` as a person runs
it (issue #3): no answer is a server error, and every answer has the shape the document
gives its status.

The stack is a real process on a loopback port. Every operation gets a few examples in
each generation mode (valid and invalid input); half the valid ones are aimed at objects
that exist (the tenant's workspace, source and team) so they reach past the 404s. Failures
are collected rather than raised, so one run reports every broken operation."""

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, Verbosity, given, seed, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from sextant.runtime.embedded_pg import free_port

SEXTANT = [sys.executable, "-m", "sextant.cli"]
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
]
EXAMPLES = 20  # per operation and generation mode: the whole run stays well within 3 minutes
SEED = 20261201  # the same examples every run; change it to explore others
# A few paths of each part of the public API (ARCHITECTURE §7) that serves them today: the
# merged document must not silently lose a service, nor the gateway's own routes.
EXPECTED_PATHS = {
    "/v1/tenants",
    "/v1/workspaces",
    "/v1/views",
    "/v1/hooks/{source_id}",
    "/v1/workspaces/{workspace_id}/sources",
    "/v1/sources/{source_id}/backfill",
    "/v1/developers",
    "/v1/developers/{developer_id}/split",
    "/v1/forecasts/when",
    "/v1/sprints/{sprint_id}/forecast",
    "/v1/audit-log",
    "/v1/notifications",
}
DEAD_PROXY = "http://127.0.0.1:9"  # anything a service sends beyond loopback goes nowhere


def stack_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SEXTANT_DATABASE_URL")}
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        env[name] = DEAD_PROXY
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost,::1"
    return env


@dataclass
class Stack:
    url: str
    data_dir: Path
    log: Path
    admin_token: str = field(repr=False)


@pytest.fixture
def stack(tmp_path: Path) -> Any:
    data_dir, log, port = tmp_path / "data", tmp_path / "run.log", free_port()
    process = subprocess.Popen(
        [*SEXTANT, "run", "--port", str(port), "--data-dir", str(data_dir)],
        env=stack_env(),
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_ready(process, url, log)
        token = re.search(r"^SEXTANT_TOKEN=(\S+)$", log.read_text(), re.MULTILINE)
        assert token, log.read_text()[-3000:]
        yield Stack(url, data_dir, log, token.group(1))
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def wait_until_ready(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"sextant run exited {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/v1/status", timeout=5, trust_env=False).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    pytest.fail(f"not ready in time:\n{log.read_text()[-3000:]}")


def created(response: httpx.Response) -> str:
    assert response.status_code == 201, response.text
    identifier: str = response.json()["id"]
    return identifier


def tenant_admin_token(stack: Stack, tenant_id: str) -> str:
    """Minted by `sextant token create`, which reaches the running stack's database."""
    done = subprocess.run(
        [
            *SEXTANT,
            "token",
            "create",
            "--role",
            "tenant_admin",
            "--tenant",
            tenant_id,
            "--subject",
            "fuzz@local",
            "--data-dir",
            str(stack.data_dir),
        ],
        env=stack_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def build_world(stack: Stack) -> tuple[dict[str, str], dict[str, str]]:
    """A tenant with a workspace, a source and a team; its admin's headers, and the ids."""
    with httpx.Client(base_url=stack.url, timeout=30, trust_env=False) as client:
        platform = {"Authorization": f"Bearer {stack.admin_token}"}
        tenant = created(client.post("/v1/tenants", json={"name": "fuzz"}, headers=platform))
        admin = {"Authorization": f"Bearer {tenant_admin_token(stack, tenant)}"}
        workspace = created(client.post("/v1/workspaces", json={"name": "fuzz"}, headers=admin))
        source = created(
            client.post(
                f"/v1/workspaces/{workspace}/sources",
                json={"kind": "github", "name": "fuzz"},
                headers=admin,
            )
        )
        team = created(client.post("/v1/teams", json={"name": "fuzz"}, headers=admin))
    return admin, {"workspace_id": workspace, "source_id": source, "team_id": team}


def aim_at_world(case: Any, world: dict[str, str]) -> None:
    """Point a generated case at objects that exist, so it reaches past the lookup.

    Deletions keep their generated ids: the objects must outlive the run."""
    if case.method.upper() == "DELETE":
        return
    for name in case.path_parameters or {}:
        if name in world:
            case.path_parameters[name] = world[name]
    if case.query and "scope" in case.query:
        case.query["scope"] = f"workspace:{world['workspace_id']}"


@dataclass
class Findings:
    """The first failing example of each (operation, failure, status), and how often; the
    statuses each operation answered."""

    first: dict[tuple[str, str, int | None], str] = field(default_factory=dict)
    counts: dict[tuple[str, str, int | None], int] = field(default_factory=dict)
    statuses: dict[str, dict[int, int]] = field(default_factory=dict)
    unnegatable: list[str] = field(default_factory=list)

    @property
    def examples(self) -> int:
        return sum(sum(by_status.values()) for by_status in self.statuses.values())

    def answered(self, operation: str, status: int) -> None:
        by_status = self.statuses.setdefault(operation, {})
        by_status[status] = by_status.get(status, 0) + 1

    def add(self, label: str, title: str, status: int | None, detail: str) -> None:
        key = (label, title, status)
        self.counts[key] = self.counts.get(key, 0) + 1
        self.first.setdefault(key, detail)

    def failed(self, label: str, failure: Failure, case: Any, response: requests.Response) -> None:
        self.add(
            label,
            failure.title,
            response.status_code,
            f"  {failure.message.strip()}\n  body: {response.text[:800]}\n"
            f"  {case.as_curl_command()}",
        )

    def report(self) -> list[str]:
        return [
            f"{label} -> {status}: {title} (x{self.counts[key]})\n{detail}"
            for key, detail in sorted(self.first.items(), key=lambda kv: str(kv[0]))
            for label, title, status in [key]
        ]

    def summary(self) -> str:
        lines = [
            f"  {operation}: "
            + " ".join(f"{status}x{n}" for status, n in sorted(by_status.items()))
            for operation, by_status in sorted(self.statuses.items())
        ]
        if self.unnegatable:
            lines.append(f"  nothing to make invalid in: {', '.join(self.unnegatable)}")
        return "\n".join(lines)


def explore(
    operation: Any,
    mode: GenerationMode,
    call: Callable[[Any], requests.Response],
    world: dict[str, str],
    findings: Findings,
) -> None:
    """Send up to EXAMPLES generated cases to one operation and record what breaks."""
    cases = st.tuples(operation.as_strategy(generation_mode=mode), st.booleans())
    label = f"{operation.label} [{mode.value}]"

    @seed(SEED)
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.generate],  # failures are collected, not raised: nothing to shrink
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
    )
    @given(cases)
    def run(drawn: tuple[Any, bool]) -> None:
        case, aimed = drawn
        if aimed and mode is GenerationMode.POSITIVE:
            aim_at_world(case, world)
        try:
            response = call(case)
        except requests.RequestException as exc:
            findings.add(label, type(exc).__name__, None, f"  {exc}\n  {case.as_curl_command()}")
            return
        findings.answered(operation.label, response.status_code)
        try:
            case.validate_response(response, checks=CHECKS)
        except FailureGroup as group:
            for failure in group.exceptions:
                findings.failed(label, failure, case, response)
        except Failure as failure:
            findings.failed(label, failure, case, response)

    try:
        run()
    except Unsatisfiable:
        if mode is GenerationMode.POSITIVE:
            findings.add(label, "no valid input can be generated", None, "")
        else:  # nothing about it can be made invalid (e.g. no parameters and no body)
            findings.unnegatable.append(operation.label)


@pytest.mark.timeout(420)
def test_every_public_operation_answers_without_server_errors_and_as_documented(
    stack: Stack,
) -> None:
    started = time.monotonic()
    headers, world = build_world(stack)
    schema = schemathesis.openapi.from_url(
        f"{stack.url}/openapi.json", config=schemathesis.Config()
    )
    session = requests.Session()
    session.trust_env = False  # straight to the loopback stack, whatever the machine's proxies

    def call(case: Any) -> requests.Response:
        response: requests.Response = case.call(
            base_url=stack.url, session=session, headers=headers, timeout=30
        )
        return response

    findings = Findings()
    operations: list[str] = []
    for result in schema.get_all_operations():
        if not isinstance(result, Ok):  # described so badly that no request can be built
            findings.add(str(result.err()), "invalid operation", None, "")
            continue
        operation = result.ok()
        operations.append(operation.label)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            explore(operation, mode, call, world, findings)

    elapsed = time.monotonic() - started
    print(
        f"schemathesis: {len(operations)} operations, {findings.examples} examples, "
        f"{len(findings.first)} distinct failures, {elapsed:.0f} s\n{findings.summary()}"
    )
    paths = {label.split(" ", 1)[1] for label in operations}
    assert not EXPECTED_PATHS - paths, f"missing from /openapi.json: {EXPECTED_PATHS - paths}"
    assert not findings.first, "\n\n".join(findings.report())
