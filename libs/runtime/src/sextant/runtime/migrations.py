"""Alembic per service, run on start-up (and by ``sextant migrate``), as the schema owner.

Before the migrations the runtime creates the schema and the service's app role (no
ownership, no BYPASSRLS) and grants it DML on the schema, so the app can never alter or
bypass what the migrations set up. All services migrate under one advisory lock, so
replicas and the embedded mode's seven services never race.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import sqlalchemy as sa
import structlog
from alembic import command, context
from alembic.config import Config
from alembic.operations import Operations
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, MetaData, text

from sextant.runtime.db import TENANT_SETTING, Database, app_role_for, identifier

log = structlog.get_logger()

# Migrations pass ``alembic.op`` (a module proxy); tests may pass an Operations object.
AlembicOps = Operations | ModuleType

_MIGRATION_LOCK = 0x5E87A47  # any constant shared by every service


async def migrate(db: Database, migrations_dir: Path, metadata: MetaData) -> None:
    """Bootstrap the schema and app role, then upgrade the schema to head."""
    engine = db.owner_engine()
    try:
        async with engine.begin() as conn:
            await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
            await conn.run_sync(_bootstrap, db.schema, db._app_password)
            if not await conn.run_sync(sees_every_row):
                log.warning(
                    "migrations.owner_under_row_security",
                    schema=db.schema,
                    why="the owner is neither superuser nor BYPASSRLS: a data step that reads "
                    "or fills rows across tenants sees none and does nothing",
                )
            await conn.run_sync(_upgrade, migrations_dir, db.schema, metadata)
    finally:
        await engine.dispose()


def sees_every_row(conn: Connection) -> bool:
    """Whether the connected role reads every tenant's rows (a superuser, or BYPASSRLS).
    Tenant tables FORCE row-level security, so any other owner migrates blind: a backfill
    across tenants (identity 0010's address names, ingest 0011's finished lists) finds no
    row, silently. The deployment docs ask for BYPASSRLS; :func:`migrate` warns without it."""
    query = text("SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user")
    return bool(conn.execute(query).scalar())


def _bootstrap(conn: Connection, schema: str, password: str) -> None:
    role = app_role_for(schema)
    conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {identifier(schema)}"))
    exists = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).scalar()
    escaped = password.replace("'", "''")
    if not exists:
        conn.execute(
            text(
                f"CREATE ROLE {role} LOGIN PASSWORD '{escaped}' "
                "NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOINHERIT"
            )
        )
    else:
        conn.execute(text(f"ALTER ROLE {role} PASSWORD '{escaped}'"))
    conn.execute(text(f"GRANT USAGE ON SCHEMA {schema} TO {role}"))
    conn.execute(
        text(
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} "
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role}"
        )
    )
    conn.execute(
        text(
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT USAGE, SELECT ON SEQUENCES TO {role}"
        )
    )


def _upgrade(conn: Connection, migrations_dir: Path, schema: str, metadata: MetaData) -> None:
    config = alembic_config(migrations_dir, schema)
    config.attributes.update(connection=conn, metadata=metadata, schema=schema)
    command.upgrade(config, "head")


def alembic_config(migrations_dir: Path, schema: str) -> Config:
    """An in-memory Alembic config for a service's migrations folder."""
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", str(migrations_dir / "versions"))
    config.attributes["schema"] = schema
    return config


def head_revisions(migrations_dir: Path) -> frozenset[str]:
    """The revisions a schema is at once every migration in ``migrations_dir`` ran."""
    script = ScriptDirectory.from_config(alembic_config(migrations_dir, "unused"))
    return frozenset(script.get_heads())


def run_env() -> None:
    """The whole body of every service's ``env.py``: migrate on the given connection."""
    attributes: dict[str, Any] = context.config.attributes
    schema: str = attributes["schema"]
    metadata: MetaData = attributes["metadata"]
    conn: Connection = attributes["connection"]

    def in_schema(name: str | None, type_: str, parent_names: Any) -> bool:
        return type_ != "schema" or name == schema

    context.configure(
        connection=conn,
        target_metadata=metadata,
        version_table_schema=schema,
        include_schemas=True,
        include_name=in_schema,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def compare_to_models(conn: Connection, schema: str, metadata: MetaData) -> list[Any]:
    """The differences between the live schema and the models (``alembic check``'s view)."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    def in_schema(name: str | None, type_: str, parent_names: Any) -> bool:
        return type_ != "schema" or name == schema

    ctx = MigrationContext.configure(
        conn,
        opts={
            "include_schemas": True,
            "include_name": in_schema,
            "version_table_schema": schema,
            "compare_type": True,
            "target_metadata": metadata,
        },
    )
    diffs = compare_metadata(ctx, metadata)
    return [d for d in diffs if not _is_version_table(d)]


def _is_version_table(diff: Any) -> bool:
    return bool(diff[0] == "remove_table" and diff[1].name == "alembic_version")


def _names_current_tenant(column: str) -> str:
    """SQL: the row's ``column`` is the transaction's tenant (none set: no row)."""
    return f"{identifier(column)} = NULLIF(current_setting('{TENANT_SETTING}', true), '')::uuid"


def enable_tenant_rls(op: AlembicOps, table: str, schema: str) -> None:
    """Turn on FORCE'd row-level security keyed on ``tenant_id`` for a tenant table."""
    qualified = f"{identifier(schema)}.{identifier(table)}"
    condition = _names_current_tenant("tenant_id")
    op.execute(f"ALTER TABLE {qualified} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {qualified} FORCE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY tenant_isolation ON {qualified} USING ({condition}) WITH CHECK ({condition})"
    )


def let_named_tenant_read_and_delete(op: AlembicOps, table: str, schema: str, column: str) -> None:
    """Beside :func:`enable_tenant_rls`'s policy, let the tenant ``column`` names (a row
    about two tenants: the other one) read and delete the row in its own transaction, never
    write it: so its purge can delete what others hold about it."""
    qualified = f"{identifier(schema)}.{identifier(table)}"
    condition = _names_current_tenant(column)
    for statement in ("SELECT", "DELETE"):
        name = identifier(f"{column}_{statement.lower()}")
        op.execute(f"CREATE POLICY {name} ON {qualified} FOR {statement} USING ({condition})")


def grant_maintain(op: AlembicOps, schema: str, tables: Sequence[str]) -> None:
    """Let the service's app role analyze ``tables`` (PostgreSQL 17's MAINTAIN privilege),
    as :func:`sextant.runtime.statistics.analyze_grown` does once they outgrow their
    statistics. An older server grants nothing: autovacuum alone analyzes them there.
    MAINTAIN also lets the role vacuum, reindex, cluster and lock the tables: none of it
    changes what a row says or who may read it (row-level security stays forced)."""
    _on_17_or_later(op, f"GRANT MAINTAIN ON {_qualified(schema, tables)} TO {app_role_for(schema)}")


def revoke_maintain(op: AlembicOps, schema: str, tables: Sequence[str]) -> None:
    """Undo :func:`grant_maintain`."""
    _on_17_or_later(
        op, f"REVOKE MAINTAIN ON {_qualified(schema, tables)} FROM {app_role_for(schema)}"
    )


def _qualified(schema: str, tables: Sequence[str]) -> str:
    return ", ".join(f"{identifier(schema)}.{identifier(t)}" for t in tables)


def _on_17_or_later(op: AlembicOps, statement: str) -> None:
    op.execute(
        "DO $$ BEGIN IF current_setting('server_version_num')::int >= 170000 THEN "
        f"EXECUTE '{statement}'; END IF; END $$"
    )


def create_spine_tables(op: AlembicOps, schema: str) -> None:
    """Create the outbox and inbox tables (the first migration of every service calls this)."""
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("event_id", sa.Uuid, nullable=False, unique=True),
        sa.Column("topic", sa.Text, nullable=False),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("envelope", sa.dialects.postgresql.JSONB, nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        schema=schema,
    )
    op.create_table(
        "inbox",
        sa.Column("consumer_group", sa.Text, primary_key=True),
        sa.Column("event_id", sa.Uuid, primary_key=True),
        sa.Column(
            "processed_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        schema=schema,
    )
    op.execute(
        f"CREATE OR REPLACE FUNCTION {identifier(schema)}.notify_outbox() RETURNS trigger "
        f"LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_notify('sextant_outbox', '{schema}'); "
        "RETURN NULL; END $$"
    )
    op.execute(
        f"CREATE TRIGGER outbox_notify AFTER INSERT ON {schema}.outbox "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {schema}.notify_outbox()"
    )


def create_purged_tenants(op: AlembicOps, schema: str) -> None:
    """Create ``purged_tenants`` (:mod:`sextant.runtime.tombstones`), in a migration of
    every service's own (after ``create_spine_tables``'s). Not under row-level security:
    the platform's record, read and written by the runtime in any tenant's transaction (the
    app role gets DML by the schema's default privileges, as on the outbox and inbox)."""
    op.create_table(
        "purged_tenants",
        sa.Column("tenant_id", sa.Uuid, primary_key=True),
        sa.Column("purged_at", sa.DateTime(timezone=True), nullable=False),
        schema=schema,
    )


def drop_purged_tenants(op: AlembicOps, schema: str) -> None:
    """Undo :func:`create_purged_tenants`."""
    op.drop_table("purged_tenants", schema=schema)


def create_purged_workspaces(op: AlembicOps, schema: str) -> None:
    """Create ``purged_workspaces`` (:mod:`sextant.runtime.tombstones`), like
    :func:`create_purged_tenants`: a workspace's tombstone."""
    op.create_table(
        "purged_workspaces",
        sa.Column("tenant_id", sa.Uuid, primary_key=True),
        sa.Column("workspace_id", sa.Uuid, primary_key=True),
        sa.Column("purged_at", sa.DateTime(timezone=True), nullable=False),
        schema=schema,
    )


def drop_purged_workspaces(op: AlembicOps, schema: str) -> None:
    """Undo :func:`create_purged_workspaces`."""
    op.drop_table("purged_workspaces", schema=schema)


def drop_spine_tables(op: AlembicOps, schema: str) -> None:
    """Undo :func:`create_spine_tables`."""
    op.execute(f"DROP TRIGGER IF EXISTS outbox_notify ON {identifier(schema)}.outbox")
    op.execute(f"DROP FUNCTION IF EXISTS {identifier(schema)}.notify_outbox()")
    op.drop_table("inbox", schema=schema)
    op.drop_table("outbox", schema=schema)
