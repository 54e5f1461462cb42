"""Calls from one service to another, on behalf of the user a job was asked for by.

A service that works for a user after the request has ended (a report rendered by a
worker) reads the other services through their own HTTP API, never their tables. The call
carries an internal token minted for the callee, naming the same tenant, role, subject and
signed scope workspaces the gateway vouched for when the job was asked for, so the callee
applies exactly the rules it applies to that user through the gateway: nothing more is
visible through a job than through the API. Minting needs the internal token's private
key, so a service using this must be given ``SEXTANT_INTERNAL_TOKEN_PRIVATE_KEY`` (the
embedded mode gives every service both halves).

Clients are in-process ASGI in the embedded mode (the apps sit in one process) and plain
HTTP to each service's URL in the distributed mode, like the gateway's upstreams.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import httpx

from sextant.runtime.tokens import InternalTokenSigner, Role
from sextant.runtime.tracing import TracedTransport

PEER_TOKEN_TTL_SECONDS = 60


@dataclass(frozen=True)
class OnBehalfOf:
    """Who a call is made for, as the gateway vouched for them when the work was asked."""

    subject: str
    role: Role
    tenant_id: UUID
    scope_workspaces: list[UUID]


class PeerCallFailed(Exception):
    """Another service refused or failed a call; ``status`` is 0 when it could not be reached."""

    def __init__(self, service: str, path: str, status: int, detail: str) -> None:
        said = f"{status} {detail}".strip() if status else f"unreachable ({detail})"
        super().__init__(f"{service} {path}: {said}")
        self.service, self.path, self.status, self.detail = service, path, status, detail


class PeerCalls:
    """HTTP clients for the services a service reads, with tokens minted per call.

    A client is made at a service's first call, from ``apps`` as it is then: the embedded
    mode adds the gateway to the services' peers only after they started (it is built
    over them), and reports reads tenant names and the audit log from it."""

    def __init__(
        self,
        signer: InternalTokenSigner,
        services: list[str],
        *,
        urls: Mapping[str, str],
        apps: Mapping[str, Any],
        timeout: float,
    ) -> None:
        self._signer = signer
        self._services = frozenset(services)
        self._urls, self._apps, self._timeout = urls, apps, timeout
        self._clients: dict[str, httpx.AsyncClient] = {}

    @classmethod
    def build(
        cls,
        signer: InternalTokenSigner,
        services: list[str],
        *,
        urls: Mapping[str, str],
        apps: Mapping[str, Any],
        timeout: float,
    ) -> PeerCalls:
        """Clients for ``services``: the in-process app when there is one (``apps`` is read
        at each service's first call), else its URL; a service with neither has no client,
        and a call to it fails saying so."""
        return cls(signer, services, urls=urls, apps=apps, timeout=timeout)

    def _client(self, name: str) -> httpx.AsyncClient | None:
        if name in self._clients or name not in self._services:
            return self._clients.get(name)
        if name in self._apps:
            transport: httpx.AsyncBaseTransport = httpx.ASGITransport(app=self._apps[name])
            base_url = f"http://{name}"
        elif name in self._urls:
            transport, base_url = httpx.AsyncHTTPTransport(), self._urls[name]
        else:
            return None
        client = httpx.AsyncClient(
            transport=TracedTransport(transport), base_url=base_url, timeout=self._timeout
        )
        self._clients[name] = client
        return client

    async def get_json(
        self, service: str, path: str, params: Mapping[str, str], on_behalf: OnBehalfOf
    ) -> Any:
        """The JSON answer of ``GET path`` at ``service``; :class:`PeerCallFailed` else."""
        client = self._client(service)
        if client is None:
            raise PeerCallFailed(service, path, 0, "its URL is not configured")
        token = self._signer.mint(
            service=service,
            subject=on_behalf.subject,
            role=on_behalf.role,
            tenant_id=on_behalf.tenant_id,
            scope_workspaces=on_behalf.scope_workspaces,
            ttl_seconds=PEER_TOKEN_TTL_SECONDS,
        )
        try:
            reply = await client.get(
                path,
                params=dict(params),
                headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            )
        except httpx.HTTPError as exc:
            raise PeerCallFailed(service, path, 0, type(exc).__name__) from exc
        if reply.status_code != 200:
            detail = ""
            if reply.headers.get("content-type", "").endswith("json"):
                detail = str(reply.json().get("detail", ""))
            raise PeerCallFailed(service, path, reply.status_code, detail)
        return reply.json()

    async def pages(
        self, service: str, path: str, params: Mapping[str, str], on_behalf: OnBehalfOf
    ) -> AsyncIterator[dict[str, Any]]:
        """Every item of a paged list (the runtime's cursor), page after page."""
        cursor: str | None = None
        while True:
            query = dict(params) | ({"cursor": cursor} if cursor else {})
            page = await self.get_json(service, path, query, on_behalf)
            for item in page["items"]:
                yield item
            cursor = page.get("next_cursor")
            if not cursor:
                return

    async def close(self) -> None:
        for client in self._clients.values():
            await client.aclose()
