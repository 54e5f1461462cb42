"""Identity's team and user-link events: on ``sextant.identity`` (one partition per team's
or developer's key keeps them in order), valid against the committed schemas."""

import json
from datetime import date
from pathlib import Path

import jsonschema
import pytest
from pydantic import ValidationError

from sextant.contracts import Envelope, topic_for_type, uuid7
from sextant.contracts.events.platform import (
    DeveloperUserLinked,
    TeamCreated,
    TeamDeleted,
    TeamMembershipChanged,
)
from sextant.contracts.registry import type_of

SCHEMAS = Path(__file__).parents[1] / "schemas"


def test_team_events_are_on_sextant_identity_and_match_their_committed_schemas() -> None:
    team = uuid7()
    events = [
        TeamCreated(team_id=team, name="Payments", actor="ada"),
        TeamMembershipChanged(
            membership_id=uuid7(),
            team_id=team,
            developer_id=uuid7(),
            starts_on=date(2026, 3, 2),
            ends_on=date(2026, 3, 15),
        ),
        TeamDeleted(team_id=team, actor="ada"),
        DeveloperUserLinked(developer_id=uuid7(), user_id="0190f5c2-user", actor="ada"),
        DeveloperUserLinked(developer_id=uuid7(), user_id=None, previous_user_id="u"),
    ]
    for event in events:
        name = type_of(type(event))
        assert topic_for_type(name).name == "sextant.identity"
        schema = json.loads((SCHEMAS / f"{name}.json").read_text())
        jsonschema.validate(event.model_dump(mode="json"), schema)
        envelope = Envelope.wrap(event, source="/sextant/identity", tenantid=uuid7())
        assert type(event).model_validate(envelope.data) == event


def test_an_open_membership_has_no_end_and_is_not_removed() -> None:
    changed = TeamMembershipChanged.model_validate(
        {
            "membership_id": str(uuid7()),
            "team_id": str(uuid7()),
            "developer_id": str(uuid7()),
            "starts_on": "2026-03-02",
        }
    )
    assert changed.ends_on is None
    assert changed.removed is False


def test_a_membership_needs_a_day_not_a_time() -> None:
    with pytest.raises(ValidationError, match="starts_on"):
        TeamMembershipChanged.model_validate(
            {
                "membership_id": str(uuid7()),
                "team_id": str(uuid7()),
                "developer_id": str(uuid7()),
                "starts_on": "next monday",
            }
        )
