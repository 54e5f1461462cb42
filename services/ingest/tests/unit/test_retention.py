"""Every ingest table is deleted from by a scope purge or kept on purpose, with the
reason: a new table has to choose (issue #18); and a class purge finds one tenant's rows
by an index, never reading the others'."""

from sextant.ingest.db import metadata
from sextant.ingest.retention import PURGER
from sextant.runtime.testing.purging import (
    check_class_purges_find_their_tenants_rows,
    check_every_table_is_purged_or_kept,
)


def test_every_ingest_table_is_purged_with_its_scope() -> None:
    check_every_table_is_purged_or_kept(metadata, PURGER, kept={})


def test_a_class_purge_of_one_tenant_reads_only_its_rows() -> None:
    check_class_purges_find_their_tenants_rows(PURGER)
