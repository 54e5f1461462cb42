"""Reports's event handlers. Each runs inside the runtime's transaction with the inbox
already claimed; it reads the envelope and writes through repositories and the outbox."""

from sqlalchemy.ext.asyncio import AsyncSession

from sextant.contracts import Envelope
from sextant.contracts.topics import REPORTS
from sextant.runtime.consumer import Handler


async def on_report_event(session: AsyncSession, envelope: Envelope) -> None:
    """Render requested reports (the reports issue fills this in)."""


HANDLERS: dict[str, Handler] = {
    REPORTS.name: on_report_event,
}
