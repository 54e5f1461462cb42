"""The OpenAPI additions every service's document gets: examples keep their nulls."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict

from sextant.runtime.openapi import restore_example_nulls


class Inputs(BaseModel):
    scope: str
    item_types: list[str] | None


class Reply(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "ci",
                    "revoked_at": None,
                    "inputs": [{"scope": "workspace:1", "item_types": None}],
                }
            ]
        }
    )

    name: str
    revoked_at: str | None
    inputs: list[Inputs]
    note: str | None = None


def document() -> dict[str, Any]:
    app = FastAPI()

    @app.get("/reply", response_model=Reply)
    async def reply() -> Reply:
        raise NotImplementedError

    return app.openapi()


def test_fastapi_drops_an_examples_nulls_and_they_are_put_back_where_the_schema_requires_them() -> (
    None
):
    before = document()
    dropped = before["components"]["schemas"]["Reply"]["examples"][0]
    assert dropped == {"name": "ci", "inputs": [{"scope": "workspace:1"}]}  # FastAPI's loss

    after = restore_example_nulls(document())
    restored = after["components"]["schemas"]["Reply"]["examples"][0]
    assert restored == {
        "name": "ci",
        "revoked_at": None,
        "inputs": [{"scope": "workspace:1", "item_types": None}],
    }  # "note" is optional: an example that leaves it out stays so
    assert restore_example_nulls(after) == after


def test_a_missing_required_value_that_cannot_be_null_is_left_missing() -> None:
    doc = {
        "components": {
            "schemas": {
                "Named": {
                    "type": "object",
                    "properties": {"name": {"type": "string"}},
                    "required": ["name"],
                    "examples": [{}],
                }
            }
        }
    }
    assert restore_example_nulls(doc)["components"]["schemas"]["Named"]["examples"] == [{}]


def test_a_detail_models_example_is_its_parents_plus_its_own_fields() -> None:
    from pydantic import BaseModel, ConfigDict

    from sextant.runtime.openapi import extended_example

    class Summary(BaseModel):
        model_config = ConfigDict(json_schema_extra={"examples": [{"id": 1, "name": "a"}]})
        id: int
        name: str

    class Detail(Summary):
        model_config = extended_example(Summary, history=[1, 2], name="b")
        history: list[int]

    assert Detail.model_json_schema()["examples"] == [{"id": 1, "name": "b", "history": [1, 2]}]
    assert Summary.model_json_schema()["examples"] == [{"id": 1, "name": "a"}]
