"""Backfill credentials cannot aim ingest at what only it can reach (its own gateway,
PostgreSQL, a cloud's metadata address): a URL refused as written is refused when it is
set, naming the field; one that got stored anyway is refused when the backfill calls it,
before any connection. The service here runs with the default egress policy."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

import pytest

from sextant.ingest import service
from sextant.ingest.db import repository

from ..fixtures import fake_apis
from .conftest import TENANT, WORKSPACE, Ingest
from .test_backfill import backfill

FORBIDDEN = [
    ("github", "api_url", "http://127.0.0.1:5432"),  # PostgreSQL's port, and plain http
    ("github", "api_url", "https://127.0.0.1:8000/v1"),
    ("github", "api_url", "https://localhost/api/v3"),
    ("github", "api_url", "https://169.254.169.254/latest/meta-data/"),
    ("github", "api_url", "https://[::1]:8443"),
    ("github", "api_url", "https://[::ffff:127.0.0.1]"),
    ("github", "api_url", "https://0.0.0.0"),
    ("github", "api_url", "http://2130706433/"),  # 127.0.0.1 as one number
    ("github", "api_url", "https://0x7f.1/"),
    ("gitlab", "api_url", "https://10.0.0.5/api/v4"),
    ("gitlab", "api_url", "http://gitlab.example.com/api/v4"),  # public, but plain http
    ("gitlab", "api_url", "gitlab.example.com/api/v4"),  # no scheme
    ("jira", "site_url", "https://100.64.1.1"),
    ("jira", "site_url", "https://192.168.1.10:8080"),
]

CREDENTIALS = {
    "github": {"token": "t", "repositories": ["octo-org/octo-repo"]},
    "gitlab": {"token": "t", "projects": ["group/app"]},
    "jira": {"token": "t"},
}


def assert_refused_naming(reply: Any, field: str) -> None:
    assert reply.status_code == 422, reply.text
    assert reply.headers["content-type"] == "application/problem+json"
    problem = reply.json()
    assert problem["detail"].startswith(f"body.credentials.{field}: ")
    assert [error["loc"] for error in problem["errors"]] == [["body", "credentials", field]]


@pytest.mark.parametrize(("kind", "field", "url"), FORBIDDEN)
async def test_credentials_aimed_where_the_policy_forbids_are_refused_naming_the_field(
    ingest: Ingest, kind: str, field: str, url: str
) -> None:
    admin = ingest.as_role("tenant_admin")
    created = await ingest.client.post(
        f"/v1/workspaces/{WORKSPACE}/sources",
        json={"kind": kind, "name": "aimed", "credentials": CREDENTIALS[kind] | {field: url}},
        headers=admin,
    )
    assert_refused_naming(created, field)
    listed = await ingest.client.get(f"/v1/workspaces/{WORKSPACE}/sources", headers=admin)
    assert listed.json()["items"] == []  # nothing was created

    source = await ingest.source(kind)
    changed = await ingest.client.patch(
        f"/v1/sources/{source['id']}",
        json={"credentials": CREDENTIALS[kind] | {field: url}},
        headers=admin,
    )
    assert_refused_naming(changed, field)
    shown = await ingest.client.get(f"/v1/sources/{source['id']}", headers=admin)
    assert shown.json()["has_credentials"] is False


@pytest.mark.parametrize(
    ("kind", "field", "url"),
    [
        ("github", "api_url", "https://github.example.com/api/v3"),
        ("gitlab", "api_url", "https://gitlab.com/api/v4"),
        ("jira", "site_url", "https://acme.atlassian.net"),
    ],
)
async def test_credentials_with_a_public_https_url_are_taken(
    ingest: Ingest, kind: str, field: str, url: str
) -> None:
    source = await ingest.source(kind, credentials=CREDENTIALS[kind] | {field: url})
    assert source["has_credentials"] is True


@pytest.mark.parametrize(
    "aimed",
    [
        "http://127.0.0.1:{port}",
        "https://127.0.0.1:{port}",
        "http://localhost:{port}",
        "http://2130706433:{port}",
        "https://[::ffff:127.0.0.1]:{port}",
    ],
)
async def test_stored_credentials_aimed_at_a_loopback_listener_fail_the_backfill_unasked(
    ingest: Ingest, aimed: str
) -> None:
    """Credentials stored before URLs were checked: the backfill starts, and its first
    call is refused before a connection — the listener (a working API) sees nothing."""
    knobs = fake_apis.Knobs()
    async with fake_apis.serving(fake_apis.github_app(knobs)) as url:
        port = url.rsplit(":", 1)[1]
        source = await ingest.source("github")
        credentials = CREDENTIALS["github"] | {"api_url": aimed.format(port=port)}
        box = service.ingest_of(ingest.state).box
        async with ingest.state.db.transaction(TENANT) as session:
            sealed = box.seal(json.dumps(credentials), UUID(source["id"]))
            await repository.update_source(session, UUID(source["id"]), credentials_sealed=sealed)
        failed = await backfill(ingest, source)
    assert failed["status"] == "failed", failed
    assert failed["error"].startswith("refused by the egress policy: "), failed
    assert knobs.seen == []
    [warning] = await ingest.published("sextant.notifications", 1)
    assert "refused by the egress policy" in warning.data["body"]
