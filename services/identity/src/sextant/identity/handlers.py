"""Identity's event handlers. Each runs inside the runtime's transaction, as the event's
tenant, with the inbox already claimed; what they emit goes through the outbox in the
same transaction."""

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from sextant.contracts import Envelope
from sextant.contracts.topics import ACTIVITY, LIFECYCLE
from sextant.identity import attribution
from sextant.identity.db import spine
from sextant.runtime.consumer import Batched, Handler
from sextant.runtime.outbox import Outbox

OUTBOX = Outbox(spine.outbox, source="/sextant/identity")


async def on_activity(session: AsyncSession, envelopes: Sequence[Envelope]) -> None:
    """Attribute every actor to a developer and re-emit as activity.attributed: a backlog
    a batch at a time, sharing the inbox claim, the outbox write and the commit."""
    await attribution.attribute_many(session, OUTBOX, envelopes)


async def on_lifecycle(session: AsyncSession, envelope: Envelope) -> None:
    """A soft-deleted tenant's developers stay until the archive purges them."""


HANDLERS: dict[str, Handler] = {
    ACTIVITY.name: Batched(on_activity),
    LIFECYCLE.name: on_lifecycle,
}
