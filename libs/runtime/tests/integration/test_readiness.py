"""/readyz is ready only while the database and the bus answer; /healthz stays up."""

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
