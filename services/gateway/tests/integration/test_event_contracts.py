"""Partners read the event contracts from the gateway: AsyncAPI and one schema per type."""

from sextant.contracts import EVENT_TYPES, TOPICS
from sextant.gateway.main import spec
from sextant.gateway.upstreams import Upstreams
from sextant.runtime.testing.apps import running_service, service_settings
from sextant.runtime.testing.plugin import InternalKeys

SPEC = spec(Upstreams({}))


async def test_asyncapi_and_schemas_are_served_without_a_token(
    database_url: str, internal_keys: InternalKeys
) -> None:
    async with running_service(SPEC, service_settings(database_url, internal_keys)) as (client, _):
        document = (await client.get("/v1/events/asyncapi.json")).json()
        merged = await client.get("/v1/events/schemas/sextant.activity.change_request.merged.v1")
        unknown = await client.get("/v1/events/schemas/sextant.nope.v1")
    assert document["asyncapi"] == "3.0.0"
    assert {c["address"] for c in document["channels"].values()} >= {
        t.name for t in TOPICS.values()
    }
    assert merged.status_code == 200 and merged.headers["content-type"] == "application/schema+json"
    assert {"merge_sha", "commit_shas"} <= set(merged.json()["properties"])
    assert unknown.status_code == 404 and "asyncapi.json" in unknown.json()["detail"]
    assert len(EVENT_TYPES) > 40
