"""Everyday commands over the gateway's REST API: ``sextant workspace``, ``sextant
source``, ``sextant status``, ``sextant archive verify`` — and ``sextant keys generate`` for a distributed deployment.

They talk HTTP to ``--url`` (``SEXTANT_URL``) with ``--token`` (``SEXTANT_TOKEN``), as any
client would: a problem+json answer prints its title and detail and exits 1, never a
traceback; lists follow ``next_cursor`` to the last page."""

from __future__ import annotations

import base64
import os
import secrets
import shlex
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

DEFAULT_URL = "http://127.0.0.1:8080"
PAGE_SIZE = 200

console = Console(stderr=True)

URL = typer.Option(DEFAULT_URL, "--url", envvar="SEXTANT_URL", help="the gateway's address")
TOKEN = typer.Option(
    None,
    "--token",
    envvar="SEXTANT_TOKEN",
    help="a bearer token (or an API key)",
    show_default=False,
)

# What to tick in each tool's webhook settings: the events ingest reads (its normalizers'
# handlers); anything else is stored and answered "ignored".
EVENTS_TO_TICK: dict[str, str] = {
    "github": "Pull requests, Pull request reviews, Pushes, Issues, Deployment statuses, "
    "Workflow runs (content type application/json)",
    "gitlab": "Push events, Issues events (and confidential), Merge request events, "
    "Pipeline events, Deployment events",
    "jira": "Issue: created, updated, deleted; Sprint: started, closed",
    "generic": "sign each delivery with Standard Webhooks headers (webhook-id, "
    "webhook-timestamp, webhook-signature) using the secret",
}
SECRET_GOES: dict[str, str] = {
    "github": "the webhook's Secret",
    "gitlab": "the webhook's Secret token",
    "jira": "the webhook's Secret",
    "generic": "your sender's signing key",
}


class ApiProblem(Exception):
    """An answer the command cannot go on from: the API's problem, or no answer at all."""

    def __init__(self, title: str, detail: str) -> None:
        super().__init__(f"{title}: {detail}")
        self.title, self.detail = title, detail


@dataclass
class Api:
    """The gateway's public API as one caller sees it."""

    http: httpx.Client

    @classmethod
    def connect(cls, url: str, token: str | None) -> Api:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return cls(httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=30))

    def call(
        self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None
    ) -> httpx.Response:
        """The answer to one call; a refusal (4xx/5xx) raises :class:`ApiProblem`."""
        try:
            reply = self.http.request(method, path, json=json, params=params)
        except httpx.HTTPError as exc:
            raise ApiProblem(
                "no answer",
                f"{self.http.base_url} did not answer ({type(exc).__name__}): is "
                "`sextant run` running there? (--url or SEXTANT_URL)",
            ) from None
        if reply.status_code >= 400:
            raise problem_of(reply)
        return reply

    def pages(self, path: str, params: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """Every item of a list, page after page, following ``next_cursor`` to its end."""
        query = {**(params or {}), "limit": PAGE_SIZE}
        while True:
            reply = self.call("GET", path, params=query)
            try:
                page = reply.json()
                items = page["items"]
            except (ValueError, KeyError, TypeError):
                raise ApiProblem(
                    "not a list", f"{reply.url} answered {reply.status_code} without `items`"
                ) from None
            yield from items
            cursor = page.get("next_cursor")
            if not cursor:
                return
            query["cursor"] = cursor


def problem_of(reply: httpx.Response) -> ApiProblem:
    """The title and detail of a refusal; its status and a bit of the body when it is not
    problem+json (a proxy's page, a server that is not Sextant)."""
    try:
        body = reply.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and "title" in body:
        return ApiProblem(f"{reply.status_code} {body['title']}", str(body.get("detail", "")))
    return ApiProblem(f"{reply.status_code} {reply.reason_phrase}", reply.text[:200])


def _fail(problem: ApiProblem) -> typer.Exit:
    console.print(
        f"[red]error:[/red] {escape(problem.title)}\n{escape(problem.detail)}",
        highlight=False,
        soft_wrap=True,
    )
    return typer.Exit(1)


def _table(*headers: str) -> Table:
    """A table that never cuts a value short (ids and URLs are copied from it): an id
    column keeps its 36 characters, the others fold on a narrow terminal."""
    table = Table()
    for header in headers:
        if header == "id":
            table.add_column(header, no_wrap=True, min_width=36)
        else:
            table.add_column(header, overflow="fold")
    return table


def _listed(api: Api, path: str, what: str) -> list[dict[str, Any]]:
    """All items of a list, with a running count on the terminal while pages come in."""
    items: list[dict[str, Any]] = []
    with console.status(f"fetching {what}…") as status:
        for item in api.pages(path):
            items.append(item)
            if len(items) % PAGE_SIZE == 0:
                status.update(f"fetching {what}… {len(items)} so far")
    return items


# workspaces ------------------------------------------------------------------------------

workspace_app = typer.Typer(
    help="A tenant's workspaces (a tenant role's token).", no_args_is_help=True
)


@workspace_app.command("create")
def workspace_create(
    name: str = typer.Argument(..., help="the workspace's name"), url: str = URL, token: str = TOKEN
) -> None:
    """Create a workspace and print its id (a tenant admin's token)."""
    try:
        created = Api.connect(url, token).call("POST", "/v1/workspaces", json={"name": name}).json()
    except ApiProblem as problem:
        raise _fail(problem) from None
    console.print(f"workspace [bold]{escape(created['name'])}[/bold] created")
    print(created["id"])


@workspace_app.command("list")
def workspace_list(url: str = URL, token: str = TOKEN) -> None:
    """Every workspace of the token's tenant."""
    try:
        workspaces = _listed(Api.connect(url, token), "/v1/workspaces", "workspaces")
    except ApiProblem as problem:
        raise _fail(problem) from None
    table = _table("id", "name", "created")
    for ws in workspaces:
        table.add_row(str(ws["id"]), ws["name"], str(ws.get("created_at", "")))
    Console().print(table)


# sources ---------------------------------------------------------------------------------

source_app = typer.Typer(help="The tools connected to a workspace.", no_args_is_help=True)


@source_app.command("create")
def source_create(
    workspace: str = typer.Argument(..., help="the workspace's id"),
    kind: str = typer.Argument(..., help="github, gitlab, jira or generic"),
    name: str = typer.Argument(..., help="a name for it (a repository, a Jira project)"),
    url: str = URL,
    token: str = TOKEN,
) -> None:
    """Connect a tool: print the source's id, its webhook URL and secret (shown once) as
    shell exports (`eval "$(sextant source create …)"`), and the events to tick."""
    if kind not in EVENTS_TO_TICK:
        raise typer.BadParameter(f"kind must be one of: {', '.join(EVENTS_TO_TICK)}")
    try:
        source = (
            Api.connect(url, token)
            .call("POST", f"/v1/workspaces/{workspace}/sources", json={"kind": kind, "name": name})
            .json()
        )
    except ApiProblem as problem:
        raise _fail(problem) from None
    # A gateway without SEXTANT_INGEST_PUBLIC_BASE_URL hands out a path: the address this
    # command reached it at is the best guess for the whole URL.
    source["webhook_url"] = urljoin(url.rstrip("/") + "/", source["webhook_url"])
    # Under the names `sextant webhook send` reads (SEXTANT_WEBHOOK_SECRET).
    print(f"export SOURCE_ID={shlex.quote(str(source['id']))}")
    print(f"export WEBHOOK_URL={shlex.quote(source['webhook_url'])}")
    print(f"export SEXTANT_WEBHOOK_SECRET={shlex.quote(source['secret'])}")
    console.print(
        f"In {kind}, add a webhook to [bold]{escape(source['webhook_url'])}[/bold] with the "
        f"secret above as {SECRET_GOES[kind]} (it is not shown again).\n"
        f"Events to tick: {escape(EVENTS_TO_TICK[kind])}",
        highlight=False,
        soft_wrap=True,
    )


@source_app.command("list")
def source_list(
    workspace: str = typer.Argument(..., help="the workspace's id"),
    url: str = URL,
    token: str = TOKEN,
) -> None:
    """The workspace's sources with their webhook URLs (secrets are never shown again)."""
    try:
        sources = _listed(Api.connect(url, token), f"/v1/workspaces/{workspace}/sources", "sources")
    except ApiProblem as problem:
        raise _fail(problem) from None
    table = _table("id", "kind", "name", "webhook URL", "state")
    for s in sources:
        state = "disabled" if s["disabled"] else "suspended" if s["suspended"] else "on"
        if s.get("signature_failures"):
            state += f", {s['signature_failures']} bad signatures"
        table.add_row(str(s["id"]), s["kind"], s["name"], s["webhook_url"], state)
    Console().print(table)


# status ----------------------------------------------------------------------------------


def status(url: str = URL) -> None:
    """Every service's readiness checks as a table; exit 1 unless all of them pass."""
    api = Api.connect(url, None)
    try:
        reply = api.http.get("/v1/status")
    except httpx.HTTPError as exc:
        raise _fail(
            ApiProblem("no answer", f"{url} did not answer ({type(exc).__name__})")
        ) from None
    try:
        body = reply.json()
        services: dict[str, Any] = body["services"]
    except (ValueError, KeyError, TypeError):
        raise _fail(problem_of(reply)) from None
    table = _table("service", "check", "ok", "detail")
    for name, service in services.items():
        checks = service.get("checks") or [
            {"name": "-", "ok": service["ready"], "detail": service["detail"]}
        ]
        for n, check in enumerate(checks):
            mark = "[green]yes[/green]" if check["ok"] else "[red]NO[/red]"
            table.add_row(name if n == 0 else "", check["name"], mark, escape(check["detail"]))
        table.add_section()
    Console().print(table)
    health = body.get("health", body.get("status"))
    if reply.status_code != 200:
        console.print(
            f"[red]{escape(str(health))}[/red]: {escape(str(body.get('detail', '')))}",
            soft_wrap=True,
        )
        raise typer.Exit(1)
    console.print(f"[green]{health}[/green]")


# archive ---------------------------------------------------------------------------------

archive_app = typer.Typer(help="The tenant's cold store.", no_args_is_help=True)


@archive_app.command("verify")
def archive_verify(url: str = URL, token: str | None = TOKEN) -> None:
    """Re-read every archived object and check the manifest chain; exit 1 naming the
    first bad object."""
    api = Api.connect(url, token)
    try:
        with console.status("verifying the cold store…"):
            report = api.call("POST", "/v1/archive/verify").json()
        findings: list[dict[str, Any]] = report["findings"]
        objects, events, intact = report["objects"], report["events"], report["intact"]
    except ApiProblem as problem:
        raise _fail(problem) from None
    except (ValueError, KeyError, TypeError):
        raise _fail(ApiProblem("not a report", "the answer holds no verification")) from None
    if intact:
        print(f"intact: {objects} objects, {events} events")
        return
    table = _table("entry", "object", "finding")
    for finding in findings:
        table.add_row(str(finding["seq"]), escape(finding["object_key"]), escape(finding["reason"]))
    Console().print(table)
    first = findings[0]
    named = first["object_key"] or f"manifest entry {first['seq']}"
    console.print(f"[red]first bad object:[/red] {escape(named)}", highlight=False, soft_wrap=True)
    raise typer.Exit(1)


RESTORE_POLL_SECONDS = 0.5
RESTORE_TOPICS = typer.Option(
    ...,
    "--topic",
    help="a topic to replay (repeat): sextant.activity, sextant.activity.attributed, "
    "sextant.identity",
)


@archive_app.command("restore")
def archive_restore(
    topics: list[str] = RESTORE_TOPICS,
    since: str = typer.Option(..., "--since", help="events at or after this moment (ISO 8601)"),
    until: str = typer.Option(..., "--until", help="events before this moment (ISO 8601)"),
    workspace: str | None = typer.Option(None, "--workspace", help="only this workspace's id"),
    timeout: float = typer.Option(3600.0, "--timeout", help="seconds to wait for it to end"),
    url: str = URL,
    token: str | None = TOKEN,
) -> None:
    """Publish archived events again as replays and follow the restore to its end; exit 1
    when it fails (naming the object that did not verify)."""
    api = Api.connect(url, token)
    body = {"topics": topics, "since": since, "until": until, "workspace_id": workspace}
    try:
        asked = api.call("POST", "/v1/archive/restores", json=body)
        location = asked.headers.get("Location") or f"/v1/archive/restores/{asked.json()['id']}"
        deadline = time.monotonic() + timeout
        with console.status("restoring…") as status:
            while True:
                view: dict[str, Any] = api.call("GET", location).json()
                status.update(
                    f"{view['status']}: {view['objects_done']}/{view['objects_total'] or '?'}"
                    f" objects, {view['events_published']} events"
                )
                if view["status"] in ("done", "failed"):
                    break
                if time.monotonic() > deadline:
                    raise ApiProblem(
                        "still restoring", f"follow it with GET {location} ({view['status']})"
                    )
                time.sleep(RESTORE_POLL_SECONDS)
    except ApiProblem as problem:
        raise _fail(problem) from None
    except (ValueError, KeyError, TypeError):
        raise _fail(ApiProblem("not a restore", "the answer holds no restore")) from None
    if view["status"] == "failed":
        raise _fail(ApiProblem("restore failed", view["failure"] or "no reason given"))
    print(
        f"restored: {view['objects_done']} objects, {view['events_published']} events "
        f"published again (restore {view['id']})"
    )


# keys ------------------------------------------------------------------------------------

keys_app = typer.Typer(help="Keys a distributed deployment must be given.", no_args_is_help=True)


def generated_keys(sealing_key_id: str) -> dict[str, str]:
    """Fresh keys under the names of the settings that read them: the Ed25519 pair the
    gateway signs internal tokens with (every service holds the public half), ingest's
    AES-256 key that seals source secrets and the gateway's that seals partner
    subscriptions' secrets (``id:base64``, the form of their key rings)."""
    from sextant.runtime.sealing import KEY_ID
    from sextant.runtime.tokens import generate_keypair

    if not KEY_ID.fullmatch(sealing_key_id):
        raise ValueError("the key id: letters, digits, '_', '.' or '-', 1-64 of them")
    private_pem, public_pem = generate_keypair()
    ingest, gateway = (base64.b64encode(secrets.token_bytes(32)).decode() for _ in "ig")
    return {
        "SEXTANT_INTERNAL_TOKEN_PRIVATE_KEY": private_pem,
        "SEXTANT_INTERNAL_TOKEN_PUBLIC_KEY": public_pem,
        "SEXTANT_INGEST_SECRET_KEYS": f"{sealing_key_id}:{ingest}",
        "SEXTANT_GATEWAY_SECRET_KEYS": f"{sealing_key_id}:{gateway}",
    }


def env_file(values: dict[str, str]) -> str:
    """``NAME="value"`` lines (a PEM's lines kept inside its quotes), as docker's
    ``--env-file``-style loaders, python-dotenv and pydantic-settings' ``env_file`` read them."""
    return "".join(f'{name}="{value.strip()}"\n' for name, value in values.items())


OUTPUT = typer.Option(None, help="write them to this new file (mode 600), not stdout")
SEALING_KEY_ID = typer.Option(None, help="the sealing key's id [default: s<today>, e.g. s20260101]")


@keys_app.command("generate")
def keys_generate(output: Path = OUTPUT, sealing_key_id: str = SEALING_KEY_ID) -> None:
    """New keys for `sextant serve` (the embedded mode makes its own under .data/keys):
    SEXTANT_INTERNAL_TOKEN_PRIVATE_KEY (the gateway only), SEXTANT_INTERNAL_TOKEN_PUBLIC_KEY
    (every service), SEXTANT_INGEST_SECRET_KEYS (ingest; to rotate, put a new key first
    and run `sextant ingest reseal`) and SEXTANT_GATEWAY_SECRET_KEYS (the gateway; it
    reseals on start). Keep them in your secret store."""
    key_id = sealing_key_id or f"s{datetime.now(UTC):%Y%m%d}"
    try:
        page = env_file(generated_keys(key_id))
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    if output is None:
        print(page, end="")
        return
    try:
        fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:  # never over an existing file: it may hold the keys in use
        console.print(f"[red]error:[/red] {escape(str(output))}: {exc.strerror}")
        raise typer.Exit(1) from None
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(page)
    console.print(f"wrote {output} (the gateway needs all three; other services the public key)")
