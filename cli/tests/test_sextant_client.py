"""`sextant workspace|source|status` over real HTTP against a running platform, and
`sextant keys generate`, whose output the settings classes must read as they are."""

from __future__ import annotations

import asyncio
import os
import shlex
import stat
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from typer.testing import CliRunner, Result

from sextant.cli import client
from sextant.cli.main import app
from sextant.cli.testing import Platform, running_platform, served_platform
from sextant.gateway.settings import GatewaySettings
from sextant.gateway.subscriptions import GATEWAY_KEYS
from sextant.ingest.sealing import secret_box
from sextant.ingest.settings import IngestSettings
from sextant.runtime.app import ServiceState
from sextant.runtime.sealing import SecretBox
from sextant.runtime.settings import RuntimeSettings
from sextant.runtime.testing.plugin import InternalKeys
from sextant.runtime.tokens import (
    InternalTokenSigner,
    InternalTokenVerifier,
    load_private_key,
    load_public_key,
)


def exported(stdout: str) -> dict[str, str]:
    """The variables of ``export NAME=value`` lines, as a shell's eval would set them."""
    values = {}
    for line in stdout.splitlines():
        name, value = shlex.split(line.removeprefix("export "))[0].split("=", 1)
        values[name] = value
    return values


async def sextant(*args: str) -> Result:
    """The command run as a user runs it; in a thread, so the platform keeps answering."""
    return await asyncio.to_thread(CliRunner().invoke, app, list(args))


def token(platform: Platform, role: str, tenant: UUID | None = None) -> str:
    return platform.headers(role, tenant)["Authorization"].removeprefix("Bearer ")  # type: ignore[arg-type]


async def test_workspaces_and_sources_from_the_command_line_page_through_every_page(
    database_url: str,
    internal_keys: InternalKeys,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(client, "PAGE_SIZE", 2)  # 5 workspaces come in 3 pages
    async with running_platform(database_url, internal_keys, tmp_path) as platform:
        tenant = await platform.tenant("Acme")
        admin = token(platform, "tenant_admin", tenant)
        async with served_platform(platform) as url:
            as_admin = ("--url", url, "--token", admin)
            made = [await sextant("workspace", "create", f"ws{n}", *as_admin) for n in range(5)]
            listed = await sextant("workspace", "list", *as_admin)
            source = await sextant(
                "source", "create", made[0].stdout.strip(), "github", "web", *as_admin
            )
            sources = await sextant("source", "list", made[0].stdout.strip(), *as_admin)
            refused = await sextant(
                "workspace",
                "create",
                "eng",
                "--url",
                url,
                "--token",
                token(platform, "platform_admin"),
            )
            missing = await sextant("source", "list", str(uuid4()), *as_admin)

    ids = [UUID(result.stdout.strip()) for result in made]  # each prints its id alone
    assert all(result.exit_code == 0 for result in made)
    assert listed.exit_code == 0, listed.output
    for n, ws in enumerate(ids):
        assert str(ws) in listed.stdout and f"ws{n}" in listed.stdout

    assert source.exit_code == 0, source.output
    values = exported(source.stdout)
    assert set(values) == {"SOURCE_ID", "WEBHOOK_URL", "SEXTANT_WEBHOOK_SECRET"}
    # The platform sets no public base URL: the one the command used completes the path.
    assert values["WEBHOOK_URL"] == f"{url}/v1/hooks/{values['SOURCE_ID']}"
    assert len(values["SEXTANT_WEBHOOK_SECRET"]) >= 32
    assert "Pull requests" in source.stderr and "Workflow runs" in source.stderr
    assert values["SOURCE_ID"] in sources.stdout
    assert values["SEXTANT_WEBHOOK_SECRET"] not in sources.stdout

    # A refusal prints the problem's title and detail, exit 1, no traceback.
    assert refused.exit_code == 1
    assert "403 Forbidden" in refused.stderr
    assert "sextant token create --role tenant_admin --tenant" in " ".join(refused.stderr.split())
    assert "Traceback" not in refused.output and isinstance(refused.exception, SystemExit)
    assert missing.exit_code == 1 and "404" in missing.stderr


async def test_status_is_a_table_of_checks_and_fails_when_one_fails(
    database_url: str, internal_keys: InternalKeys, tmp_path: Path
) -> None:
    async with (
        running_platform(database_url, internal_keys, tmp_path) as platform,
        served_platform(platform) as url,
    ):
        healthy = await sextant("status", "--url", url)
        identity: ServiceState = platform.apps["identity"].state.service
        assert identity.processor is not None
        await identity.processor.stop()
        identity.processor._stopping.clear()  # ended without being asked: a crash
        degraded = await sextant("status", "--url", url)
    assert healthy.exit_code == 0, healthy.output
    assert "outbox relay" in healthy.stdout and "migrations" in healthy.stdout
    assert "NO" not in healthy.stdout
    assert degraded.exit_code == 1
    assert "NO" in degraded.stdout and "stopped: events of" in degraded.stdout
    assert "degraded" in degraded.stderr


async def test_status_of_nothing_listening_is_one_line_and_exit_1() -> None:
    from sextant.runtime.embedded_pg import free_port

    result = await sextant("status", "--url", f"http://127.0.0.1:{free_port()}")
    assert result.exit_code == 1
    assert "did not answer (ConnectError)" in result.stderr
    assert "Traceback" not in result.output


def test_generated_keys_are_what_the_settings_read(tmp_path: Path) -> None:
    written = tmp_path / "keys.env"
    result = CliRunner().invoke(
        app, ["keys", "generate", "--output", str(written), "--sealing-key-id", "s1"]
    )
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(os.stat(written).st_mode) == 0o600

    runtime = RuntimeSettings(_env_file=written)  # type: ignore[call-arg]
    assert runtime.internal_token_private_key is not None
    assert runtime.internal_token_public_key is not None
    signer = InternalTokenSigner(
        load_private_key(runtime.internal_token_private_key.get_secret_value())
    )
    verifier = InternalTokenVerifier(load_public_key(runtime.internal_token_public_key), "ingest")
    minted = signer.mint(service="ingest", subject="gateway", role="system", tenant_id=None)
    assert verifier.verify(minted).sub == "gateway"

    ingest = IngestSettings(_env_file=written)  # type: ignore[call-arg]
    box = secret_box(ingest, tmp_path, shared=True)
    source = uuid4()
    sealed = box.seal("whsec_abc", source)
    assert sealed[2:4] == b"s1"  # sealed under the generated key's id
    assert box.open(sealed, source) == "whsec_abc"
    gateway = GatewaySettings(_env_file=written)  # type: ignore[call-arg]
    assert gateway.secret_keys is not None
    gateway_box = SecretBox.from_setting(
        None, tmp_path, shared=True, keys=gateway.secret_keys.get_secret_value(), names=GATEWAY_KEYS
    )
    assert gateway_box.open(gateway_box.seal("whsec_def", source), source) == "whsec_def"

    again = CliRunner().invoke(app, ["keys", "generate", "--output", str(written)])
    assert again.exit_code == 1 and "exists" in again.stderr  # never over the keys in use


async def test_a_server_that_is_not_sextant_gets_one_line_not_a_traceback() -> None:
    from fastapi import FastAPI

    from sextant.runtime.testing.apps import served

    elsewhere = FastAPI()

    @elsewhere.get("/v1/workspaces")
    async def not_a_page() -> list[str]:
        return ["web"]

    async with served(elsewhere) as url:
        result = await sextant("workspace", "list", "--url", url, "--token", "t")
    assert result.exit_code == 1
    assert "not a list" in result.stderr and "without `items`" in result.stderr
    assert "Traceback" not in result.output
