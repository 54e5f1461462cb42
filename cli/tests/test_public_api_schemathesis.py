"""Schemathesis over the public API's /openapi.json, against `sextant run` as a person runs
it (issues #3 and #25): no answer is a server error, every 4xx is problem+json, every answer
has the shape the document gives its status, and no tenant reaches another's objects.

The stack is a real process on a loopback port with two tenants, A and B, each with a
workspace, a source, a team and a view. Every operation in the document gets a few examples
in each generation mode (valid and invalid input), sent with tenant A's admin token (the
platform admin's for /v1/tenants); valid ones are aimed at A's objects, so they reach past
the 404s, or at B's, where a 2xx that names any of B's objects is a cross-tenant leak. What
a valid example creates is read back (create -> read), and must be invisible to B. Failures
are collected rather than raised, so one run reports every broken operation, and the run
fails when an operation of the document was never sent."""

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, Verbosity, find, given, seed, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core import NOT_SET
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.core.result import Ok
from schemathesis.core.transport import Response
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
HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})
PROBLEM_JSON = "application/problem+json"
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


@dataclass
class World:
    """A tenant's objects (by the path parameter that names each) and its admin's headers."""

    name: str
    headers: dict[str, str]
    ids: dict[str, str]


def build_world(stack: Stack, name: str) -> World:
    """A tenant with a workspace, a source, a team and a view."""
    with httpx.Client(base_url=stack.url, timeout=30, trust_env=False) as client:
        platform = {"Authorization": f"Bearer {stack.admin_token}"}
        tenant = created(client.post("/v1/tenants", json={"name": name}, headers=platform))
        admin = {"Authorization": f"Bearer {tenant_admin_token(stack, tenant)}"}
        workspace = created(client.post("/v1/workspaces", json={"name": name}, headers=admin))
        source = created(
            client.post(
                f"/v1/workspaces/{workspace}/sources",
                json={"kind": "github", "name": name},
                headers=admin,
            )
        )
        team = created(client.post("/v1/teams", json={"name": name}, headers=admin))
        view = created(
            client.post(
                "/v1/views", json={"name": name, "workspace_ids": [workspace]}, headers=admin
            )
        )
    ids = {
        "tenant_id": tenant,
        "workspace_id": workspace,
        "source_id": source,
        "team_id": team,
        "view_id": view,
    }
    return World(name, admin, ids)


def aim_at_world(case: Any, world: World) -> bool:
    """Point a generated case at a tenant's objects, so it reaches past the lookup; whether
    anything was aimed. Deletions keep their generated ids: the objects must outlive the run."""
    if case.method.upper() == "DELETE":
        return False
    aimed = False
    for name in case.path_parameters or {}:
        if name in world.ids:
            case.path_parameters[name] = world.ids[name]
            aimed = True
    if case.query and "scope" in case.query:
        case.query["scope"] = f"workspace:{world.ids['workspace_id']}"
        aimed = True
    if isinstance(case.body, dict) and "workspace_ids" in case.body:  # a view's
        case.body["workspace_ids"] = [world.ids["workspace_id"]]
        aimed = True
    return aimed


# A create answers 201 with the new object's id; where the object is read back from.
READ_BACK = {
    "POST /v1/tenants": "/v1/tenants/{id}",
    "POST /v1/workspaces": "/v1/workspaces/{id}",
    "POST /v1/views": "/v1/views/{id}",
    "POST /v1/workspaces/{workspace_id}/sources": "/v1/sources/{id}",
}


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

    def failed(self, label: str, failure: Failure, case: Any, response: Response) -> None:
        self.found(label, failure.title, case, response, failure.message.strip())

    def found(
        self,
        label: str,
        title: str,
        case: Any,
        response: Response | requests.Response,
        why: str = "",
    ) -> None:
        self.add(
            label,
            title,
            response.status_code,
            f"  {why}\n  body: {response.text[:800]}\n  {case.as_curl_command()}",
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


@dataclass
class Fuzz:
    """What every example needs: the stack, a session to it, the two tenants, the findings."""

    url: str
    session: requests.Session
    platform: dict[str, str] = field(repr=False)
    own: World
    other: World
    findings: Findings = field(default_factory=Findings)

    def headers_for(self, operation: Any) -> dict[str, str]:
        """Tenants are a platform admin's; everything else is tenant A's admin's."""
        return self.platform if operation.path.startswith("/v1/tenants") else self.own.headers

    def call(self, case: Any, headers: dict[str, str]) -> Response:
        response: Response = case.call(
            base_url=self.url, session=self.session, headers=headers, timeout=30
        )
        return response

    def get(self, path: str, headers: dict[str, str]) -> requests.Response:
        return self.session.get(f"{self.url}{path}", headers=headers, timeout=30)


def not_a_problem(response: Response) -> str | None:
    """Why a 4xx is not RFC 9457 problem+json with its own status and a detail, if it is not."""
    if not 400 <= response.status_code < 500:
        return None
    content_type = (response.headers.get("content-type") or [""])[0]
    if content_type.split(";")[0] != PROBLEM_JSON:
        return f"content-type {content_type!r}"
    try:
        body = response.json()
    except ValueError:
        return "not JSON"
    if not isinstance(body, dict) or body.get("status") != response.status_code:
        return "its status is not the answer's"
    if not isinstance(body.get("detail"), str) or not body["detail"]:
        return "no detail"
    return None


def reached_other_tenant(case: Any, response: Response, other: World) -> str | None:
    """Why a 2xx to a request aimed at tenant B's objects with tenant A's token is a leak:
    it names one of B's objects, or it changed one (a write on B's id that succeeded)."""
    if not 200 <= response.status_code < 300:
        return None
    named = [name for name, ident in other.ids.items() if ident in response.text]
    if named:
        return f"the answer names tenant {other.name}'s {', '.join(named)}"
    written = [
        name for name, value in (case.path_parameters or {}).items() if other.ids.get(name) == value
    ]
    if written and case.method.upper() != "GET":
        return f"a {case.method.upper()} on tenant {other.name}'s {', '.join(written)} succeeded"
    return None


def read_back(fuzz: Fuzz, label: str, operation: Any, case: Any, response: Response) -> None:
    """Create -> read: what a 201 created is there for its creator and for no other tenant."""
    template = READ_BACK.get(operation.label)
    if template is None or response.status_code != 201:
        return
    created_id = response.json()["id"]
    path = template.format(id=created_id)
    mine = fuzz.get(path, fuzz.headers_for(operation))
    if mine.status_code != 200 or mine.json().get("id") != created_id:
        fuzz.findings.found(label, "created, but not read back", case, mine, f"GET {path}")
    theirs = fuzz.get(path, fuzz.other.headers)
    if 200 <= theirs.status_code < 300:
        fuzz.findings.found(
            label, f"created, and read by tenant {fuzz.other.name}", case, theirs, f"GET {path}"
        )


def explore(operation: Any, mode: GenerationMode, fuzz: Fuzz) -> None:
    """Send up to EXAMPLES generated cases to one operation and record what breaks."""
    targets = st.sampled_from((None, fuzz.own, fuzz.other))
    cases = st.tuples(operation.as_strategy(generation_mode=mode), targets)
    label = f"{operation.label} [{mode.value}]"
    headers = fuzz.headers_for(operation)
    findings = fuzz.findings

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
    def run(drawn: tuple[Any, World | None]) -> None:
        case, target = drawn
        across = False
        if target is not None and mode is GenerationMode.POSITIVE:
            across = aim_at_world(case, target) and target is fuzz.other
        try:
            response = fuzz.call(case, headers)
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
        if (why := not_a_problem(response)) is not None:
            findings.found(label, "a 4xx that is not problem+json", case, response, why)
        leak = reached_other_tenant(case, response, fuzz.other) if across else None
        if leak is not None and headers is not fuzz.platform:
            findings.found(label, "cross-tenant", case, response, leak)
        if mode is GenerationMode.POSITIVE:
            read_back(fuzz, label, operation, case, response)

    try:
        run()
    except Unsatisfiable:
        if mode is GenerationMode.POSITIVE:
            findings.add(label, "no valid input can be generated", None, "")
        else:  # nothing about it can be made invalid (e.g. no parameters and no body)
            findings.unnegatable.append(operation.label)


# Values that broke parameters before (issue #25 item 7) or that a parser might trip on, by
# the kind of parameter: each goes once into every query parameter and date field.
HOSTILE_MOMENTS = (
    "0001-01-01T00:00:00+01:00",  # year 0 in UTC
    "9999-12-31T23:59:59-14:00",  # year 10000 in UTC
    "0001-01-01T00:00:00Z",  # PostgreSQL's -infinity, to asyncpg
    "0001-01-01T00:00:00-14:00",
    "0001-01-01",
    "9999-12-31",
    "1e20",
)
HOSTILE_NUMBERS = ("9" * 20, "-1", "9223372036854775808", "1e3", "²")
HOSTILE_TEXT = ("²", "9" * 20, "-1", "AAAAAAAAAAAAAAAAAAAAAAA", "nul\x00", "é" * 1000)
PLACEHOLDER_ID = "00000000-0000-4000-8000-000000000000"


def hostile_values(schema: dict[str, Any]) -> tuple[str, ...]:
    """What to try in a parameter or field of this JSON schema."""
    described = str(schema)
    if "'date" in described:  # format date or date-time
        return HOSTILE_MOMENTS
    if "'integer'" in described or "'number'" in described:
        return HOSTILE_NUMBERS
    if "'string'" in described:
        return HOSTILE_TEXT
    return ("²",)


def body_dates(document: dict[str, Any], operation: dict[str, Any]) -> list[str]:
    """The request body's top-level fields that hold a date or a date-time."""
    content: dict[str, Any] = operation.get("requestBody", {}).get("content", {})
    media: dict[str, Any] = next(iter(content.values()), {})
    ref: str = media.get("schema", {}).get("$ref", "")
    properties = document["components"]["schemas"].get(ref.rsplit("/", 1)[-1], {})
    return [
        name for name, schema in properties.get("properties", {}).items() if "'date" in str(schema)
    ]


def sweep(fuzz: Fuzz, schema: Any, document: dict[str, Any]) -> int:
    """Every query parameter of every operation, and every date field of a body, gets each
    hostile value once (the rest of the request valid, aimed at tenant A's objects): a 4xx
    problem naming it, or an answer, never a 5xx. Returns how many requests it sent."""
    sent = 0
    for path, item in document["paths"].items():
        for method, declared in item.items():
            if method not in HTTP_METHODS or method == "delete":
                continue
            operation = schema[path][method.upper()]
            parameters = declared.get("parameters", [])
            path_parameters = {
                p["name"]: fuzz.own.ids.get(
                    p["name"], PLACEHOLDER_ID if "uuid" in str(p["schema"]) else "x"
                )
                for p in parameters
                if p["in"] == "path"
            }
            scope = {"scope": f"workspace:{fuzz.own.ids['workspace_id']}"}
            base = scope if any(p["name"] == "scope" for p in parameters) else {}
            tries: list[tuple[dict[str, Any], Any]] = [
                ({**base, p["name"]: value}, NOT_SET)
                for p in parameters
                if p["in"] == "query"
                for value in hostile_values(p["schema"])
            ]
            dates = body_dates(document, declared)
            if dates:
                valid = find_valid_body(operation)
                tries += [
                    (base, {**valid, name: value}) for name in dates for value in HOSTILE_MOMENTS
                ]
            for query, body in tries:
                case = operation.Case(path_parameters=path_parameters, query=query, body=body)
                sent += 1
                label = f"{operation.label} [hostile]"
                try:
                    response = fuzz.call(case, fuzz.headers_for(operation))
                except requests.RequestException as exc:
                    fuzz.findings.add(label, type(exc).__name__, None, f"  {exc}")
                    continue
                fuzz.findings.answered(operation.label, response.status_code)
                if response.status_code >= 500:
                    fuzz.findings.found(label, "Server error", case, response)
                if (why := not_a_problem(response)) is not None:
                    fuzz.findings.found(
                        label, "a 4xx that is not problem+json", case, response, why
                    )
    return sent


def find_valid_body(operation: Any) -> dict[str, Any]:
    """The simplest valid body of an operation, to change one field of."""
    case = find(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        lambda case: isinstance(case.body, dict),
        settings=settings(database=None, derandomize=True, suppress_health_check=list(HealthCheck)),
    )
    body: dict[str, Any] = case.body
    return body


def declared_operations(document: dict[str, Any]) -> set[str]:
    """Every operation the document declares, as Schemathesis labels them."""
    return {
        f"{method.upper()} {path}"
        for path, item in document["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }


@pytest.mark.timeout(
    900
)  # ~80 operations: minutes on a quiet 2-core box, far more when it is shared
def test_every_public_operation_answers_without_server_errors_and_as_documented(
    stack: Stack,
) -> None:
    started = time.monotonic()
    own, other = build_world(stack, "A"), build_world(stack, "B")
    document = httpx.get(f"{stack.url}/openapi.json", timeout=30, trust_env=False).json()
    schema = schemathesis.openapi.from_dict(document, config=schemathesis.Config())
    session = requests.Session()
    session.trust_env = False  # straight to the loopback stack, whatever the machine's proxies
    platform = {"Authorization": f"Bearer {stack.admin_token}"}
    fuzz = Fuzz(stack.url, session, platform, own, other)

    operations: list[str] = []
    for result in schema.get_all_operations():
        if not isinstance(result, Ok):  # described so badly that no request can be built
            fuzz.findings.add(str(result.err()), "invalid operation", None, "")
            continue
        operation = result.ok()
        operations.append(operation.label)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            explore(operation, mode, fuzz)

    hostile = sweep(fuzz, schema, document)
    findings = fuzz.findings
    elapsed = time.monotonic() - started
    print(
        f"schemathesis: {len(operations)} operations, {findings.examples} examples "
        f"({hostile} of them hostile values), "
        f"{len(findings.first)} distinct failures, {elapsed:.0f} s\n{findings.summary()}"
    )
    paths = {label.split(" ", 1)[1] for label in operations}
    assert not EXPECTED_PATHS - paths, f"missing from /openapi.json: {EXPECTED_PATHS - paths}"
    declared = declared_operations(document)
    assert len(declared) >= len(EXPECTED_PATHS)
    # Every operation of the document was sent at least one example: none drops out.
    assert sorted(operations) == sorted(declared), set(declared) ^ set(operations)
    assert set(findings.statuses) == declared, declared - set(findings.statuses)
    assert not findings.first, "\n\n".join(findings.report())
