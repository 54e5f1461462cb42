"""Lists answer CSV to a caller that prefers it: content negotiation, cells, paging."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum
from uuid import UUID

import httpx
import pytest
from fastapi import FastAPI, Request
from pydantic import BaseModel

from sextant.runtime.tabular import CSV_RESPONSE, cell, csv_text, list_reply, wants_csv


class State(Enum):
    OPEN = "open"


class Item(BaseModel):
    id: UUID
    title: str
    state: State
    points: float | None
    labels: list[str]
    closed_at: datetime | None


class Page(BaseModel):
    items: list[Item]
    next_cursor: str | None


ITEM = Item(
    id=UUID("0190f5c2-7a1e-7c3a-9d3e-1b2c3d4e5f60"),
    title='=HYPERLINK("http://x")',
    state=State.OPEN,
    points=None,
    labels=["bug", "ui, web"],
    closed_at=datetime(2026, 12, 1, 9, 30, tzinfo=UTC),
)


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, False),
        ("", False),
        ("*/*", False),
        ("application/json", False),
        ("text/csv", True),
        ("text/*", True),
        ("text/csv;q=0.5, application/json", False),
        ("text/csv, application/json;q=0.9", True),
        ("application/json, text/csv", False),  # same q: JSON named exactly too
        ("text/csv, */*", True),
        ("text/csv;q=0", False),
        ("text/csv;q=abc", False),
        ("text/csv;q=7", False),
        ("TEXT/CSV", True),
        (",,;", False),
    ],
)
def test_negotiation(accept: str | None, expected: bool) -> None:
    assert wants_csv(accept) is expected


def test_cells() -> None:
    assert cell(None) == ""
    assert cell(True) == "true"
    assert cell(State.OPEN) == "open"
    assert cell(-3) == "-3"  # numbers are not formulas
    assert cell(2.5) == "2.5"
    assert cell("-1+1") == "'-1+1"
    assert cell("@SUM(A1)") == "'@SUM(A1)"
    assert cell("plain") == "plain"
    assert cell({"a": [1, 2]}) == '{"a":[1,2]}'
    assert cell(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02T03:04:05+00:00"


def test_rows_and_header() -> None:
    assert csv_text([ITEM], Item) == (
        "id,title,state,points,labels,closed_at\n"
        '0190f5c2-7a1e-7c3a-9d3e-1b2c3d4e5f60,"\'=HYPERLINK(""http://x"")",open,,'
        '"[""bug"",""ui, web""]",2026-12-01T09:30:00+00:00\n'
    )
    assert csv_text([], Item) == "id,title,state,points,labels,closed_at\n"


async def test_a_route_answers_json_or_csv_with_the_next_cursor_in_link() -> None:
    app = FastAPI()

    @app.get("/v1/things", response_model=Page, responses={200: CSV_RESPONSE})
    async def things(request: Request, limit: int = 1) -> object:
        return list_reply(request, Page(items=[ITEM], next_cursor="abc"), Item)

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        as_json = await client.get("/v1/things?limit=1")
        as_csv = await client.get("/v1/things?limit=1", headers={"Accept": "text/csv"})
    assert as_json.json()["next_cursor"] == "abc"
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert as_csv.text.splitlines()[0] == "id,title,state,points,labels,closed_at"
    assert len(as_csv.text.splitlines()) == 2
    assert as_csv.headers["x-next-cursor"] == "abc"
    assert as_csv.headers["link"] == '</v1/things?limit=1&cursor=abc>; rel="next"'
    assert "text/csv" in app.openapi()["paths"]["/v1/things"]["get"]["responses"]["200"]["content"]
