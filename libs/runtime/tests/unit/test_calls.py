"""Calls on a user's behalf: the callee verifies a token minted for it that names the
user's tenant, role, subject and signed workspaces; lists are followed page by page; a
refusal or an unknown service is a PeerCallFailed naming the call."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest
from fastapi import FastAPI, Query, Request

from sextant.runtime.calls import OnBehalfOf, PeerCallFailed, PeerCalls
from sextant.runtime.errors import NotFound, install_problem_handlers
from sextant.runtime.tokens import (
    InternalClaims,
    InternalTokenSigner,
    InternalTokenVerifier,
    generate_keypair,
    internal_claims,
    load_private_key,
    load_public_key,
)

TENANT = UUID("0190d6a0-0000-7000-8000-0000000000aa")
WORKSPACE = UUID("0190d6a0-0000-7000-8000-0000000000bb")
USER = OnBehalfOf(subject="u1", role="member", tenant_id=TENANT, scope_workspaces=[WORKSPACE])


def callee(public_pem: str) -> FastAPI:
    """A service that answers who called it, a three-page list, and a 404."""
    app = FastAPI()
    app.state.token_verifier = InternalTokenVerifier(load_public_key(public_pem), "insights")
    install_problem_handlers(app)

    @app.get("/v1/who")
    async def who(request: Request) -> dict[str, Any]:
        claims: InternalClaims = await internal_claims(request)
        return claims.model_dump(mode="json", include={"sub", "role", "tid", "scope_workspaces"})

    @app.get("/v1/items")
    async def items(request: Request, cursor: str | None = Query(None)) -> dict[str, Any]:
        await internal_claims(request)
        page = int(cursor or 0)
        return {
            "items": [page * 2, page * 2 + 1],
            "next_cursor": str(page + 1) if page < 2 else None,
        }

    @app.get("/v1/gone")
    async def gone(request: Request) -> None:
        await internal_claims(request)
        raise NotFound("no such thing in workspace:w")

    return app


@pytest.fixture
def calls() -> PeerCalls:
    private_pem, public_pem = generate_keypair()
    return PeerCalls.build(
        InternalTokenSigner(load_private_key(private_pem)),
        ["insights", "forecast"],
        urls={},
        apps={"insights": callee(public_pem)},
        timeout=5,
    )


async def test_the_callee_sees_the_user_the_job_was_asked_by(calls: PeerCalls) -> None:
    assert await calls.get_json("insights", "/v1/who", {}, USER) == {
        "sub": "u1",
        "role": "member",
        "tid": str(TENANT),
        "scope_workspaces": [str(WORKSPACE)],
    }


async def test_a_list_is_followed_to_its_last_page(calls: PeerCalls) -> None:
    assert [item async for item in calls.pages("insights", "/v1/items", {}, USER)] == [
        0,
        1,
        2,
        3,
        4,
        5,
    ]


async def test_a_refusal_and_a_service_without_address_fail_naming_the_call(
    calls: PeerCalls,
) -> None:
    with pytest.raises(PeerCallFailed) as refused:
        await calls.get_json("insights", "/v1/gone", {}, USER)
    assert (refused.value.status, refused.value.detail) == (404, "no such thing in workspace:w")
    with pytest.raises(PeerCallFailed) as nowhere:
        await calls.get_json("forecast", "/v1/sprints", {}, USER)
    assert str(nowhere.value) == "forecast /v1/sprints: unreachable (its URL is not configured)"
    await calls.close()


async def test_a_peer_that_joins_after_the_clients_were_built_is_called() -> None:
    """The embedded mode adds the gateway to the services' peers after they started."""
    private_pem, public_pem = generate_keypair()
    peers: dict[str, FastAPI] = {}
    calls = PeerCalls.build(
        InternalTokenSigner(load_private_key(private_pem)),
        ["insights"],
        urls={},
        apps=peers,
        timeout=5,
    )
    peers["insights"] = callee(public_pem)
    peers["forecast"] = callee(public_pem)
    assert (await calls.get_json("insights", "/v1/who", {}, USER))["sub"] == "u1"
    with pytest.raises(PeerCallFailed) as unlisted:
        await calls.get_json("forecast", "/v1/who", {}, USER)
    assert unlisted.value.status == 0
    await calls.close()
