"""What a running service checks before it calls itself ready, one named check each, so
``/readyz`` (and the gateway's ``/v1/status``, which gathers them) says which part fails
and why instead of one yes or no."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import text

from sextant.runtime.db import identifier

if TYPE_CHECKING:
    from sextant.runtime.app import ServiceState


@dataclass(frozen=True)
class Check:
    """One readiness check: its name, whether it passes, and what was found."""

    name: str
    ok: bool
    detail: str

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


async def service_checks(state: ServiceState, expected_revisions: frozenset[str]) -> list[Check]:
    """The service's checks, in the order a reader would look: the database, its schema's
    migrations, the bus, the outbox relay, the consumer (only when it consumes)."""
    database = await state.db.ping()
    checks = [
        Check("database", database, "answers" if database else "does not answer"),
        await _migrations(state, expected_revisions) if database else _unchecked("migrations"),
    ]
    bus = await state.bus.ping()
    checks.append(Check("bus", bus, f"{state.bus.name} bus answers" if bus else "does not answer"))
    relay = state.relay is not None and state.relay.alive
    checks.append(
        Check(
            "outbox relay",
            relay,
            "publishing" if relay else "stopped: committed events are not published",
        )
    )
    if state.processor is not None:
        topics = sorted(state.spec.handlers)
        consuming = state.processor.alive
        checks.append(
            Check(
                "consumer",
                consuming,
                f"consuming {', '.join(topics)}"
                if consuming
                else f"stopped: events of {', '.join(topics)} are not processed",
            )
        )
    return checks


def summary(checks: list[Check]) -> str:
    """One line for a list of checks: how many pass, or which fail and why."""
    failing = [c for c in checks if not c.ok]
    if not failing:
        return f"all {len(checks)} checks pass"
    return "failing: " + "; ".join(f"{c.name} ({c.detail})" for c in failing)


async def _migrations(state: ServiceState, expected: frozenset[str]) -> Check:
    """The schema's recorded revisions against the code's migration heads: a schema left
    behind (a `sextant migrate` not run after an upgrade) fails here, not on a query."""
    table = f"{identifier(state.spec.schema)}.alembic_version"
    try:
        async with state.db.engine.connect() as conn:
            found = frozenset((await conn.scalars(text(f"SELECT version_num FROM {table}"))).all())  # noqa: S608 - a quoted identifier
    except Exception as exc:  # no table (never migrated), no right to read it, a lost link
        return Check("migrations", False, f"cannot read {table}: {type(exc).__name__}")
    if found == expected:
        return Check("migrations", True, f"at {', '.join(sorted(found))}")
    return Check(
        "migrations",
        False,
        f"schema at {', '.join(sorted(found)) or 'nothing'}, the code expects "
        f"{', '.join(sorted(expected))}: run `sextant migrate`",
    )


def _unchecked(name: str) -> Check:
    return Check(name, False, "not checked: the database does not answer")
