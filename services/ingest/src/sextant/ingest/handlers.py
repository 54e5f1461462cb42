"""Ingest's event handlers. Each runs inside the runtime's transaction with the inbox
already claimed; it reads the envelope and writes through repositories and the outbox."""

from sqlalchemy.ext.asyncio import AsyncSession

from sextant.contracts import Envelope
from sextant.contracts.topics import LIFECYCLE
from sextant.runtime.consumer import Handler


async def on_lifecycle(session: AsyncSession, envelope: Envelope) -> None:
    """Stop serving soft-deleted tenants and workspaces (the ingest issue fills this in)."""


HANDLERS: dict[str, Handler] = {
    LIFECYCLE.name: on_lifecycle,
}
