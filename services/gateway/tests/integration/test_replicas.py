"""Two gateway replicas over one database: an API key revoked through one is refused by
the other within the cache's lifetime, and a tenant deleted through one is refused by
both."""

from __future__ import annotations

import asyncio
import time

from sextant.gateway.authn import LocalIssuer, new_local_issuer_pem
from sextant.gateway.main import create_app
from sextant.gateway.settings import GatewaySettings
from sextant.gateway.upstreams import Upstreams
from sextant.runtime.testing.apps import running_app, service_settings
from sextant.runtime.testing.plugin import InternalKeys

ISSUER = LocalIssuer.from_pem(new_local_issuer_pem())
CACHE_SECONDS = 1.0


async def test_a_revocation_or_deletion_through_one_replica_holds_on_the_other_within_seconds(
    database_url: str, internal_keys: InternalKeys
) -> None:
    settings = GatewaySettings(api_key_cache_seconds=CACHE_SECONDS)

    def replica() -> object:
        return create_app(
            service_settings(database_url, internal_keys),
            upstreams=Upstreams({}),
            gateway_settings=settings,
            local_issuer=ISSUER,
        )

    root = {
        "Authorization": f"Bearer {ISSUER.mint(subject='root', role='platform_admin', tenant_id=None, ttl_seconds=600)}"
    }
    async with running_app(replica()) as one, running_app(replica()) as two:  # type: ignore[arg-type]
        tenant = (await one.post("/v1/tenants", json={"name": "Acme"}, headers=root)).json()["id"]
        admin = {
            "Authorization": f"Bearer {ISSUER.mint(subject='a', role='tenant_admin', tenant_id=tenant, ttl_seconds=600)}"
        }  # type: ignore[arg-type]
        created = (
            await one.post("/v1/api-keys", json={"name": "ci", "role": "member"}, headers=admin)
        ).json()
        as_key = {"Authorization": f"Bearer {created['key']}"}
        assert (await two.get("/v1/me", headers=as_key)).status_code == 200  # now cached there

        await one.delete(f"/v1/api-keys/{created['id']}", headers=admin)
        revoked_at = time.monotonic()
        async with asyncio.timeout(CACHE_SECONDS + 5):
            while (await two.get("/v1/me", headers=as_key)).status_code != 401:
                await asyncio.sleep(0.05)
        assert time.monotonic() - revoked_at <= CACHE_SECONDS + 0.5

        member = {
            "Authorization": f"Bearer {ISSUER.mint(subject='m', role='member', tenant_id=tenant, ttl_seconds=600)}"
        }  # type: ignore[arg-type]
        assert (await two.get("/v1/me", headers=member)).status_code == 200
        assert (await one.delete(f"/v1/tenants/{tenant}", headers=root)).status_code == 200
        await asyncio.sleep(CACHE_SECONDS + 0.1)
        for replica_client in (one, two):
            assert (await replica_client.get("/v1/me", headers=member)).status_code == 403
