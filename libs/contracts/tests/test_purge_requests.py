"""A purge request says what it purges: a workspace's names its workspace."""

from datetime import UTC, datetime
from uuid import UUID

import pydantic
import pytest

from sextant.contracts.events.platform import PurgeRequested

MANIFEST, AT = UUID(int=1), datetime(2026, 1, 1, tzinfo=UTC)


def test_a_workspace_scope_purge_without_its_workspace_is_refused() -> None:
    # read as the tenant's, it would purge every workspace (and the gateway the tenant)
    with pytest.raises(pydantic.ValidationError, match="must name its workspace_id"):
        PurgeRequested(manifest_id=MANIFEST, older_than=AT, scope="workspace")


def test_scope_purges_that_say_what_they_purge_are_taken() -> None:
    named = PurgeRequested(
        manifest_id=MANIFEST, older_than=AT, scope="workspace", workspace_id=UUID(int=2)
    )
    assert named.workspace_id == UUID(int=2)
    tenant = PurgeRequested(manifest_id=MANIFEST, older_than=AT, scope="tenant")
    assert (tenant.scope, tenant.workspace_id) == ("tenant", None)
