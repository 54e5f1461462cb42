"""Domain errors and the one place that turns every error into RFC 9457 problem+json."""

from __future__ import annotations

import errno
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"
log = structlog.get_logger()


class DomainError(Exception):
    """An error a client can act on; subclasses fix the status and the problem type."""

    status: int = 400
    title: str = "Bad request"
    type_slug: str = "bad-request"

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions


class InvalidInput(DomainError):
    status, title, type_slug = 400, "Invalid input", "invalid-input"


class Unauthenticated(DomainError):
    status, title, type_slug = 401, "Unauthenticated", "unauthenticated"


class Forbidden(DomainError):
    status, title, type_slug = 403, "Forbidden", "forbidden"


class NotFound(DomainError):
    status, title, type_slug = 404, "Not found", "not-found"


class Conflict(DomainError):
    status, title, type_slug = 409, "Conflict", "conflict"


class Gone(DomainError):
    status, title, type_slug = 410, "Gone", "gone"


class Unprocessable(DomainError):
    """Well-formed, but the answer cannot be computed (e.g. no history yet)."""

    status, title, type_slug = 422, "Cannot be computed", "unprocessable"


class PayloadTooLarge(DomainError):
    status, title, type_slug = 413, "Payload too large", "payload-too-large"


class UnsupportedMediaType(DomainError):
    status, title, type_slug = 415, "Unsupported media type", "unsupported-media-type"


class TooManyRequests(DomainError):
    """Over a limit; ``retry_after`` (seconds) becomes the Retry-After header."""

    status, title, type_slug = 429, "Too many requests", "too-many-requests"


class Unavailable(DomainError):
    status, title, type_slug = 503, "Service unavailable", "unavailable"


def problem(
    status: int, title: str, detail: str, *, type_slug: str, instance: str | None = None, **ext: Any
) -> JSONResponse:
    """A problem+json response."""
    body: dict[str, Any] = {
        "type": f"https://sextant.dev/problems/{type_slug}",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    body.update(ext)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    if "retry_after" in ext:
        headers["Retry-After"] = str(ext["retry_after"])
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def install_problem_handlers(app: FastAPI) -> None:
    """Map domain errors, validation errors, HTTP errors and crashes to problem+json."""

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        return problem(
            exc.status,
            exc.title,
            exc.detail,
            type_slug=exc.type_slug,
            instance=request.url.path,
            **exc.extensions,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        where = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors[:5])
        return problem(
            422,
            "Validation failed",
            where or "request is invalid",
            type_slug="validation",
            instance=request.url.path,
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        """An unknown path (404) or method (405, with its Allow header kept)."""
        answer = problem(
            exc.status_code,
            _reason(exc.status_code),
            str(exc.detail),
            type_slug=f"http-{exc.status_code}",
            instance=request.url.path,
        )
        for name, value in (exc.headers or {}).items():
            answer.headers[name] = value
        return answer

    async def _infrastructure(request: Request, exc: Exception) -> JSONResponse:
        """The database or the network is down: say so, retryably (503 + Retry-After).
        Registered per exception class, not for ``Exception``: Starlette re-raises what
        reaches its catch-all, which would break the connection instead of answering."""
        state = _sqlstate(exc)
        if state in UNSTORABLE_TEXT:
            return problem(
                400,
                "Invalid input",
                "a text value holds a character the database cannot store (NUL, \\u0000)",
                type_slug="invalid-input",
                instance=request.url.path,
            )
        if state in OUT_OF_RANGE:
            return problem(
                400,
                "Invalid input",
                "a value is out of the range the database can store (a number, a time, or"
                " a text too long for its index)",
                type_slug="invalid-input",
                instance=request.url.path,
            )
        if not is_outage(exc):
            return await _crash(request, exc)
        log.warning("request.unavailable", path=request.url.path, error=type(exc).__name__)
        return problem(
            503,
            "Service unavailable",
            "a backing service (the database) is unavailable; nothing was changed",
            type_slug="unavailable",
            instance=request.url.path,
            retry_after=5,
        )

    import asyncpg
    from sqlalchemy.exc import DBAPIError

    # SQLAlchemy's wrappers, and asyncpg's own errors from the driver-level hot paths
    # (:meth:`Database.driver_transaction`); OSError covers TimeoutError.
    for infrastructure_error in (
        DBAPIError,
        asyncpg.PostgresError,
        asyncpg.InterfaceError,
        OSError,
    ):
        app.add_exception_handler(infrastructure_error, _infrastructure)

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        log.exception("request.crashed", path=request.url.path)
        return problem(
            500,
            "Internal error",
            "an unexpected error occurred; it has been logged",
            type_slug="internal",
            instance=request.url.path,
        )


# character_not_in_repertoire (a NUL in text), untranslatable_character (\u0000 in jsonb):
# PostgreSQL refuses the value itself, so the request is at fault, wherever it was accepted.
UNSTORABLE_TEXT = frozenset({"22021", "22P05"})
# numeric_value_out_of_range, datetime_field_overflow, program_limit_exceeded (an index
# row over 2,704 bytes): the value is too large for the database, wherever it was accepted.
OUT_OF_RANGE = frozenset({"22003", "22008", "54000"})


# SQLSTATE classes that never mean an outage: data exception (a value out of range),
# integrity constraint violation, syntax error or access rule violation, program limit
# exceeded (an index row over its 2,704 bytes).
_REFUSED_CLASSES = frozenset({"22", "23", "42", "54"})
# What the C library says of a number it cannot hold (datetime.fromtimestamp(1e17) is an
# OSError with EOVERFLOW): an OSError, but no outage.
_VALUE_ERRNOS = frozenset({errno.EOVERFLOW, errno.ERANGE, errno.EDOM})


def is_outage(exc: BaseException) -> bool:
    """True when ``exc`` says a backing service (the database, the network) is unavailable:
    worth a 503 and a retry. False for a value that was refused — by PostgreSQL, by the
    driver encoding a query argument (asyncpg's client-side ``DataError`` is an
    ``InterfaceError``, which reads as an outage otherwise), or by the C library —
    which no retry will change."""
    from sextant.runtime.transient import is_transient

    return is_transient(exc) and not _refused_value(exc)


def _refused_value(exc: BaseException) -> bool:
    """Through SQLAlchemy's wrappers and explicit causes (not the context: an outage met
    while handling some earlier ValueError is still an outage)."""
    import asyncpg

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        code = getattr(current, "sqlstate", None)
        if isinstance(code, str) and code[:2] in _REFUSED_CLASSES:
            return True
        if isinstance(current, asyncpg.InterfaceError) and isinstance(current, ValueError):
            return True  # asyncpg's DataError: a query argument it could not encode
        if isinstance(current, OSError) and current.errno in _VALUE_ERRNOS:
            return True
        orig = getattr(current, "orig", None)
        current = orig if isinstance(orig, BaseException) else current.__cause__
    return False


def _sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE PostgreSQL answered with, found through SQLAlchemy's wrappers."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        code = getattr(current, "sqlstate", None)
        if isinstance(code, str):
            return code
        orig = getattr(current, "orig", None)
        current = orig if isinstance(orig, BaseException) else current.__cause__
    return None


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "description": "validation failures, on 422",
            "items": {
                "type": "object",
                "properties": {
                    "loc": {"type": "array", "items": {}},
                    "msg": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
    },
    "required": ["type", "title", "status", "detail"],
}


def problem_response(description: str = "problem+json") -> dict[str, Any]:
    """An OpenAPI response object for a problem+json answer."""
    return {
        "description": description,
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def document_problems(document: dict[str, Any]) -> dict[str, Any]:
    """Say in an OpenAPI document what the handlers above really send: every 422 (and
    every error response FastAPI describes as JSON) is problem+json. Idempotent."""
    document.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    for item in document.get("paths", {}).values():
        for operation in item.values():
            if not isinstance(operation, dict):
                continue
            for status, response in operation.get("responses", {}).items():
                if status.isdigit() and int(status) >= 400:
                    operation["responses"][status] = problem_response(
                        response.get("description") or "problem+json"
                    )
    schemas = document["components"]["schemas"]
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return document
