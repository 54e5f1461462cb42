"""``sextant report create``: ask the gateway for a report, show its progress, save the file.

The same calls any client makes: ``POST /v1/reports?scope=…`` (202 and a Location), then
``GET`` that location until the job is done or failed, then its ``/file``, streamed to
disk. A failed report prints the reason the service gave and how to retry it; exit 1."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

from sextant.cli.client import (
    TOKEN,
    URL,
    Api,
    ApiProblem,
    _fail,
    _listed,
    _table,
    console,
    problem_of,
)

report_app = typer.Typer(
    help="Reports (PDF or CSV), rendered by the platform.", no_args_is_help=True
)

POLL_SECONDS = 0.5
OUTPUT = typer.Option(..., "-o", "--output", help="where to write the file")


def wait_for(api: Api, location: str, timeout: float, show: bool) -> dict[str, Any]:
    """Follow a report until it is done or failed, drawing its progress."""
    deadline = time.monotonic() + timeout
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        console=console,
        disable=not show,
        transient=True,
    ) as progress:
        bar = progress.add_task("queued", total=100)
        while True:
            view: dict[str, Any] = api.call("GET", location).json()
            progress.update(bar, completed=view["progress"], description=view["step"])
            if view["status"] in ("done", "failed"):
                return view
            if time.monotonic() > deadline:
                raise ApiProblem(
                    "still rendering",
                    f"{location} is {view['status']} at {view['progress']} % after "
                    f"{timeout:g} s; follow it with GET {location}",
                )
            time.sleep(POLL_SECONDS)


@report_app.command("create")
def report_create(
    kind: str = typer.Argument(
        help="dora, compliance, sprint, forecast, developer-trends or rollup"
    ),
    scope: str | None = typer.Option(
        None, "--scope", help="workspace:<id> or view:<id> (every kind but rollup)"
    ),
    first: str = typer.Option(..., "--from", help="first day, YYYY-MM-DD (included)"),
    last: str = typer.Option(..., "--to", help="last day, YYYY-MM-DD (included)"),
    output: Path = OUTPUT,
    format: str = typer.Option("pdf", "--format", help="pdf or csv"),
    time_zone: str = typer.Option("UTC", "--time-zone", help="IANA zone the days are in"),
    timeout: float = typer.Option(600.0, "--timeout", help="seconds to wait for the file"),
    items: int | None = typer.Option(
        None, "--items", help="forecast: also forecast when this many items will be done"
    ),
    tenants: str | None = typer.Option(
        None, "--tenants", help="rollup: the tenant ids side by side, comma-separated (2 to 20)"
    ),
    definition: str | None = typer.Option(
        None, "--definition", help="rollup: the DORA definition (default dora-2024)"
    ),
    url: str = URL,
    token: str = TOKEN,
) -> None:
    """Ask for a report, show its progress, and write its file to OUTPUT."""
    api = Api.connect(url, token)
    body: dict[str, Any] = {
        "kind": kind,
        "from": first,
        "to": last,
        "format": format,
        "time_zone": time_zone,
    }
    if items is not None:
        body["items"] = items
    if tenants is not None:
        body["tenants"] = [t.strip() for t in tenants.split(",") if t.strip()]
    if definition is not None:
        body["definition"] = definition
    params = {} if scope is None else {"scope": scope}
    try:
        asked = api.call("POST", "/v1/reports", json=body, params=params)
        location = asked.headers.get("Location") or f"/v1/reports/{asked.json()['id']}"
        view = wait_for(api, location, timeout, show=console.is_terminal)
        if view["status"] == "failed":
            raise ApiProblem(
                "report failed",
                f"{view['reason']}\nretry: POST /v1/reports/{view['id']}/retry",
            )
        with api.http.stream("GET", view["file"]) as reply:
            if reply.status_code != 200:
                reply.read()
                raise problem_of(reply)
            with output.open("wb") as file:
                for chunk in reply.iter_bytes():
                    file.write(chunk)
    except ApiProblem as problem:
        raise _fail(problem) from None
    console.print(f"wrote {output} ({view['size_bytes']} bytes, sha256 {view['sha256']})")


schedule_app = typer.Typer(
    help="Report schedules: reports produced on their own, weekly or monthly.",
    no_args_is_help=True,
)
report_app.add_typer(schedule_app, name="schedule")
NOTIFY = typer.Option(
    ["tenant_admin", "manager"], "--notify", help="a role told when a report is ready (repeat)"
)


@schedule_app.command("create")
def schedule_create(
    kind: str = typer.Argument(help="dora, compliance or sprint"),
    scope: str = typer.Option(..., "--scope", help="workspace:<id> or view:<id>"),
    every: str = typer.Option(..., "--every", help="weekly or monthly"),
    day: int = typer.Option(
        ..., "--day", help="weekly: 1 (Monday) to 7 (Sunday); monthly: 1 to 31"
    ),
    at: str = typer.Option(..., "--at", help="local time of the run, HH:MM"),
    time_zone: str = typer.Option("UTC", "--time-zone", help="IANA zone of --day and --at"),
    format: str = typer.Option("pdf", "--format", help="pdf or csv"),
    notify: list[str] = NOTIFY,
    url: str = URL,
    token: str = TOKEN,
) -> None:
    """Schedule a report; prints its id and first run (UTC)."""
    api = Api.connect(url, token)
    body = {
        "kind": kind,
        "format": format,
        "every": every,
        "day": day,
        "at": at,
        "time_zone": time_zone,
        "notify": notify,
    }
    try:
        made = api.call("POST", "/v1/report-schedules", json=body, params={"scope": scope}).json()
    except ApiProblem as problem:
        raise _fail(problem) from None
    console.print(f"schedule {made['id']}: next run {made['next_run_at']}", highlight=False)


@schedule_app.command("list")
def schedule_list(url: str = URL, token: str = TOKEN) -> None:
    """The tenant's schedules: id, kind, scope, cadence and next run (or since when paused)."""
    api = Api.connect(url, token)
    try:
        for s in api.pages("/v1/report-schedules"):
            paused = s.get("paused_at")  # a purge left its scope no workspace
            runs = f"paused since {paused}" if paused else f"next {s['next_run_at']}"
            console.print(
                f"{s['id']}  {s['kind']} {s['format']}  {s['scope']}  {s['every']} day "
                f"{s['day']} at {s['at'][:5]} {s['time_zone']}  {runs}",
                highlight=False,
                soft_wrap=True,
            )
    except ApiProblem as problem:
        raise _fail(problem) from None


@schedule_app.command("rescope")
def schedule_rescope(
    schedule_id: str = typer.Argument(help="the schedule's id"),
    scope: str = typer.Option(..., "--scope", help="workspace:<id> or view:<id>"),
    url: str = URL,
    token: str = TOKEN,
) -> None:
    """Give a schedule the workspaces a scope covers now; one a purge paused runs again."""
    api = Api.connect(url, token)
    try:
        made = api.call(
            "PATCH", f"/v1/report-schedules/{schedule_id}", params={"scope": scope}
        ).json()
    except ApiProblem as problem:
        raise _fail(problem) from None
    console.print(
        f"schedule {made['id']}: {made['scope']}, {len(made['scope_workspaces'])} "
        f"workspace(s), next run {made['next_run_at']}",
        highlight=False,
        soft_wrap=True,
    )


@schedule_app.command("delete")
def schedule_delete(
    schedule_id: str = typer.Argument(help="the schedule's id"),
    url: str = URL,
    token: str = TOKEN,
) -> None:
    """Stop a schedule (the reports it produced stay)."""
    api = Api.connect(url, token)
    try:
        api.call("DELETE", f"/v1/report-schedules/{schedule_id}")
    except ApiProblem as problem:
        raise _fail(problem) from None
    console.print(f"deleted schedule {schedule_id}", highlight=False)


grants_app = typer.Typer(
    help="Roll-up grants: the tenants this tenant lets include it in their cross-tenant "
    "roll-ups (a tenant admin's token).",
    no_args_is_help=True,
)


@grants_app.command("create")
def grant_create(
    grantee: str = typer.Argument(help="the tenant id granted (a partner's own tenant)"),
    url: str = URL,
    token: str = TOKEN,
) -> None:
    """Let GRANTEE include the token's tenant in its roll-ups; prints the grant's id."""
    body = {"grantee_tenant_id": grantee}
    try:
        made = Api.connect(url, token).call("POST", "/v1/rollup-grants", json=body).json()
    except ApiProblem as problem:
        raise _fail(problem) from None
    console.print(
        f"grant {made['id']}: {made['grantee_tenant_id']} may include this tenant",
        highlight=False,
        soft_wrap=True,
    )


@grants_app.command("list")
def grant_list(url: str = URL, token: str = TOKEN) -> None:
    """The token's tenant's grants: id, grantee, who granted, when."""
    try:
        found = _listed(Api.connect(url, token), "/v1/rollup-grants", "grants")
    except ApiProblem as problem:
        raise _fail(problem) from None
    table = _table("id", "grantee tenant", "granted by", "at")
    for g in found:
        table.add_row(g["id"], g["grantee_tenant_id"], g["granted_by"], g["created_at"])
    Console().print(table)


@grants_app.command("delete")
def grant_delete(
    grant_id: str = typer.Argument(help="the grant's id"),
    url: str = URL,
    token: str = TOKEN,
) -> None:
    """Revoke a grant: its grantee may no longer include this tenant."""
    try:
        Api.connect(url, token).call("DELETE", f"/v1/rollup-grants/{grant_id}")
    except ApiProblem as problem:
        raise _fail(problem) from None
    console.print(f"revoked grant {grant_id}", highlight=False)
