"""Tenants, workspaces and views through the gateway, with the services behind it: a
view scopes a query across workspaces, soft deletes hide and restore (and other services
follow), API keys work until revoked, and the edge's limits answer with problem+json."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx

from sextant.cli.testing import Platform, eventually, running_platform
from sextant.gateway.access import gateway_of
from sextant.gateway.settings import GatewaySettings
from sextant.runtime.embedded_pg import free_port
from sextant.runtime.testing.plugin import InternalKeys


def problem_of(reply: httpx.Response, status: int) -> dict[str, Any]:
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"].startswith("application/problem+json"), reply.text
    body: dict[str, Any] = reply.json()
    assert body["status"] == status and body["detail"]
    return body


async def workspace(platform: Platform, headers: dict[str, str], name: str) -> str:
    reply = await platform.client.post("/v1/workspaces", json={"name": name}, headers=headers)
    assert reply.status_code == 201, reply.text
    return str(reply.json()["id"])


async def test_a_view_scopes_a_query_across_its_workspaces_and_checks_they_are_the_tenants(
    database_url: str, internal_keys: InternalKeys, tmp_path: Path
) -> None:
    async with running_platform(database_url, internal_keys, tmp_path) as platform:
        acme, other = await platform.tenant("Acme"), await platform.tenant("Other")
        admin = platform.headers("tenant_admin", acme)
        first, second = (
            await workspace(platform, admin, "web"),
            await workspace(platform, admin, "api"),
        )
        theirs = await workspace(platform, platform.headers("tenant_admin", other), "theirs")

        refused = await platform.client.post(
            "/v1/views", json={"name": "all", "workspace_ids": [first, theirs]}, headers=admin
        )
        assert theirs in problem_of(refused, 400)["detail"]
        view = (
            await platform.client.post(
                "/v1/views", json={"name": "all", "workspace_ids": [first, second]}, headers=admin
            )
        ).json()

        member = platform.headers("member", acme)
        history = await platform.client.get(
            "/v1/forecasts/history", params={"scope": f"view:{view['id']}"}, headers=member
        )
        assert history.status_code == 200, history.text
        assert history.json()["scope"] == f"view:{view['id']}"

        for scope in (f"workspace:{theirs}", f"view:{uuid4()}"):
            reply = await platform.client.get(
                "/v1/forecasts/history", params={"scope": scope}, headers=member
            )
            problem_of(reply, 404)
        problem_of(
            await platform.client.get(
                "/v1/forecasts/history", params={"scope": "team:7"}, headers=member
            ),
            400,
        )


async def test_a_soft_deleted_workspace_is_hidden_its_sources_stop_and_a_restore_brings_both_back(
    database_url: str, internal_keys: InternalKeys, tmp_path: Path
) -> None:
    async with running_platform(database_url, internal_keys, tmp_path) as platform:
        acme = await platform.tenant("Acme")
        admin = platform.headers("tenant_admin", acme)
        ws = await workspace(platform, admin, "web")
        source = (
            await platform.client.post(
                f"/v1/workspaces/{ws}/sources", json={"kind": "github", "name": "gh"}, headers=admin
            )
        ).json()

        deleted = await platform.client.delete(f"/v1/workspaces/{ws}", headers=admin)
        assert deleted.status_code == 200 and deleted.json()["restorable_until"]
        listed = (await platform.client.get("/v1/workspaces", headers=admin)).json()
        assert ws not in [w["id"] for w in listed["items"]]
        problem_of(await platform.client.get(f"/v1/workspaces/{ws}", headers=admin), 404)
        problem_of(await platform.client.get(f"/v1/workspaces/{ws}/sources", headers=admin), 404)

        async def hook_status() -> int:
            reply = await platform.client.post(
                f"/v1/hooks/{source['id']}",
                content=b"{}",
                headers={"content-type": "application/json", "x-github-event": "ping"},
            )
            return reply.status_code

        await eventually(lambda: _equals(hook_status, 410))  # ingest followed the lifecycle event

        restored = await platform.client.post(f"/v1/workspaces/{ws}/restore", headers=admin)
        assert restored.status_code == 200 and restored.json()["deleted_at"] is None
        await eventually(lambda: _equals(hook_status, 401))  # back: now it is the signature
        assert (await platform.client.get(f"/v1/workspaces/{ws}", headers=admin)).status_code == 200


async def test_a_soft_deleted_tenant_refuses_its_tokens_until_restored(
    database_url: str, internal_keys: InternalKeys, tmp_path: Path
) -> None:
    async with running_platform(database_url, internal_keys, tmp_path) as platform:
        acme = await platform.tenant("Acme")
        member = platform.headers("member", acme)
        assert (await platform.client.get("/v1/workspaces", headers=member)).status_code == 200

        assert (
            await platform.client.delete(f"/v1/tenants/{acme}", headers=platform.admin)
        ).status_code == 200
        problem_of(await platform.client.get("/v1/workspaces", headers=member), 403)
        listed = (await platform.client.get("/v1/tenants", headers=platform.admin)).json()
        assert str(acme) not in [t["id"] for t in listed["items"]]
        with_deleted = (
            await platform.client.get(
                "/v1/tenants", params={"include_deleted": "true"}, headers=platform.admin
            )
        ).json()
        assert str(acme) in [t["id"] for t in with_deleted["items"]]

        restored = await platform.client.post(f"/v1/tenants/{acme}/restore", headers=platform.admin)
        assert restored.status_code == 200
        assert (await platform.client.get("/v1/workspaces", headers=member)).status_code == 200
        problem_of(
            await platform.client.post(f"/v1/tenants/{uuid4()}/restore", headers=platform.admin),
            404,
        )


async def test_a_platform_admin_reaches_a_tenant_only_through_the_cross_tenant_path(
    database_url: str, internal_keys: InternalKeys, tmp_path: Path
) -> None:
    async with running_platform(database_url, internal_keys, tmp_path) as platform:
        acme = await platform.tenant("Acme")
        ws = await workspace(platform, platform.headers("tenant_admin", acme), "web")

        problem_of(await platform.client.get("/v1/workspaces", headers=platform.admin), 403)
        across = await platform.client.get(f"/v1/tenants/{acme}/workspaces", headers=platform.admin)
        assert [w["id"] for w in across.json()["items"]] == [ws]
        sources = await platform.client.get(
            f"/v1/tenants/{acme}/workspaces/{ws}/sources", headers=platform.admin
        )
        assert sources.status_code == 200, sources.text
        # The same path is no way in for anyone else.
        problem_of(
            await platform.client.get(
                f"/v1/tenants/{acme}/workspaces", headers=platform.headers("tenant_admin", uuid4())
            ),
            403,
        )
        problem_of(
            await platform.client.get(f"/v1/tenants/{uuid4()}/workspaces", headers=platform.admin),
            404,
        )


async def test_a_platform_admin_making_a_workspace_is_told_the_roles_and_the_command(
    database_url: str, internal_keys: InternalKeys, tmp_path: Path
) -> None:
    """The token `sextant run` prints is a platform admin's; its first workspace or source
    gets a 403 that says why and what to run instead."""
    async with running_platform(database_url, internal_keys, tmp_path) as platform:
        acme = await platform.tenant("Acme")
        ws = await workspace(platform, platform.headers("tenant_admin", acme), "web")
        refusals = [
            await platform.client.post(
                "/v1/workspaces", json={"name": "eng"}, headers=platform.admin
            ),
            await platform.client.post(
                f"/v1/workspaces/{ws}/sources",
                json={"kind": "github", "name": "repo"},
                headers=platform.admin,
            ),
        ]
    for refused in refusals:
        detail = problem_of(refused, 403)["detail"]
        assert "platform admin" in detail and "manages tenants" in detail
        assert "tenant_admin, manager, member or partner" in detail
        assert "sextant token create --role tenant_admin --tenant <tenant id>" in detail


async def test_an_api_key_works_until_revoked_and_is_shown_only_once(
    database_url: str, internal_keys: InternalKeys, tmp_path: Path
) -> None:
    settings = GatewaySettings(api_key_cache_seconds=0.5)
    async with running_platform(database_url, internal_keys, tmp_path, settings) as platform:
        acme = await platform.tenant("Acme")
        admin = platform.headers("tenant_admin", acme)
        created = await platform.client.post(
            "/v1/api-keys", json={"name": "ci", "role": "member"}, headers=admin
        )
        assert created.status_code == 201, created.text
        key = created.json()["key"]
        assert key.startswith(created.json()["prefix"])
        listed = (await platform.client.get("/v1/api-keys", headers=admin)).text
        assert key not in listed and created.json()["prefix"] in listed

        as_key = {"Authorization": f"Bearer {key}"}
        me = (await platform.client.get("/v1/me", headers=as_key)).json()
        assert me == {
            "subject": me["subject"],
            "role": "member",
            "tenant_id": str(acme),
            "via": "api_key",
        }
        problem_of(
            await platform.client.post("/v1/workspaces", json={"name": "x"}, headers=as_key), 403
        )
        problem_of(
            await platform.client.get("/v1/me", headers={"Authorization": f"Bearer {key[:-2]}xx"}),
            401,
        )
        problem_of(
            await platform.client.post(
                "/v1/api-keys", json={"name": "root", "role": "platform_admin"}, headers=admin
            ),
            422,
        )

        revoked = await platform.client.delete(
            f"/v1/api-keys/{created.json()['id']}", headers=admin
        )
        assert revoked.json()["revoked_at"]
        await asyncio.sleep(0.6)  # the cache's lifetime: every replica holds the revocation by then
        problem_of(await platform.client.get("/v1/me", headers=as_key), 401)


async def test_limits_answer_429_and_413_with_problem_bodies(
    database_url: str, internal_keys: InternalKeys, tmp_path: Path
) -> None:
    settings = GatewaySettings(tenant_rate_per_second=1, tenant_burst=3, max_body_bytes=2048)
    async with running_platform(database_url, internal_keys, tmp_path, settings) as platform:
        acme = await platform.tenant("Acme")
        admin = platform.headers("tenant_admin", acme)
        big = {"name": "x" * 4000}
        for path in ("/v1/workspaces", f"/v1/workspaces/{uuid4()}/sources"):  # own and passed on
            problem_of(await platform.client.post(path, json=big, headers=admin), 413)

        async def chunked() -> Any:
            for _ in range(4):
                yield b"x" * 1000

        problem_of(
            await platform.client.post("/v1/workspaces", content=chunked(), headers=admin), 413
        )
        replies = [await platform.client.get("/v1/me", headers=admin) for _ in range(6)]
        limited = [r for r in replies if r.status_code == 429]
        assert limited, [r.status_code for r in replies]
        assert int(limited[0].headers["retry-after"]) >= 1
        problem_of(limited[0], 429)


async def test_unknown_paths_and_unreachable_services_answer_problems_never_hang(
    database_url: str, internal_keys: InternalKeys, tmp_path: Path
) -> None:
    async with running_platform(database_url, internal_keys, tmp_path) as platform:
        acme = await platform.tenant("Acme")
        member = platform.headers("member", acme)
        problem_of(await platform.client.get("/v1/nothing-here", headers=member), 404)
        problem_of(await platform.client.get("/v1/me"), 401)

        upstreams = gateway_of(platform.gateway.state.service).upstreams
        nobody_listens = f"http://127.0.0.1:{free_port()}"
        upstreams._clients["reports"] = httpx.AsyncClient(base_url=nobody_listens, timeout=2)
        async with asyncio.timeout(20):
            reply = await platform.client.get("/v1/reports/x", headers=member)
        assert "reports" in problem_of(reply, 503)["detail"]


async def _equals(check: Any, expected: int) -> bool:
    return bool(await check() == expected)


async def test_cors_answers_only_the_configured_origins(
    database_url: str, internal_keys: InternalKeys, tmp_path: Path
) -> None:
    settings = GatewaySettings(cors_origins=["https://app.example.org"])
    async with running_platform(database_url, internal_keys, tmp_path, settings) as platform:
        preflight = {
            "access-control-request-method": "GET",
            "access-control-request-headers": "authorization",
        }
        allowed = await platform.client.options(
            "/v1/workspaces", headers={"origin": "https://app.example.org", **preflight}
        )
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == "https://app.example.org"
        refused = await platform.client.options(
            "/v1/workspaces", headers={"origin": "https://evil.example.org", **preflight}
        )
        assert "access-control-allow-origin" not in refused.headers
