"""Each kind's table model from what the services answered, worked by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from sextant.reports.domain.kinds import (
    AuditEvidence,
    Period,
    approved_by_another,
    compliance_report,
    developer_trends_report,
    dora_report,
    forecast_report,
    sprint_report,
)
from sextant.reports.render import RenderFailed, shown

ALICE, BOB, BOT = "a" * 8, "b" * 8, "c" * 8
WEEK = (datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 9, tzinfo=UTC))

DORA = {
    "definition_id": "dora-2024",
    "definition_version": 1,
    "attribution_window_days": 7.0,
    "include_bots": False,
    "incidents": 1,
    "incidents_attributed": 1,
    "deployment_frequency": {
        "deployments": 3,
        "deployment_days": 1,
        "weeks": 1,
        "median_deployment_days_per_week": 1,
        "p85_deployment_days_per_week": 1,
        "band": "high",
    },
    "lead_time": {"count": 2, "median_hours": 4.5, "p85_hours": 5.2, "band": "elite"},
    "change_failure_rate": {"numerator": 1, "denominator": 3, "rate": 0.25, "band": "low"},
    "time_to_restore": {"count": 1, "median_hours": 1.5, "p85_hours": 1.5, "band": "high"},
    "rework_rate": None,
}


def test_dora_has_a_row_per_key_and_charts_of_the_medians_and_rates() -> None:
    report = dora_report(DORA)
    rows = {row[0]: row for row in report.sections[0].rows}
    assert list(rows) == [
        "deployment_frequency",
        "lead_time",
        "change_failure_rate",
        "time_to_restore",
    ]  # no rework rate outside dora-2024's answer
    assert rows["lead_time"][2:5] == [2, 4.5, 5.2]
    assert rows["change_failure_rate"][5:8] == [1, 3, 0.25]
    assert rows["deployment_frequency"][5:7] == [1, 1]
    assert [(c.labels, c.values) for c in report.charts] == [
        (["lead_time", "time_to_restore"], [4.5, 1.5]),
        (["change_failure_rate"], [0.25]),
    ]
    assert "dora-2024" in report.definition and "within 7 days" in report.definition


def change(number: int, author: str, merged: str | None, reviews: list[Any]) -> dict[str, Any]:
    return {
        "repository": "octo/repo",
        "number": number,
        "title": f"Change {number}",
        "url": None,
        "author_developer_id": author,
        "opened_at": "2026-03-01T08:00:00Z",
        "merged_at": merged,
        "reviews": reviews,
    }


def review(by: str | None, state: str, at: str, bot: bool = False) -> dict[str, Any]:
    return {"reviewer_developer_id": by, "state": state, "submitted_at": at, "reviewer_is_bot": bot}


def test_only_an_approval_by_another_person_before_the_merge_counts() -> None:
    merged = "2026-03-03T12:00:00Z"
    assert approved_by_another(
        change(1, ALICE, merged, [review(BOB, "approved", "2026-03-03T11:00:00Z")])
    )
    assert approved_by_another(change(1, ALICE, merged, [review(BOB, "approved", merged)]))
    for reviews in (
        [review(ALICE, "approved", "2026-03-03T11:00:00Z")],  # the author's own
        [review(BOT, "approved", "2026-03-03T11:00:00Z", bot=True)],  # a bot's
        [review(BOB, "approved", "2026-03-03T12:00:01Z")],  # after the merge
        [review(BOB, "commented", "2026-03-03T11:00:00Z")],  # not an approval
        [review(None, "approved", "2026-03-03T11:00:00Z")],  # nobody we know
        [],
    ):
        assert not approved_by_another(change(1, ALICE, merged, reviews)), reviews


def test_compliance_lists_unapproved_merges_of_the_period_oldest_first() -> None:
    changes = [
        change(4, BOB, "2026-03-05T10:00:00Z", []),
        change(1, ALICE, "2026-03-03T12:00:00Z", [review(BOB, "approved", "2026-03-03T11:00:00Z")]),
        change(2, ALICE, "2026-03-02T00:00:00Z", []),  # the period's first instant: in
        change(3, ALICE, "2026-03-09T00:00:00Z", []),  # the end is excluded
        change(5, ALICE, None, []),  # never merged
    ]
    report = compliance_report(changes, *WEEK)
    rows = report.sections[0].rows
    assert [(row[1], row[6]) for row in rows] == [
        (2, datetime(2026, 3, 2, tzinfo=UTC)),
        (4, datetime(2026, 3, 5, 10, tzinfo=UTC)),
    ]
    assert "Merged in the period: 3; without an approving review: 2." in report.definition
    assert [(c.labels, c.values) for c in report.charts] == [(["octo/repo"], [2.0])]


def sprint(name: str, starts: str, items: dict[str, int], state: str = "closed") -> dict[str, Any]:
    return {
        "name": name,
        "state": state,
        "starts_at": starts,
        "ends_at": "2026-03-13T17:00:00Z",
        "closed_at": None,
        "items": items,
    }


def test_sprints_in_start_order_with_their_items_by_category_and_the_share_done() -> None:
    report = sprint_report(
        [
            sprint(
                "S2", "2026-03-09T09:00:00Z", {"todo": 1, "in_progress": 1, "done": 2}, "active"
            ),
            sprint("S1", "2026-03-02T09:00:00Z", {"done": 3, "todo": 0}),
            sprint("S0", "2026-03-02T09:00:00Z", {}),  # started with S1, holds nothing
        ]
    )
    rows = report.sections[0].rows
    assert [row[0] for row in rows] == ["S0", "S1", "S2"]
    # items, done, in progress, todo, done share: S2's 2 of 4 done; S0's share is nothing
    assert [row[5:] for row in rows] == [[0, 0, 0, 0, None], [3, 3, 0, 0, 1.0], [4, 2, 1, 1, 0.5]]
    assert rows[2][2] == datetime(2026, 3, 9, 9, tzinfo=UTC)
    assert [(c.title, c.values) for c in report.charts] == [
        ("Items done per sprint", [0.0, 3.0, 2.0]),
        ("Items per sprint", [0.0, 3.0, 4.0]),
    ]


def test_a_period_is_counted_in_its_time_zone_across_a_clock_change() -> None:
    # Paris is UTC+1 until Sunday 29 March 2026 02:00, UTC+2 after: that day has 23 hours
    week = Period(date(2026, 3, 23), date(2026, 3, 29), "Europe/Paris").moments()
    assert week == (datetime(2026, 3, 22, 23, tzinfo=UTC), datetime(2026, 3, 29, 22, tzinfo=UTC))
    assert Period(date(2026, 3, 2), date(2026, 3, 8), "UTC").moments() == WEEK
    tokyo = Period(date(2026, 3, 2), date(2026, 3, 2), "Asia/Tokyo").moments()
    assert tokyo == (datetime(2026, 3, 1, 15, tzinfo=UTC), datetime(2026, 3, 2, 15, tzinfo=UTC))


def evaluation(
    ident: str, at: str, verdict: str, sha: str = "abc123", override: Any = None
) -> dict[str, Any]:
    return {
        "id": ident,
        "repository": "octo/repo",
        "sha": sha,
        "environment": "production",
        "policy_version": 2,
        "verdict": verdict,
        "rules": [
            {"rule": "reviews", "outcome": "fail" if verdict == "fail" else "pass"},
            {"rule": "builds", "outcome": "pass"},
        ],
        "evaluated_at": at,
        "requested_by": "ci-key",
        "override": override,
    }


def test_the_compliance_pack_shows_what_was_deployed_which_gate_held_and_who_overrode() -> None:
    overridden = {"by": "carol", "reason": "hotfix INC-7", "at": "2026-03-04T09:05:00Z"}
    evaluations = [
        evaluation("e1", "2026-03-04T09:00:00Z", "fail", override=overridden),
        evaluation("e0", "2026-03-04T08:00:00Z", "pass"),  # earlier: not the one that held
        evaluation("e2", "2026-03-04T11:00:00Z", "pass"),  # after the deployment: not it
        evaluation("e3", "2026-03-09T00:00:00Z", "pass", sha="def456"),  # past the period
    ]
    deployments = [
        {
            "id": "d2",
            "repository": "octo/repo",
            "environment": "production",
            "sha": "def456",
            "status": "success",
            "finished_at": "2026-03-06T10:00:00Z",
            "deployed_by_developer_id": None,
            "changes": [],
        },
        {
            "id": "d1",
            "repository": "octo/repo",
            "environment": "production",
            "sha": "ABC123",  # a SHA is matched whatever its case
            "status": "success",
            "finished_at": "2026-03-04T10:00:00Z",
            "deployed_by_developer_id": ALICE,
            "changes": [
                {"number": 8, "title": "B", "merged_at": "2026-03-03T12:00:00Z"},
                {"number": 7, "title": "A", "merged_at": "2026-03-03T11:00:00Z"},
            ],
        },
    ]
    report = compliance_report([], *WEEK, deployments, evaluations)
    shipped, gates = report.sections[1], report.sections[2]
    verdict_at = shipped.header.index("gate_verdict")
    # d1 (deployed first) held by e1's failed gate, overridden by carol; one row per change
    assert [(r[0], r[verdict_at], r[verdict_at + 1], r[verdict_at + 2]) for r in shipped.rows] == [
        ("d1", "fail", "carol", 7),
        ("d1", "fail", "carol", 8),
        ("d2", "not gated", None, None),
    ]
    # the period's three evaluations in time order; e3 falls on the period's end
    assert [(r[5], r[6], r[8], r[9]) for r in gates.rows] == [
        ("pass", None, None, None),
        ("fail", "reviews", "carol", "hotfix INC-7"),
        ("pass", None, None, None),
    ]
    assert "Gate evaluations made in the period: 3, overridden: 1." in report.definition
    assert [(c.title, c.labels, c.values) for c in report.charts] == [
        ("Gate verdicts", ["pass", "fail"], [2.0, 1.0])
    ]


def calibration(kind: str, available: bool = True) -> dict[str, Any]:
    rows = [
        {
            "horizon_weeks": 4,
            "origins": 10,
            "first_origin": "2025-06-02",
            "last_origin": "2025-08-04",
            "step_weeks": 1,
            "hit_share": {"50": 0.6, "70": 0.7, "85": 0.9, "95": 1.0},
        }
    ]
    if not available:
        return {"kind": kind, "available": False, "reason": "fewer than 8 weeks", "rows": []}
    return {"kind": kind, "available": True, "reason": None, "rows": rows}


def test_a_forecast_is_a_percentile_table_two_fans_and_its_calibration() -> None:
    how_many = {
        "until": "2027-01-31",
        "horizon_weeks": 8,
        "percentiles": {"85": 34, "50": 41, "95": 30, "70": 37},
        "curve": [[41, 0.5], [30, 0.95], [34, 0.85]],
        "inputs": {"history_weeks": [3, 5, 4], "scope": "workspace:x", "options": {}},
        "calibration": calibration("how_many"),
    }
    when = {
        "items": 30,
        "percentiles": {"50": "2027-01-18", "85": "2027-02-01", "95": None},
        "percentile_weeks": {"50": 5.71, "85": 7.86, "95": None},
        "curve": [["2027-01-18", 0.5], ["2027-02-01", 0.85]],
        "calibration": calibration("when", available=False),
    }
    report = forecast_report(how_many, when)
    table, held = report.sections
    assert table.rows == [
        ["how_many", 50, 41, date(2027, 1, 31), 8],
        ["how_many", 70, 37, date(2027, 1, 31), 8],
        ["how_many", 85, 34, date(2027, 1, 31), 8],
        ["how_many", 95, 30, date(2027, 1, 31), 8],
        ["when", 50, 30, date(2027, 1, 18), 5.71],
        ["when", 85, 30, date(2027, 2, 1), 7.86],
        ["when", 95, 30, None, None],  # not done within the horizon
    ]
    assert held.rows == [
        ["how_many", 4, 10, date(2025, 6, 2), date(2025, 8, 4), 0.6, 0.7, 0.9, 1.0]
    ]
    # the fan: items ascending, the chance of at least that many falling
    assert (report.charts[0].labels, report.charts[0].values) == (
        ["30", "34", "41"],
        [0.95, 0.85, 0.5],
    )
    assert report.charts[1].labels == ["2027-01-18", "2027-02-01"]
    assert "3 weeks sampled, 12 items" in report.definition
    assert "Calibration not available: when: fewer than 8 weeks." in report.definition


def trends(flow: float | None, arrow: str | None) -> dict[str, Any]:
    return {
        "change_test": "Mann-Whitney U",
        "flow_efficiency": "mean percentile",
        "windows": [
            {
                "weeks": 4,
                "flow_efficiency": flow,
                "metrics": [
                    {
                        "metric": "changes_merged",
                        "recent_median": 3.0,
                        "baseline_median": 2.0,
                        "arrow": arrow,
                        "better": None if arrow is None else arrow == "up",
                    }
                ],
            }
        ],
    }


def test_developer_trends_are_in_name_order_never_ranked() -> None:
    zoe = {"id": "z" * 8, "display_name": "zoe"}
    ada = {"id": "a" * 8, "display_name": "Ada"}
    report = developer_trends_report([(zoe, trends(80.0, "up")), (ada, trends(None, None))])
    assert report.sections[0].rows == [
        ["a" * 8, "Ada", 4, None, "changes_merged", 3.0, 2.0, None, None],
        ["z" * 8, "zoe", 4, 80.0, "changes_merged", 3.0, 2.0, "up", True],
    ]
    assert report.charts == []  # nothing that sets one developer beside another
    assert "The change test: Mann-Whitney U." in report.definition
    assert "Developers: 2, in name order." in report.definition
    assert "Developers: 0" in developer_trends_report([]).definition


def test_developers_insights_refuses_are_left_out_and_all_refused_fails() -> None:
    ada, zoe = {"id": "a", "display_name": "Ada"}, {"id": "z", "display_name": "Zoe"}
    own = trends(80.0, "up")
    assert shown([(ada, own, None), (zoe, None, "their teams only")], "m (member)") == [(ada, own)]
    assert shown([], "m (member)") == []  # nobody to hide
    with pytest.raises(RenderFailed, match=r"not shown to m \(member\): not linked"):
        shown([(ada, None, "elsewhere"), (zoe, None, "not linked")], "m (member)")


def audit_record(seq: int, at: str, action: str) -> dict[str, Any]:
    return {
        "seq": seq,
        "at": at,
        "service": "gateway",
        "actor": "ada@acme.example",
        "action": action,
        "target_type": "workspace",
        "target_id": f"w{seq}",
        "before": None,
        "after": {"name": "web"},
        "request_id": None,
        "hash": f"h{seq}",
    }


def test_the_compliance_pack_lists_the_audit_log_oldest_first_with_the_chain_check() -> None:
    newest_first = [
        audit_record(7, "2026-03-05T10:00:00Z", "workspace.update"),
        audit_record(6, "2026-03-03T09:00:00Z", "workspace.create"),
    ]
    pack = compliance_report(
        [], *WEEK, audit=AuditEvidence(newest_first, {"intact": True, "rows": 7})
    )
    [section] = [s for s in pack.sections if s.title == "Configuration changes (audit log)"]
    assert [row[:5] for row in section.rows] == [
        [6, datetime(2026, 3, 3, 9, tzinfo=UTC), "gateway", "ada@acme.example", "workspace.create"],
        [
            7,
            datetime(2026, 3, 5, 10, tzinfo=UTC),
            "gateway",
            "ada@acme.example",
            "workspace.update",
        ],
    ]
    assert section.rows[0][6:] == ["w6", "h6"]
    assert (
        "Configuration changes (the gateway's audit log): 2 in the period; the tenant's hash "
        "chain verified intact over 7 records." in pack.definition
    )
    purged = AuditEvidence(
        newest_first, {"intact": True, "rows": 5, "verified_from": 2, "purged": 2}
    )
    assert (
        "chain verified intact over 5 records from the checkpoint after record 2 (2 older records "
        "purged after archiving)." in compliance_report([], *WEEK, audit=purged).definition
    )
    broken = AuditEvidence(
        newest_first, {"intact": False, "rows": 7, "first_bad_seq": 3, "reason": "hash mismatch"}
    )
    assert (
        "chain is BROKEN at record 3: hash mismatch"
        in compliance_report([], *WEEK, audit=broken).definition
    )


def test_an_audit_log_the_gateway_refused_is_said_and_not_tabled() -> None:
    refused = AuditEvidence(refused="gateway /internal/audit-log: 403 role 'member' may not")
    pack = compliance_report([], *WEEK, audit=refused)
    assert "Configuration changes: not shown (gateway /internal/audit-log: 403" in pack.definition
    assert [s.title for s in pack.sections] == [
        "Merged without an approving review",
        "Production deployments and what they shipped",
        "Gate evaluations and overrides",
    ]
