"""A source's deliveries page like every other list (newest first, a cursor after the last
row) instead of stopping silently at their limit; a cursor not given out is a 400."""

from __future__ import annotations

import json

from sextant.runtime.testing.checks import check_forged_cursors_are_refused

from ..fixtures.signing import sign
from .conftest import Ingest


async def test_deliveries_page_newest_first_with_a_cursor_to_the_end(ingest: Ingest) -> None:
    source = await ingest.source("generic")
    for n in range(5):
        body = json.dumps({"type": "deployment", "id": f"d{n}"}).encode()
        response = await ingest.deliver(
            source, body, sign("generic", source["secret"], body, delivery=f"msg-{n}")
        )
        assert response.status_code == 202, response.text
    path, reader = f"/v1/sources/{source['id']}/deliveries", ingest.as_role("manager")
    pages: list[list[str]] = []
    cursor: str | None = None
    for _ in range(5):
        query: dict[str, str | int] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        response = await ingest.client.get(path, params=query, headers=reader)
        assert response.status_code == 200, response.text
        pages.append([d["delivery_id"] for d in response.json()["items"]])
        cursor = response.json()["next_cursor"]
        if cursor is None:
            break
    assert pages == [["msg-4", "msg-3"], ["msg-2", "msg-1"], ["msg-0"]]
    await check_forged_cursors_are_refused(ingest.client, path, reader)
