"""The ``sextant`` command."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from sextant.cli import client, gate, reports, subscriptions

if TYPE_CHECKING:
    from sextant.cli.embedded import Ready

# Commands import the platform (every service, the embedded PostgreSQL) only when they run
# it: the everyday client commands (status, webhook send, demo...) start in a second, not 5.

app = typer.Typer(
    help="Sextant: engineering intelligence. `sextant run` starts everything.", no_args_is_help=True
)
console = Console(stderr=True)
T = TypeVar("T")


@app.command()
def run(
    host: str = typer.Option("127.0.0.1", help="address the gateway listens on"),
    port: int = typer.Option(8080, help="port the gateway listens on"),
    data_dir: Path = typer.Option(Path(".data"), help="embedded PostgreSQL, keys and objects"),
) -> None:
    """Run the whole platform in one process (the embedded mode); one run per data folder."""
    from sextant.cli.embedded import (
        CannotStart,
        StartupInterrupted,
        claim_data_folder,
        gateway_socket,
        run_embedded,
    )
    from sextant.runtime.embedded_pg import PostgresUnavailable

    def announce(ready: Ready) -> None:
        console.print(
            Panel.fit(
                f"[bold]Sextant is running[/bold] at {ready.url}\n"
                f"data:     {ready.data_dir}\n"
                f"database: {ready.database}\n\n"
                f"portal:   {ready.url}/ (open the one-time sign-in link below)\n"
                f"try:      curl {ready.url}/v1/status\n"
                "stop:     Ctrl-C\n\n"
                "a platform-admin token (12 h) follows; `sextant token create` makes others",
                title="sextant run",
            )
        )
        # Outside the panel, unwrapped, so it copies whole.
        print(f"SEXTANT_TOKEN={ready.admin_token}", file=sys.stderr, flush=True)
        print(f"SEXTANT_SIGN_IN_URL={ready.sign_in_url}", file=sys.stderr, flush=True)

    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        with (
            claim_data_folder(data_dir, f"http://{host}:{port}"),
            gateway_socket(host, port) as listener,
        ):
            asyncio.run(run_embedded(listener, data_dir, announce))
    except (CannotStart, PostgresUnavailable) as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    except StartupInterrupted:
        console.print("stopped during start-up")
        return
    console.print("stopped")


@app.command()
def serve(
    service: str = typer.Argument(..., help="a service, as `sextant services` lists them"),
    host: str = typer.Option("0.0.0.0", help="address to listen on"),  # noqa: S104 - a pod's port
    port: int = typer.Option(8000, help="port to listen on"),
) -> None:
    """Run one service alone (the distributed mode); settings come from the environment."""
    import uvicorn

    from sextant.cli.services import app_for

    # No access log: at the warning level it is never shown, yet each request would still
    # build its line's arguments; the runtime's request metrics cover it.
    try:
        service_app = app_for(service)
    except ValueError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    uvicorn.run(
        service_app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
    )


@app.command()
def migrate(
    services: list[str] = typer.Argument(None, help="services to migrate (default: all)"),
) -> None:
    """Bring the services' schemas up to date, as the database owner, and exit."""
    from sextant.cli.services import SERVICE_NAMES, spec_for
    from sextant.runtime.db import Database
    from sextant.runtime.migrations import migrate as migrate_schema
    from sextant.runtime.settings import RuntimeSettings

    settings = RuntimeSettings()
    if not settings.database_url:
        raise typer.BadParameter("set DATABASE_URL (the owner's connection)")

    async def migrate_all() -> None:
        for name in services or SERVICE_NAMES:
            spec = spec_for(name)
            db = Database(
                settings.database_url or "",
                spec.schema,
                app_password=settings.app_role_password.get_secret_value(),
            )
            await migrate_schema(db, spec.migrations_dir, spec.metadata)
            console.print(f"migrated [bold]{name}[/bold] (schema {spec.schema})")

    asyncio.run(migrate_all())


@app.command("services")
def list_services() -> None:
    """List the services, their schemas and the topics they consume."""
    from sextant.cli.services import SERVICE_NAMES, spec_for

    table = Table("service", "schema", "consumes")
    for name in SERVICE_NAMES:
        spec = spec_for(name)
        table.add_row(name, spec.schema, ", ".join(sorted(spec.handlers)) or "-")
    Console().print(table)


@app.command("settings")
def settings_reference(
    output: Path = typer.Option(None, help="write the page here (docs/settings.md)"),
) -> None:
    """Print the settings reference: every setting of every service, with its variable,
    default and meaning, generated from the settings classes (docs/settings.md)."""
    from sextant.cli.settings_reference import MissingDescription, render

    try:
        page = render()
    except MissingDescription as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(1) from None
    if output is None:
        print(page, end="")
        return
    output.write_text(page, encoding="utf-8")
    console.print(f"wrote {output}")


@app.command("openapi")
def openapi_document(
    output: Path = typer.Option(None, help="write the document here (web/openapi.json)"),
) -> None:
    """Print the public API's OpenAPI document (the gateway's /openapi.json), built without
    a running platform; the web portal's API types are generated from web/openapi.json."""
    from sextant.cli.openapi_document import public_document, render

    text = render(asyncio.run(public_document()))
    if output is None:
        print(text, end="")
        return
    output.write_text(text, encoding="utf-8")
    console.print(f"wrote {output}")


topics_app = typer.Typer(help="Kafka topics of a distributed deployment.")
app.add_typer(topics_app, name="topics")


@topics_app.command("create")
def topics_create(
    partitions: int = typer.Option(
        None, min=1, help="partitions of every topic and DLQ [default: SEXTANT_KAFKA_PARTITIONS]"
    ),
    replication_factor: int = typer.Option(
        None, min=1, help="copies of each partition [default: SEXTANT_KAFKA_REPLICATION_FACTOR]"
    ),
) -> None:
    """Create every registered topic and DLQ that is missing, with its partitions, on
    KAFKA_BOOTSTRAP_SERVERS; idempotent. Exit 1 naming any topic with too few partitions
    (they are never added here: keys would move)."""
    from aiokafka.errors import KafkaError

    from sextant.runtime.settings import RuntimeSettings
    from sextant.runtime.topics import reconcile, registry_plan

    settings = RuntimeSettings()
    if not settings.kafka_bootstrap_servers:
        raise typer.BadParameter("set KAFKA_BOOTSTRAP_SERVERS")
    plans = registry_plan(
        partitions or settings.kafka_partitions,
        replication_factor or settings.kafka_replication_factor,
    )
    try:
        outcomes = asyncio.run(
            reconcile(
                settings.kafka_bootstrap_servers,
                plans,
                create=True,
                client_options=settings.kafka_client_options(),
            )
        )
    except KafkaError as exc:
        console.print(f"[red]error:[/red] Kafka at {settings.kafka_bootstrap_servers}: {exc}")
        raise typer.Exit(1) from None
    for outcome in outcomes:
        found = "-" if outcome.partitions is None else outcome.partitions
        print(f"{outcome.status:<18} {outcome.plan.name:<34} {found} partitions")
    failed = [o for o in outcomes if not o.ok]
    for outcome in failed:
        console.print(f"[red]error:[/red] {escape(outcome.describe())}", soft_wrap=True)
    raise typer.Exit(1 if failed else 0)


tenant_app = typer.Typer(help="Tenants of the embedded stack (or DATABASE_URL's).")
token_app = typer.Typer(help="Bearer tokens from the built-in local issuer.")
app.add_typer(tenant_app, name="tenant")
app.add_typer(token_app, name="token")
DATA_DIR = typer.Option(Path(".data"), help="the data folder `sextant run` uses")


def _admin(command: Coroutine[Any, Any, T]) -> T:
    """Run an admin command; a data folder it cannot use now is an error line, exit 1."""
    from sextant.cli.embedded import CannotStart

    try:
        return asyncio.run(command)
    except CannotStart as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None


@tenant_app.command("create")
def tenant_create(
    name: str = typer.Argument(..., help="the tenant's name"), data_dir: Path = DATA_DIR
) -> None:
    """Create a tenant and print its id."""
    from sextant.cli.admin import create_tenant

    if not name.strip():
        raise typer.BadParameter("the name must not be empty")
    print(_admin(create_tenant(data_dir.resolve(), name.strip())))


@token_app.command("create")
def token_create(
    role: str = typer.Option(..., help="platform_admin, tenant_admin, manager, member or partner"),
    tenant: str = typer.Option(None, help="the tenant id (every role but platform_admin)"),
    subject: str = typer.Option("cli@local", help="who the token names"),
    ttl: int = typer.Option(3600, min=60, max=7 * 86400, help="lifetime in seconds"),
    data_dir: Path = DATA_DIR,
) -> None:
    """Print a bearer token for the gateway."""
    from uuid import UUID

    from sextant.cli.admin import create_token
    from sextant.gateway.authn import ROLES

    if role not in ROLES:
        raise typer.BadParameter(f"role must be one of: {', '.join(ROLES)}")
    try:
        tenant_id = UUID(tenant) if tenant else None
    except ValueError:
        raise typer.BadParameter(f"{tenant!r} is not a tenant id") from None
    try:
        token = _admin(create_token(data_dir.resolve(), tenant_id, role, subject, ttl))
    except ValueError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    print(token)


audit_app = typer.Typer(help="The hash-chained audit log.")
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def audit_verify(data_dir: Path = DATA_DIR) -> None:
    """Recompute every tenant's audit chain (from its checkpoint once its oldest rows were
    purged); exit 1 naming the first bad row of any."""
    from sextant.cli.admin import verify_audit

    results = _admin(verify_audit(data_dir.resolve()))
    table = Table("tenant", "rows", "verdict")
    failed = False
    for tenant, rows, broken, start in results:
        verdict = "intact" if broken is None else f"row {broken.seq}: {broken.reason}"
        if start is not None:
            verdict += f" (verified from checkpoint {start.seq}; {start.purged} purged)"
        failed = failed or broken is not None
        table.add_row(str(tenant), str(rows), verdict)
    Console().print(table)
    raise typer.Exit(1 if failed else 0)


ingest_app = typer.Typer(help="Ingest's stored source secrets.")
app.add_typer(ingest_app, name="ingest")


@ingest_app.command("reseal")
def ingest_reseal(
    batch_size: int = typer.Option(200, min=1, max=10_000, help="sources per transaction"),
    data_dir: Path = DATA_DIR,
) -> None:
    """Seal every source's secret and credentials again with the current key (the first
    of SEXTANT_INGEST_SECRET_KEYS); once it finishes, old keys can be removed. Safe to run
    again: what is already under the current key is left alone."""
    from sextant.cli.admin import reseal_ingest_secrets
    from sextant.ingest.reseal import ResealProgress

    def report(done: ResealProgress) -> None:
        console.print(f"{done.sources} sources looked at, {done.resealed} values re-sealed")

    try:
        done = _admin(reseal_ingest_secrets(data_dir.resolve(), batch_size, report))
    except ValueError as exc:  # a key setting that does not parse, or a key not configured
        console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    print(f"done: {done.sources} sources, {done.resealed} values re-sealed")


app.add_typer(client.workspace_app, name="workspace")
app.add_typer(client.source_app, name="source")
app.add_typer(client.keys_app, name="keys")
app.add_typer(client.archive_app, name="archive")
app.add_typer(reports.report_app, name="report")
app.add_typer(reports.grants_app, name="rollup-grants")
app.command("status")(client.status)
app.add_typer(gate.gate_app, name="gate")
app.add_typer(subscriptions.subscriptions_app, name="subscriptions")


@app.command()
def backtest(
    files: list[Path] = typer.Argument(
        ..., help="weekly-throughput CSVs (a week_start,count header, one row per week)"
    ),
) -> None:
    """Show how well Monte Carlo "how many" and "when" forecasts held on weekly throughput files."""
    from sextant.forecast.backtest import main as backtest_main

    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise typer.BadParameter(f"no such file: {', '.join(missing)}")
    raise typer.Exit(backtest_main([str(f) for f in files]))


def _register_gateway_clients() -> None:
    """`sextant webhook send` and `sextant demo` (they talk to a running gateway)."""
    from sextant.cli.demo_commands import demo, webhook_app

    app.add_typer(webhook_app, name="webhook")
    app.command("demo")(demo)


_register_gateway_clients()
