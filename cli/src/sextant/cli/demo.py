"""``sextant demo``: a demo tenant loaded through the public API and the real webhook path.

A tenant, its workspace and a Jira and a GitHub source are created through the gateway's
REST API, then :mod:`sextant.cli.demo_data`'s history is posted to the sources' webhook
URLs, signed as each tool signs (:mod:`sextant.cli.webhooks`): every delivery is verified,
stored and normalized by ingest and travels identity and forecast like a real one. Jira's
threads go first, since forecasts are made from them. Each run makes a new tenant.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import httpx

from sextant.cli.demo_data import Delivery, DemoHistory, SourceKind
from sextant.cli.webhooks import Reply, deliver

FORECAST_ITEMS = 60  # about a month of the demo team's work: a range, not a single week


class DemoFailed(Exception):
    """A call the demo needs was refused; the message names it and the gateway's answer."""


@dataclass
class DemoSource:
    id: str
    kind: SourceKind
    secret: str
    webhook_url: str


@dataclass
class DemoLoad:
    """What a run made and how its deliveries fared."""

    tenant_id: UUID
    workspace_id: UUID
    tenant_admin_token: str
    sources: dict[SourceKind, DemoSource]
    accepted: int = 0
    refused: list[tuple[Delivery, Reply]] = field(default_factory=list)  # or not normalized
    retries: int = 0
    seconds: float = 0.0

    @property
    def scope(self) -> str:
        return f"workspace:{self.workspace_id}"


class Pacer:
    """At most ``rate`` starts a second (evenly spaced), shared by a source's senders:
    the gateway allows each source a rate (SEXTANT_GATEWAY_WEBHOOK_SOURCE_RATE_PER_SECOND,
    100 by default); staying under it spares everyone the 429s."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self.next = 0.0
        self.lock = asyncio.Lock()

    async def wait(self) -> None:
        async with self.lock:
            now = time.monotonic()
            start = max(self.next, now)
            self.next = start + self.interval
        if start > now:
            await asyncio.sleep(start - now)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _call(
    client: httpx.AsyncClient, what: str, method: str, path: str, token: str, body: Any
) -> dict[str, Any]:
    reply = await client.request(method, path, json=body, headers=_bearer(token))
    if reply.status_code >= 300:
        try:
            detail = reply.json().get("detail") or reply.text
        except ValueError:
            detail = reply.text
        raise DemoFailed(f"{what}: {method} {path} answered {reply.status_code}: {detail}")
    answer: dict[str, Any] = reply.json()
    return answer


async def create_demo_tenant(
    client: httpx.AsyncClient,
    platform_admin_token: str,
    mint_tenant_admin: Callable[[UUID], str],
    name: str,
) -> DemoLoad:
    """The tenant (as platform admin), then as its tenant admin a workspace and the two
    sources, through the public API."""
    tenant = await _call(
        client, "create the tenant", "POST", "/v1/tenants", platform_admin_token, {"name": name}
    )
    tenant_id = UUID(tenant["id"])
    token = mint_tenant_admin(tenant_id)
    workspace = await _call(
        client, "create the workspace", "POST", "/v1/workspaces", token, {"name": "Engineering"}
    )
    sources: dict[SourceKind, DemoSource] = {}
    connected: tuple[tuple[SourceKind, str], ...] = (
        ("jira", "ENG (Jira)"),
        ("github", "acme-demo (GitHub)"),
    )
    for kind, source_name in connected:
        made = await _call(
            client,
            f"connect the {kind} source",
            "POST",
            f"/v1/workspaces/{workspace['id']}/sources",
            token,
            {"kind": kind, "name": source_name},
        )
        sources[kind] = DemoSource(made["id"], kind, made["secret"], made["webhook_url"])
    return DemoLoad(tenant_id, UUID(workspace["id"]), token, sources)


async def post_history(
    client: httpx.AsyncClient,
    load: DemoLoad,
    history: DemoHistory,
    *,
    concurrency: int = 8,
    rate_per_source: float = 60.0,
    progress: Callable[[int], None] | None = None,
) -> None:
    """Every thread of ``history`` to its source, ``concurrency`` threads at a time, each
    thread's deliveries in order; ``progress`` hears each delivery's end."""
    queue: asyncio.Queue[list[Delivery]] = asyncio.Queue()
    for kind in ("jira", "github"):
        for thread in history.threads:
            if thread[0].source == kind:
                queue.put_nowait(thread)
    pacers = {kind: Pacer(rate_per_source) for kind in load.sources}
    started = time.monotonic()

    async def worker() -> None:
        while not queue.empty():
            thread = queue.get_nowait()
            for delivery in thread:
                source = load.sources[delivery.source]
                await pacers[delivery.source].wait()
                reply = await deliver(
                    client,
                    source.id,
                    source.kind,
                    source.secret,
                    json.dumps(delivery.payload).encode(),
                    event=delivery.event,
                    delivery=delivery.delivery_id,
                )
                load.retries += reply.retries
                # every generated delivery means something: stored but not normalized is
                # as much a problem as refused
                if reply.accepted and reply.outcome == "normalized":
                    load.accepted += 1
                else:
                    load.refused.append((delivery, reply))
                if progress is not None:
                    progress(1)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    load.seconds = time.monotonic() - started


# no completed week projected yet (422), or a busy platform (429, 502-504): ask again
NOT_YET = frozenset({422, 429, 502, 503, 504})


@dataclass(frozen=True)
class FirstForecast:
    reply: dict[str, Any]
    seconds: float  # from the call of :func:`first_forecast`


async def first_forecast(
    client: httpx.AsyncClient, load: DemoLoad, items: int, *, every: float = 1.0
) -> FirstForecast:
    """The first 200 reply of ``/v1/forecasts/when`` for the demo's workspace, polled
    every ``every`` seconds while it answers :data:`NOT_YET`; run
    it alongside :func:`post_history` to see when the pipeline first has enough."""
    started = time.monotonic()
    params = {"scope": load.scope, "items": str(items)}
    while True:
        reply = await client.get(
            "/v1/forecasts/when", params=params, headers=_bearer(load.tenant_admin_token)
        )
        if reply.status_code == 200:
            return FirstForecast(reply.json(), time.monotonic() - started)
        if reply.status_code not in NOT_YET:
            raise DemoFailed(f"the forecast answered {reply.status_code}: {reply.text[:300]}")
        await asyncio.sleep(every)


def example_commands(url: str, load: DemoLoad) -> list[str]:
    """Three calls to try on the loaded tenant (the token in $SEXTANT_TENANT_TOKEN)."""
    auth = '-H "Authorization: Bearer $SEXTANT_TENANT_TOKEN"'
    scope = load.scope
    return [
        f'curl -s {auth} "{url}/v1/forecasts/when?scope={scope}&items={FORECAST_ITEMS}"',
        f'curl -s {auth} "{url}/v1/work-items/stale?scope={scope}"',
        f'curl -s {auth} "{url}/v1/developers"',
    ]
