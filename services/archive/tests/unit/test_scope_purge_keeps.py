"""The archive deletes none of its tables on a scope purge, each for a stated reason (the
cold copy the purge relied on, or its record): a new table has to choose (issue #18)."""

from sextant.archive.db import metadata
from sextant.archive.scopes import KEPT
from sextant.runtime.testing.purging import check_every_table_is_purged_or_kept


def test_every_archive_table_is_kept_on_a_scope_purge_for_a_reason() -> None:
    check_every_table_is_purged_or_kept(metadata, None, KEPT)
