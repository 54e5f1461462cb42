"""Ingest's rows under retention: the raw deliveries, purged when the archive asks (after
the activity events they became are archived and verified)."""

from sextant.ingest.db import deliveries, spine
from sextant.runtime.outbox import Outbox
from sextant.runtime.purge import Purger, PurgeTable

# No workspace column: a workspace hold keeps every delivery in its time range.
PURGER = Purger(
    "ingest",
    Outbox(spine.outbox, source="/sextant/ingest"),
    [PurgeTable(deliveries, "raw_deliveries", time_column="received_at")],
)
