"""The forecast service starts on real PostgreSQL and the local bus, and guards its routes."""

from sqlalchemy import text

from sextant.forecast.db import metadata
from sextant.forecast.main import SPEC
from sextant.runtime.migrations import compare_to_models
from sextant.runtime.testing.apps import running_service, service_settings


async def test_health_readiness_and_metrics_answer(database_url, internal_keys):
    async with running_service(SPEC, service_settings(database_url, internal_keys)) as (client, _):
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"database": True, "bus": True}
        assert "sextant_http_requests" in (await client.get("/metrics")).text


async def test_migrations_leave_no_drift_from_the_models(database_url, internal_keys):
    async with running_service(SPEC, service_settings(database_url, internal_keys)) as (_, state):
        engine = state.db.owner_engine()
        async with engine.connect() as conn:
            diffs = await conn.run_sync(compare_to_models, SPEC.schema, metadata)
            app_role_owns = await conn.scalar(
                text("SELECT count(*) FROM pg_tables WHERE schemaname = :s AND tableowner = :r"),
                {"s": SPEC.schema, "r": f"{SPEC.schema}_app"},
            )
        await engine.dispose()
        assert diffs == []
        assert app_role_owns == 0
