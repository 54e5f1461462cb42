"""/readyz is ready only while every check passes (database, migrations, bus, outbox
relay, consumer), and names each; /healthz stays up."""

import asyncio
from typing import Any

from sqlalchemy import text

from sextant.runtime.app import ServiceSpec
from sextant.runtime.embedded_pg import EmbeddedPostgres
from sextant.runtime.testing import busworker
from sextant.runtime.testing.apps import running_service, service_settings

SPEC = ServiceSpec(
    name="conformance", metadata=busworker.metadata, migrations_dir=busworker.MIGRATIONS
)


async def test_readiness_follows_the_database(tmp_path, internal_keys):
    server = EmbeddedPostgres(tmp_path / "pg")
    url = server.start()
    try:
        async with running_service(SPEC, service_settings(url, internal_keys)) as (client, _):
            assert (await client.get("/readyz")).status_code == 200
            server.kill()
            down = await client.get("/readyz")
            assert down.status_code == 503
            assert down.headers["content-type"] == "application/problem+json"
            assert down.json()["checks"] == [
                {"name": "database", "ok": False, "detail": "does not answer"},
                {
                    "name": "migrations",
                    "ok": False,
                    "detail": "not checked: the database does not answer",
                },
                {"name": "bus", "ok": False, "detail": "does not answer"},
                {"name": "outbox relay", "ok": True, "detail": "publishing"},
            ]
            assert down.json()["detail"] == (
                "failing: database (does not answer); "
                "migrations (not checked: the database does not answer); bus (does not answer)"
            )
            assert (await client.get("/healthz")).status_code == 200
            server.start()
            assert (await client.get("/readyz")).status_code == 200
    finally:
        server.destroy()


async def test_a_dead_consumer_makes_the_service_not_ready(database_url, internal_keys):
    consuming = ServiceSpec(
        name="conformance",
        metadata=busworker.metadata,
        migrations_dir=busworker.MIGRATIONS,
        handlers={"conformance.readiness": busworker.make_handler("readiness")},
    )
    async with running_service(consuming, service_settings(database_url, internal_keys)) as (
        client,
        state,
    ):
        ready = (await client.get("/readyz")).json()
        assert checks_by_name(ready)["consumer"] == {
            "name": "consumer",
            "ok": True,
            "detail": "consuming conformance.readiness",
        }
        state.processor._task.cancel()  # what an unexpected crash looks like from outside
        await asyncio.sleep(0.05)
        down = await client.get("/readyz")
    assert down.status_code == 503
    assert checks_by_name(down.json())["consumer"] == {
        "name": "consumer",
        "ok": False,
        "detail": "stopped: events of conformance.readiness are not processed",
    }
    assert down.json()["detail"] == (
        "failing: consumer (stopped: events of conformance.readiness are not processed)"
    )


async def test_a_schema_behind_the_code_makes_the_service_not_ready(database_url, internal_keys):
    async with running_service(SPEC, service_settings(database_url, internal_keys)) as (
        client,
        state,
    ):
        ready = checks_by_name((await client.get("/readyz")).json())["migrations"]
        assert ready["ok"] is True
        engine = state.db.owner_engine()
        try:
            async with engine.begin() as conn:
                head = await conn.scalar(
                    text(f"SELECT version_num FROM {SPEC.schema}.alembic_version")
                )
                await conn.execute(
                    text(f"UPDATE {SPEC.schema}.alembic_version SET version_num = 'older'")
                )
            behind = await client.get("/readyz")
            async with engine.begin() as conn:
                await conn.execute(
                    text(f"UPDATE {SPEC.schema}.alembic_version SET version_num = :v"), {"v": head}
                )
        finally:
            await engine.dispose()
    assert ready["detail"] == f"at {head}"
    assert behind.status_code == 503
    assert checks_by_name(behind.json())["migrations"] == {
        "name": "migrations",
        "ok": False,
        "detail": f"schema at older, the code expects {head}: run `sextant migrate`",
    }


def checks_by_name(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {check["name"]: check for check in body["checks"]}
