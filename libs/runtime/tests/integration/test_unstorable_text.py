"""Text PostgreSQL refuses to store (a NUL) is the client's error, not a crash."""

import httpx
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from sextant.runtime.db import asyncpg_url
from sextant.runtime.errors import install_problem_handlers


async def test_a_nul_in_text_or_json_answers_400_problem_not_500(database_url: str) -> None:
    engine = create_async_engine(asyncpg_url(database_url))
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/names")
    async def store(name: str, as_json: bool = False) -> dict[str, str]:
        query = "SELECT CAST(:v AS jsonb)::text" if as_json else "SELECT CAST(:v AS text)"
        value = f'{{"name": "{name}"}}' if as_json else name
        async with engine.connect() as conn:
            stored: str = (await conn.execute(text(query), {"v": value})).scalar_one()
        return {"stored": stored}

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            assert (await client.post("/names", params={"name": "ok"})).status_code == 200
            for params in ({"name": "a\x00b"}, {"name": "a\\u0000b", "as_json": "true"}):
                reply = await client.post("/names", params=params)
                assert reply.status_code == 400, reply.text
                assert reply.headers["content-type"] == "application/problem+json"
                assert reply.json()["type"].endswith("/invalid-input")
    finally:
        await engine.dispose()
