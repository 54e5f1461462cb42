"""The gateway's rows under retention: notifications, purged when the archive asks; a scope
purge (a soft-deleted tenant past its grace period) deletes the tenant's and marks the
tenant or workspace purged, so it can no longer be restored. The
audit log is not declared: it is hash-chained (deleting its oldest rows would break
verification) until the chain can start from a checkpoint."""

from sextant.gateway.db import notifications, repository, spine
from sextant.runtime.outbox import Outbox
from sextant.runtime.purge import Purger, PurgeTable

PURGER = Purger(
    "gateway",
    Outbox(spine.outbox, source="/sextant/gateway"),
    [PurgeTable(notifications, "notifications", time_column="created_at")],
    on_scope_purged=repository.mark_purged,
)
