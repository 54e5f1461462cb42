"""The pieces of Jira's OAuth 2.0 that need no server: PKCE on RFC 7636's worked example,
the consent URL, where an OAuth grant's backfill calls and how it signs in."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx

from sextant.ingest import atlassian
from sextant.ingest.backfill import jira
from sextant.ingest.settings import IngestSettings
from sextant.runtime.pkce import challenge_of, pkce_pair


def test_the_s256_challenge_is_rfc_7636s_worked_example() -> None:
    # RFC 7636, appendix B
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert challenge_of(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_a_pkce_verifier_is_within_rfc_7636s_length_and_alphabet() -> None:
    verifier, challenge = pkce_pair()
    assert 43 <= len(verifier) <= 128
    assert set(verifier) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
    )
    assert challenge == challenge_of(verifier)
    assert pkce_pair()[0] != verifier


def test_the_consent_url_asks_atlassian_for_a_code_with_pkce_and_a_refresh_token() -> None:
    settings = IngestSettings(jira_oauth_client_id="app-1")
    url = urlsplit(atlassian.consent_url(settings, "https://s.example/cb", "st-1", "ch-1"))
    assert (url.scheme, url.netloc, url.path) == ("https", "auth.atlassian.com", "/authorize")
    assert {k: v[0] for k, v in parse_qs(url.query).items()} == {
        "audience": "api.atlassian.com",
        "client_id": "app-1",
        "scope": "read:jira-work read:jira-user read:board-scope:jira-software "
        "read:sprint:jira-software offline_access",
        "redirect_uri": "https://s.example/cb",
        "state": "st-1",
        "response_type": "code",
        "prompt": "consent",
        "code_challenge": "ch-1",
        "code_challenge_method": "S256",
    }


def test_a_grant_calls_clouds_api_under_its_cloud_id_and_needs_no_token() -> None:
    credentials = jira.with_grant({"jql": "project = ENG"}, "https://api.atlassian.com/", "c-1")
    assert credentials["site_url"] == "https://api.atlassian.com/ex/jira/c-1"
    assert credentials["jql"] == "project = ENG"
    assert jira.missing(credentials) == []
    assert jira.missing({"site_url": "https://acme.atlassian.net"}) == [
        "token (or email and api_token)"
    ]
    # Cloud's search first, wherever the API is (a proxy, a test's server)
    assert jira.searches("http://127.0.0.1:8000/ex/jira/c-1", cloud=True)[0] == jira.CLOUD_SEARCH
    assert jira.searches("http://127.0.0.1:8000")[0] == jira.SERVER_SEARCH


async def test_the_stored_bearer_reads_the_token_again_when_the_api_refuses_it() -> None:
    stored = ["old"]
    reads: list[str] = []

    async def current() -> tuple[str, float]:
        reads.append(stored[0])
        return stored[0], 4_000_000_000.0

    seen: list[str] = []

    def api(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["authorization"])
        return httpx.Response(200 if request.headers["authorization"] == "Bearer new" else 401)

    async with httpx.AsyncClient(
        transport=httpx.MockTransport(api), auth=atlassian.StoredBearer(current)
    ) as client:
        assert (await client.get("https://api.example/x")).status_code == 401  # nothing newer
        stored[0] = "new"  # the refresher rotated it
        assert (await client.get("https://api.example/x")).status_code == 200
        assert (await client.get("https://api.example/x")).status_code == 200
    # the first call: refused, read again, nothing newer, so not retried; the second:
    # refused, read again, retried with the new one; the third: the new one, kept
    assert seen == ["Bearer old", "Bearer old", "Bearer new", "Bearer new"]
    assert reads == ["old", "old", "new"]
