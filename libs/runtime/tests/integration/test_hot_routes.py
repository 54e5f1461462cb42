"""A spec's hot routes are answered by the service's app before its FastAPI stack, and
still behave like any route: request id on the reply, problem+json for domain
and infrastructure errors, request metrics by route, and other methods on the same path
answered by the stack below (405 or the FastAPI route)."""

from fastapi import APIRouter, Request, Response
from starlette.routing import Route

from sextant.runtime.app import ServiceSpec
from sextant.runtime.errors import Gone
from sextant.runtime.testing import busworker
from sextant.runtime.testing.apps import running_service, service_settings


async def hot(request: Request) -> Response:
    what = request.path_params["what"]
    if what == "gone":
        raise Gone("that one is disabled")
    if what == "down":
        raise ConnectionRefusedError("the database went away")
    if what == "bug":
        raise KeyError("a bug")
    return Response(f"hot {what} {len(await request.body())}", status_code=202)


slow = APIRouter()


@slow.get("/v1/hot/{what}")
async def read_it(what: str) -> dict[str, str]:
    return {"read": what}


SPEC = ServiceSpec(
    name="conformance",
    metadata=busworker.metadata,
    migrations_dir=busworker.MIGRATIONS,
    public_routers=[slow],
    hot_routes=[Route("/v1/hot/{what}", hot, methods=["POST"])],
)


async def test_hot_route_answers_with_the_runtime_context(database_url, internal_keys):
    async with running_service(SPEC, service_settings(database_url, internal_keys)) as (client, _):
        reply = await client.post("/v1/hot/x", content=b"12345", headers={"x-request-id": "r-1"})
        assert (reply.status_code, reply.text) == (202, "hot x 5")
        assert reply.headers["x-request-id"] == "r-1"
        assert (await client.post("/v1/hot/y")).headers["x-request-id"]  # one is made

        gone = await client.post("/v1/hot/gone")
        assert gone.status_code == 410
        assert gone.headers["content-type"] == "application/problem+json"
        assert gone.json()["detail"] == "that one is disabled"

        down = await client.post("/v1/hot/down")
        assert down.status_code == 503
        assert down.json()["type"].endswith("unavailable")
        assert down.headers["retry-after"] == "5"

        # A crash is the crash handler's problem+json, with the request id, not a dropped
        # connection (no error middleware sits above a hot route).
        bug = await client.post("/v1/hot/bug", headers={"x-request-id": "r-2"})
        assert bug.status_code == 500
        assert bug.headers["content-type"] == "application/problem+json"
        assert bug.headers["x-request-id"] == "r-2"

        # Another method on the path goes down the stack, to the FastAPI route.
        assert (await client.get("/v1/hot/z")).json() == {"read": "z"}
        assert (await client.put("/v1/hot/z")).status_code == 405

        metrics = (await client.get("/metrics")).text
        for line in (
            'method="POST",route="/v1/hot/{what}",status="202"} 2.0',
            'method="POST",route="/v1/hot/{what}",status="410"} 1.0',
            'method="POST",route="/v1/hot/{what}",status="500"} 1.0',
            'method="GET",route="/v1/hot/{what}",status="200"} 1.0',
        ):
            assert f"sextant_http_requests_total{{{line}" in metrics
