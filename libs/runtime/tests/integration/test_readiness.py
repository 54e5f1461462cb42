"""/readyz is ready only while the database and the bus answer; /healthz stays up."""

import asyncio

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
            assert down.json()["checks"] == {"database": False, "bus": False}
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
        assert (await client.get("/readyz")).json()["checks"]["consumer"] is True
        state.processor._task.cancel()  # what an unexpected crash looks like from outside
        await asyncio.sleep(0.05)
        down = await client.get("/readyz")
    assert down.status_code == 503
    assert down.json()["checks"]["consumer"] is False
