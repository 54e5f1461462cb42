"""Every insights table is deleted from by a scope purge or kept on purpose, with the
reason: a new table has to choose (issue #18)."""

from sextant.insights.db import metadata
from sextant.insights.retention import PURGER
from sextant.runtime.testing.purging import check_every_table_is_purged_or_kept


def test_every_insights_table_is_purged_with_its_scope() -> None:
    check_every_table_is_purged_or_kept(metadata, PURGER, kept={})
