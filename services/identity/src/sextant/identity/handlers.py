"""Identity's event handlers. Each runs inside the runtime's transaction, as the event's
tenant, with the inbox already claimed; what they emit goes through the outbox in the
same transaction."""

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from sextant.contracts import Envelope
from sextant.contracts.topics import ACTIVITY, LIFECYCLE
from sextant.identity import attribution
from sextant.identity.db import SCHEMA, alias_keys, aliases, developers, name_tokens, spine
from sextant.runtime.consumer import Batched, Handler
from sextant.runtime.outbox import Outbox
from sextant.runtime.statistics import ThrottledAnalyze

OUTBOX = Outbox(spine.outbox, source="/sextant/identity")

# The tables attribution's read (migration 0005's function: the known lookup, the holders,
# the population counts) plans from, analyzed once they outgrow their statistics
# (migration 0011 lets the app role). A fresh tenant fills them within its first minute,
# before autovacuum's first look, and the read's generic plans, made while they were
# nearly empty, scan instead of probing the keys. Checked from the consumer, which
# makes them grow, at most once every 5 s per replica (a catalog query; an event costs
# about a millisecond): the revisit loop (every 600 s) comes too late for those minutes.
# It runs in the batch's transaction, before the read: the batch plans from the new
# statistics (another replica analyzing the same table meanwhile waits for its commit).
STATISTICS = ThrottledAnalyze(
    SCHEMA, [t.name for t in (aliases, developers, alias_keys, name_tokens)], seconds=5.0
)


async def on_activity(session: AsyncSession, envelopes: Sequence[Envelope]) -> None:
    """Attribute every actor to a developer and re-emit as activity.attributed: a backlog
    a batch at a time, sharing the inbox claim, the outbox write and the commit. First the
    tables it reads are analyzed if they outgrew their statistics (:data:`STATISTICS`)."""
    await STATISTICS(session)
    await attribution.attribute_many(session, OUTBOX, envelopes)


async def on_lifecycle(session: AsyncSession, envelope: Envelope) -> None:
    """A soft-deleted tenant's developers stay until the archive purges them."""


HANDLERS: dict[str, Handler] = {
    ACTIVITY.name: Batched(on_activity),
    LIFECYCLE.name: on_lifecycle,
}
