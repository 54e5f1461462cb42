"""Archive's event handlers. Archive reads every topic to keep the cold store complete;
each handler runs inside the runtime's transaction with the inbox already claimed."""

from sqlalchemy.ext.asyncio import AsyncSession

import sextant.contracts.topics  # noqa: F401 - defining the topics registers them in TOPICS
from sextant.contracts import TOPICS, Envelope
from sextant.runtime.consumer import Handler


async def on_any_event(session: AsyncSession, envelope: Envelope) -> None:
    """Stage the event for the cold store (the archive issue fills this in)."""


def handlers() -> dict[str, Handler]:
    """Every registered topic (not the DLQs), read by one handler."""
    return {topic.name: on_any_event for topic in TOPICS.values()}
