"""The README's walk-through, step by step, as a newcomer pastes it: a running platform
(`make run`), a tenant made with the platform admin's token, a tenant admin's token
(`sextant token create`), a workspace and a Jira source (`sextant workspace|source
create`), the walk-through's three webhooks signed as Jira signs them, then the developer
they name and a forecast of the workspace's `scope=`. The CLI's commands run in-process
over real HTTP to the platform's gateway on a loopback port."""

from __future__ import annotations

import asyncio
import importlib.util
import runpy
import shlex
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any
from uuid import UUID

import httpx
from typer.testing import CliRunner, Result

from sextant.cli.main import app
from sextant.cli.testing import eventually, running_platform, served_platform
from sextant.runtime.testing.plugin import InternalKeys

ROOT = Path(__file__).resolve().parents[2]


def ingest_signing() -> ModuleType:
    """Ingest's test helper that signs a body as each tool does (`sextant webhook send`
    does the same on the demo branch)."""
    path = ROOT / "services/ingest/tests/fixtures/signing.py"
    spec = importlib.util.spec_from_file_location("ingest_signing", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def sextant(*args: str, env: dict[str, str] | None = None) -> Result:
    """One `sextant` command; in a thread, so the platform keeps answering meanwhile."""
    result = await asyncio.to_thread(CliRunner().invoke, app, list(args), env=env)
    assert result.exit_code == 0, f"sextant {' '.join(args)}: {result.output}"
    return result


def exported(stdout: str) -> dict[str, str]:
    return dict(
        shlex.split(line.removeprefix("export "))[0].split("=", 1) for line in stdout.splitlines()
    )


async def test_the_readme_walkthrough_ends_in_a_forecast(
    database_url: str, internal_keys: InternalKeys, tmp_path: Path
) -> None:
    sign = ingest_signing().sign
    async with (
        running_platform(database_url, internal_keys, tmp_path) as platform,
        served_platform(platform) as url,
        httpx.AsyncClient(base_url=url) as curl,
    ):
        # make run: healthy, and its platform-admin token.
        await sextant("status", "--url", url)
        admin = platform.admin

        # A tenant, as platform admin.
        created = await curl.post("/v1/tenants", json={"name": "acme"}, headers=admin)
        assert created.status_code == 201, created.text
        tenant = created.json()["id"]

        # A tenant admin's token, from the same local issuer (the run's data folder).
        token = (
            await sextant(
                "token", "create", "--role", "tenant_admin", "--tenant", tenant,
                "--data-dir", str(tmp_path), env={"DATABASE_URL": database_url},
            )
        ).stdout.strip()  # fmt: skip
        env = {"SEXTANT_URL": url, "SEXTANT_TOKEN": token}

        # A workspace and a Jira source in it.
        workspace = UUID((await sextant("workspace", "create", "eng", env=env)).stdout.strip())
        source = exported(
            (await sextant("source", "create", str(workspace), "jira", "ENG", env=env)).stdout
        )

        # The walk-through's webhooks, signed as Jira signs them.
        files = runpy.run_path(str(ROOT / "docs/walkthrough/jira_issue.py"))["main"](
            tmp_path / "walkthrough"
        )
        assert [f.name for f in files] == ["1-created.json", "2-started.json", "3-done.json"]
        for n, file in enumerate(files):
            body = file.read_bytes()
            headers = sign("jira", source["SEXTANT_WEBHOOK_SECRET"], body, delivery=f"walk-{n}")
            reply = await curl.post(
                f"/v1/hooks/{source['SOURCE_ID']}",
                content=body,
                headers={**headers, "content-type": "application/json"},
            )
            assert reply.status_code == 202, reply.text
            assert reply.json()["outcome"] == "normalized", reply.text

        # Developers, then a forecast of the workspace.
        bearer = {"Authorization": f"Bearer {token}"}
        scope = {"scope": f"workspace:{workspace}"}

        async def done_once() -> dict[str, Any] | None:
            reply = await curl.get("/v1/forecasts/history", params=scope, headers=bearer)
            history: dict[str, Any] = reply.json()
            return history if reply.status_code == 200 and sum(history["throughput"]) == 1 else None

        await eventually(done_once)
        developers = (await curl.get("/v1/developers", headers=bearer)).json()
        until = (datetime.now(UTC).date() + timedelta(weeks=4)).isoformat()
        forecast = await curl.get(
            "/v1/forecasts/how-many", params={**scope, "until": until}, headers=bearer
        )
        sources = await sextant("source", "list", str(workspace), env=env)

    assert [d["display_name"] for d in developers["items"]] == ["Ada Lovelace"]
    assert forecast.status_code == 200, forecast.text
    assert forecast.json()["inputs"]["scope"] == scope["scope"]
    assert source["SOURCE_ID"] in sources.stdout
