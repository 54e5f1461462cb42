"""Every gateway table is deleted from by a tenant's purge or kept on purpose, with the
reason: a new table has to choose (issue #18)."""

from sextant.gateway.db import metadata
from sextant.gateway.retention import KEPT, PURGER
from sextant.runtime.testing.purging import check_every_table_is_purged_or_kept


def test_every_gateway_table_is_purged_with_its_scope_or_kept_for_a_reason() -> None:
    check_every_table_is_purged_or_kept(metadata, PURGER, KEPT)
