"""``sextant webhook send`` and ``sextant demo``: talk to a running gateway over HTTP.

main.py registers them (``app.add_typer``, ``app.command``); the signing lives in :mod:`sextant.cli.webhooks`
and the demo's steps in :mod:`sextant.cli.demo`.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from uuid import UUID

import httpx
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from sextant.cli.demo import (
    FORECAST_ITEMS,
    DemoFailed,
    DemoLoad,
    FirstForecast,
    create_demo_tenant,
    example_commands,
    first_forecast,
    post_history,
)
from sextant.cli.webhooks import KINDS, CannotInfer, Kind, deliver, infer_event, kind_of

if TYPE_CHECKING:
    from sextant.gateway.authn import LocalIssuer

console = Console(stderr=True)
DEFAULT_URL = "http://127.0.0.1:8080"
Url = Annotated[str, typer.Option(envvar="SEXTANT_URL", help="the gateway's base URL")]

webhook_app = typer.Typer(help="Send webhooks to a source, signed as the tool signs them.")


def _fail(message: str, code: int = 1) -> typer.Exit:
    console.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


@webhook_app.command("send")
def webhook_send(
    source: Annotated[str, typer.Argument(help="the source's id (from `sextant source list`)")],
    file: Annotated[Path, typer.Argument(help="the payload, a JSON file as the tool sends it")],
    secret: Annotated[
        str, typer.Option(envvar="SEXTANT_WEBHOOK_SECRET", help="the source's webhook secret")
    ],
    kind: Annotated[
        str | None,
        typer.Option(help="github, gitlab, jira or generic [default: from the payload's shape]"),
    ] = None,
    event: Annotated[
        str | None,
        typer.Option(help="the event header (X-GitHub-Event, X-Gitlab-Event) [default: inferred]"),
    ] = None,
    delivery: Annotated[
        str | None, typer.Option(help="the delivery id [default: a new UUID]")
    ] = None,
    url: Url = DEFAULT_URL,
) -> None:
    """Sign FILE as the tool would and POST it to the source's webhook URL; print the
    gateway's answer (status and receipt or problem detail). Exit 1 unless accepted."""
    try:
        body = file.read_bytes()
        payload = json.loads(body)
    except OSError as exc:
        raise _fail(f"cannot read {file}: {exc.strerror}") from None
    except ValueError:
        raise _fail(f"{file} is not JSON") from None
    tool: Kind = kind_of(payload)
    if kind is not None:
        if kind not in KINDS:
            raise typer.BadParameter(f"--kind must be one of: {', '.join(KINDS)}")
        tool = KINDS[KINDS.index(kind)]
    try:
        event = event or infer_event(tool, payload)
    except CannotInfer as exc:
        raise _fail(str(exc), 2) from None

    async def send() -> int:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            reply = await deliver(
                client, source, tool, secret, body, event=event, delivery=delivery
            )
        print(reply.describe())
        if isinstance(reply.body, dict):
            print(json.dumps(reply.body, indent=2))
        return 0 if reply.accepted else 1

    shown = f"{tool}" + (f" {event!r}" if event else "")
    console.print(f"sending {escape(file.name)} as {escape(shown)} to {escape(url)}")
    try:
        code = asyncio.run(send())
    except httpx.HTTPError as exc:
        raise _fail(f"{url}: {exc}") from None
    raise typer.Exit(code)


def _issuer(data_dir: Path) -> LocalIssuer:
    """The local issuer of the `sextant run` on ``data_dir`` (never made here: a new key
    would sign tokens that gateway does not know)."""
    from sextant.gateway.authn import LocalIssuer

    path = data_dir / "keys" / "local-issuer.key"
    if not path.is_file():
        raise _fail(
            f"no local issuer key at {path}: run `sextant demo` with the data folder of the "
            "`sextant run` (`make run`) it talks to (--data-dir)"
        )
    return LocalIssuer.from_pem(path.read_text())


def demo(
    url: Url = DEFAULT_URL,
    data_dir: Annotated[
        Path, typer.Option(help="the data folder of the `sextant run`: its key signs the tokens")
    ] = Path(".data"),
    token: Annotated[
        str | None,
        typer.Option(
            envvar="SEXTANT_TOKEN",
            help="a platform-admin token (as `make run` prints) [default: made from --data-dir]",
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="the same seed and moment give the same history")] = 0,
    weeks: Annotated[int, typer.Option(min=2, max=104, help="weeks of history, ending now")] = 12,
    team: Annotated[int, typer.Option(min=1, max=12, help="people in the team")] = 8,
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="deliveries in flight")] = 16,
    rate: Annotated[
        float,
        typer.Option(
            min=1, help="deliveries a second per source (the gateway allows 100 by default)"
        ),
    ] = 60.0,
    wait: Annotated[
        int,
        typer.Option(min=0, help="seconds to wait for the first forecast after loading (0: no)"),
    ] = 120,
) -> None:
    """Create a demo tenant (a new one each run) with a workspace, a Jira and a GitHub
    source, and post weeks of a team's work to them as signed webhooks: issues in sprints,
    pull requests, CI runs and deployments, a few stale items. Then wait for the first
    forecast and print the workspace, a tenant-admin token and commands to try."""
    from sextant.cli.demo_data import generate

    data_dir = data_dir.resolve()
    issuer = _issuer(data_dir)
    admin_token = token or issuer.mint(
        subject="demo@local", role="platform_admin", tenant_id=None, ttl_seconds=600
    )

    def tenant_admin(tenant: UUID) -> str:
        return issuer.mint(
            subject="demo-admin@local", role="tenant_admin", tenant_id=tenant, ttl_seconds=12 * 3600
        )

    now = datetime.now(UTC)
    history = generate(now, seed=seed, weeks=weeks, team_size=team)
    total = sum(len(thread) for thread in history.threads)
    name = f"Demo {now:%Y-%m-%d %H:%M:%S} (seed {seed})"

    async def load() -> tuple[DemoLoad, FirstForecast | None]:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            made = await create_demo_tenant(client, admin_token, tenant_admin, name)
            console.print(
                f"tenant {made.tenant_id}, workspace {made.workspace_id}: posting {total} "
                f"webhooks ({history.count('jira')} Jira, {history.count('github')} GitHub), "
                f"{weeks} weeks of {team} people"
            )
            watch = asyncio.create_task(first_forecast(client, made, FORECAST_ITEMS))
            try:
                with Progress(
                    "{task.description}",
                    BarColumn(),
                    MofNCompleteColumn(),
                    TimeElapsedColumn(),
                    console=console,
                ) as bar:
                    task = bar.add_task("webhooks", total=total)
                    await post_history(
                        client,
                        made,
                        history,
                        concurrency=concurrency,
                        rate_per_source=rate,
                        progress=lambda n: bar.advance(task, n),
                    )
                if not watch.done() and wait:
                    with console.status("waiting for the first forecast"):
                        await asyncio.wait({watch}, timeout=wait)
                forecast = watch.result() if watch.done() else None
                if forecast is not None:  # the latest, with everything posted
                    latest = await first_forecast(client, made, FORECAST_ITEMS)
                    forecast = FirstForecast(latest.reply, forecast.seconds)
            finally:
                watch.cancel()
            return made, forecast

    try:
        made, forecast = asyncio.run(load())
    except DemoFailed as exc:
        raise _fail(str(exc)) from None
    except httpx.HTTPError as exc:
        raise _fail(f"{url}: {exc!r}; is `sextant run` (`make run`) running there?") from None
    rate_seen = made.accepted / made.seconds if made.seconds else 0.0
    console.print(
        f"{made.accepted} webhooks accepted in {made.seconds:.1f} s ({rate_seen:.0f}/s), "
        f"{len(made.refused)} refused or not normalized, {made.retries} retried after 429"
    )
    for delivery, reply in made.refused[:5]:
        console.print(
            f"  refused {delivery.source} {delivery.event or ''}: {escape(reply.describe())}"
        )
    if forecast is not None:
        chances = {p: d or "beyond two years" for p, d in forecast.reply["percentiles"].items()}
        console.print(
            f"first forecast {forecast.seconds:.1f} s after the first webhook; now: "
            f"{FORECAST_ITEMS} items done by {chances['50']} (50 %) to {chances['95']} (95 %)"
        )
    elif wait:
        console.print("[yellow]no forecast yet[/yellow]: the pipeline is still projecting")
    print(f"SEXTANT_WORKSPACE={made.workspace_id}")
    print(f"SEXTANT_TENANT_TOKEN={made.tenant_admin_token}")
    print("# try (after exporting the two lines above):", file=sys.stdout)
    for line in example_commands(url, made):
        print(line.replace(str(made.workspace_id), "$SEXTANT_WORKSPACE"))
    raise typer.Exit(1 if made.refused else 0)
