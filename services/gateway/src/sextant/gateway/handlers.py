"""Gateway's event handlers. Each runs inside the runtime's transaction with the inbox
already claimed; it reads the envelope and writes through repositories and the outbox."""

from sqlalchemy.ext.asyncio import AsyncSession

from sextant.contracts import Envelope
from sextant.contracts.topics import NOTIFICATIONS
from sextant.runtime.consumer import Handler


async def on_notification(session: AsyncSession, envelope: Envelope) -> None:
    """Fan notifications out to connected clients (the gateway issue fills this in)."""


HANDLERS: dict[str, Handler] = {
    NOTIFICATIONS.name: on_notification,
}
