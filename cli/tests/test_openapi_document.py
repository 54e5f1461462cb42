"""web/openapi.json, which the portal's API types are generated from, is the gateway's
public document as it stands. Regenerate both with `make web-api`."""

from pathlib import Path

from sextant.cli.openapi_document import public_document, render

COMMITTED = Path(__file__).resolve().parents[2] / "web" / "openapi.json"


async def test_the_committed_document_is_what_the_gateway_serves() -> None:
    document = await public_document()
    assert {"/v1/session", "/v1/workspaces", "/v1/forecasts/when"} <= set(document["paths"])
    assert COMMITTED.read_text(encoding="utf-8") == render(document), (
        "web/openapi.json is stale: run `make web-api`"
    )
