"""A value PostgreSQL refuses as out of range is the client's error (400), and a value
the driver cannot encode is no outage: neither answers 503 while the database is up."""

import secrets

import httpx
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from sextant.runtime.db import asyncpg_url
from sextant.runtime.errors import install_problem_handlers


async def test_values_the_database_refuses_are_not_an_outage(database_url: str) -> None:
    engine = create_async_engine(asyncpg_url(database_url))
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/numbers")
    async def number(value: str) -> dict[str, int]:
        async with engine.connect() as conn:
            stored: int = (
                await conn.execute(text("SELECT CAST(CAST(:v AS text) AS bigint)"), {"v": value})
            ).scalar_one()
        return {"stored": stored}

    @app.post("/keys")
    async def key(value: str) -> dict[str, bool]:
        async with engine.connect() as conn:
            await conn.execute(text("CREATE TEMP TABLE keys (k text PRIMARY KEY)"))
            await conn.execute(text("INSERT INTO keys VALUES (:v)"), {"v": value})
        return {"stored": True}

    @app.post("/unencodable")
    async def unencodable() -> dict[str, int]:
        async with engine.connect() as conn:  # 10**30 into an int parameter: asyncpg refuses
            stored: int = (
                await conn.execute(text("SELECT CAST(:v AS int)"), {"v": 10**30})
            ).scalar_one()
        return {"stored": stored}

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            assert (await client.post("/numbers", params={"value": "42"})).json() == {"stored": 42}
            for path, value in (
                ("/numbers", "1" + "0" * 30),  # 22003
                ("/keys", secrets.token_urlsafe(6_000)),  # 54000: past the index row limit
            ):
                reply = await client.post(path, params={"value": value})
                assert reply.status_code == 400, reply.text
                assert reply.headers["content-type"] == "application/problem+json"
                assert "out of the range" in reply.json()["detail"]
            reply = await client.post("/unencodable")
            assert reply.status_code == 500, reply.text  # a bug to fix, not an outage
            assert "retry-after" not in reply.headers
    finally:
        await engine.dispose()
