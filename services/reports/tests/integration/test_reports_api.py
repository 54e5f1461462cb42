"""Reports end to end: insights and reports on one real PostgreSQL, insights fed the
scenario week of its own tests (services/insights/tests/integration/scenario.py) through
its real consumer, reports asked over HTTP and read back — the CSV and the PDF's text
against insights' own answer for the same scope and period, and numbers worked by hand.

The week: Monday 2 March 2026 to Sunday 8 March (UTC), i.e. [2026-03-02T00:00Z,
2026-03-09T00:00Z). Insights's test works its DORA keys by hand: 3 deployments on 1 day;
lead times 3 h and 5 h 2 min (median 4 h 1 min); CFR 1/3; restore 1.5 h. Merged that week:
#1 (Alice's, approved by Bob at 14:00 before its 15:00 merge), #2 (a bot's: left out), #3
(Bob's, never reviewed, merged at 19:00): only #3 is merged without an approving review.
"""

from __future__ import annotations

import asyncio
import base64
import csv
import importlib.util
import io
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import PIL.Image
import pypdf
import pytest
from sqlalchemy.engine import make_url

from sextant.contracts import uuid7
from sextant.contracts.envelope import from_kafka_binary
from sextant.contracts.topics import LIFECYCLE
from sextant.gateway.authn import LocalIssuer, new_local_issuer_pem
from sextant.gateway.main import create_app as create_gateway
from sextant.gateway.upstreams import Upstreams
from sextant.insights.main import SPEC as INSIGHTS
from sextant.reports.main import SPEC as REPORTS
from sextant.reports.render import worker_of
from sextant.reports.retention import clear_forgotten
from sextant.reports.scheduler import scheduler_of
from sextant.runtime.app import ServiceState, create_service_app
from sextant.runtime.db import plain_dsn
from sextant.runtime.objectstore import FolderObjectStore
from sextant.runtime.tasks import cancel_and_wait
from sextant.runtime.testing.apps import running_app, service_settings
from sextant.runtime.testing.checks import check_forged_cursors_are_refused
from sextant.runtime.testing.plugin import InternalKeys
from sextant.runtime.testing.purging import scope_purge
from sextant.runtime.wiring import create_bus

SCENARIO_FILE = Path(__file__).parents[3] / "insights" / "tests" / "integration" / "scenario.py"
TENANT, OTHER_TENANT = uuid7(), uuid7()
WORKSPACE = uuid7()
SCOPE = f"workspace:{WORKSPACE}"
WEEK = {"from": "2026-03-02", "to": "2026-03-08", "time_zone": "UTC"}
API_WEEK = {"since": "2026-03-02T00:00:00Z", "until": "2026-03-09T00:00:00Z"}
TENANT_NAME = "Acme & Sons"
ISSUER = LocalIssuer.from_pem(new_local_issuer_pem())


def scenario() -> ModuleType:
    """Insights's hand-worked scenario, loaded from its file (tests are not packages)."""
    spec = importlib.util.spec_from_file_location("insights_scenario", SCENARIO_FILE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class Platform:
    reports: httpx.AsyncClient
    insights: httpx.AsyncClient
    state: ServiceState
    keys: InternalKeys
    dsn: str
    gateway: httpx.AsyncClient | None = None

    def as_member(
        self, tenant: Any = TENANT, subject: str = "u1", role: str = "member"
    ) -> dict[str, str]:
        token = self.keys.signer.mint(
            service="reports",
            subject=subject,
            role=role,  # type: ignore[arg-type]
            tenant_id=tenant,
        )
        return {"Authorization": f"Bearer {token}"}

    def as_manager(self, tenant: Any = TENANT) -> dict[str, str]:
        return self.as_member(tenant, "manager@example.com", "manager")


@pytest.fixture
async def platform(
    database_url: str, internal_keys: InternalKeys, tmp_path: Path
) -> AsyncIterator[Platform]:
    settings = service_settings(database_url, internal_keys)
    insights_app = create_service_app(
        INSIGHTS, settings, bus_factory=lambda: create_bus(settings), configure_logs=False
    )
    reports_app = create_service_app(
        REPORTS,
        settings,
        bus_factory=lambda: create_bus(settings),
        objects=FolderObjectStore(tmp_path / "objects"),
        configure_logs=False,
    )
    gateway_app = create_gateway(settings, upstreams=Upstreams({}), local_issuer=ISSUER)
    reports_app.state.peer_apps = {"insights": insights_app, "gateway": gateway_app}
    async with (
        running_app(insights_app) as insights,
        running_app(reports_app) as reports,
        running_app(gateway_app) as gateway,
    ):
        await seed(insights_app.state.service, database_url)
        token = internal_keys.signer.mint(
            service="insights", subject="u1", role="member", tenant_id=TENANT
        )
        insights.headers["Authorization"] = f"Bearer {token}"
        dsn = plain_dsn(database_url)
        conn = await asyncpg.connect(dsn)
        try:  # the tenant as the gateway knows it (the scenario's id, hence not its API)
            await conn.execute(
                "INSERT INTO gateway.tenants (id, name, created_at) VALUES ($1, $2, now())",
                TENANT,
                TENANT_NAME,
            )
        finally:
            await conn.close()
        yield Platform(reports, insights, reports_app.state.service, internal_keys, dsn, gateway)


@pytest.fixture(scope="module")
async def reports_alone(
    postgres_url: str, internal_keys: InternalKeys, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Platform]:
    """Reports with no other service to read (its calls fail), one database per module."""
    name = f"t_{uuid7().hex[:12]}"
    admin = plain_dsn(postgres_url)
    conn = await asyncpg.connect(admin)
    await conn.execute(f"CREATE DATABASE {name}")
    await conn.close()
    url = make_url(postgres_url).set(database=name).render_as_string(False)
    settings = service_settings(url, internal_keys)
    app = create_service_app(
        REPORTS,
        settings,
        bus_factory=lambda: create_bus(settings),
        objects=FolderObjectStore(tmp_path_factory.mktemp("objects")),
        configure_logs=False,
    )
    try:
        async with running_app(app) as client:
            dsn = plain_dsn(url)
            yield Platform(client, client, app.state.service, internal_keys, dsn)
    finally:
        conn = await asyncpg.connect(admin)
        await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await conn.close()


async def seed(state: ServiceState, database_url: str) -> None:
    """Publish the scenario's whole week and wait until insights's consumer took it in and
    its worker derived every repository and recomputed every day it queued."""
    module = scenario()
    tenant = module.Tenant(TENANT, WORKSPACE)
    events = tenant.first_phase() + tenant.second_phase()
    dsn = plain_dsn(database_url)
    conn = await asyncpg.connect(dsn)
    try:
        await state.bus.publish([tenant.record(e) for e in tenant.first_phase()])
        await until(lambda: _inbox(conn), len(tenant.first_phase()))
        await state.bus.publish([tenant.record(e) for e in tenant.second_phase()])
        await until(lambda: _inbox(conn), len(events))
        await until(lambda: _drained(conn), 1)
    finally:
        await conn.close()


async def _inbox(conn: asyncpg.Connection) -> int:
    count: int = await conn.fetchval("SELECT count(*) FROM insights.inbox")
    return count


async def _drained(conn: asyncpg.Connection) -> int:
    waiting: int = await conn.fetchval(
        "SELECT (SELECT count(*) FROM insights.metrics_queue)"
        " + (SELECT count(*) FROM insights.derivation_queue)"
    )
    return int(waiting == 0)


async def until(count: Any, at_least: int, seconds: float = 30) -> None:
    for _ in range(int(seconds / 0.1)):
        if await count() >= at_least:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"insights took in fewer than {at_least} events in {seconds} s")


async def rendered(
    platform: Platform, body: dict[str, Any], tenant: Any = TENANT, role: str = "member"
) -> dict[str, Any]:
    """Ask for a report and follow it to its end, checking progress never goes back."""
    headers = platform.as_member(tenant, role=role)
    asked = await platform.reports.post(
        "/v1/reports", params={"scope": SCOPE}, json=body, headers=headers
    )
    assert asked.status_code == 202, asked.text
    location = asked.headers["Location"]
    assert location == f"/v1/reports/{asked.json()['id']}"
    assert asked.json()["status"] == "queued"
    seen = [0]
    for _ in range(300):
        view = (await platform.reports.get(location, headers=headers)).json()
        assert view["progress"] >= seen[-1]
        seen.append(view["progress"])
        if view["status"] in ("done", "failed"):
            return dict(view)
        await asyncio.sleep(0.1)
    raise AssertionError(f"not rendered in 30 s: {seen}")


async def download(platform: Platform, view: dict[str, Any]) -> httpx.Response:
    reply = await platform.reports.get(view["file"], headers=platform.as_member())
    assert reply.status_code == 200, reply.text
    return reply


def numbers(row: dict[str, str]) -> dict[str, float | str]:
    return {k: float(v) if v and v[0].isdigit() else v for k, v in row.items()}


async def test_dora_and_compliance_reports_match_insights_for_the_same_week(
    platform: Platform,
) -> None:
    dora = await rendered(platform, {"kind": "dora", "format": "csv", **WEEK})
    assert dora["status"] == "done", dora["reason"]
    assert (dora["progress"], dora["from"], dora["to"]) == (100, "2026-03-02", "2026-03-08")
    body = (await download(platform, dora)).content
    ours = {row["metric"]: numbers(row) for row in csv.DictReader(io.StringIO(body.decode()))}
    api = await platform.insights.get(
        "/v1/metrics/dora",
        params={"scope": SCOPE, **API_WEEK},
        headers={"Accept": "text/csv"},
    )
    assert api.status_code == 200, api.text
    theirs = {row["metric"]: numbers(row) for row in csv.DictReader(io.StringIO(api.text))}
    assert ours == theirs
    assert ours["lead_time"]["median"] == pytest.approx(4 + 1 / 60)  # by hand: 3 h, 5 h 2 min
    assert (
        ours["change_failure_rate"]["numerator"],
        ours["change_failure_rate"]["denominator"],
    ) == (
        1,
        3,
    )
    assert ours["deployment_frequency"]["count"] == 3

    compliance = await rendered(platform, {"kind": "compliance", "format": "csv", **WEEK})
    assert compliance["status"] == "done", compliance["reason"]
    rows = list(csv.DictReader(io.StringIO((await download(platform, compliance)).text)))
    assert [(r["number"], r["title"], r["merged_at"]) for r in rows] == [
        ("3", "Change 3", "2026-03-02T19:00:00Z")
    ]
    pack = await rendered(platform, {"kind": "compliance", "format": "pdf", **WEEK})
    assert pack["status"] == "done", pack["reason"]
    text = " ".join(
        " ".join(page.extract_text().split())
        for page in pypdf.PdfReader(io.BytesIO((await download(platform, pack)).content)).pages
    )
    production = await platform.insights.get(
        "/v1/deployments", params={"scope": SCOPE, "production": "true", **API_WEEK}
    )
    # D1, D2 and D3 went to production that week (STG1 to staging); no gate was asked
    assert len(production.json()["items"]) == 3
    assert "Deployments: 3." in text and "made in the period: 0, overridden: 0." in text
    assert "Production deployments and what they shipped" in text and "not gated" in text
    assert f"Tenant: {TENANT_NAME} ({TENANT})" in text
    # the gateway shows its audit log to tenant admins only: a member's pack says so
    assert "Configuration changes: not shown (gateway /internal/audit-log: 403" in text
    await audited_pack_matches_the_gateway(platform)

    told = await published(platform.dsn, dora["id"])
    outcome = {e["type"]: e["data"] for e in told[1:3]}
    assert outcome["sextant.reports.rendered.v1"]["sha256"] == dora["sha256"]
    assert outcome["sextant.reports.rendered.v1"]["size_bytes"] == len(body)
    assert outcome["sextant.notifications.raised.v1"]["link"] == dora["file"]

    branded = await platform.reports.put(
        "/v1/report-logo", content=logo_png(), headers=platform.as_member(role="tenant_admin")
    )
    assert branded.status_code == 204, branded.text
    pdf = await rendered(platform, {"kind": "dora", "format": "pdf", **WEEK})
    assert pdf["status"] == "done", pdf["reason"]
    reply = await download(platform, pdf)
    assert reply.headers["content-type"] == "application/pdf"
    pages = [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(reply.content)).pages]
    assert f"Scope: {SCOPE}" in pages[0]
    assert "Period: 2026-03-02 to 2026-03-08 (UTC)" in pages[0]
    assert "Contents" in pages[1]
    table = pages[2].split()
    assert repr(theirs["lead_time"]["median"]) in table  # the API's very number
    assert all(f"Page {n}" in text for n, text in enumerate(pages, start=1))
    cover_images = pypdf.PdfReader(io.BytesIO(reply.content)).pages[0].images
    assert [i.image.size for i in cover_images] == [(40, 20)]  # type: ignore[union-attr]

    # Files are kept 90 days (the default): not swept a day before, gone a day after.
    sweeper, now = scheduler_of(platform.state), datetime.now(UTC)
    await sweeper.stop()  # its own pass would race this one's to delete the queued files
    assert await sweeper.expire_files(now + timedelta(days=89)) == 0
    assert (
        await sweeper.expire_files(now + timedelta(days=91)) == 5
    )  # dora csv+pdf, compliance csv+pdf+the admin's pdf
    member = platform.as_member()
    for path in (f"/v1/reports/{pdf['id']}", pdf["file"], f"/v1/reports/{pdf['id']}/retry"):
        send = platform.reports.post if path.endswith("retry") else platform.reports.get
        gone = await send(path, headers=member)
        assert gone.status_code == 410, (path, gone.text)
        assert "ask for the report again" in gone.json()["detail"]
    listed = await platform.reports.get("/v1/reports", headers=member)
    assert listed.json()["items"] == []
    assert await clear_forgotten(platform.state.db, platform.state.objects) == 5
    assert await platform.state.objects.list("reports/") == []  # type: ignore[union-attr]


async def audited_pack_matches_the_gateway(platform: Platform) -> None:
    """A tenant admin's pack over today carries today's configuration changes and the chain
    check, as the gateway's public audit API answers them for the same period."""
    assert platform.gateway is not None
    admin = {"Authorization": f"Bearer {ISSUER.mint(subject='ada@acme.example', role='tenant_admin', tenant_id=TENANT, ttl_seconds=600)}"}  # fmt: skip
    for name in ("web", "api"):
        created = await platform.gateway.post("/v1/workspaces", json={"name": name}, headers=admin)
        assert created.status_code == 201, created.text
    today = datetime.now(UTC).date()
    period = {"since": f"{today}T00:00:00Z", "until": f"{today + timedelta(days=1)}T00:00:00Z"}
    for _ in range(200):  # the gateway's consumer writes the audit log
        log = await platform.gateway.get("/v1/audit-log", params=period, headers=admin)
        if len(log.json()["items"]) >= 2:
            break
        await asyncio.sleep(0.05)
    records = log.json()["items"]
    assert [r["action"] for r in records] == ["workspace.create", "workspace.create"]
    chain = (await platform.gateway.get("/v1/audit-log/verify", headers=admin)).json()
    assert chain["intact"] is True
    day = {"from": str(today), "to": str(today), "time_zone": "UTC"}
    pack = await rendered(
        platform, {"kind": "compliance", "format": "pdf", **day}, role="tenant_admin"
    )
    assert pack["status"] == "done", pack["reason"]
    pdf = pypdf.PdfReader(io.BytesIO((await download(platform, pack)).content))
    text = [" ".join(page.extract_text().split()) for page in pdf.pages]
    assert (
        "Configuration changes (the gateway's audit log): 2 in the period; the tenant's hash "
        f"chain verified intact over {chain['rows']} records." in text[0]
    )
    [table] = [page for page in text if page.split(" ", 2)[2].startswith("Configuration changes")]
    for record in reversed(records):  # oldest first in the pack
        row = f"{record['seq']} {record['at'].replace('+00:00', 'Z')} gateway ada@acme.example"
        assert row in table and record["hash"][:16] in table and record["target_id"] in table
    assert table.index(str(records[-1]["target_id"])) < table.index(str(records[0]["target_id"]))


def logo_png() -> bytes:
    buffer = io.BytesIO()
    PIL.Image.new("RGB", (40, 20), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


async def test_a_tenant_admin_sets_reads_and_removes_the_cover_logo(
    reports_alone: Platform,
) -> None:
    admin = reports_alone.as_member(role="tenant_admin")
    png = logo_png()
    refused = await reports_alone.reports.put(
        "/v1/report-logo", content=b"GIF89a" + png, headers=admin
    )
    assert refused.status_code == 415, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    too_big = await reports_alone.reports.put(
        "/v1/report-logo", content=png + b"\0" * 300_000, headers=admin
    )
    assert too_big.status_code == 413, too_big.text
    manager = await reports_alone.reports.put(
        "/v1/report-logo", content=png, headers=reports_alone.as_manager()
    )
    assert manager.status_code == 403
    assert (
        await reports_alone.reports.put("/v1/report-logo", content=png, headers=admin)
    ).status_code == 204
    seen = await reports_alone.reports.get("/v1/report-logo", headers=reports_alone.as_member())
    assert (seen.status_code, seen.headers["content-type"], seen.content) == (
        200,
        "application/octet-stream",
        png,
    )
    stranger = reports_alone.as_member(OTHER_TENANT, "intruder", "tenant_admin")
    assert (await reports_alone.reports.get("/v1/report-logo", headers=stranger)).status_code == 404
    assert (await reports_alone.reports.delete("/v1/report-logo", headers=admin)).status_code == 204
    assert (await reports_alone.reports.get("/v1/report-logo", headers=admin)).status_code == 404
    assert (await reports_alone.reports.delete("/v1/report-logo", headers=admin)).status_code == 404


async def test_another_tenant_sees_nothing_of_a_report(platform: Platform) -> None:
    view = await rendered(platform, {"kind": "compliance", "format": "csv", **WEEK})
    stranger = platform.as_member(OTHER_TENANT, "intruder")
    for path in (f"/v1/reports/{view['id']}", f"/v1/reports/{view['id']}/file"):
        reply = await platform.reports.get(path, headers=stranger)
        assert reply.status_code == 404, (path, reply.text)
        assert reply.headers["content-type"] == "application/problem+json"
    retried = await platform.reports.post(f"/v1/reports/{view['id']}/retry", headers=stranger)
    assert retried.status_code == 404
    listed = await platform.reports.get("/v1/reports", headers=stranger)
    assert listed.json() == {"items": [], "next_cursor": None}
    own = await platform.reports.get("/v1/reports", headers=platform.as_member())
    assert [item["id"] for item in own.json()["items"]] == [view["id"]]


@pytest.mark.parametrize(
    ("params", "body", "status", "named"),
    [
        ({"scope": SCOPE}, {"kind": "velocity", **WEEK}, 422, "kind"),
        ({"scope": SCOPE}, {"kind": "dora", **WEEK, "format": "xlsx"}, 422, "format"),
        ({"scope": SCOPE}, {"kind": "dora", **WEEK, "time_zone": "Mars/Olympus"}, 422, "time_zone"),
        (
            {"scope": SCOPE},
            {"kind": "dora", **WEEK, "time_zone": "../etc/passwd"},
            422,
            "time_zone",
        ),
        ({"scope": SCOPE}, {"kind": "dora", "from": "2026-03-09", "to": "2026-03-02"}, 400, "from"),
        ({"scope": SCOPE}, {"kind": "dora", "from": "2020-01-01", "to": "2026-03-02"}, 400, "from"),
        ({"scope": SCOPE}, {"kind": "dora", "from": "2026-02-30", "to": "2026-03-02"}, 422, "from"),
        ({"scope": SCOPE}, {"kind": "dora", "from": "9999-12-31", "to": "9999-12-31"}, 422, "from"),
        ({"scope": "team:1"}, {"kind": "dora", **WEEK}, 400, "scope"),
        ({"scope": SCOPE}, {"kind": "forecast", **WEEK}, 400, "to must be after today"),
        ({"scope": SCOPE}, {"kind": "dora", **WEEK, "items": 30}, 400, "items"),
        ({}, {"kind": "dora", **WEEK}, 400, "scope"),
        ({}, {"kind": "rollup", **WEEK, "tenants": [str(TENANT)]}, 422, "tenants"),
        (
            {"scope": SCOPE},
            {"kind": "rollup", **WEEK, "tenants": [str(TENANT), str(OTHER_TENANT)]},
            400,
            "scope",
        ),
    ],
)
async def test_bad_parameters_are_refused_before_any_job_exists(
    reports_alone: Platform, params: dict[str, str], body: dict[str, Any], status: int, named: str
) -> None:
    headers = reports_alone.as_member()
    reply = await reports_alone.reports.post(
        "/v1/reports", params=params, json=body, headers=headers
    )
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"] == "application/problem+json"
    assert named in reply.json()["detail"]
    listed = await reports_alone.reports.get("/v1/reports", headers=headers)
    assert listed.json()["items"] == []


@pytest.mark.parametrize(("role", "status"), [("platform_admin", 202), ("partner", 403)])
async def test_a_platform_admin_acting_on_a_tenant_asks_for_reports_and_a_partner_cannot(
    reports_alone: Platform, role: str, status: int
) -> None:
    """The portal's admin is a platform admin acting on a tenant (the gateway names it
    in the token), as for every other service's reads, and schedules reports there too;
    a partner's grants are not checked here yet, so it is refused both."""
    tenant = uuid7()
    token = reports_alone.keys.signer.mint(
        service="reports",
        subject="admin@local",
        role=role,
        tenant_id=tenant,
        scope_workspaces=[WORKSPACE],
    )
    headers = {"Authorization": f"Bearer {token}"}
    reply = await reports_alone.reports.post(
        "/v1/reports",
        params={"scope": SCOPE},
        json={"kind": "dora", "format": "csv", **WEEK},
        headers=headers,
    )
    assert reply.status_code == status, reply.text
    scheduled = await reports_alone.reports.post(
        "/v1/report-schedules", params={"scope": SCOPE}, json=MONDAY_8_PARIS, headers=headers
    )
    assert scheduled.status_code == (201 if status == 202 else 403), scheduled.text
    if status == 202:
        assert reply.json()["requested_by"] == "admin@local"
        assert scheduled.json()["created_by"] == "admin@local"


async def test_a_job_that_cannot_read_its_data_fails_with_the_reason_and_is_retried(
    reports_alone: Platform,
) -> None:
    failed = await rendered(reports_alone, {"kind": "dora", "format": "pdf", **WEEK})
    assert failed["status"] == "failed"
    assert "insights" in failed["reason"] and "not configured" in failed["reason"]
    assert failed["file"] is None
    headers = reports_alone.as_member()
    early = await reports_alone.reports.get(f"/v1/reports/{failed['id']}/file", headers=headers)
    assert early.status_code == 409
    retried = await reports_alone.reports.post(f"/v1/reports/{failed['id']}/retry", headers=headers)
    assert retried.status_code == 202, retried.text
    assert retried.json()["status"] == "queued"
    for _ in range(300):
        view = (
            await reports_alone.reports.get(f"/v1/reports/{failed['id']}", headers=headers)
        ).json()
        if view["status"] == "failed":
            break
        await asyncio.sleep(0.1)
    assert (view["status"], view["attempts"]) == ("failed", 2)
    again = await reports_alone.reports.post(f"/v1/reports/{failed['id']}/retry", headers=headers)
    assert again.status_code == 202
    unknown = await reports_alone.reports.post(f"/v1/reports/{uuid7()}/retry", headers=headers)
    assert unknown.status_code == 404
    told = await published(reports_alone.dsn, failed["id"])
    assert told[0]["type"] == "sextant.reports.requested.v1"
    outcome = {e["type"]: e["data"] for e in told[1:3]}  # two topics: no order between them
    assert set(outcome) == {"sextant.reports.failed.v1", "sextant.notifications.raised.v1"}
    assert "not configured" in outcome["sextant.reports.failed.v1"]["reason"]
    assert outcome["sextant.notifications.raised.v1"]["link"] == f"/v1/reports/{failed['id']}"


async def published(dsn: str, report_id: str, seconds: float = 15) -> list[dict[str, Any]]:
    """The reports and notifications events about a report on the local bus, in order,
    once the relay has published at least three."""
    found: list[dict[str, Any]] = []
    for _ in range(int(seconds / 0.1)):
        conn = await asyncpg.connect(dsn)
        try:
            rows = await conn.fetch(
                "SELECT headers, value FROM sextant_bus.records WHERE topic = ANY($1) "
                'ORDER BY appended_at, "offset"',
                ["sextant.reports", "sextant.notifications"],
            )
        finally:
            await conn.close()
        envelopes = [
            from_kafka_binary(
                [(name, base64.b64decode(v)) for name, v in json.loads(r["headers"])], r["value"]
            ).model_dump(mode="json")
            for r in rows
        ]
        found = [e for e in envelopes if report_id in json.dumps(e["data"])]
        if len(found) >= 3:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"fewer than 3 events about {report_id}: {found}")


MONDAY_8_PARIS = {
    "kind": "dora",
    "format": "csv",
    "every": "weekly",
    "day": 1,
    "at": "08:00",
    "time_zone": "Europe/Paris",
    "notify": ["manager"],
}


async def test_a_schedule_queues_one_report_when_due_and_carries_on_after_summer_time(
    reports_alone: Platform,
) -> None:
    """Weekly on Monday at 08:00 in Paris, its clock set back to Monday 2 March 2026
    (08:00 CET, 07:00Z) and the scheduler woken on Wednesday 25 March at 12:00Z, as if it
    had been down for three weeks: it queues one report, for the run of Monday 23 March
    (the seven days 16 to 22 March), and runs next on Monday 30 March at 08:00 CEST,
    06:00Z (summer time began on the 29th)."""
    scheduler = scheduler_of(reports_alone.state)
    await scheduler.stop()  # the test says what "now" is
    try:
        manager = reports_alone.as_manager()
        made = await reports_alone.reports.post(
            "/v1/report-schedules", params={"scope": SCOPE}, json=MONDAY_8_PARIS, headers=manager
        )
        assert made.status_code == 201, made.text
        schedule = made.json()
        assert made.headers["Location"] == f"/v1/report-schedules/{schedule['id']}"
        assert (schedule["every"], schedule["day"], schedule["at"]) == ("weekly", 1, "08:00:00")
        conn = await asyncpg.connect(reports_alone.dsn)
        try:
            await conn.execute(
                "UPDATE reports.schedule_clock SET next_run_at = '2026-03-02T07:00:00Z' "
                "WHERE schedule_id = $1",
                UUID(schedule["id"]),
            )
        finally:
            await conn.close()
        now = datetime(2026, 3, 25, 12, tzinfo=UTC)
        runs = await asyncio.gather(scheduler.run_due(now), scheduler.run_due(now))
        assert sorted(runs) == [0, 1]  # one pass queued it; the other found nothing or the lock
        assert await scheduler.run_due(now) == 0

        seen = await reports_alone.reports.get(
            f"/v1/report-schedules/{schedule['id']}", headers=reports_alone.as_member()
        )
        assert seen.json()["next_run_at"] == "2026-03-30T06:00:00Z"
        assert seen.json()["last_run_at"] == "2026-03-23T07:00:00Z"
        report_id = seen.json()["last_report_id"]
        report = await reports_alone.reports.get(f"/v1/reports/{report_id}", headers=manager)
        assert report.json()["schedule_id"] == schedule["id"]
        assert (report.json()["from"], report.json()["to"]) == ("2026-03-16", "2026-03-22")
        assert (report.json()["kind"], report.json()["time_zone"]) == ("dora", "Europe/Paris")
        assert report.json()["requested_by"] == "manager@example.com"
        told = await published(reports_alone.dsn, report_id)  # it fails: no insights here
        notices = [e for e in told if e["type"] == "sextant.notifications.raised.v1"]
        assert notices[0]["data"]["audience"] == ["manager"]
    finally:
        await scheduler.start()


async def test_schedules_are_paged_audited_deleted_and_kept_from_other_tenants(
    reports_alone: Platform,
) -> None:
    manager = reports_alone.as_manager()
    ids = []
    for day in (2, 3, 4):
        made = await reports_alone.reports.post(
            "/v1/report-schedules",
            params={"scope": SCOPE},
            json={**MONDAY_8_PARIS, "day": day},
            headers=manager,
        )
        assert made.status_code == 201, made.text
        ids.append(made.json()["id"])
    first = await reports_alone.reports.get(
        "/v1/report-schedules", params={"limit": 2}, headers=manager
    )
    rest = await reports_alone.reports.get(
        "/v1/report-schedules",
        params={"limit": 500, "cursor": first.json()["next_cursor"]},
        headers=manager,
    )
    listed = [s["id"] for s in first.json()["items"] + rest.json()["items"]]
    assert listed[-3:] == ids and len(first.json()["items"]) == 2

    stranger = reports_alone.as_member(OTHER_TENANT, "intruder", "tenant_admin")
    assert (await reports_alone.reports.get("/v1/report-schedules", headers=stranger)).json()[
        "items"
    ] == []
    theirs = await reports_alone.reports.delete(f"/v1/report-schedules/{ids[0]}", headers=stranger)
    assert theirs.status_code == 404
    member = await reports_alone.reports.delete(
        f"/v1/report-schedules/{ids[0]}", headers=reports_alone.as_member()
    )
    assert member.status_code == 403

    gone = await reports_alone.reports.delete(f"/v1/report-schedules/{ids[0]}", headers=manager)
    assert gone.status_code == 204
    after = await reports_alone.reports.get(f"/v1/report-schedules/{ids[0]}", headers=manager)
    assert after.status_code == 404
    audit = await audited(reports_alone.dsn, ids[0])
    assert [(a["action"], a["actor"]) for a in audit] == [
        ("reports.schedule.create", "manager@example.com"),
        ("reports.schedule.delete", "manager@example.com"),
    ]
    assert audit[0]["after"]["day"] == 2 and audit[1]["before"]["day"] == 2


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({**MONDAY_8_PARIS, "day": 8}, "day"),
        ({**MONDAY_8_PARIS, "every": "daily"}, "every"),
        ({**MONDAY_8_PARIS, "at": "25:00"}, "at"),
        ({**MONDAY_8_PARIS, "time_zone": "Mars/Olympus"}, "time_zone"),
        ({**MONDAY_8_PARIS, "notify": ["everyone"]}, "notify"),
        ({**MONDAY_8_PARIS, "kind": "poetry"}, "kind"),
        ({**MONDAY_8_PARIS, "kind": "forecast"}, "a forecast looks ahead"),
        ({**MONDAY_8_PARIS, "kind": "rollup"}, "a rollup names tenants"),
    ],
)
async def test_a_bad_schedule_is_refused_with_the_field_named(
    reports_alone: Platform, body: dict[str, Any], named: str
) -> None:
    reply = await reports_alone.reports.post(
        "/v1/report-schedules",
        params={"scope": SCOPE},
        json=body,
        headers=reports_alone.as_manager(),
    )
    assert reply.status_code == 422, reply.text
    assert reply.headers["content-type"].startswith("application/problem+json")
    assert named in reply.text


async def audited(
    dsn: str, schedule_id: str, seconds: float = 15, count: int = 2
) -> list[dict[str, Any]]:
    """The configuration changes about a schedule on the local bus, in order, once ``count``
    are."""
    found: list[dict[str, Any]] = []
    for _ in range(int(seconds / 0.1)):
        conn = await asyncpg.connect(dsn)
        try:
            rows = await conn.fetch(
                "SELECT headers, value FROM sextant_bus.records WHERE topic = $1 "
                'ORDER BY appended_at, "offset"',
                "sextant.config",
            )
        finally:
            await conn.close()
        found = [
            e["data"]
            for e in (
                from_kafka_binary(
                    [(name, base64.b64decode(v)) for name, v in json.loads(r["headers"])],
                    r["value"],
                ).model_dump(mode="json")
                for r in rows
            )
            if e["data"]["target_id"] == schedule_id
        ]
        if len(found) >= count:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"fewer than {count} audit events about {schedule_id}: {found}")


async def test_a_schedule_paused_by_a_purge_is_given_a_scope_and_runs_again_audited(
    reports_alone: Platform,
) -> None:
    """Monday 08:00 in Paris over one workspace, paused when the archive purges it; a PATCH
    over another workspace resumes it (next run: the coming Monday 08:00 Paris, as at
    creation), audited after the archive's pause. Refused: another tenant's or an unknown
    schedule (404, whatever the scope: it is looked up first), a member (403), a scope
    covering no workspace (422), one the token does not cover (400), each as creation
    refuses them."""
    client, manager = reports_alone.reports, reports_alone.as_manager()
    purged, live = uuid7(), uuid7()
    made = await client.post(
        "/v1/report-schedules",
        params={"scope": f"workspace:{purged}"},
        json=MONDAY_8_PARIS,
        headers=manager,
    )
    assert made.status_code == 201, made.text
    path = f"/v1/report-schedules/{made.json()['id']}"
    async with reports_alone.state.db.transaction(TENANT) as session:
        await REPORTS.handlers[LIFECYCLE.name](session, scope_purge(TENANT, purged))
    paused = (await client.get(path, headers=manager)).json()
    assert (paused["scope_workspaces"], paused["next_run_at"]) == ([], None)
    assert paused["paused_at"] is not None

    def signed(*workspaces: UUID, tenant: UUID = TENANT) -> dict[str, str]:
        token = reports_alone.keys.signer.mint(
            service="reports",
            subject="manager@example.com",
            role="manager",
            tenant_id=tenant,
            scope_workspaces=list(workspaces),
        )
        return {"Authorization": f"Bearer {token}"}

    to_live = {"scope": f"workspace:{live}"}
    stranger = reports_alone.as_member(OTHER_TENANT, "intruder", "tenant_admin")
    unknown = f"/v1/report-schedules/{uuid7()}"
    for target, params, headers, status, named in (
        (path, to_live, stranger, 404, "no report schedule"),
        (unknown, to_live, manager, 404, "no report schedule"),
        # the schedule is looked up first: a bad scope says nothing of another's schedule
        (path, {"scope": "team:1"}, stranger, 404, "no report schedule"),
        (path, {"scope": f"view:{uuid7()}"}, signed(tenant=OTHER_TENANT), 404, "no report"),
        (unknown, {"scope": "team:1"}, manager, 404, "no report schedule"),
        (path, to_live, reports_alone.as_member(), 403, "member"),
        (path, {"scope": f"view:{uuid7()}"}, signed(), 422, "covers no live workspace"),
        (path, to_live, signed(purged), 400, f"does not cover workspace:{live}"),
        ("/v1/report-schedules/not-a-uuid", to_live, manager, 422, "schedule_id"),
        (path, {}, manager, 422, "scope"),
    ):
        refused = await client.patch(target, params=params, headers=headers)
        assert refused.status_code == status, (target, params, refused.text)
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert named in refused.json()["detail"]
    nothing = await client.post(  # creation refuses it the same way
        "/v1/report-schedules",
        params={"scope": f"view:{uuid7()}"},
        json=MONDAY_8_PARIS,
        headers=signed(),
    )
    assert nothing.status_code == 422 and "covers no live workspace" in nothing.text

    now = datetime.now(UTC)
    resumed = await client.patch(path, params=to_live, headers=manager)
    assert resumed.status_code == 200, resumed.text
    view = resumed.json()
    assert (view["scope"], view["scope_workspaces"], view["paused_at"]) == (
        f"workspace:{live}",
        [str(live)],
        None,
    )
    next_run = datetime.fromisoformat(view["next_run_at"])
    local = next_run.astimezone(ZoneInfo("Europe/Paris"))
    assert (local.isoweekday(), local.time()) == (1, time(8))
    assert now < next_run <= now + timedelta(days=7)
    assert (await client.get(path, headers=manager)).json() == view

    audit = await audited(reports_alone.dsn, made.json()["id"], count=3)
    assert [(a["action"], a["actor"]) for a in audit] == [
        ("reports.schedule.create", "manager@example.com"),
        ("reports.schedule.pause", "archive"),
        ("reports.schedule.update", "manager@example.com"),
    ]
    before, after = audit[2]["before"], audit[2]["after"]
    assert (before["scope_workspaces"], before["paused_at"] is not None) == ([], True)
    assert (after["scope_workspaces"], after["paused_at"]) == ([str(live)], None)


async def test_a_tenant_admin_grants_pages_and_revokes_rollup_access_audited(
    reports_alone: Platform,
) -> None:
    admin, partner, third = reports_alone.as_member(role="tenant_admin"), uuid7(), uuid7()
    client = reports_alone.reports
    made = await client.post(
        "/v1/rollup-grants", json={"grantee_tenant_id": str(partner)}, headers=admin
    )
    assert made.status_code == 201, made.text
    grant = made.json()
    assert made.headers["Location"] == f"/v1/rollup-grants/{grant['id']}"
    assert (grant["grantee_tenant_id"], grant["granted_by"]) == (str(partner), "u1")
    for body, status in (
        ({"grantee_tenant_id": str(partner)}, 409),  # granted already
        ({"grantee_tenant_id": str(TENANT)}, 400),  # its own tenant
        ({"grantee_tenant_id": "acme"}, 422),
    ):
        refused = await client.post("/v1/rollup-grants", json=body, headers=admin)
        assert refused.status_code == status, refused.text
        assert "grantee_tenant_id" in refused.text
    manager = reports_alone.as_manager()
    assert (await client.get("/v1/rollup-grants", headers=manager)).status_code == 403
    later = await client.post(
        "/v1/rollup-grants", json={"grantee_tenant_id": str(third)}, headers=admin
    )
    first = await client.get("/v1/rollup-grants", params={"limit": 1}, headers=admin)
    rest = await client.get(
        "/v1/rollup-grants", params={"cursor": first.json()["next_cursor"]}, headers=admin
    )
    assert [g["id"] for g in first.json()["items"] + rest.json()["items"]] == [
        grant["id"],
        later.json()["id"],
    ]
    stranger = reports_alone.as_member(OTHER_TENANT, "intruder", "tenant_admin")
    assert (await client.get("/v1/rollup-grants", headers=stranger)).json()["items"] == []
    path = f"/v1/rollup-grants/{grant['id']}"
    assert (await client.delete(path, headers=stranger)).status_code == 404
    assert (await client.delete(path, headers=admin)).status_code == 204
    assert (await client.delete(path, headers=admin)).status_code == 404
    listed = (await client.get("/v1/rollup-grants", headers=admin)).json()["items"]
    assert [g["grantee_tenant_id"] for g in listed] == [str(third)]

    for _ in range(150):  # the outbox relay publishes the audit events
        conn = await asyncpg.connect(reports_alone.dsn)
        try:
            values = await conn.fetch(
                "SELECT value FROM sextant_bus.records WHERE topic = 'sextant.config'"
            )
        finally:
            await conn.close()
        told = [json.loads(v["value"]) for v in values if grant["id"] in str(v["value"])]
        if len(told) >= 2:
            break
        await asyncio.sleep(0.1)
    actions = sorted((e.get("data", e)["action"], e.get("data", e)["target_id"]) for e in told)
    assert actions == [
        ("reports.rollup_grant.create", grant["id"]),
        ("reports.rollup_grant.delete", grant["id"]),
    ]


@pytest.mark.parametrize(
    ("path", "role"),
    [
        ("/v1/rollup-grants", "tenant_admin"),
        ("/v1/reports", "member"),
        ("/v1/report-schedules", "member"),
    ],
)
async def test_a_malformed_absurd_or_forged_cursor_is_a_400_naming_it(
    reports_alone: Platform, path: str, role: str
) -> None:
    headers = reports_alone.as_member(role=role)
    await check_forged_cursors_are_refused(reports_alone.reports, path, headers)


async def test_a_rollup_shows_granted_tenants_numbers_as_insights_answers_them(
    platform: Platform,
) -> None:
    """A partner's manager puts its own tenant and Acme (which granted it) side by side:
    Acme's row holds insights' own numbers for the week over its one workspace. A tenant
    that did not grant is a 403 naming it before any job; an unknown one a 404 for a
    platform admin; a grant revoked before the job renders fails it naming the tenant."""
    partner, stranger, unknown = uuid7(), uuid7(), uuid7()
    conn = await asyncpg.connect(platform.dsn)
    try:
        for tenant, name in ((partner, "Partner"), (stranger, "Stranger")):
            await conn.execute(
                "INSERT INTO gateway.tenants (id, name, created_at) VALUES ($1, $2, now())",
                tenant,
                name,
            )
        await conn.execute(
            "INSERT INTO gateway.workspaces (tenant_id, id, name, created_at) "
            "VALUES ($1, $2, 'scenario', now())",
            TENANT,
            WORKSPACE,
        )
    finally:
        await conn.close()
    granted = await platform.reports.post(
        "/v1/rollup-grants",
        json={"grantee_tenant_id": str(partner)},
        headers=platform.as_member(role="tenant_admin"),
    )
    assert granted.status_code == 201, granted.text
    manager = platform.as_manager(partner)
    rollup = {"kind": "rollup", "format": "csv", **WEEK}

    refused = await platform.reports.post(
        "/v1/reports", json={**rollup, "tenants": [str(TENANT), str(stranger)]}, headers=manager
    )
    assert refused.status_code == 403, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert str(stranger) in refused.json()["detail"] and str(TENANT) not in refused.json()["detail"]
    for asker in (platform.as_member(partner), platform.as_member(partner, role="partner")):
        member = await platform.reports.post(
            "/v1/reports", json={**rollup, "tenants": [str(partner), str(TENANT)]}, headers=asker
        )
        assert member.status_code == 403, member.text
    platform_admin = {"Authorization": "Bearer " + platform.keys.signer.mint(service="reports", subject="root@local", role="platform_admin", tenant_id=None)}  # fmt: skip
    missing = await platform.reports.post(
        "/v1/reports",
        json={**rollup, "tenants": [str(TENANT), str(unknown)]},
        headers=platform_admin,
    )
    assert missing.status_code == 404, missing.text
    assert str(unknown) in missing.json()["detail"]
    conn = await asyncpg.connect(platform.dsn)
    try:
        assert await conn.fetchval("SELECT count(*) FROM reports.reports") == 0
    finally:
        await conn.close()
    assert await platform.state.objects.list("reports/") == []  # type: ignore[union-attr]

    asked = await platform.reports.post(
        "/v1/reports", json={**rollup, "tenants": [str(partner), str(TENANT)]}, headers=manager
    )
    assert asked.status_code == 202, asked.text
    assert asked.json()["tenants"] == [str(partner), str(TENANT)]
    for _ in range(300):
        view = (await platform.reports.get(asked.headers["Location"], headers=manager)).json()
        if view["status"] in ("done", "failed"):
            break
        await asyncio.sleep(0.1)
    assert view["status"] == "done", view["reason"]
    got = await platform.reports.get(view["file"], headers=manager)
    rows = list(csv.DictReader(io.StringIO(got.text)))
    assert [(r["tenant"], r["metric"]) for r in rows[::6]] == [
        ("Partner", "deployment_frequency"),
        (TENANT_NAME, "deployment_frequency"),
    ]
    acme = {
        r["metric"]: numbers({k: v for k, v in r.items() if k != "tenant_id"})
        for r in rows
        if r["tenant_id"] == str(TENANT)
    }
    theirs = (
        await platform.insights.get("/v1/metrics/dora", params={"scope": SCOPE, **API_WEEK})
    ).json()
    assert acme["lead_time"]["median"] == theirs["lead_time"]["median_hours"]
    assert acme["lead_time"]["median"] == pytest.approx(4 + 1 / 60)  # by hand: 3 h, 5 h 2 min
    assert acme["lead_time"]["p85"] == theirs["lead_time"]["p85_hours"]
    assert (
        acme["deployment_frequency"]["count"] == theirs["deployment_frequency"]["deployments"] == 3
    )
    failures = acme["change_failure_rate"]
    assert (failures["numerator"], failures["denominator"]) == (1, 3)
    assert failures["rate"] == theirs["change_failure_rate"]["rate"]
    assert acme["time_to_restore"]["median"] == theirs["time_to_restore"]["median_hours"] == 1.5
    flow = (
        await platform.insights.get("/v1/metrics/flow", params={"scope": SCOPE, **API_WEEK})
    ).json()["total"]["work_items"]
    # the scenario moves no work item (unit tests work the flow columns by hand)
    assert acme["work_items_done"]["count"] == flow["throughput"] == 0
    assert (
        acme["work_item_cycle_time"]["median"] == "" and flow["cycle_time"]["median_hours"] is None
    )
    assert {r["count"] for r in rows if r["tenant"] == "Partner" and r["metric"] != "work_item_cycle_time"} <= {"0", ""}  # fmt: skip

    # A platform admin acting as the platform names any tenant; the job is the platform's.
    rooted = await platform.reports.post(
        "/v1/reports",
        json={**rollup, "tenants": [str(stranger), str(TENANT)], "format": "pdf"},
        headers=platform_admin,
    )
    assert rooted.status_code == 202, rooted.text
    for _ in range(300):
        seen = (
            await platform.reports.get(rooted.headers["Location"], headers=platform_admin)
        ).json()
        if seen["status"] in ("done", "failed"):
            break
        await asyncio.sleep(0.1)
    assert seen["status"] == "done", seen["reason"]
    pdf = await platform.reports.get(seen["file"], headers=platform_admin)
    cover = pypdf.PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()
    assert "Tenant: the platform, for root@local" in cover
    for tenant in (TENANT, partner, stranger):  # kept from every tenant's own list
        mine = await platform.reports.get(
            "/v1/reports", headers=platform.as_member(tenant, role="tenant_admin")
        )
        assert rooted.json()["id"] not in mine.text

    # Revoked after the ask, before the render: the worker (paused here) checks again.
    worker = worker_of(platform.state)
    await cancel_and_wait(worker._task)
    late = await platform.reports.post(
        "/v1/reports", json={**rollup, "tenants": [str(TENANT), str(partner)]}, headers=manager
    )
    assert late.status_code == 202, late.text
    revoked = await platform.reports.delete(
        f"/v1/rollup-grants/{granted.json()['id']}", headers=platform.as_member(role="tenant_admin")
    )
    assert revoked.status_code == 204
    assert await worker.render_next()
    failed = (await platform.reports.get(late.headers["Location"], headers=manager)).json()
    assert failed["status"] == "failed"
    assert f"tenant {TENANT} no longer grants" in failed["reason"]
