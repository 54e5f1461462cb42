"""Ingest's event handlers. Each runs inside the runtime's transaction, as the event's
tenant, with the inbox already claimed."""

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from sextant.contracts import Envelope
from sextant.contracts.topics import GATES, LIFECYCLE
from sextant.ingest.checks import on_gate_evaluated
from sextant.ingest.db import repository
from sextant.ingest.service import SOURCES_CHANNEL, source_change
from sextant.runtime.consumer import Handler
from sextant.runtime.pgnotify import notify

# While a tenant or workspace is soft-deleted its webhooks answer 410 and nothing of it
# is ingested; a restore within the grace period brings its sources back as they were.
SUSPENDS = {
    "sextant.lifecycle.tenant.soft_deleted.v1": "tenant",
    "sextant.lifecycle.workspace.soft_deleted.v1": "workspace",
}
RESUMES = {
    "sextant.lifecycle.tenant.restored.v1": "tenant",
    "sextant.lifecycle.workspace.restored.v1": "workspace",
}


async def on_lifecycle(session: AsyncSession, envelope: Envelope) -> None:
    """Suspend or resume the sources of a soft-deleted or restored tenant or workspace."""
    scope = SUSPENDS.get(envelope.type) or RESUMES.get(envelope.type)
    if scope is None:
        return  # archive and purge events are the archive service's business
    if scope == "workspace" and envelope.workspaceid is None:
        return  # a workspace event must name its workspace; nothing to act on
    at = datetime.now(UTC) if envelope.type in SUSPENDS else None
    workspace = envelope.workspaceid if scope == "workspace" else None
    await repository.suspend_sources(session, workspace, at)
    change = source_change(envelope.tenantid, workspace_id=workspace)
    await notify(session, SOURCES_CHANNEL, change)  # every replica drops them at commit


HANDLERS: dict[str, Handler] = {
    LIFECYCLE.name: on_lifecycle,
    GATES.name: on_gate_evaluated,  # posted back as check runs (sextant.ingest.checks)
}
