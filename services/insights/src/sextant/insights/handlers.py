"""Insights's event handlers. Each runs inside the runtime's transaction with the inbox
already claimed; it reads the envelope and writes through repositories and the outbox."""

from sqlalchemy.ext.asyncio import AsyncSession

from sextant.contracts import Envelope
from sextant.contracts.topics import ACTIVITY_ATTRIBUTED, FORECAST, IDENTITY
from sextant.runtime.consumer import Handler


async def on_attributed_activity(session: AsyncSession, envelope: Envelope) -> None:
    """Update DORA, flow and review metrics (the insights issue fills this in)."""


async def on_forecast(session: AsyncSession, envelope: Envelope) -> None:
    """Use forecasts and stale flags in suggestions (the insights issue fills this in)."""


async def on_identity(session: AsyncSession, envelope: Envelope) -> None:
    """Recompute per-developer history after merges and splits (the insights issue fills this in)."""


HANDLERS: dict[str, Handler] = {
    ACTIVITY_ATTRIBUTED.name: on_attributed_activity,
    FORECAST.name: on_forecast,
    IDENTITY.name: on_identity,
}
