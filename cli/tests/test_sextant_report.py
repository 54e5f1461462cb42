"""`sextant report create` over real HTTP against the whole embedded platform: the gateway
routes /v1/reports to reports, whose worker reads insights and forecast in-process on the requester's
behalf (runtime.calls) and stores the file; the command waits and writes it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pypdf
from typer.testing import CliRunner, Result

from sextant.cli.main import app
from sextant.cli.testing import running_platform, served_platform
from sextant.runtime.testing.plugin import InternalKeys


async def sextant(*args: str) -> Result:
    """The command run as a user runs it; in a thread, so the platform keeps answering."""
    return await asyncio.to_thread(CliRunner().invoke, app, list(args))


async def test_a_report_asked_from_the_command_line_is_written_to_the_file(
    database_url: str, internal_keys: InternalKeys, tmp_path: Path
) -> None:
    async with running_platform(database_url, internal_keys, tmp_path / "data") as platform:
        tenant = await platform.tenant("Acme")
        admin = platform.headers("tenant_admin", tenant)
        made = await platform.client.post("/v1/workspaces", json={"name": "eng"}, headers=admin)
        assert made.status_code == 201, made.text
        scope = f"workspace:{made.json()['id']}"
        member = platform.headers("member", tenant)["Authorization"].removeprefix("Bearer ")
        async with served_platform(platform) as url:
            common = ("--scope", scope, "--url", url, "--token", member)
            week = ("--from", "2026-03-02", "--to", "2026-03-08")
            csv_file, pdf_file = tmp_path / "evidence.csv", tmp_path / "dora.pdf"
            wrote = await sextant(
                "report",
                "create",
                "compliance",
                *week,
                "--format",
                "csv",
                "-o",
                str(csv_file),
                *common,
            )
            pdf = await sextant("report", "create", "dora", *week, "-o", str(pdf_file), *common)
            sprints = await sextant(
                "report",
                "create",
                "sprint",
                *week,
                "--format",
                "csv",
                "-o",
                str(tmp_path / "s.csv"),
                *common,
            )
            refused = await sextant(
                "report",
                "create",
                "dora",
                "--from",
                "2026-03-09",
                "--to",
                "2026-03-02",
                "-o",
                str(tmp_path / "never.pdf"),
                *common,
            )
            today = datetime.now(UTC).date()
            ahead = (today + timedelta(days=30)).isoformat()
            forecast = await sextant(
                "report", "create", "forecast", "--from", today.isoformat(), "--to", ahead,
                "-o", str(tmp_path / "forecast.pdf"), *common,
            )  # fmt: skip
            boss = admin["Authorization"].removeprefix("Bearer ")
            planned = ("--url", url, "--token", boss)
            trends_file = tmp_path / "trends.csv"
            trends_by_admin = await sextant(
                "report", "create", "developer-trends", *week, "--format", "csv",
                "-o", str(trends_file), "--scope", scope, *planned,
            )  # fmt: skip
            trends_by_member = await sextant(
                "report", "create", "developer-trends", *week, "-o", str(tmp_path / "no.pdf"),
                *common,
            )  # fmt: skip
            scheduled = await sextant(
                "report", "schedule", "create", "dora", "--scope", scope, "--every", "monthly",
                "--day", "31", "--at", "07:00", "--time-zone", "America/New_York", *planned,
            )  # fmt: skip
            listed = await sextant("report", "schedule", "list", *planned)
            schedule_id = scheduled.output.split()[1].rstrip(":")
            rescoped = await sextant(
                "report", "schedule", "rescope", schedule_id, "--scope", scope, *planned
            )  # fmt: skip
            stopped = await sextant("report", "schedule", "delete", schedule_id, *planned)
            again = await sextant("report", "schedule", "delete", schedule_id, *planned)
            by_member = await sextant(
                "report", "schedule", "create", "dora", "--scope", scope, "--every", "weekly",
                "--day", "1", "--at", "08:00", "--url", url, "--token", member,
            )  # fmt: skip
            partner = await platform.tenant("Partner")
            granted = await sextant("rollup-grants", "create", str(partner), *planned)
            grants = await sextant("rollup-grants", "list", *planned)
            grant_id = granted.output.split()[1].rstrip(":")
            partner_manager = platform.headers("manager", partner)["Authorization"][7:]
            side_by_side = (
                "report", "create", "rollup", "--tenants", f"{partner},{tenant}", *week,
                "--format", "csv", "--url", url, "--token", partner_manager,
            )  # fmt: skip
            rollup_file = tmp_path / "rollup.csv"
            rolled = await sextant(*side_by_side, "-o", str(rollup_file))
            revoked = await sextant("rollup-grants", "delete", grant_id, *planned)
            ungranted = await sextant(*side_by_side, "-o", str(tmp_path / "never.csv"))
            not_admin = await sextant("rollup-grants", "list", "--url", url, "--token", member)
            # The platform's own admin (no tenant) needs no grant, and reaches no tenant's scope.
            root = platform.headers("platform_admin")["Authorization"][7:]
            platform_file = tmp_path / "platform-rollup.csv"
            by_platform = await sextant(
                "report", "create", "rollup", "--tenants", f"{partner},{tenant}", *week,
                "--format", "csv", "--url", url, "--token", root, "-o", str(platform_file),
            )  # fmt: skip
            scoped_by_platform = await sextant(
                "report", "create", "dora", "--scope", scope, *week, "--url", url,
                "--token", root, "-o", str(tmp_path / "never-platform.pdf"),
            )  # fmt: skip

    assert wrote.exit_code == 0, wrote.output
    # an empty workspace: nothing merged without review, the header alone
    assert csv_file.read_bytes() == (
        b"repository,number,title,url,author_developer_id,opened_at,merged_at,reviews,finding\r\n"
    )
    assert pdf.exit_code == 0, pdf.output
    assert pdf_file.read_bytes().startswith(b"%PDF-")
    cover = pypdf.PdfReader(pdf_file).pages[0].extract_text()
    assert f"Tenant: Acme ({tenant})" in cover  # the gateway's name, read in-process
    assert sprints.exit_code == 0, sprints.output  # forecast read in-process too
    assert (tmp_path / "s.csv").read_bytes() == (
        b"name,state,starts_at,ends_at,closed_at,items,done,in_progress,todo,done_share\r\n"
    )
    assert refused.exit_code == 1
    assert "from must be on or before to" in refused.output
    assert not (tmp_path / "never.pdf").exists()
    assert scheduled.exit_code == 0, scheduled.output
    assert "next run" in scheduled.output
    assert listed.exit_code == 0, listed.output
    assert (
        schedule_id in listed.output and "monthly day 31 at 07:00 America/New_York" in listed.output
    )
    assert rescoped.exit_code == 0, rescoped.output
    assert f"schedule {schedule_id}: {scope}, 1 workspace(s), next run" in rescoped.output
    assert stopped.exit_code == 0, stopped.output
    assert again.exit_code == 1 and "no report schedule" in again.output
    assert by_member.exit_code == 1 and "role 'member' may not" in by_member.output
    assert granted.exit_code == 0, granted.output
    assert f"{partner} may include this tenant" in granted.output
    assert grants.exit_code == 0 and grant_id in grants.output, grants.output
    assert revoked.exit_code == 0 and f"revoked grant {grant_id}" in revoked.output
    assert rolled.exit_code == 0, rolled.output
    rollup_rows = rollup_file.read_text().splitlines()
    assert rollup_rows[0].startswith("tenant_id,tenant,metric,definition_id,count,")
    assert [r.split(",")[:3] for r in rollup_rows[1::6]] == [
        [str(partner), "Partner", "deployment_frequency"],
        [str(tenant), "Acme", "deployment_frequency"],
    ]
    assert ungranted.exit_code == 1 and f"tenant {tenant} has not granted" in ungranted.output
    assert not (tmp_path / "never.csv").exists()
    assert by_platform.exit_code == 0, by_platform.output
    assert [r.split(",")[:2] for r in platform_file.read_text().splitlines()[1::6]] == [
        [str(partner), "Partner"],
        [str(tenant), "Acme"],
    ]
    assert scoped_by_platform.exit_code == 1 and "platform admin" in scoped_by_platform.output
    assert not (tmp_path / "never-platform.pdf").exists()
    assert not_admin.exit_code == 1 and "role 'member' may not" in not_admin.output
    # forecast was asked on the member's behalf and said why it cannot answer yet
    assert forecast.exit_code == 1
    assert "no completed work items in this scope yet" in forecast.output
    # identity read in-process: no developers yet, the header alone
    assert trends_by_admin.exit_code == 0, trends_by_admin.output
    assert trends_file.read_bytes() == (
        b"developer_id,developer,window_weeks,flow_efficiency,metric,recent_median,"
        b"baseline_median,arrow,better\r\n"
    )
    # A member gets the developers insights' privacy rules show them: none here, and no
    # one is hidden, so the report is made (a refusal of everyone fails it: unit tested).
    assert trends_by_member.exit_code == 0, trends_by_member.output
    assert (tmp_path / "no.pdf").read_bytes().startswith(b"%PDF-")
