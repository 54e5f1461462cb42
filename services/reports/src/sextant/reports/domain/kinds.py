"""Each report kind as a pure function from what the other services answered to a
:class:`ReportModel`: the table (what the CSV holds, and the PDF prints), the chart
series, and the definition printed with it. No I/O here; the worker fetches."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sextant.reports.domain.csv import Cell

Kind = Literal["dora", "compliance", "sprint", "forecast", "developer-trends", "rollup"]
KINDS: tuple[Kind, ...] = (
    "dora",
    "compliance",
    "sprint",
    "forecast",
    "developer-trends",
    "rollup",
)


@dataclass(frozen=True)
class ChartSeries:
    """One chart: a value per label, drawn as bars or a line."""

    title: str
    chart: Literal["bar", "line"]
    labels: list[str]
    values: list[float]
    unit: str


@dataclass(frozen=True)
class Section:
    """A titled table of the report (a CSV holds the report's first section)."""

    title: str
    header: list[str]
    rows: list[list[Cell]]


@dataclass(frozen=True)
class ReportModel:
    title: str
    definition: str  # what the numbers mean, printed on the report
    sections: list[Section]
    charts: list[ChartSeries] = field(default_factory=list)


@dataclass(frozen=True)
class Period:
    """The days a report covers, both included, in the report's time zone."""

    first: date
    last: date
    time_zone: str

    def moments(self) -> tuple[datetime, datetime]:
        """[the first day's midnight, the midnight after the last day) in the zone, in UTC:
        a day is whatever length the zone gives it (23 or 25 hours at a clock change)."""
        zone = ZoneInfo(self.time_zone)
        start = datetime.combine(self.first, time.min, zone)
        end = datetime.combine(self.last + timedelta(days=1), time.min, zone)
        return start.astimezone(UTC), end.astimezone(UTC)


# DORA ------------------------------------------------------------------------------------

DORA_HEADER = [
    "metric",
    "definition_id",
    "count",
    "median",
    "p85",
    "numerator",
    "denominator",
    "rate",
    "unit",
    "band",
]


def dora_report(reply: Mapping[str, Any]) -> ReportModel:
    """The DORA keys as insights' ``GET /v1/metrics/dora`` gave them, one row per key (the
    same columns as that route's own CSV), and a chart of each key's headline number."""
    definition = str(reply["definition_id"])
    rows = _dora_rows(reply)
    if (rework := reply.get("rework_rate")) is not None:
        rows.append([*_rate("rework_rate", definition, rework), rework.get("band")])
    medians = [(str(row[0]), row[3]) for row in rows if isinstance(row[3], int | float)]
    rates = [(str(row[0]), row[7]) for row in rows if isinstance(row[7], int | float)]
    charts = [
        ChartSeries(
            "Lead time and time to restore, median (hours)",
            "bar",
            [name for name, _ in medians[1:]],
            [float(v) for _, v in medians[1:]],
            "hours",
        ),
        ChartSeries(
            "Failure and rework rates",
            "bar",
            [name for name, _ in rates],
            [float(v) for _, v in rates],
            "fraction",
        ),
    ]
    return ReportModel(
        title="DORA keys",
        definition=(
            f"Definition {definition} (version {reply['definition_version']}): deployment "
            "frequency in deployment days per week, lead time for changes from first commit "
            "to production, change failure rate and time to restore, median and P85; "
            f"incidents attributed within {reply['attribution_window_days']:g} days of a "
            f"deployment; bots' changes {'counted' if reply['include_bots'] else 'left out'}. "
            f"Incidents opened: {reply['incidents']}, attributed: {reply['incidents_attributed']}."
        ),
        sections=[Section("DORA keys", DORA_HEADER, rows)],
        charts=[chart for chart in charts if chart.labels],
    )


def _dora_rows(reply: Mapping[str, Any]) -> list[list[Cell]]:
    """The four DORA keys' rows (DORA_HEADER's columns) from one insights DORA reply: the
    DORA report prints them as they are, the roll-up without the band."""
    definition = str(reply["definition_id"])
    frequency = reply["deployment_frequency"]
    keys: list[tuple[list[Cell], Mapping[str, Any]]] = [
        (
            [
                "deployment_frequency",
                definition,
                frequency["deployments"],
                frequency["median_deployment_days_per_week"],
                frequency["p85_deployment_days_per_week"],
                frequency["deployment_days"],
                frequency["weeks"],
                None,
                "deployment days per week",
            ],
            frequency,
        ),
        (_spread("lead_time", definition, reply["lead_time"]), reply["lead_time"]),
        (
            _rate("change_failure_rate", definition, reply["change_failure_rate"]),
            reply["change_failure_rate"],
        ),
        (
            _spread("time_to_restore", definition, reply["time_to_restore"]),
            reply["time_to_restore"],
        ),
    ]
    return [[*cells, view.get("band")] for cells, view in keys]


def _spread(metric: str, definition: str, view: Mapping[str, Any]) -> list[Cell]:
    """A duration key's cells: count, median and P85 in hours."""
    spread: list[Cell] = [metric, definition, view["count"], view["median_hours"]]
    return [*spread, view["p85_hours"], None, None, None, "hours"]


def _rate(metric: str, definition: str, view: Mapping[str, Any]) -> list[Cell]:
    """A rate key's cells: numerator, denominator and the rate."""
    counts: list[Cell] = [metric, definition, None, None, None, view["numerator"]]
    return [*counts, view["denominator"], view["rate"], "fraction"]


# compliance evidence ---------------------------------------------------------------------

COMPLIANCE_HEADER = [
    "repository",
    "number",
    "title",
    "url",
    "author_developer_id",
    "opened_at",
    "merged_at",
    "reviews",
    "finding",
]


def approved_by_another(change: Mapping[str, Any]) -> bool:
    """Whether someone other than the author, not a bot, approved the change before it
    merged (an approval after the merge approves nothing that went in)."""
    merged_at = _moment(change["merged_at"])
    author = change.get("author_developer_id")
    return any(
        review["state"] == "approved"
        and not review["reviewer_is_bot"]
        and review["reviewer_developer_id"] is not None
        and review["reviewer_developer_id"] != author
        and _moment(review["submitted_at"]) <= merged_at
        for review in change.get("reviews", [])
    )


@dataclass(frozen=True)
class AuditEvidence:
    """The gateway's audit log over the period and its chain check (its ``/verify``
    answer), or why the gateway did not show them to the requester."""

    records: Sequence[Mapping[str, Any]] = ()
    chain: Mapping[str, Any] | None = None
    refused: str | None = None

    def summary(self) -> str:
        """The sentence the pack's definition carries about the configuration changes."""
        if self.refused is not None:
            return f"Configuration changes: not shown ({self.refused})."
        chain = self.chain or {}
        if chain.get("intact"):
            verdict = f"the tenant's hash chain verified intact over {chain.get('rows')} records"
            if chain.get("verified_from") is not None:
                verdict += (
                    f" from the checkpoint after record {chain['verified_from']} "
                    f"({chain.get('purged')} older records purged after archiving)"
                )
        else:
            verdict = (
                f"the tenant's hash chain is BROKEN at record {chain.get('first_bad_seq')}: "
                f"{chain.get('reason')}"
            )
        return (
            f"Configuration changes (the gateway's audit log): {len(self.records)} in the "
            f"period; {verdict}."
        )


AUDIT_HEADER = [
    "seq",
    "at",
    "service",
    "actor",
    "action",
    "target_type",
    "target_id",
    "hash_prefix",
]
HASH_PREFIX = 16  # enough to find the record; the whole hash overflows a landscape page


def _audit_rows(audit: AuditEvidence) -> list[list[Cell]]:
    """Oldest first, as the chain runs (the gateway lists newest first)."""
    return [
        [
            r["seq"],
            _moment(r["at"]),
            r["service"],
            r["actor"],
            r["action"],
            r["target_type"],
            r["target_id"],
            str(r["hash"])[:HASH_PREFIX],
        ]
        for r in sorted(audit.records, key=lambda r: int(r["seq"]))
    ]


def compliance_report(
    changes: Sequence[Mapping[str, Any]],
    since: datetime,
    until: datetime,
    deployments: Sequence[Mapping[str, Any]] = (),
    evaluations: Sequence[Mapping[str, Any]] = (),
    audit: AuditEvidence | None = None,
) -> ReportModel:
    """The compliance evidence pack for [since, until): changes merged without an approving
    review (from insights' change details, reviews included; the CSV's table), production
    deployments with the changes they shipped and the gate verdict that let each through
    (from insights' deployment details), every gate evaluation with its failed rules and
    who overrode it (insights' stored evaluations), and the configuration changes of the
    gateway's audit log with its chain check (``audit``; none: not asked)."""
    merged = [
        c
        for c in changes
        if c.get("merged_at") is not None and since <= _moment(c["merged_at"]) < until
    ]
    unreviewed = sorted(
        (c for c in merged if not approved_by_another(c)),
        key=lambda c: (_moment(c["merged_at"]), c["repository"], c["number"]),
    )
    rows: list[list[Cell]] = [
        [
            c["repository"],
            c["number"],
            c["title"],
            c.get("url"),
            c.get("author_developer_id"),
            _moment(c["opened_at"]),
            _moment(c["merged_at"]),
            len(c.get("reviews", [])),
            "merged without an approving review",
        ]
        for c in unreviewed
    ]
    judged = sorted(
        (e for e in evaluations if since <= _moment(e["evaluated_at"]) < until),
        key=lambda e: (_moment(e["evaluated_at"]), str(e["id"])),
    )
    shipped = sorted(
        (d for d in deployments if _deployed_at(d) is not None),
        key=lambda d: (_deployed_at(d), str(d["id"])),
    )
    overridden = sum(1 for e in judged if e.get("override"))
    by_repository = Counter(str(c["repository"]) for c in unreviewed)
    names = sorted(by_repository)
    verdicts = Counter(str(e["verdict"]) for e in judged)
    return ReportModel(
        title="Compliance evidence",
        definition=(
            "Merged without an approving review: a change merged in the period that no one "
            "but its author, and no bot, approved at or before the merge; bots' own changes "
            f"are left out, as in every list. Merged in the period: {len(merged)}; without "
            f"an approving review: {len(unreviewed)}. Production deployments: those that "
            "finished in the period, each with the change requests it shipped and the "
            "verdict of the latest gate evaluation of its repository, SHA and environment "
            f"made before it finished. Deployments: {len(shipped)}. Gate evaluations made in "
            f"the period: {len(judged)}, overridden: {overridden}."
            + ("" if audit is None else " " + audit.summary())
        ),
        sections=[
            Section("Merged without an approving review", COMPLIANCE_HEADER, rows),
            Section(
                "Production deployments and what they shipped",
                DEPLOYMENT_HEADER,
                [row for d in shipped for row in _deployment_rows(d, evaluations)],
            ),
            Section("Gate evaluations and overrides", GATE_HEADER, [_gate_row(e) for e in judged]),
            *(
                [Section("Configuration changes (audit log)", AUDIT_HEADER, _audit_rows(audit))]
                if audit is not None and audit.refused is None
                else []  # not asked, or not shown to the requester: the definition says why
            ),
        ],
        charts=[
            chart
            for chart in (
                ChartSeries(
                    "Unreviewed merges by repository",
                    "bar",
                    names,
                    [float(by_repository[n]) for n in names],
                    "changes",
                ),
                ChartSeries(
                    "Gate verdicts",
                    "bar",
                    [v for v in VERDICTS if verdicts[v]],
                    [float(verdicts[v]) for v in VERDICTS if verdicts[v]],
                    "evaluations",
                ),
            )
            if chart.labels
        ],
    )


DEPLOYMENT_HEADER = [
    "deployment_id",
    "repository",
    "environment",
    "sha",
    "status",
    "finished_at",
    "deployed_by_developer_id",
    "gate_verdict",
    "gate_overridden_by",
    "change_number",
    "change_title",
    "change_merged_at",
    "change_author_developer_id",
]
GATE_HEADER = [
    "evaluated_at",
    "repository",
    "sha",
    "environment",
    "policy_version",
    "verdict",
    "failed_rules",
    "requested_by",
    "overridden_by",
    "override_reason",
    "overridden_at",
]
VERDICTS = ("pass", "warn", "fail", "unknown")


def _deployed_at(deployment: Mapping[str, Any]) -> datetime | None:
    moment = deployment.get("finished_at")
    return None if moment is None else _moment(moment)


def gate_of(
    deployment: Mapping[str, Any], evaluations: Sequence[Mapping[str, Any]]
) -> Mapping[str, Any] | None:
    """The latest evaluation of the deployment's repository, SHA and environment made at or
    before it finished: the gate that let it through (None: it was never gated)."""
    finished = _deployed_at(deployment)
    candidates = [
        e
        for e in evaluations
        if e["repository"] == deployment.get("repository")
        and str(e["sha"]).lower() == str(deployment["sha"]).lower()
        and e["environment"] == deployment["environment"]
        and finished is not None
        and _moment(e["evaluated_at"]) <= finished
    ]
    return max(candidates, key=lambda e: _moment(e["evaluated_at"]), default=None)


def _deployment_rows(
    deployment: Mapping[str, Any], evaluations: Sequence[Mapping[str, Any]]
) -> list[list[Cell]]:
    gate = gate_of(deployment, evaluations)
    override = None if gate is None else gate.get("override")
    head: list[Cell] = [
        str(deployment["id"]),
        deployment.get("repository"),
        deployment["environment"],
        deployment["sha"],
        deployment["status"],
        _deployed_at(deployment),
        None
        if deployment.get("deployed_by_developer_id") is None
        else str(deployment["deployed_by_developer_id"]),
        "not gated" if gate is None else str(gate["verdict"]),
        None if not override else str(override["by"]),
    ]
    changes = sorted(
        deployment.get("changes", []),
        key=lambda c: (c.get("merged_at") or "", c.get("number") or 0),
    )
    if not changes:
        return [[*head, None, None, None, None]]
    return [
        [
            *head,
            c.get("number"),
            c.get("title"),
            None if c.get("merged_at") is None else _moment(c["merged_at"]),
            None if c.get("author_developer_id") is None else str(c["author_developer_id"]),
        ]
        for c in changes
    ]


def _gate_row(evaluation: Mapping[str, Any]) -> list[Cell]:
    override = evaluation.get("override") or {}
    failed = [r["rule"] for r in evaluation.get("rules", []) if r.get("outcome") == "fail"]
    return [
        _moment(evaluation["evaluated_at"]),
        evaluation["repository"],
        evaluation["sha"],
        evaluation["environment"],
        evaluation["policy_version"],
        evaluation["verdict"],
        "; ".join(failed) or None,
        evaluation.get("requested_by"),
        override.get("by"),
        override.get("reason"),
        None if override.get("at") is None else _moment(override["at"]),
    ]


# sprints ---------------------------------------------------------------------------------

SPRINT_HEADER = [
    "name",
    "state",
    "starts_at",
    "ends_at",
    "closed_at",
    "items",
    "done",
    "in_progress",
    "todo",
    "done_share",
]


def sprint_report(sprints: Sequence[Mapping[str, Any]]) -> ReportModel:
    """The sprints that started in the period, from forecast's sprint details, in the
    order they started: their items now, by status category, and the share done."""
    ordered = sorted(sprints, key=lambda s: (_moment(s["starts_at"]), s["name"]))
    rows: list[list[Cell]] = []
    totals: list[float] = []
    dones: list[float] = []
    for sprint in ordered:
        counts = sprint.get("items", {})
        done, doing, todo = (int(counts.get(k, 0)) for k in ("done", "in_progress", "todo"))
        total = done + doing + todo
        totals.append(float(total))
        dones.append(float(done))
        rows.append(
            [
                sprint["name"],
                sprint["state"],
                _moment(sprint["starts_at"]),
                None if sprint.get("ends_at") is None else _moment(sprint["ends_at"]),
                None if sprint.get("closed_at") is None else _moment(sprint["closed_at"]),
                total,
                done,
                doing,
                todo,
                None if total == 0 else done / total,
            ]
        )
    names = [str(sprint["name"]) for sprint in ordered]
    return ReportModel(
        title="Sprints",
        definition=(
            "Every sprint of the scope that started in the period, with the work items it "
            "holds now by status category (todo, in progress, done) and the share done. "
            "Scope changes, carry-over and the forecast made at the start are not in this "
            f"version. Sprints: {len(rows)}."
        ),
        sections=[Section("Sprints", SPRINT_HEADER, rows)],
        charts=[
            ChartSeries("Items done per sprint", "bar", names, dones, "items"),
            ChartSeries("Items per sprint", "bar", names, totals, "items"),
        ]
        if rows
        else [],
    )


# developer trends ------------------------------------------------------------------------

TRENDS_HEADER = [
    "developer_id",
    "developer",
    "window_weeks",
    "flow_efficiency",
    "metric",
    "recent_median",
    "baseline_median",
    "arrow",
    "better",
]


def developer_trends_report(
    developers: Sequence[tuple[Mapping[str, Any], Mapping[str, Any]]],
) -> ReportModel:
    """Each developer's trends against their own past, from identity's developer and
    insights' ``/v1/developers/{id}/trends``: one row per window and metric. Developers are
    in name order, never ranked, and nothing compares one with another (no chart)."""
    ordered = sorted(
        developers, key=lambda d: (str(d[0]["display_name"]).casefold(), str(d[0]["id"]))
    )
    rows: list[list[Cell]] = [
        [
            str(developer["id"]),
            developer["display_name"],
            window["weeks"],
            window.get("flow_efficiency"),
            metric["metric"],
            metric.get("recent_median"),
            metric.get("baseline_median"),
            metric.get("arrow"),
            metric.get("better"),
        ]
        for developer, trends in ordered
        for window in trends["windows"]
        for metric in window["metrics"]
    ]
    method = (
        f" The change test: {ordered[0][1]['change_test']}. Flow efficiency: "
        f"{ordered[0][1]['flow_efficiency']}."
        if ordered
        else ""
    )
    return ReportModel(
        title="Developer trends",
        definition=(
            "Each developer against their own past, never against one another: over the "
            "last 4, 13 and 52 weeks before the period's end, each metric's median week "
            "against the 52 weeks before, with an arrow only when the change is significant."
            f"{method} Developers: {len(ordered)}, in name order."
        ),
        sections=[Section("Trends against each developer's own past", TRENDS_HEADER, rows)],
    )


# delivery forecast -----------------------------------------------------------------------

FORECAST_HEADER = ["forecast", "percentile", "items", "date", "weeks"]
CALIBRATION_HEADER = ["forecast", "horizon_weeks", "origins", "first_origin", "last_origin"]


def forecast_report(
    how_many: Mapping[str, Any], when: Mapping[str, Any] | None = None
) -> ReportModel:
    """Forecast's Monte Carlo answers as a percentile table (how many items by the period's
    end; when a number of items will be done, if asked), the fan of each curve, and how
    well the method held on the scope's own history (its calibration)."""
    until = date.fromisoformat(str(how_many["until"]))
    rows: list[list[Cell]] = [
        ["how_many", int(p), int(n), until, how_many["horizon_weeks"]]
        for p, n in sorted(how_many["percentiles"].items(), key=lambda kv: int(kv[0]))
    ]
    charts = [
        ChartSeries(
            f"Chance of finishing at least this many items by {until.isoformat()}",
            "line",
            [str(n) for n, _ in sorted(how_many["curve"])],
            [float(chance) for _, chance in sorted(how_many["curve"])],
            "probability",
        )
    ]
    reports = [how_many]
    if when is not None:
        weeks = when["percentile_weeks"]
        rows += [
            [
                "when",
                int(p),
                int(when["items"]),
                None if day is None else date.fromisoformat(str(day)),
                weeks.get(p, weeks.get(str(p))),
            ]
            for p, day in sorted(when["percentiles"].items(), key=lambda kv: int(kv[0]))
        ]
        charts.append(
            ChartSeries(
                f"Chance of finishing {when['items']} items by each date",
                "line",
                [str(day) for day, _ in when["curve"]],
                [float(chance) for _, chance in when["curve"]],
                "probability",
            )
        )
        reports.append(when)
    calibration: list[list[Cell]] = []
    for reply in reports:
        report = reply["calibration"]
        for row in report.get("rows", []):
            held = row["hit_share"]
            calibration.append(
                [
                    report["kind"],
                    row["horizon_weeks"],
                    row["origins"],
                    date.fromisoformat(str(row["first_origin"])),
                    date.fromisoformat(str(row["last_origin"])),
                    *(held.get(p, held.get(str(p))) for p in CALIBRATION_PERCENTILES),
                ]
            )
    unavailable = [
        f"{r['calibration']['kind']}: {r['calibration'].get('reason') or 'not available'}"
        for r in reports
        if not r["calibration"].get("available")
    ]
    history = how_many["inputs"]["history_weeks"]
    return ReportModel(
        title="Delivery forecast",
        definition=(
            "Monte Carlo trials over the scope's own weekly throughput "
            f"({len(history)} weeks sampled, {sum(history)} items). How many: items done "
            f"by {until.isoformat()} with each probability (P85 = at least that many with "
            "85 % probability). When: the date by which the items are done with each "
            "probability. Calibration: the share of past forecasts, made from the weeks "
            "before each origin only, that held at each percentile."
            + (f" Calibration not available: {'; '.join(unavailable)}." if unavailable else "")
        ),
        sections=[
            Section("Percentiles", FORECAST_HEADER, rows),
            Section(
                "Calibration",
                CALIBRATION_HEADER + [f"held_p{p}" for p in CALIBRATION_PERCENTILES],
                calibration,
            ),
        ],
        charts=[chart for chart in charts if chart.labels],
    )


CALIBRATION_PERCENTILES = (50, 70, 85, 95)  # forecast's own


def _moment(value: str | datetime) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


# cross-tenant roll-up ---------------------------------------------------------------------


@dataclass(frozen=True)
class TenantFigures:
    """What insights answered for one tenant of a roll-up, over its live workspaces."""

    tenant_id: Any
    name: str
    workspaces: int
    dora: Mapping[str, Any]
    flow: Mapping[str, Any]


ROLLUP_HEADER = [
    "tenant_id",
    "tenant",
    "metric",
    "definition_id",
    "count",
    "median",
    "p85",
    "numerator",
    "denominator",
    "rate",
    "unit",
]
# each key's chart: its metric, title, and the column (index) its bar shows
ROLLUP_CHARTS = [
    ("deployment_frequency", "Deployment frequency, median (deployment days per week)", 5),
    ("lead_time", "Lead time for changes, median (hours)", 5),
    ("change_failure_rate", "Change failure rate", 9),
    ("time_to_restore", "Time to restore, median (hours)", 5),
    ("work_items_done", "Throughput (work items done)", 4),
    ("work_item_cycle_time", "Work-item cycle time, median (hours)", 5),
]


def _tenant_rows(figures: TenantFigures) -> list[list[Cell]]:
    """One tenant's keys: the DORA keys (under the asked definition, without their band)
    and its flow."""
    items, flow_definition = figures.flow["total"]["work_items"], str(figures.flow["definition_id"])
    rows: list[list[Cell]] = [
        *(row[:-1] for row in _dora_rows(figures.dora)),
        ["work_items_done", flow_definition, items["throughput"], *[None] * 5, "items"],
        _spread("work_item_cycle_time", flow_definition, items["cycle_time"]),
    ]
    return [[str(figures.tenant_id), figures.name, *row] for row in rows]


def rollup_report(tenants: Sequence[TenantFigures]) -> ReportModel:
    """Several tenants' DORA keys and flow side by side: one row per tenant and key (in the
    asked order), and a bar chart per key with a bar per tenant (a tenant without the number
    has no bar)."""
    rows = [row for figures in tenants for row in _tenant_rows(figures)]
    charts = []
    for metric, title, column in ROLLUP_CHARTS:
        bars = [
            (str(row[1]), float(value))
            for row in rows
            if row[2] == metric and isinstance(value := row[column], int | float)
        ]
        if bars:
            unit = "fraction" if metric == "change_failure_rate" else "value"
            charts.append(
                ChartSeries(title, "bar", [n for n, _ in bars], [v for _, v in bars], unit)
            )
    first = tenants[0].dora if tenants else {}
    counted = ", ".join(f"{t.name}: {t.workspaces}" for t in tenants)
    return ReportModel(
        title="Cross-tenant roll-up",
        definition=(
            f"DORA keys under definition {first.get('definition_id', '-')} (version "
            f"{first.get('definition_version', '-')}): deployment frequency in deployment "
            "days per week, lead time for changes from first commit to production, change "
            "failure rate, time to restore, median and P85; flow: work items that entered "
            "done in the period (throughput) and their cycle time from the first move into "
            "progress to done, median and P85 in hours. Each tenant is counted over all its "
            f"live workspaces when the report rendered ({counted}), as the tenant granted: "
            "nothing beyond these numbers."
        ),
        sections=[Section("Tenants side by side", ROLLUP_HEADER, rows)],
        charts=charts,
    )
