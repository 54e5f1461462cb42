"""Every list also answers as CSV, for the spreadsheet a manager opens: a caller that
prefers ``text/csv`` in ``Accept`` gets the page's items as rows, one column per field of
the item model, in the same order and with the same paging as the JSON page. The next
page's cursor travels in a relative ``Link: <...>; rel="next"`` header (and ``X-Next-Cursor``), so
a CSV client pages without parsing JSON.

A cell that a spreadsheet would run as a formula (text starting with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return) is prefixed with ``'``: the data comes from the tools
people type into, and an exported title must not become a formula in a manager's sheet."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import date, datetime
from enum import Enum
from typing import Any, Final
from uuid import UUID

from fastapi import Request
from fastapi.responses import Response
from pydantic import BaseModel

CSV: Final = "text/csv"
CSV_MEDIA_TYPE: Final = "text/csv; charset=utf-8; header=present"
FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")

CSV_RESPONSE: Final[dict[str, Any]] = {
    "content": {
        CSV: {
            "schema": {"type": "string"},
            "example": "id,title\n0190f5c2-7a1e-7c3a-9d3e-1b2c3d4e5f60,Fix the login page\n",
        }
    },
    "description": "The page as JSON, or its items as CSV rows when Accept prefers text/csv "
    "(the next page's cursor then in the Link and X-Next-Cursor headers).",
}
"""The 200 response of a list route that also answers CSV: ``responses={200: CSV_RESPONSE}``."""


def _media_ranges(accept: str) -> list[tuple[str, float]]:
    """``(media range, q)`` for each part of an ``Accept`` header; a part with an unreadable
    q counts as q=0, as if it had not been sent."""
    ranges = []
    for part in accept.split(","):
        media, *params = (piece.strip() for piece in part.split(";"))
        if not media:
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
                if not 0.0 <= q <= 1.0:
                    q = 0.0
        ranges.append((media.lower(), q))
    return ranges


def _preference(ranges: list[tuple[str, float]], media: str) -> tuple[float, int]:
    """How much the caller wants ``media``: the q of the most specific range that covers
    it (exact, then ``type/*``, then ``*/*``), with that specificity to break ties."""
    kind = media.split("/")[0]
    best: tuple[float, int] = (0.0, -1)
    for pattern, q in ranges:
        if pattern == media:
            specificity = 2
        elif pattern == f"{kind}/*":
            specificity = 1
        elif pattern == "*/*":
            specificity = 0
        else:
            continue
        if specificity > best[1]:
            best = (q, specificity)
    return best


def wants_csv(accept: str | None) -> bool:
    """Whether a caller with this ``Accept`` header prefers CSV to JSON. No header, or
    ``*/*``, means JSON; ``text/csv`` beats JSON unless JSON is asked for with a higher q,
    or with the same q and named as exactly."""
    if not accept:
        return False
    ranges = _media_ranges(accept)
    csv_q, csv_specificity = _preference(ranges, CSV)
    json_q, json_specificity = _preference(ranges, "application/json")
    if csv_q <= 0.0 or csv_specificity < 1:
        return False
    return (csv_q, csv_specificity) > (json_q, json_specificity)


def cell(value: Any) -> str:
    """One value as a CSV cell: empty for None, ISO 8601 for times, the value of an enum,
    compact JSON for lists, mappings and models, and text defused against formulas."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, int | float | UUID):
        return str(value)
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    if isinstance(value, list | tuple | dict):
        return json.dumps(value, default=str, separators=(",", ":"), ensure_ascii=False)
    text = str(value)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def csv_text(items: Sequence[BaseModel], item_model: type[BaseModel]) -> str:
    """The items as CSV with a header row of ``item_model``'s field names (also for an
    empty page, so a client always learns the columns)."""
    columns = list(item_model.model_fields)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for item in items:
        writer.writerow([cell(getattr(item, column)) for column in columns])
    return out.getvalue()


def list_reply(
    request: Request,
    page: BaseModel,
    item_model: type[BaseModel],
    *,
    items: str = "items",
    cursor: str = "next_cursor",
) -> BaseModel | Response:
    """The JSON ``page`` as it is, or its ``items`` as CSV when the caller prefers CSV."""
    if not wants_csv(request.headers.get("accept")):
        return page
    next_position = getattr(page, cursor)
    headers = {}
    if next_position is not None:
        # Relative: behind the gateway the service does not know the public host.
        following = request.url.include_query_params(cursor=next_position)
        headers["Link"] = f'<{following.path}?{following.query}>; rel="next"'
        headers["X-Next-Cursor"] = next_position
    return Response(
        csv_text(getattr(page, items), item_model), media_type=CSV_MEDIA_TYPE, headers=headers
    )
