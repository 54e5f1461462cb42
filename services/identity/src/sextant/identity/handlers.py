"""Identity's event handlers. Each runs inside the runtime's transaction with the inbox
already claimed; it reads the envelope and writes through repositories and the outbox."""

from sqlalchemy.ext.asyncio import AsyncSession

from sextant.contracts import Envelope
from sextant.contracts.topics import ACTIVITY, LIFECYCLE
from sextant.runtime.consumer import Handler


async def on_activity(session: AsyncSession, envelope: Envelope) -> None:
    """Attribute actors to developers and re-emit as activity.attributed (the identity issue fills this in)."""


async def on_lifecycle(session: AsyncSession, envelope: Envelope) -> None:
    """Stop serving soft-deleted tenants and workspaces (the identity issue fills this in)."""


HANDLERS: dict[str, Handler] = {
    ACTIVITY.name: on_activity,
    LIFECYCLE.name: on_lifecycle,
}
