"""Forecast's event handlers. Each runs inside the runtime's transaction with the inbox
already claimed; it reads the envelope and writes through repositories and the outbox."""

from sqlalchemy.ext.asyncio import AsyncSession

from sextant.contracts import Envelope
from sextant.contracts.topics import ACTIVITY_ATTRIBUTED, IDENTITY
from sextant.runtime.consumer import Handler


async def on_attributed_activity(session: AsyncSession, envelope: Envelope) -> None:
    """Project work items and sprints (the forecast issue fills this in)."""


async def on_identity(session: AsyncSession, envelope: Envelope) -> None:
    """Follow developer merges and splits (the forecast issue fills this in)."""


HANDLERS: dict[str, Handler] = {
    ACTIVITY_ATTRIBUTED.name: on_attributed_activity,
    IDENTITY.name: on_identity,
}
