"""Tool payloads → canonical activity events. One module per tool, one entry point here.

A normalizer returns :class:`Normalized` — facts, or the reason the delivery is
deliberately ignored — and raises :class:`Malformed` when the payload cannot be read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from sextant.contracts.events.common import SourceKind
from sextant.ingest.normalize import generic, github, gitlab, jira
from sextant.ingest.normalize.base import Context, Fact, Malformed, Normalized

__all__ = ["Context", "Fact", "Malformed", "Normalized", "normalize"]

_BY_KIND: dict[str, Callable[[Context, str | None, dict[str, Any]], Normalized]] = {
    "github": github.normalize,
    "gitlab": gitlab.normalize,
    "jira": jira.normalize,
    "generic": generic.normalize,
}


def normalize(kind: SourceKind, ctx: Context, event: str | None, payload: Any) -> Normalized:
    """Normalize one parsed delivery; every failure to read it becomes :class:`Malformed`."""
    if not isinstance(payload, dict):
        raise Malformed("the body must be a JSON object")
    try:
        return _BY_KIND[kind](ctx, event, payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise Malformed(f"a canonical event could not be built ({where}: {first['msg']})") from None
    except RecursionError:
        raise Malformed("the payload is nested too deeply to read") from None
    except (LookupError, TypeError, ValueError, AttributeError, ArithmeticError, OSError) as exc:
        # ArithmeticError and OSError: what the standard library raises for numbers out of
        # its range (an OSError here is never an outage: normalizing does no I/O).
        raise Malformed(
            f"the payload has an unexpected shape ({type(exc).__name__}: {exc})"
        ) from None
