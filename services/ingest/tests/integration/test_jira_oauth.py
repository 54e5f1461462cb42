"""Connecting Jira with OAuth 2.0, end to end through the gateway, against a fake
Atlassian authorization server on a loopback port (tests/fixtures/fake_atlassian.py):
the consent URL, the callback (state and PKCE checked), the tokens sealed at rest, a
backfill signed by the grant, refreshes that rotate the refresh token, and a revoked
grant marked needs-reconnect with a notification that reaches the gateway."""

from __future__ import annotations

import asyncio
import base64
import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from uuid import UUID

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from sextant.gateway.authn import LocalIssuer, new_local_issuer_pem
from sextant.gateway.main import create_app as create_gateway
from sextant.gateway.upstreams import UPSTREAM_SERVICES, Upstreams
from sextant.ingest import jira_oauth, service
from sextant.ingest.main import SPEC as INGEST
from sextant.ingest.reseal import reseal_sources
from sextant.ingest.sealing import INGEST_KEYS
from sextant.runtime.app import ServiceState, create_service_app
from sextant.runtime.db import plain_dsn
from sextant.runtime.pkce import challenge_of
from sextant.runtime.sealing import SecretBox, key_id_of
from sextant.runtime.testing.apps import running_app, served, service_settings
from sextant.runtime.testing.plugin import InternalKeys
from sextant.runtime.wiring import create_bus

from ..fixtures.fake_atlassian import CLIENT_ID, CLIENT_SECRET, CLOUD_ID, SITE_URL, Atlassian

PUBLIC = "https://sextant.example"
CALLBACK = f"{PUBLIC}/v1/oauth/jira/callback"
PROBLEM = "application/problem+json"


@dataclass
class Platform:
    gateway: httpx.AsyncClient  # the public edge
    ingest: ServiceState
    atlassian: Atlassian
    admin: dict[str, str]  # a tenant admin of the tenant, through the gateway
    tenant: UUID
    workspace: str
    dsn: str

    async def jira_source(self, **extra: Any) -> str:
        made = await self.gateway.post(
            f"/v1/workspaces/{self.workspace}/sources",
            json={"kind": "jira", "name": "acme", **extra},
            headers=self.admin,
        )
        assert made.status_code == 201, made.text
        return str(made.json()["id"])

    async def start(self, source: str) -> dict[str, str]:
        """Start a connection; the consent URL's query."""
        started = await self.gateway.post(
            f"/v1/sources/{source}/oauth/jira/start", headers=self.admin
        )
        assert started.status_code == 200, started.text
        url = urlsplit(started.json()["authorize_url"])
        assert f"{url.scheme}://{url.netloc}{url.path}" == self.authorize_url
        return {name: values[0] for name, values in parse_qs(url.query).items()}

    async def callback(self, **query: str) -> httpx.Response:
        return await self.gateway.get("/v1/oauth/jira/callback", params=query)

    async def connect(self, source: str) -> httpx.Response:
        """Start, consent as the browser would, and come back to the callback."""
        asked = await self.start(source)
        code = self.atlassian.consent(asked["code_challenge"], asked["redirect_uri"])
        return await self.callback(code=code, state=asked["state"])

    @property
    def authorize_url(self) -> str:
        return "https://auth.example/authorize"

    async def sql(self, query: str, *args: Any) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(self.dsn)
        try:
            return list(await conn.fetch(query, *args))
        finally:
            await conn.close()

    async def tokens(self, source: str) -> dict[str, str]:
        """The source's stored tokens, opened with ingest's own box."""
        [row] = await self.sql(
            "SELECT tokens_sealed FROM ingest.oauth_grants WHERE source_id = $1", UUID(source)
        )
        opened: dict[str, str] = json.loads(
            service.ingest_of(self.ingest).box.open(row["tokens_sealed"], UUID(source))
        )
        return opened


@pytest.fixture
async def platform(
    database_url: str,
    internal_keys: InternalKeys,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Platform]:
    """Ingest and the gateway in one process over one database and bus, the fake
    Atlassian on a loopback port that the egress policy is told to let through."""
    fake = Atlassian()
    async with served(fake.app()) as url:
        for name, value in {
            "CLIENT_ID": CLIENT_ID,
            "CLIENT_SECRET": CLIENT_SECRET,
            "AUTHORIZE_URL": "https://auth.example/authorize",  # only the browser goes there
            "TOKEN_URL": f"{url}/oauth/token",
            "RESOURCES_URL": f"{url}/oauth/token/accessible-resources",
            "API_URL": url,
            "REFRESH_INTERVAL_SECONDS": "3600",  # tests refresh when they choose
        }.items():
            monkeypatch.setenv(f"SEXTANT_INGEST_JIRA_OAUTH_{name}", value)
        monkeypatch.setenv("SEXTANT_INGEST_PUBLIC_BASE_URL", PUBLIC)
        settings = service_settings(
            database_url,
            internal_keys,
            data_dir=tmp_path,
            egress_allow=["127.0.0.1"],
            egress_allow_http=True,
        )
        ingest = create_service_app(
            INGEST, settings, bus_factory=lambda: create_bus(settings), configure_logs=False
        )
        idle = FastAPI()
        apps = {name: idle for name in UPSTREAM_SERVICES} | {"ingest": ingest}
        issuer = LocalIssuer.from_pem(new_local_issuer_pem())
        gateway = create_gateway(
            settings, upstreams=Upstreams.in_process(apps, timeout=10), local_issuer=issuer
        )
        dsn = plain_dsn(database_url)
        async with running_app(ingest), running_app(gateway) as public:
            root = issuer.mint(
                subject="root", role="platform_admin", tenant_id=None, ttl_seconds=900
            )
            made = await public.post(
                "/v1/tenants", json={"name": "acme"}, headers={"Authorization": f"Bearer {root}"}
            )
            tenant = UUID(made.json()["id"])
            admin_token = issuer.mint(
                subject="ada", role="tenant_admin", tenant_id=tenant, ttl_seconds=900
            )
            admin = {"Authorization": f"Bearer {admin_token}"}
            workspace = await public.post("/v1/workspaces", json={"name": "eng"}, headers=admin)
            assert workspace.status_code == 201, workspace.text
            yield Platform(
                public,
                ingest.state.service,
                fake,
                admin,
                tenant,
                workspace.json()["id"],
                dsn,
            )


def assert_problem(reply: httpx.Response, status: int, *words: str) -> None:
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"] == PROBLEM
    detail = reply.json()["detail"]
    for word in words:
        assert word in detail, detail


async def test_an_admin_connects_jira_through_the_gateway_and_the_backfill_uses_the_grant(
    platform: Platform,
) -> None:
    source = await platform.jira_source(credentials={"jql": "project = ENG"})
    asked = await platform.start(source)
    assert asked["client_id"] == CLIENT_ID
    assert asked["redirect_uri"] == CALLBACK
    assert asked["response_type"] == "code"
    assert asked["audience"] == "api.atlassian.com"
    assert "offline_access" in asked["scope"].split()
    assert asked["code_challenge_method"] == "S256"
    assert len(asked["code_challenge"]) == 43  # base64url of a SHA-256, unpadded
    assert len(asked["state"]) >= 43

    code = platform.atlassian.consent(asked["code_challenge"], asked["redirect_uri"])
    connected = await platform.callback(code=code, state=asked["state"])  # no bearer
    assert connected.status_code == 200, connected.text
    assert connected.json() | {"expires_at": None} == {
        "connected": True,
        "source_id": source,
        "site_url": SITE_URL,
        "cloud_id": CLOUD_ID,
        "expires_at": None,
    }
    # The exchange carried the verifier the challenge was made from, and the same URI.
    [exchange] = platform.atlassian.grants
    assert challenge_of(exchange["code_verifier"]) == asked["code_challenge"]
    assert exchange["redirect_uri"] == CALLBACK

    # Sealed at rest: no token in the row's bytes, and both open with ingest's box.
    [row] = await platform.sql("SELECT tokens_sealed, status FROM ingest.oauth_grants")
    assert b"access-1" not in row["tokens_sealed"] and b"refresh-1" not in row["tokens_sealed"]
    assert row["status"] == "connected"
    assert await platform.tokens(source) == {
        "access_token": "access-1",
        "refresh_token": "refresh-1",
    }
    shown = await platform.gateway.get(f"/v1/sources/{source}/oauth/jira", headers=platform.admin)
    assert shown.status_code == 200, shown.text
    assert (shown.json()["status"], shown.json()["connected_by"]) == ("connected", "ada")

    # The same callback again: its state is spent.
    replayed = await platform.callback(code=code, state=asked["state"])
    assert_problem(replayed, 409, "state: already used")

    # A backfill signs in with the grant, on the API under the site's cloud id.
    started = await platform.gateway.post(
        f"/v1/sources/{source}/backfill",
        json={"since": "2026-02-01T00:00:00Z"},
        headers=platform.admin,
    )
    assert started.status_code == 202, started.text
    for _ in range(200):
        progress = (
            await platform.gateway.get(f"/v1/sources/{source}/backfill", headers=platform.admin)
        ).json()
        if progress["status"] != "running":
            break
        await asyncio.sleep(0.05)
    assert progress["status"] == "succeeded", progress
    assert progress["resources"]["issues"]["items"] == 2
    assert platform.atlassian.jira.tokens == {"Bearer access-1"}
    searched = [s for s in platform.atlassian.jira.seen if "/search/jql" in s]
    assert searched and all(s.startswith(f"/ex/jira/{CLOUD_ID}/rest/api/3/") for s in searched)
    assert "project+%3D+ENG" in searched[0]


async def test_a_code_whose_pkce_challenge_is_not_the_verifiers_is_refused(
    platform: Platform,
) -> None:
    source = await platform.jira_source()
    asked = await platform.start(source)
    # A code issued for another challenge (one an attacker made), carried back with this state.
    stolen = platform.atlassian.consent(
        challenge_of("another verifier " + "x" * 40), asked["redirect_uri"]
    )
    refused = await platform.callback(code=stolen, state=asked["state"])
    assert_problem(refused, 403, "code:", "invalid_grant", "PKCE verification failed")
    assert await platform.sql("SELECT 1 FROM ingest.oauth_grants") == []


async def test_states_unknown_replayed_expired_or_declined_are_clear_refusals(
    platform: Platform,
) -> None:
    source = await platform.jira_source()
    assert_problem(await platform.callback(code="c"), 400, "state: missing")
    assert_problem(await platform.callback(code="c", state="made-up"), 400, "state: unknown")

    # Declined at Atlassian's page: the state is spent, nothing connected.
    asked = await platform.start(source)
    declined = await platform.callback(
        state=asked["state"], error="access_denied", error_description="User did not authorize"
    )
    assert_problem(declined, 403, "access_denied", "User did not authorize")
    code = platform.atlassian.consent(asked["code_challenge"], asked["redirect_uri"])
    assert_problem(await platform.callback(code=code, state=asked["state"]), 409, "already used")

    # Expired: its time was up before the browser came back.
    asked = await platform.start(source)
    await platform.sql("UPDATE ingest.oauth_states SET expires_at = now() - interval '1 second'")
    code = platform.atlassian.consent(asked["code_challenge"], asked["redirect_uri"])
    assert_problem(await platform.callback(code=code, state=asked["state"]), 410, "expired")
    assert platform.atlassian.grants == []  # none of these reached the token endpoint
    assert await platform.sql("SELECT 1 FROM ingest.oauth_grants") == []


async def test_a_failing_token_endpoint_is_a_502_and_nothing_is_connected(
    platform: Platform,
) -> None:
    source = await platform.jira_source()
    platform.atlassian.token_errors = 1
    failed = await platform.connect(source)
    assert_problem(failed, 502, "authorization server failed", "HTTP 500")
    assert len(platform.atlassian.grants) == 1  # not retried: the code and state are spent
    assert await platform.sql("SELECT 1 FROM ingest.oauth_grants") == []
    connected = await platform.connect(source)  # started again, it connects
    assert connected.status_code == 200, connected.text


async def test_oauth_needs_the_operators_app_and_a_jira_source(platform: Platform) -> None:
    github = await platform.gateway.post(
        f"/v1/workspaces/{platform.workspace}/sources",
        json={"kind": "github", "name": "octo"},
        headers=platform.admin,
    )
    started = await platform.gateway.post(
        f"/v1/sources/{github.json()['id']}/oauth/jira/start", headers=platform.admin
    )
    assert_problem(started, 400, "is a github source")


async def test_a_refresh_rotates_the_refresh_token_and_stores_both_tokens(
    platform: Platform,
) -> None:
    source = await platform.jira_source()
    assert (await platform.connect(source)).status_code == 200
    [before] = await platform.sql("SELECT refresh_at FROM ingest.oauth_refreshes")

    # Nothing is due yet: an hour's token is refreshed 15-16 minutes before it expires.
    assert await jira_oauth.refresh_due(platform.ingest) == 0
    later = before["refresh_at"]
    assert await jira_oauth.refresh_due(platform.ingest, now=later) == 1
    assert platform.atlassian.grants[-1] == {
        "grant_type": "refresh_token",
        "refresh_token": "refresh-1",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }
    assert await platform.tokens(source) == {
        "access_token": "access-2",
        "refresh_token": "refresh-2",
    }
    assert "refresh-1" not in platform.atlassian.refresh_tokens  # spent by the rotation
    # Scheduled again 15 minutes before the new token expires, less up to a minute's jitter.
    [after] = await platform.sql(
        "SELECT r.refresh_at, g.expires_at, g.refreshed_at FROM ingest.oauth_refreshes r "
        "JOIN ingest.oauth_grants g USING (source_id)"
    )
    early = (after["expires_at"] - after["refresh_at"]).total_seconds()
    assert 900 <= early <= 960, early
    assert after["refreshed_at"] is not None

    # The next refresh presents the rotated token, and works.
    assert await jira_oauth.refresh(platform.ingest, platform.tenant, UUID(source)) is True
    assert platform.atlassian.grants[-1]["refresh_token"] == "refresh-2"
    assert (await platform.tokens(source))["refresh_token"] == "refresh-3"


async def test_the_background_refresher_refreshes_a_token_about_to_expire(
    platform: Platform,
) -> None:
    """A token that expires within the refresh margin is refreshed by the service's own
    task, without being asked (the interval made short for the test)."""
    platform.atlassian.exchange_expires_in = 600  # inside the 15 minutes: due at once
    source = await platform.jira_source()
    assert (await platform.connect(source)).status_code == 200
    ingest = service.ingest_of(platform.ingest)
    object.__setattr__(ingest.settings, "jira_oauth_refresh_interval_seconds", 0.1)
    await jira_oauth.stop_refresher(platform.ingest)
    await jira_oauth.start_refresher(platform.ingest)
    for _ in range(100):
        if (await platform.tokens(source))["refresh_token"] == "refresh-2":
            break
        await asyncio.sleep(0.05)
    assert await platform.tokens(source) == {
        "access_token": "access-2",
        "refresh_token": "refresh-2",
    }


async def test_a_revoked_grant_needs_reconnecting_and_the_admins_are_told(
    platform: Platform,
) -> None:
    source = await platform.jira_source()
    assert (await platform.connect(source)).status_code == 200
    platform.atlassian.revoke()

    assert await jira_oauth.refresh(platform.ingest, platform.tenant, UUID(source)) is False
    shown = await platform.gateway.get(f"/v1/sources/{source}/oauth/jira", headers=platform.admin)
    assert shown.json()["status"] == "needs_reconnect"
    assert "invalid_grant" in shown.json()["error"]
    assert await platform.sql("SELECT 1 FROM ingest.oauth_refreshes") == []  # no more tries

    # The notice reaches the gateway's notifications, for the tenant's admins.
    for _ in range(100):
        listed = await platform.gateway.get("/v1/notifications", headers=platform.admin)
        items = listed.json()["items"]
        if items:
            break
        await asyncio.sleep(0.1)
    [told] = items
    assert told["title"] == "Jira source 'acme' needs reconnecting"
    assert told["severity"] == "error" and "invalid_grant" in told["body"]

    # A backfill says what to do instead of failing on the API.
    started = await platform.gateway.post(
        f"/v1/sources/{source}/backfill",
        json={"since": "2026-02-01T00:00:00Z"},
        headers=platform.admin,
    )
    assert_problem(started, 409, "needs reconnecting", "oauth/jira/start")

    # Connecting again brings it back.
    assert (await platform.connect(source)).status_code == 200
    again = await platform.gateway.get(f"/v1/sources/{source}/oauth/jira", headers=platform.admin)
    assert (again.json()["status"], again.json()["error"]) == ("connected", None)


async def test_reseal_moves_grants_and_open_consents_to_the_current_key(
    platform: Platform, tmp_path: Path
) -> None:
    source = await platform.jira_source()
    assert (await platform.connect(source)).status_code == 200
    asked = await platform.start(source)  # a consent still open
    fresh = base64.b64encode(os.urandom(32)).decode()
    # k1 first, the running service's k0 (its data dir's key file) kept to open the rest
    box = SecretBox.from_setting(
        None, tmp_path, shared=False, keys=f"k1:{fresh}", names=INGEST_KEYS
    )
    assert box.key_ids == ("k1", "k0")

    done = await reseal_sources(platform.ingest.db, box)

    # the source's webhook secret (it has no credentials), its tokens, the consent's verifier
    assert done.resealed == 3
    [grant] = await platform.sql("SELECT tokens_sealed FROM ingest.oauth_grants")
    [consent] = await platform.sql(
        "SELECT verifier_sealed FROM ingest.oauth_states WHERE used_at IS NULL"
    )
    for sealed in (grant["tokens_sealed"], consent["verifier_sealed"]):
        assert key_id_of(sealed) == "k1"
    assert json.loads(box.open(grant["tokens_sealed"], UUID(source))) == {
        "access_token": "access-1",
        "refresh_token": "refresh-1",
    }
    verifier = box.open(consent["verifier_sealed"], UUID(source))
    assert challenge_of(verifier) == asked["code_challenge"]


async def test_replicas_looking_at_once_refresh_a_grant_once(platform: Platform) -> None:
    """Two refreshers (two replicas) find the same grant due: one refreshes it, the other
    skips it — locked, or already refreshed — and the next refresh stays scheduled."""
    platform.atlassian.exchange_expires_in = 600  # inside the 15 minutes: due at once
    source = await platform.jira_source()
    assert (await platform.connect(source)).status_code == 200
    looked = datetime.now(UTC)
    first, second = await asyncio.gather(
        jira_oauth.refresh_due(platform.ingest), jira_oauth.refresh_due(platform.ingest)
    )
    assert first + second == 1
    # A replica that found it due before that refresh comes to it after: left alone.
    late = await jira_oauth.refresh(platform.ingest, platform.tenant, UUID(source), due_by=looked)
    assert late is False
    refreshes = [g for g in platform.atlassian.grants if g["grant_type"] == "refresh_token"]
    assert len(refreshes) == 1
    [scheduled] = await platform.sql("SELECT refresh_at FROM ingest.oauth_refreshes")
    assert (scheduled["refresh_at"] - looked).total_seconds() > 3600 - 960 - 5
