"""The quality-gate evidence a partner reads from ``sextant.gates``: on their own topic,
valid against the committed schemas, and closed where a partner branches on a value."""

import json
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest
from pydantic import ValidationError

from sextant.contracts import Envelope, topic_for_type, uuid7
from sextant.contracts.events.platform import GateEvaluated, GateOverridden, GateRuleResult
from sextant.contracts.registry import type_of

SCHEMAS = Path(__file__).parents[1] / "schemas"
AT = datetime(2026, 3, 2, 12, tzinfo=UTC)


def evaluated() -> GateEvaluated:
    return GateEvaluated(
        evaluation_id=uuid7(),
        scope=f"workspace:{uuid7()}",
        repository="octo-org/api",
        sha="9f9f0001",
        environment="production",
        policy_version=3,
        verdict="fail",
        rules=[
            GateRuleResult(
                rule="reviews",
                outcome="fail",
                enforcement="block",
                reason="0 approving review(s) of the 1 required",
            )
        ],
        requested_by="ci-key",
        evaluated_at=AT,
    )


def test_gate_events_are_on_sextant_gates_and_match_their_committed_schemas() -> None:
    overridden = GateOverridden(
        evaluation_id=uuid7(),
        repository="octo-org/api",
        sha="9f9f0001",
        environment="production",
        verdict="fail",
        overridden_by="ada",
        reason="hotfix",
        overridden_at=AT,
    )
    for event in (evaluated(), overridden):
        name = type_of(type(event))
        assert topic_for_type(name).name == "sextant.gates"
        schema = json.loads((SCHEMAS / f"{name}.json").read_text())
        jsonschema.validate(event.model_dump(mode="json"), schema)
        envelope = Envelope.wrap(event, source="/sextant/insights", tenantid=uuid7())
        assert type(event).model_validate(envelope.data) == event


def test_a_verdict_or_outcome_outside_the_four_is_refused() -> None:
    body = evaluated().model_dump(mode="json")
    with pytest.raises(ValidationError, match="verdict"):
        GateEvaluated.model_validate({**body, "verdict": "maybe"})
    body["rules"][0]["outcome"] = "skipped"
    with pytest.raises(ValidationError, match="outcome"):
        GateEvaluated.model_validate(body)
