"""The roll-up's table and charts from what insights answered per tenant, worked by hand;
the PDF read back; the request's own checks."""

from __future__ import annotations

import io
from typing import Any

import pydantic
import pypdf
import pytest

from sextant.reports.domain.csv import csv_bytes
from sextant.reports.domain.kinds import TenantFigures, dora_report, rollup_report
from sextant.reports.domain.pdf import Cover, render_pdf
from sextant.reports.schemas import ReportRequest, ScheduleRequest


def dora(deployments: int, days: int, median_lead: float | None, rate: float | None) -> Any:
    return {
        "definition_id": "dora-2024",
        "definition_version": 1,
        "deployment_frequency": {
            "deployments": deployments,
            "deployment_days": days,
            "weeks": 1,
            "median_deployment_days_per_week": days or None,
            "p85_deployment_days_per_week": days or None,
        },
        "lead_time": {"count": 2, "median_hours": median_lead, "p85_hours": 5.5},
        "change_failure_rate": {"numerator": 1, "denominator": deployments, "rate": rate},
        "time_to_restore": {"count": 1, "median_hours": 1.5, "p85_hours": 1.5},
    }


def flow(done: int, median: float | None) -> Any:
    return {
        "definition_id": "flow-1",
        "total": {
            "work_items": {
                "throughput": done,
                "cycle_time": {"count": done, "median_hours": median, "p85_hours": median},
            }
        },
    }


ACME = TenantFigures("t-acme", "Acme", 2, dora(3, 1, 4.0, 1 / 3), flow(2, 30.0))
GLOBEX = TenantFigures("t-globex", "=Globex", 0, dora(0, 0, None, None), flow(0, None))


def test_one_row_per_tenant_and_key_in_the_asked_order() -> None:
    report = rollup_report([ACME, GLOBEX])
    rows = report.sections[0].rows
    assert [(r[1], r[2]) for r in rows[:6]] == [
        ("Acme", "deployment_frequency"),
        ("Acme", "lead_time"),
        ("Acme", "change_failure_rate"),
        ("Acme", "time_to_restore"),
        ("Acme", "work_items_done"),
        ("Acme", "work_item_cycle_time"),
    ]
    assert [r[0] for r in rows] == ["t-acme"] * 6 + ["t-globex"] * 6
    by_key = {(r[0], r[2]): r[3:] for r in rows}
    #                                      definition, count, median, p85, num, den, rate, unit
    assert by_key[("t-acme", "deployment_frequency")] == [
        "dora-2024", 3, 1, 1, 1, 1, None, "deployment days per week"
    ]  # fmt: skip
    assert by_key[("t-acme", "lead_time")] == ["dora-2024", 2, 4.0, 5.5, None, None, None, "hours"]
    assert by_key[("t-acme", "change_failure_rate")][4:7] == [1, 3, 1 / 3]
    assert by_key[("t-acme", "work_items_done")] == ["flow-1", 2, *[None] * 5, "items"]
    assert by_key[("t-acme", "work_item_cycle_time")][:4] == ["flow-1", 2, 30.0, 30.0]
    assert by_key[("t-globex", "lead_time")][1:3] == [2, None]


def test_a_bar_chart_per_key_a_tenant_without_the_number_has_no_bar() -> None:
    charts = rollup_report([ACME, GLOBEX]).charts
    assert [(c.title.split(",")[0].split(" (")[0], c.labels, c.values) for c in charts] == [
        ("Deployment frequency", ["Acme"], [1.0]),
        ("Lead time for changes", ["Acme"], [4.0]),
        ("Change failure rate", ["Acme"], [1 / 3]),
        ("Time to restore", ["Acme", "=Globex"], [1.5, 1.5]),
        ("Throughput", ["Acme", "=Globex"], [2.0, 0.0]),
        ("Work-item cycle time", ["Acme"], [30.0]),
    ]


def test_the_csv_escapes_a_tenant_name_and_the_pdf_prints_table_charts_and_definitions() -> None:
    report = rollup_report([ACME, GLOBEX])
    lines = csv_bytes(report.sections[0].header, report.sections[0].rows).decode().splitlines()
    assert lines[0] == (
        "tenant_id,tenant,metric,definition_id,count,median,p85,numerator,denominator,rate,unit"
    )
    assert lines[7].startswith("t-globex,'=Globex,deployment_frequency,dora-2024,0,")
    assert "definition dora-2024 (version 1)" in report.definition
    assert "Acme: 2, =Globex: 0" in report.definition  # the workspaces each was counted over
    cover = Cover(tenant="Partner", scope="tenants:t-acme,t-globex", period="p", generated_for="u")
    pdf = pypdf.PdfReader(io.BytesIO(render_pdf(report, cover)))
    text = "\n".join(page.extract_text() for page in pdf.pages)
    assert "definition dora-2024" in text
    assert "Tenants side by side" in text and "work_item_cycle_time" in text
    for title in ("Throughput (work items done)", "Change failure rate"):
        assert title in text


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"kind": "rollup"}, "tenants"),
        ({"kind": "rollup", "tenants": ["0190d6a0-0000-7000-8000-000000000001"]}, "tenants"),
        ({"kind": "rollup", "tenants": ["0190d6a0-0000-7000-8000-000000000001"] * 2}, "tenants"),
        ({"kind": "dora", "tenants": [f"0190d6a0-0000-7000-8000-00000000000{n}" for n in (1, 2)]}, "tenants"),
        ({"kind": "dora", "definition": "dora-2021"}, "definition"),
        ({"kind": "rollup", "definition": "dora-1999"}, "definition"),
    ],
)  # fmt: skip
def test_a_rollup_request_names_2_to_20_distinct_tenants_and_only_a_rollup_does(
    body: dict[str, Any], named: str
) -> None:
    with pytest.raises(pydantic.ValidationError, match=named):
        ReportRequest.model_validate({"from": "2026-03-02", "to": "2026-03-08", **body})


def test_a_rollup_is_not_schedulable() -> None:
    with pytest.raises(pydantic.ValidationError, match="a rollup names tenants"):
        ScheduleRequest.model_validate(
            {"kind": "rollup", "every": "weekly", "day": 1, "at": "08:00"}
        )


def test_a_tenants_dora_rows_are_the_dora_reports_rows_without_the_band() -> None:
    reply = {
        **dora(3, 1, 4.0, 1 / 3),
        "attribution_window_days": 7.0,
        "include_bots": False,
        "incidents": 1,
        "incidents_attributed": 1,
        "lead_time": {"count": 2, "median_hours": 4.0, "p85_hours": 5.5, "band": "elite"},
    }
    tenant = TenantFigures("t-acme", "Acme", 2, reply, flow(2, 30.0))
    dora_rows = dora_report(reply).sections[0].rows
    rollup_rows = rollup_report([tenant]).sections[0].rows[:4]
    assert [row[-1] for row in dora_rows] == [None, "elite", None, None]
    assert [row[2:] for row in rollup_rows] == [row[:-1] for row in dora_rows]
    assert rollup_rows[1][2:] == ["lead_time", "dora-2024", 2, 4.0, 5.5, None, None, None, "hours"]
