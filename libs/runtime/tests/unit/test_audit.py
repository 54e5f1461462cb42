"""The one ConfigChanged builder: the target's type and id as the audit log keys them, and
the request's id taken from the log context."""

from __future__ import annotations

from uuid import UUID

import structlog

from sextant.runtime.audit import config_change


def test_a_change_names_its_target_and_carries_the_requests_id() -> None:
    target = UUID("0190d6a0-0000-7000-8000-0000000000aa")
    with structlog.contextvars.bound_contextvars(request_id="req-7"):
        change = config_change(
            "alice@example.com", "reports.schedule.delete", ("report_schedule", target),
            before={"day": 2},
        )  # fmt: skip
    assert (change.actor, change.action, change.target_type, change.target_id) == (
        "alice@example.com",
        "reports.schedule.delete",
        "report_schedule",
        "0190d6a0-0000-7000-8000-0000000000aa",
    )
    assert (change.before, change.after, change.request_id) == ({"day": 2}, None, "req-7")
    assert config_change("bob", "x.create", ("x", "t-1")).request_id is None
