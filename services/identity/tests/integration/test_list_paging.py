"""The developer and team lists page like every other list (a cursor after the last row,
by name then id) instead of stopping silently at their limit; a cursor they did not give
out is a 400 naming it."""

from __future__ import annotations

from typing import Any

from .conftest import Identity, assert_problem, person


async def every_page(identity: Identity, path: str, **params: Any) -> list[list[str]]:
    """The names on each page, following next_cursor to the end."""
    pages: list[list[str]] = []
    cursor: str | None = None
    for _ in range(10):
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await identity.client.get(path, params=query, headers=identity.member)
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append([i.get("display_name", i.get("name")) for i in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
    raise AssertionError(f"more than 10 pages: {pages}")


async def test_developers_page_by_name_with_a_cursor_to_the_end(identity: Identity) -> None:
    await identity.attribute(
        person("Cyd Charisse", "cyd@example.org"),
        person("Ada Lovelace", "ada@example.org"),
        person("Bob Dobbs", "bob@example.org"),
        person("Eve Arden", "eve@example.org"),
        person("Dee Dee", "dee@example.org"),
    )
    pages = await every_page(identity, "/v1/developers", limit=2)
    assert pages == [
        ["Ada Lovelace", "Bob Dobbs"],
        ["Cyd Charisse", "Dee Dee"],
        ["Eve Arden"],
    ]
    assert await every_page(identity, "/v1/developers", limit=5) == [
        ["Ada Lovelace", "Bob Dobbs", "Cyd Charisse", "Dee Dee", "Eve Arden"],
        [],  # a full page says there may be more; the next one is empty
    ]


async def test_teams_page_by_name_with_a_cursor_to_the_end(identity: Identity) -> None:
    for name in ("Web", "API", "Data"):
        created = await identity.client.post(
            "/v1/teams", json={"name": name}, headers=identity.admin
        )
        assert created.status_code == 201, created.text
    assert await every_page(identity, "/v1/teams", limit=2) == [["API", "Data"], ["Web"]]


async def test_merge_suggestions_page_oldest_first_with_a_cursor_to_the_end(
    identity: Identity,
) -> None:
    for first, last, domain in (("Ada", "Lovelace", "one"), ("Grace", "Hopper", "two")):
        await identity.attribute(
            person(f"{first} Middle {last}", f"{first.lower()}@{domain}.example.org"),
            person(f"{first} {last}", f"{first.lower()}@{domain}-b.example.org"),
        )
    pages: list[list[str]] = []
    cursor: str | None = None
    for _ in range(4):
        query: dict[str, str | int] = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        response = await identity.client.get(
            "/v1/developers/merge-suggestions", params=query, headers=identity.member
        )
        assert response.status_code == 200, response.text
        pages.append([s["evidence"][0] for s in response.json()["items"]])
        cursor = response.json()["next_cursor"]
        if cursor is None:
            break
    assert pages == [["name:ada lovelace"], ["name:grace hopper"], []]


async def test_a_cursor_the_lists_did_not_give_out_is_refused_naming_it(
    identity: Identity,
) -> None:
    for path in ("/v1/developers", "/v1/teams", "/v1/developers/merge-suggestions"):
        for cursor in ("²", "9" * 20, "00000000-0000-0000-0000-000000000000"):
            problem = assert_problem(
                await identity.client.get(path, params={"cursor": cursor}, headers=identity.member),
                400,
            )
            assert "cursor" in problem["detail"]
