"""A started service keeps its start-up objects out of the GC's full passes, and gives
them back when it stops (a test process runs many services one after another)."""

import gc

from sextant.runtime.app import ServiceSpec
from sextant.runtime.testing import busworker
from sextant.runtime.testing.apps import running_service, service_settings

SPEC = ServiceSpec(
    name="conformance", metadata=busworker.metadata, migrations_dir=busworker.MIGRATIONS
)


async def test_start_up_objects_are_frozen_while_the_service_runs(database_url, internal_keys):
    gc.unfreeze()
    async with running_service(SPEC, service_settings(database_url, internal_keys)) as (client, _):
        assert (await client.get("/healthz")).status_code == 200
        # The app, its routes and models and the pools are all among the frozen.
        assert gc.get_freeze_count() > 10_000
        assert len(gc.get_objects(generation=2)) < gc.get_freeze_count()
    assert gc.get_freeze_count() == 0
