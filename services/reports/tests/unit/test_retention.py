"""Every reports table is deleted from by a tenant's purge or kept on purpose, with the
reason: a new table has to choose (issue #18)."""

from sextant.reports.db import metadata
from sextant.reports.retention import PURGER
from sextant.runtime.testing.purging import check_every_table_is_purged_or_kept


def test_every_reports_table_is_purged_with_its_tenant() -> None:
    why = "no tenant's data: the object-store prefixes a committed purge left to clear"
    check_every_table_is_purged_or_kept(metadata, PURGER, kept={"object_deletions": why})
