"""Revocation and deletion hold on every replica before the call that made them returns.

The revoking or deleting transaction NOTIFYs ``sextant_gateway_revocations`` (delivered at
commit, to every replica at once). Each replica, on hearing it, drops the cached keys,
tenants and scopes it makes wrong and ends the notification streams that rest on it
(code 1008), then acknowledges it on the channel. The replica that made the change
applies it itself right after the commit, then waits (``revocation_wait_seconds`` at
most) until every replica listening at that moment has acknowledged it
(:class:`sextant.runtime.pgnotify.Invalidations`). A replica whose listener is down
trusts none of those caches (every request asks the database) until it has reconnected
and dropped them, and then re-checks its open streams: a missed message never extends a
revoked credential's life.

A soft-deleted workspace or tenant also stops its webhooks: ingest is told synchronously,
inside the deleting transaction, and answers only once every ingest replica refuses them
(see ingest's ``PUT /internal/source-suspension``). If ingest cannot be told, nothing is
deleted and the call answers 503.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Literal
from uuid import UUID

import httpx
import structlog

from sextant.contracts import uuid7
from sextant.gateway.access import Gateway, gateway_of
from sextant.gateway.notifications import Streams
from sextant.runtime.app import ServiceState
from sextant.runtime.db import Database
from sextant.runtime.errors import Unavailable
from sextant.runtime.pgnotify import Announcement, Invalidations

log = structlog.get_logger()

CHANNEL = "sextant_gateway_revocations"
POLICY_VIOLATION = 1008  # RFC 6455 §7.4.1: the close code for a credential that lapsed


@dataclass(frozen=True)
class Revoked:
    """What a message on the channel says no longer holds."""

    what: Literal["api_key", "tenant", "workspace"]
    tenant_id: UUID
    key_id: str | None = None
    workspace_id: UUID | None = None

    def payload(self) -> str:
        """The message, unique (a nonce) so the sender can tell its own echo."""
        return json.dumps(
            {
                "what": self.what,
                "tenant": str(self.tenant_id),
                "key": self.key_id,
                "workspace": str(self.workspace_id) if self.workspace_id else None,
                "nonce": str(uuid7()),
            }
        )

    @classmethod
    def parse(cls, payload: str) -> Revoked:
        data = json.loads(payload)
        workspace = data.get("workspace")
        return cls(
            what=data["what"],
            tenant_id=UUID(data["tenant"]),
            key_id=data.get("key"),
            workspace_id=UUID(workspace) if workspace else None,
        )


class Change:
    """A transaction that revokes or deletes (:meth:`Revocations.change`)."""

    def __init__(self, announcement: Announcement) -> None:
        self._announcement = announcement
        self.session = announcement.session

    async def revoke(self, revoked: Revoked) -> None:
        """Announce ``revoked`` at this transaction's commit."""
        await self._announcement.send(revoked.payload())


class Revocations:
    """This replica's ear on the revocation channel, and what it drops when it hears."""

    def __init__(self, dsn: str, gateway: Gateway, streams: Streams) -> None:
        self._gateway, self._streams = gateway, streams
        self._wait = gateway.settings.revocation_wait_seconds
        self.feed = Invalidations(dsn, CHANNEL, on_message=self._heard, on_reset=self._reset)
        gateway.authenticator.trust_caches_while(lambda: self.feed.trusted)
        gateway.scopes.trusted = lambda: self.feed.trusted
        self._rechecks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        await self.feed.start()

    async def stop(self) -> None:
        await self.feed.stop()
        for task in list(self._rechecks):
            task.cancel()

    @asynccontextmanager
    async def change(self, db: Database, tenant_id: UUID | None) -> AsyncIterator[Change]:
        """One transaction whose revocations hold on every replica when the block ends."""
        async with self.feed.announcing(db, tenant_id, wait=self._wait) as announcement:
            yield Change(announcement)

    def apply(self, revoked: Revoked) -> None:
        authenticator, scopes = self._gateway.authenticator, self._gateway.scopes
        tenant = revoked.tenant_id
        if revoked.what == "api_key" and revoked.key_id is not None:
            key_id = revoked.key_id
            authenticator.forget_key(key_id)
            ended = self._streams.end_where(
                lambda caller: caller.key_id == key_id, "the API key was revoked"
            )
        elif revoked.what == "tenant":
            authenticator.forget_tenant(tenant)
            scopes.forget_where(lambda key, _workspaces: key[0] == tenant)
            ended = self._streams.end_where(
                lambda caller: caller.tenant_id == tenant, "the tenant was deleted"
            )
        else:  # a workspace: any scope of its tenant may have covered it
            scopes.forget_where(lambda key, _workspaces: key[0] == tenant)
            ended = 0
        log.info("revocation.applied", what=revoked.what, tenant_id=str(tenant), streams=ended)

    def _heard(self, payload: str) -> None:
        self.apply(Revoked.parse(payload))

    def _reset(self) -> None:
        """Messages may have been missed: forget everything, re-check every open stream."""
        self._gateway.authenticator.forget_all()
        self._gateway.scopes.clear()
        if self._streams.callers():
            task = asyncio.get_running_loop().create_task(self._recheck_streams())
            self._rechecks.add(task)
            task.add_done_callback(self._rechecks.discard)

    async def _recheck_streams(self) -> None:
        authenticator = self._gateway.authenticator
        for stream in self._streams.callers():
            try:
                live = await authenticator.credential_live(stream.caller)
            except Exception as exc:  # the database is away: keep it, check at next reset
                log.warning("revocation.recheck_failed", error=str(exc))
                return
            if not live and not stream.ended.done():
                stream.ended.set_result("the credential was revoked or its tenant deleted")


def revocations_of(state: ServiceState) -> Revocations:
    revocations: Revocations = state.extras["revocations"]
    return revocations


async def open_revocations(state: ServiceState, dsn: str) -> None:
    """Start listening (the gateway's lifespan); streams and caches are trusted from then."""
    streams = Streams()
    revocations = Revocations(dsn, gateway_of(state), streams)
    state.extras["streams"] = streams
    state.extras["revocations"] = revocations
    await revocations.start()


async def close_revocations(state: ServiceState) -> None:
    await revocations_of(state).stop()


async def suspend_sources(
    gateway: Gateway,
    *,
    tenant_id: UUID,
    workspace_id: UUID | None,
    suspended: bool,
    actor: str,
) -> None:
    """Tell ingest to stop (or resume) the webhooks of a tenant or one of its workspaces,
    and wait until every ingest replica holds it. 503 when ingest does not confirm."""
    if "ingest" not in gateway.upstreams.names:
        return  # a gateway without ingest (some tests): no webhooks to stop
    token = gateway.signer.mint(service="ingest", subject=actor, role="system", tenant_id=tenant_id)
    body = {"workspace_id": str(workspace_id) if workspace_id else None, "suspended": suspended}
    try:
        async with asyncio.timeout(gateway.settings.upstream_timeout_seconds):
            response = await gateway.upstreams.client("ingest").put(
                "/internal/source-suspension",
                json=body,
                headers={"Authorization": f"Bearer {token}"},
            )
    except (httpx.HTTPError, TimeoutError) as exc:
        log.warning("revocation.ingest_unreachable", error=type(exc).__name__)
        response = None
    if response is None or response.status_code != 200:
        raise Unavailable(
            "ingest did not confirm that the webhooks stopped, so nothing was deleted; retry",
            retry_after=5,
        )


@asynccontextmanager
async def deleting(
    state: ServiceState, tenant_id: UUID, workspace_id: UUID | None, actor: str
) -> AsyncIterator[Change]:
    """The transaction that soft-deletes a tenant (``workspace_id`` None) or a workspace:
    ingest stops its webhooks before it commits. Should the commit fail after that, ingest
    is told to resume them (and if the commit did happen, its lifecycle event suspends
    them again)."""
    gateway = gateway_of(state)
    suspended = False
    try:
        # a tenant's deletion is a platform admin's own act: no tenant for RLS
        as_tenant = tenant_id if workspace_id is not None else None
        async with revocations_of(state).change(state.db, as_tenant) as change:
            yield change
            await suspend_sources(
                gateway,
                tenant_id=tenant_id,
                workspace_id=workspace_id,
                suspended=True,
                actor=actor,
            )
            suspended = True
    except Exception:
        if suspended:
            with contextlib.suppress(Unavailable):
                await suspend_sources(
                    gateway,
                    tenant_id=tenant_id,
                    workspace_id=workspace_id,
                    suspended=False,
                    actor=actor,
                )
        raise
