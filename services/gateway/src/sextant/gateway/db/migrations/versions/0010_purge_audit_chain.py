"""A purged tenant's audit chain goes with it: ``purge_audit_chain`` deletes every row of
the tenant's chain, its head and its checkpoint, and answers how many rows it deleted in all —
the one way the service may, and only for a tenant already soft-deleted (a live tenant's
chain is refused). The platform's own record of the purge stays: the tenant's tombstone
(``purged_at``), the platform chain's ``tenant.purge`` entry and the archive's manifest.

Revision ID: 0010
Revises: 0009
"""

from alembic import context, op

from sextant.runtime.db import app_role_for

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    schema = context.config.attributes["schema"]
    # SECURITY DEFINER runs as the tables' owner, still under their forced row-level
    # security: only the tenant the transaction acts for is reached.
    op.execute(
        f"""
CREATE FUNCTION {schema}.purge_audit_chain(p_tenant uuid) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    deleted bigint;
    more bigint;
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM {schema}.tenants WHERE id = p_tenant AND deleted_at IS NOT NULL
    ) THEN
        RAISE EXCEPTION 'tenant % is not deleted: its audit chain stays', p_tenant;
    END IF;
    DELETE FROM {schema}.audit_log WHERE tenant_id = p_tenant;
    GET DIAGNOSTICS deleted = ROW_COUNT;
    DELETE FROM {schema}.audit_heads WHERE tenant_id = p_tenant;
    GET DIAGNOSTICS more = ROW_COUNT;
    deleted := deleted + more;
    DELETE FROM {schema}.audit_checkpoints WHERE tenant_id = p_tenant;
    GET DIAGNOSTICS more = ROW_COUNT;
    deleted := deleted + more;
    RETURN deleted;
END
$$"""  # noqa: S608 - the schema is the migration's own name
    )
    op.execute(f"REVOKE ALL ON FUNCTION {schema}.purge_audit_chain(uuid) FROM PUBLIC")
    op.execute(
        f"GRANT EXECUTE ON FUNCTION {schema}.purge_audit_chain(uuid) TO {app_role_for(schema)}"
    )


def downgrade() -> None:
    schema = context.config.attributes["schema"]
    op.execute(f"DROP FUNCTION {schema}.purge_audit_chain(uuid)")
