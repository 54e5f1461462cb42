"""Data steps a migration runs with Python's help (names are folded in Python).

:func:`address_names_from_aliases` fills ``address_names`` from the aliases stored before
migration 0009 collected it, so a tenant from before gets the shared-address rule
(``keys.is_shared_address``) for its old addresses too: a fourth unrelated name at an
address its old aliases already wrote under three is refused as a merge key.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from sextant.contracts.events.common import Actor
from sextant.identity.domain.evidence import AliasFacts
from sextant.identity.domain.keys import keys_for
from sextant.runtime.db import identifier

CHUNK = 5_000  # rows inserted a statement


def address_of(actor: Actor) -> tuple[str, str] | None:
    """The (address key, folded name) the service records for this alias when it is
    placed (``attribution.Resolution.unshared``), or None when it has no address key or
    no name."""
    name = AliasFacts.of(actor).name
    address = next(
        (k.value for k in keys_for(actor) if k.value.removeprefix("bot|").startswith("email:")),
        None,
    )
    return (address, name) if address is not None and name is not None else None


def address_names_from_aliases(conn: Connection, schema: str) -> int:
    """Record the (address, name) of every stored alias, across tenants, as the owner;
    idempotent (a pair already there is left). Returns the pairs read."""
    schema = identifier(schema)
    rows = conn.execute(
        sa.text(
            "SELECT tenant_id, kind, account_id, login, email, display_name, is_bot "  # noqa: S608 (schema: a checked identifier)
            f"FROM {schema}.aliases WHERE email IS NOT NULL AND display_name IS NOT NULL"
        )
    ).mappings()
    insert = sa.text(
        f"INSERT INTO {schema}.address_names (tenant_id, address, name) "  # noqa: S608 (schema: a checked identifier)
        "VALUES (:tenant_id, :address, :name) ON CONFLICT DO NOTHING"
    )
    pending: list[dict[str, Any]] = []
    seen = 0
    for row in rows.all():
        actor = Actor.model_validate({k: v for k, v in row.items() if k != "tenant_id"})
        found = address_of(actor)
        if found is None:
            continue
        seen += 1
        pending.append({"tenant_id": row["tenant_id"], "address": found[0], "name": found[1]})
        if len(pending) >= CHUNK:
            conn.execute(insert, pending)
            pending = []
    if pending:
        conn.execute(insert, pending)
    return seen
