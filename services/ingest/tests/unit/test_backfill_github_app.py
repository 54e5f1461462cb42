"""Signing in to GitHub as an App installation, against the fake GitHub in process: the
JWT it verifies with the app's public key, installation tokens exchanged once, again
before they expire, and again when refused early."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from sextant.ingest.backfill import github
from sextant.ingest.backfill.api import Api, ApiError

from ..fixtures import fake_apis

PRIVATE_KEY, PUBLIC_KEY = fake_apis.app_key_pair()


def app_credentials(**changes: Any) -> dict[str, Any]:
    return {
        "app_id": "1234",
        "private_key": PRIVATE_KEY,
        "installation_id": 5,
        "repositories": ["octo-org/octo-repo"],
    } | changes


def signed_in(app: FastAPI, credentials: dict[str, Any]) -> Api:
    """The Api ``github.connect`` opens, talking to ``app`` in process."""
    return github.connect(
        credentials | {"api_url": "http://fake"}, transport=httpx.ASGITransport(app)
    )


async def asked_twice(installation: fake_apis.Installation, *, revoke: bool = False) -> Api:
    knobs = fake_apis.Knobs()
    api = signed_in(fake_apis.github_app(knobs, installation), app_credentials())
    await api.get("/repos/octo-org/octo-repo")
    if revoke:
        installation.revoke()
    await api.get("/repos/octo-org/octo-repo")
    await api.close()
    return api


async def test_one_installation_token_serves_while_it_lasts() -> None:
    installation = fake_apis.Installation("1234", PUBLIC_KEY)
    await asked_twice(installation)
    assert list(installation.issued) == ["ghs_1"]


async def test_an_installation_token_about_to_expire_is_exchanged_before_the_next_request() -> None:
    installation = fake_apis.Installation("1234", PUBLIC_KEY, token_seconds=240)
    await asked_twice(installation)
    assert list(installation.issued) == ["ghs_1", "ghs_2"]


async def test_a_token_refused_early_is_exchanged_once_more_and_the_request_repeated() -> None:
    installation = fake_apis.Installation("1234", PUBLIC_KEY)
    api = await asked_twice(installation, revoke=True)
    assert list(installation.issued) == ["ghs_1", "ghs_2"]
    assert api.requests == 2  # the 401 was answered inside the auth flow


async def test_a_jwt_signed_with_another_key_is_refused_and_says_where() -> None:
    _, other_public = fake_apis.app_key_pair()
    installation = fake_apis.Installation("1234", other_public)
    api = signed_in(fake_apis.github_app(fake_apis.Knobs(), installation), app_credentials())
    with pytest.raises(ApiError, match=r"/app/installations/5/access_tokens: HTTP 401") as raised:
        await api.get("/repos/octo-org/octo-repo")
    await api.close()
    assert raised.value.status == 401 and installation.issued == {}


@pytest.mark.parametrize(
    ("credentials", "lacking"),
    [
        (app_credentials(installation_id=None), ["installation_id"]),
        (app_credentials(app_id=""), ["app_id"]),
        (
            app_credentials(private_key=PUBLIC_KEY),
            ["a usable private_key (private_key is not an unencrypted PEM private key)"],
        ),
        (app_credentials(private_key=PRIVATE_KEY.replace("\n", "\\n")), []),  # pasted as one line
        ({"repositories": ["o/r"]}, ["token (or app_id, private_key and installation_id)"]),
    ],
)
def test_github_app_credentials_are_checked_before_a_start(
    credentials: dict[str, Any], lacking: list[str]
) -> None:
    assert github.missing(credentials) == lacking
