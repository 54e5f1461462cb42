"""The BOLA/BFLA matrix: every operation of the public API (from /openapi.json) x two
tenants x every role x {the caller's own objects, the other tenant's objects}.

Each tenant first gets one of everything (workspace, view, sources, an API key, a team,
a developer with an alias from a signed webhook). Then: no call with the other tenant's
objects succeeds, no answer to one tenant ever contains the other's ids, nothing of
either tenant changes because of the other's calls, roles without the right get no 2xx
from configuration changes, and no call at all answers 5xx."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx

from sextant.cli.testing import Platform, eventually, running_platform
from sextant.gateway.domain.routes import route_for
from sextant.gateway.settings import GatewaySettings
from sextant.runtime.testing.checks import check_forged_cursors_are_refused
from sextant.runtime.testing.plugin import InternalKeys

TENANT_ROLES = ("tenant_admin", "manager", "member", "partner")
PUBLIC_PATHS = ("/v1/hooks/", "/v1/oauth/", "/v1/events/", "/v1/status", "/v1/auth/jwks.json")
# Configuration changes: only tenant admins (and platform admins acting on a tenant).
ADMIN_ONLY = re.compile(
    r"^(POST|PUT|PATCH|DELETE) /v1/(workspaces|views|api-keys|sources|developers|teams|subscriptions)"
    r"|^GET /v1/(api-keys|audit-log|subscriptions)"
)


async def _world(platform: Platform, tenant: UUID) -> dict[str, str]:
    """One of every object for ``tenant``, by the name its path parameter has."""
    admin = platform.headers("tenant_admin", tenant)
    post = platform.client.post

    async def created(path: str, body: dict[str, Any]) -> dict[str, Any]:
        reply = await post(path, json=body, headers=admin)
        assert reply.status_code == 201, (path, reply.text)
        result: dict[str, Any] = reply.json()
        return result

    ws = (await created("/v1/workspaces", {"name": f"ws-{tenant}"}))["id"]
    view = (await created("/v1/views", {"name": "all", "workspace_ids": [ws]}))["id"]
    jira = await created(f"/v1/workspaces/{ws}/sources", {"kind": "jira", "name": "ENG"})
    key = (await created("/v1/api-keys", {"name": "ci", "role": "member"}))["id"]
    team = (await created("/v1/teams", {"name": f"team-{tenant}"}))["id"]

    hook = {
        "timestamp": 0,
        "webhookEvent": "jira:issue_created",
        "user": {"accountId": f"acc-{tenant}", "displayName": f"Dev {tenant}"},
        "issue": {
            "id": "10070",
            "key": "ENG-1",
            "self": "https://jira.example.org/rest/api/2/issue/10070",
            "fields": {
                "summary": "x",
                "issuetype": {"name": "Story"},
                "project": {"key": "ENG"},
                "status": {"name": "To Do", "statusCategory": {"key": "new"}},
                "created": "2026-01-05T10:00:00+00:00",
            },
        },
    }
    body = json.dumps(hook).encode()
    digest = hmac.new(jira["secret"].encode(), body, hashlib.sha256).hexdigest()
    delivered = await post(
        f"/v1/hooks/{jira['id']}",
        content=body,
        headers={
            "content-type": "application/json",
            "x-hub-signature": f"sha256={digest}",
            "x-atlassian-webhook-identifier": f"w-{tenant}",
        },
    )
    assert delivered.status_code == 202, delivered.text

    async def developer() -> dict[str, Any] | None:
        items = (await platform.client.get("/v1/developers", headers=admin)).json()["items"]
        return items[0] if items else None

    dev = await eventually(developer)
    detail = (await platform.client.get(f"/v1/developers/{dev['id']}", headers=admin)).json()
    report = await post(
        "/v1/reports",
        params={"scope": f"workspace:{ws}"},
        json={"kind": "dora", "from": "2026-03-02", "to": "2026-03-08", "format": "csv"},
        headers=admin,
    )
    assert report.status_code == 202, report.text
    return {
        "tenant_id": str(tenant),
        "workspace_id": ws,
        "view_id": view,
        "source_id": jira["id"],
        "key_id": key,
        "team_id": team,
        "developer_id": dev["id"],
        "alias_id": detail["aliases"][0]["id"],
        "report_id": report.json()["id"],
        "key": "ENG-1",
        "sprint_id": "1",
        "suggestion_id": str(uuid4()),
        "notification_id": str(uuid4()),
    }


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    operations = []
    for path, item in sorted(document["paths"].items()):
        if path.startswith(PUBLIC_PATHS):
            continue
        for method, operation in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                operations.append((method.upper(), path, operation))
    return operations


def _query(operation: dict[str, Any], world: dict[str, str]) -> dict[str, str]:
    query = {}
    for parameter in operation.get("parameters", []):
        if parameter["in"] != "query":
            continue
        name = parameter["name"]
        if name == "scope":
            query[name] = f"workspace:{world['workspace_id']}"
        elif parameter.get("required"):
            schema = parameter.get("schema", {})
            kind, fmt = schema.get("type"), schema.get("format")
            query[name] = (
                "2099-01-01" if fmt == "date" else "5" if kind in ("integer", "number") else "x"
            )
    return query


def platform_admin_breach(
    method: str, path: str, reply: httpx.Response, tenant_ids: set[str]
) -> str | None:
    """Why a platform admin's (tenant-less) answer is a breach, if it is: any success on a
    tenant route, and on a platform route (the gateway's ``Route.platform``) a success
    naming any tenant's object, since it keeps only what the platform owns."""
    if not reply.is_success:
        return None
    label = f"platform_admin {method} {path} -> {reply.status_code}"
    match = route_for(path)
    if match is None or not match.platform:
        return label
    named = sorted(i for i in tenant_ids if i in reply.text)
    return f"{label} names {named}" if named else None


def test_a_platform_route_may_answer_a_platform_admin_only_without_tenant_data() -> None:
    ok = httpx.Response(200, json={"items": [], "next_cursor": None})
    leaked = httpx.Response(200, json={"items": [{"id": "r-1", "tenant_id": "t-a"}]})
    tenants = {"t-a", "r-1", "w-1"}
    assert platform_admin_breach("GET", "/v1/reports", ok, tenants) is None
    assert platform_admin_breach("GET", "/v1/reports", leaked, tenants) == (
        "platform_admin GET /v1/reports -> 200 names ['r-1', 't-a']"
    )
    assert platform_admin_breach("GET", "/v1/report-schedules", ok, tenants) == (
        "platform_admin GET /v1/report-schedules -> 200"
    )
    assert platform_admin_breach("GET", "/v1/workspaces", ok, tenants) is not None
    assert platform_admin_breach("GET", "/v1/reports", httpx.Response(403), tenants) is None


def _url(path: str, world: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: world.get(m.group(1), str(uuid4())), path)


async def test_no_role_of_one_tenant_reads_or_changes_the_other_tenants_objects(
    database_url: str, internal_keys: InternalKeys, tmp_path: Path
) -> None:
    settings = GatewaySettings(tenant_rate_per_second=10_000, tenant_burst=10_000)
    async with running_platform(database_url, internal_keys, tmp_path, settings) as platform:
        a, b = await platform.tenant("A"), await platform.tenant("B")
        worlds = {a: await _world(platform, a), b: await _world(platform, b)}
        document = (await platform.client.get("/openapi.json")).json()
        operations = _operations(document)
        assert len(operations) >= 40, [f"{m} {p}" for m, p, _ in operations]

        def ids_of(tenant: UUID) -> set[str]:
            return {v for k, v in worlds[tenant].items() if k not in ("key", "sprint_id")}

        server_errors: list[str] = []
        cross_tenant: list[str] = []
        leaks: list[str] = []
        role_breaches: list[str] = []

        async def call(
            caller: UUID | None,
            role: str,
            method: str,
            path: str,
            operation: dict[str, Any],
            target: UUID,
        ) -> httpx.Response:
            world = worlds[target]
            headers = platform.headers(role, caller)  # type: ignore[arg-type]
            reply = await platform.client.request(
                method,
                _url(path, world),
                params=_query(operation, world),
                json={} if method in ("POST", "PUT", "PATCH") else None,
                headers=headers,
            )
            label = f"{role}@{'A' if caller == a else 'B' if caller == b else '-'} {method} {path} -> {reply.status_code}"
            if reply.status_code >= 500:
                server_errors.append(f"{label}: {reply.text[:200]}")
            if caller is not None:
                other = b if caller == a else a
                asked = str(reply.request.url)  # an id the caller sent may be echoed back
                if any(i in reply.text and i not in asked for i in ids_of(other)):
                    leaks.append(label)
            return reply

        def targets_objects(path: str, operation: dict[str, Any]) -> bool:
            return "{" in path or any(p["name"] == "scope" for p in operation.get("parameters", []))

        # 1. Everyone against the other tenant's objects, before anything of theirs changes.
        for caller, other in ((a, b), (b, a)):
            for role in TENANT_ROLES:
                for method, path, operation in operations:
                    if not targets_objects(path, operation) or path.startswith("/v1/tenants"):
                        continue
                    reply = await call(caller, role, method, path, operation, other)
                    if reply.is_success:
                        cross_tenant.append(f"{role} {method} {path} -> {reply.status_code}")

        # 2. Nothing of either tenant changed.
        for tenant, world in worlds.items():
            admin = platform.headers("tenant_admin", tenant)
            for path in (
                f"/v1/workspaces/{world['workspace_id']}",
                f"/v1/views/{world['view_id']}",
                f"/v1/sources/{world['source_id']}",
                f"/v1/developers/{world['developer_id']}",
            ):
                assert (await platform.client.get(path, headers=admin)).status_code == 200, path
            keys = (await platform.client.get("/v1/api-keys", headers=admin)).json()
            assert [k["revoked_at"] for k in keys] == [None]

        # 3. Every paged list refuses a cursor it never gave out, naming the parameter (before
        # step 4 may delete what the lists hang on).
        forged_cursor_answers: list[str] = []
        paged = [
            (path, operation)
            for method, path, operation in operations
            if method == "GET"
            and any(p["name"] == "cursor" for p in operation.get("parameters", []))
            and all(name in worlds[a] for name in re.findall(r"\{(\w+)\}", path))
        ]
        assert len(paged) >= 15, [path for path, _ in paged]
        for path, operation in paged:
            world = worlds[a]
            owner = ("platform_admin", None) if path == "/v1/tenants" else ("tenant_admin", a)
            try:
                await check_forged_cursors_are_refused(
                    platform.client,
                    _url(path, world),
                    platform.headers(*owner),  # type: ignore[arg-type]
                    params=_query(operation, world),
                )
            except AssertionError as refused_wrongly:
                forged_cursor_answers.append(f"{path}: {refused_wrongly}"[:300])

        # 4. Every role against its own objects (these may change them: it is their right).
        for caller in (a, b):
            for role in ("partner", "member", "manager", "tenant_admin"):
                for method, path, operation in operations:
                    reply = await call(caller, role, method, path, operation, caller)
                    breach = role != "tenant_admin" and ADMIN_ONLY.match(f"{method} {path}")
                    if breach and reply.is_success:
                        role_breaches.append(f"{role} {method} {path} -> {reply.status_code}")
                    if path.startswith("/v1/tenants") and reply.is_success:
                        role_breaches.append(f"{role} {method} {path} -> {reply.status_code}")

        # 5. A platform admin's token reaches no tenant's data outside /v1/tenants/{id}/…
        # (its audit log is the platform's own chain, not a tenant's; the sign-in
        # providers are public, asked before anyone is signed in).
        for method, path, operation in operations:
            if path.startswith(("/v1/tenants", "/v1/audit-log", "/v1/auth/")) or path == "/v1/me":
                continue
            reply = await call(None, "platform_admin", method, path, operation, a)
            breach = platform_admin_breach(
                method, path, reply, ids_of(a) | ids_of(b) | {str(a), str(b)}
            )
            if breach is not None:
                cross_tenant.append(breach)

        assert server_errors == []
        assert forged_cursor_answers == [], "\n".join(forged_cursor_answers)
        assert cross_tenant == []
        assert leaks == []
        assert role_breaches == []
