"""The audit log's purge: a checkpoint per chain (the last purged row's seq and hash, how
many were purged) the chain check starts from, and the one way the service may delete
audit rows — ``purge_audit_prefix``, which deletes a prefix of the chain and moves the
checkpoint in the same statement (the app role still may not UPDATE or DELETE rows, nor
write checkpoints itself).

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import context, op

from sextant.runtime.db import app_role_for
from sextant.runtime.migrations import enable_tenant_rls

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    schema = context.config.attributes["schema"]
    app = app_role_for(schema)
    op.create_table(
        "audit_checkpoints",
        sa.Column("tenant_id", sa.Uuid, primary_key=True),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("hash", sa.Text, nullable=False),
        sa.Column("purged", sa.BigInteger, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        schema=schema,
    )
    enable_tenant_rls(op, "audit_checkpoints", schema)
    op.execute(f"REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON {schema}.audit_checkpoints FROM {app}")
    # SECURITY DEFINER runs as the tables' owner, still under their forced row-level
    # security: only the tenant the transaction acts for is reached.
    op.execute(
        f"""
CREATE FUNCTION {schema}.purge_audit_prefix(p_tenant uuid, p_upto bigint) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    cut_hash text;
    deleted bigint;
BEGIN
    SELECT hash INTO cut_hash FROM {schema}.audit_log WHERE tenant_id = p_tenant AND seq = p_upto;
    IF cut_hash IS NULL THEN
        RETURN 0;
    END IF;
    DELETE FROM {schema}.audit_log WHERE tenant_id = p_tenant AND seq <= p_upto;
    GET DIAGNOSTICS deleted = ROW_COUNT;
    INSERT INTO {schema}.audit_checkpoints AS c (tenant_id, seq, hash, purged, at)
    VALUES (p_tenant, p_upto, cut_hash, deleted, now())
    ON CONFLICT (tenant_id) DO UPDATE
        SET seq = EXCLUDED.seq, hash = EXCLUDED.hash, purged = c.purged + EXCLUDED.purged,
            at = EXCLUDED.at;
    RETURN deleted;
END
$$"""  # noqa: S608 - the schema is the migration's own name
    )
    op.execute(f"REVOKE ALL ON FUNCTION {schema}.purge_audit_prefix(uuid, bigint) FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {schema}.purge_audit_prefix(uuid, bigint) TO {app}")


def downgrade() -> None:
    schema = context.config.attributes["schema"]
    op.execute(f"DROP FUNCTION {schema}.purge_audit_prefix(uuid, bigint)")
    op.drop_table("audit_checkpoints", schema=schema)
