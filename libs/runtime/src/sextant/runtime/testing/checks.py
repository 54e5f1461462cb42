"""The runtime contract every service keeps, checked the same way in every service's tests."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Mapping
from urllib.parse import urlencode

import httpx
import jwt
from sqlalchemy import text

from sextant.runtime.app import ServiceSpec, create_service_app
from sextant.runtime.migrations import compare_to_models
from sextant.runtime.testing.apps import running_app, running_service, service_settings
from sextant.runtime.testing.plugin import InternalKeys
from sextant.runtime.tokens import (
    ALGORITHM,
    ISSUER,
    TOKEN_TYPE,
    InternalTokenSigner,
    audience_for,
    generate_keypair,
    load_private_key,
)
from sextant.runtime.wiring import create_bus

TENANT = uuid.UUID("0190d6a0-0000-7000-8000-0000000000aa")


async def check_health_readiness_metrics(
    spec: ServiceSpec, database_url: str, keys: InternalKeys
) -> None:
    async with running_service(spec, service_settings(database_url, keys)) as (client, _):
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text
        checks = {check["name"]: check["ok"] for check in ready.json()["checks"]}
        expected = ["database", "migrations", "bus", "outbox relay"]
        assert checks == dict.fromkeys(expected + ["consumer"] * bool(spec.handlers), True)
        metrics = (await client.get("/metrics")).text
        assert "sextant_http_requests" in metrics
        assert f'sextant_service_info{{service="{spec.name}"}} 1.0' in metrics


async def check_schema_matches_models_and_app_role_owns_nothing(
    spec: ServiceSpec, database_url: str, keys: InternalKeys
) -> None:
    async with running_service(spec, service_settings(database_url, keys)) as (_, state):
        engine = state.db.owner_engine()
        async with engine.connect() as conn:
            diffs = await conn.run_sync(compare_to_models, spec.schema, spec.metadata)
            owned = await conn.scalar(
                text("SELECT count(*) FROM pg_tables WHERE schemaname = :s AND tableowner = :r"),
                {"s": spec.schema, "r": f"{spec.schema}_app"},
            )
            bypass = await conn.scalar(
                text("SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = :r"),
                {"r": f"{spec.schema}_app"},
            )
        await engine.dispose()
    assert diffs == [], f"models and migrations drifted: {diffs}"
    assert owned == 0 and bypass is False
    await _check_tenant_tables_force_rls(spec, database_url, keys)


async def _check_tenant_tables_force_rls(
    spec: ServiceSpec, database_url: str, keys: InternalKeys
) -> None:
    """Every table with a tenant_id column has RLS enabled, forced, and a policy — unless
    it says why not in ``Table.info["cross_tenant"]``."""
    tenant_tables = [
        t.name
        for t in spec.metadata.tables.values()
        if "tenant_id" in t.c and not t.info.get("cross_tenant")
    ]
    async with running_service(spec, service_settings(database_url, keys)) as (_, state):
        engine = state.db.owner_engine()
        async with engine.connect() as conn:
            for table in tenant_tables:
                row = (
                    await conn.execute(
                        text(
                            "SELECT c.relrowsecurity, c.relforcerowsecurity, "
                            "(SELECT count(*) FROM pg_policies p WHERE p.schemaname = :s "
                            "AND p.tablename = :t) FROM pg_class c JOIN pg_namespace n "
                            "ON n.oid = c.relnamespace WHERE n.nspname = :s AND c.relname = :t"
                        ),
                        {"s": spec.schema, "t": table},
                    )
                ).one()
                assert row[0] and row[1] and row[2] > 0, f"{spec.schema}.{table} lacks forced RLS"
        await engine.dispose()


async def check_every_route_requires_the_internal_token(
    spec: ServiceSpec, database_url: str, keys: InternalKeys
) -> None:
    """Every route in the service's OpenAPI document, but health, readiness and the spec's
    public routers, answers an anonymous caller 401 — including routes added later."""
    public = {route.path for router in spec.public_routers for route in router.routes}  # type: ignore[attr-defined]
    open_paths = {"/healthz", "/readyz", "/metrics", *public}
    settings = service_settings(database_url, keys)
    app = create_service_app(
        spec, settings, bus_factory=lambda: create_bus(settings), configure_logs=False
    )
    checked = 0
    async with running_app(app) as client:
        for template, operations in app.openapi()["paths"].items():
            if template in open_paths:
                continue
            path = re.sub(r"\{[^}]+\}", "00000000-0000-7000-8000-000000000000", template)
            for method in operations:
                response = await client.request(method.upper(), path)
                assert response.status_code == 401, (
                    f"{method.upper()} {template} answered {response.status_code}"
                )
                checked += 1
    assert checked >= 1, "expected at least /internal/info to be checked"


async def check_routes_require_the_internal_token(
    spec: ServiceSpec, database_url: str, keys: InternalKeys
) -> None:
    now = int(time.time())
    expired = jwt.encode(
        {
            "iss": ISSUER,
            "aud": audience_for(spec.name),
            "sub": "u",
            "role": "member",
            "jti": "x",
            "iat": now - 120,
            "exp": now - 60,
        },
        load_private_key(keys.private_pem),
        algorithm=ALGORITHM,
        headers={"typ": TOKEN_TYPE},
    )
    forged = InternalTokenSigner(load_private_key(generate_keypair()[0])).mint(
        service=spec.name, subject="u", role="platform_admin", tenant_id=TENANT
    )
    other_service = "ingest" if spec.name != "ingest" else "forecast"
    wrong_audience = keys.signer.mint(
        service=other_service, subject="u", role="member", tenant_id=TENANT
    )
    good = keys.signer.mint(service=spec.name, subject="user-7", role="manager", tenant_id=TENANT)
    async with running_service(spec, service_settings(database_url, keys)) as (client, _):
        for label, headers in {
            "no token": {},
            "not bearer": {"Authorization": f"Basic {good}"},
            "expired": {"Authorization": f"Bearer {expired}"},
            "forged": {"Authorization": f"Bearer {forged}"},
            "wrong audience": {"Authorization": f"Bearer {wrong_audience}"},
        }.items():
            response = await client.get("/internal/info", headers=headers)
            assert response.status_code == 401, f"{label}: {response.status_code}"
            assert response.headers["content-type"] == "application/problem+json", label
        accepted = await client.get("/internal/info", headers={"Authorization": f"Bearer {good}"})
    assert accepted.status_code == 200, accepted.text
    body = accepted.json()
    assert body["service"] == spec.name
    assert body["caller"] == {"sub": "user-7", "role": "manager", "tenant": str(TENANT)}
    assert body["consumes"] == sorted(spec.handlers)


# Cursors no list gave out: each must be a 400 naming the parameter, never a 500 or a page.
FORGED_CURSORS = (
    "²",  # str.isdigit() says yes, int() says no
    "9" * 20,  # past PostgreSQL's bigint
    "1",  # a bare sequence number
    "00000000-0000-0000-0000-000000000000",  # a bare row id
    "-1",
    "not-a-cursor",
    "AAAAAAAAAAAAAAAAAAAAAAA",  # base64 of the right length, of no list's kind
    "aQAAAAAAAAAAAAAAAAAAAAB",  # an id cursor's kind, spelled with trailing bits set
    "aQAAAAAAAAAAAAAAAAAAAA",  # an id cursor one byte short
    "cwAAAAAAAAAA",  # a sequence cursor holding 0
    "c4AAAAAAAAAA",  # a sequence cursor holding 2**63, past bigint
    "\x00\udcff",  # binary: NUL and a byte that is not UTF-8 (sent percent-encoded)
)


async def check_forged_cursors_are_refused(
    client: httpx.AsyncClient,
    path: str,
    headers: Mapping[str, str],
    parameter: str = "cursor",
    params: Mapping[str, str] | None = None,
) -> None:
    """``GET path`` answers every forged cursor with a 400 problem naming ``parameter``,
    and one over the length bound with a 422 naming it; ``params`` are the list's other
    query parameters (a scope it requires)."""
    others = dict(params or {})
    for cursor in FORGED_CURSORS:
        query = urlencode({**others, parameter: cursor}, encoding="utf-8", errors="surrogateescape")
        response = await client.get(f"{path}?{query}", headers=dict(headers))
        assert response.status_code == 400, (path, cursor, response.status_code, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["parameter"] == parameter, (path, cursor, response.json())
        assert parameter in response.json()["detail"]
    too_long = await client.get(path, params={**others, parameter: "A" * 65}, headers=dict(headers))
    assert too_long.status_code == 422, (path, too_long.text)
    assert parameter in too_long.json()["detail"]
