"""Every error leaves a service as RFC 9457 problem+json with the right status."""

import httpx
from fastapi import FastAPI
from pydantic import BaseModel

from sextant.runtime.errors import Conflict, NotFound, install_problem_handlers


def make_app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    class Body(BaseModel):
        count: int

    @app.get("/missing")
    async def missing() -> None:
        raise NotFound("work item WI-1 does not exist", item="WI-1")

    @app.post("/items")
    async def create(body: Body) -> dict[str, int]:
        if body.count == 0:
            raise Conflict("already there")
        return {"count": body.count}

    @app.get("/crash")
    async def crash() -> None:
        raise RuntimeError("secret internals")

    return app


async def call(method: str, path: str, **kwargs) -> httpx.Response:
    transport = httpx.ASGITransport(app=make_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.request(method, path, **kwargs)


async def test_domain_error_becomes_its_status_with_detail_and_extensions():
    response = await call("GET", "/missing")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["detail"] == "work item WI-1 does not exist" and body["item"] == "WI-1"
    assert body["instance"] == "/missing"


async def test_validation_error_says_which_field_is_wrong():
    response = await call("POST", "/items", json={"count": "many"})
    assert response.status_code == 422
    body = response.json()
    assert "count" in body["detail"]
    assert body["errors"][0]["loc"] == ["body", "count"]


async def test_malformed_json_is_a_client_error_not_a_crash():
    response = await call(
        "POST", "/items", content=b"{", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


async def test_unknown_route_is_problem_json_404():
    response = await call("GET", "/nowhere")
    assert response.status_code == 404
    assert response.json()["type"].endswith("http-404")


async def test_crash_is_500_without_internals():
    response = await call("GET", "/crash")
    assert response.status_code == 500
    assert "secret" not in response.text
