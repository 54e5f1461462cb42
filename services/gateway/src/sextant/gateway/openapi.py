"""One OpenAPI document for the whole public API: the gateway's own routes, plus each
service's routes that :mod:`domain.routes` sends to it, as that service describes them
(fetched through the same upstream clients, cached once read)."""

from __future__ import annotations

import copy
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from sextant.gateway.domain.routes import route_for
from sextant.gateway.upstreams import Upstreams, within
from sextant.runtime.errors import document_problems, problem_response
from sextant.runtime.openapi import restore_example_nulls

UNAUTHENTICATED_PREFIXES = (
    "/v1/hooks/",
    "/v1/oauth/",
    "/v1/events/",
    "/v1/status",
    "/v1/auth/jwks",
    "/v1/session/link",  # the one-time code is the credential
)
SESSION_PATHS = frozenset({"/v1/session"})  # the portal's cookie, not a bearer token


def _rename_refs(node: Any, renames: dict[str, str]) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                name = value.rsplit("/", 1)[-1]
                out[key] = f"#/components/schemas/{renames.get(name, name)}"
            else:
                out[key] = _rename_refs(value, renames)
        return out
    if isinstance(node, list):
        return [_rename_refs(v, renames) for v in node]
    return node


def merge(own: dict[str, Any], services: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The gateway's document with each service's public paths and schemas folded in.

    A schema name two services use for different shapes is prefixed with the service's
    name in that service's part, so no operation points at another's model."""
    merged = copy.deepcopy(own)
    schemas: dict[str, Any] = merged.setdefault("components", {}).setdefault("schemas", {})
    for name, document in sorted(services.items()):
        theirs: dict[str, Any] = document.get("components", {}).get("schemas", {})
        renames = {
            key: f"{name}_{key}"
            for key, value in theirs.items()
            if key in schemas and schemas[key] != value
        }
        for key, value in theirs.items():
            schemas[renames.get(key, key)] = _rename_refs(value, renames)
        for path, item in document.get("paths", {}).items():
            match = route_for(path)
            if match is None or match.service != name:
                continue  # health, internal and webhook routes are not the public API's
            merged["paths"][path] = _rename_refs(item, renames)
    _secure(merged)
    return restore_example_nulls(merged)


# What the edge itself answers on any authenticated route, whatever the route: no or a bad
# token (401), a role or tenant that may not (403), over a rate (429), the route's service
# or a database down (503, retryable).
EDGE_PROBLEMS = {
    "401": "no token, or an expired, revoked or unknown one",
    "403": "the caller's role or tenant may not do this",
    "429": "over the tenant's, the key's or the address's rate: retry after Retry-After",
    "503": "the service behind this route or a database is unavailable: nothing was changed",
}
ROUTED_PROBLEMS = {
    "400": "a ?scope= given twice, or a value the service cannot use",
    "404": "the ?scope= or the object named is not the caller's tenant's",
}


def _secure(document: dict[str, Any]) -> None:
    """Declare the bearer scheme and, per route, the problems it can answer besides its
    own: the edge's on every authenticated route; a bad or foreign ?scope= on every route
    the gateway forwards; an object not found where the path names one; a value refused
    where there is input; a body over the limit where there is a body. A route declares
    anything else itself (409, 410...)."""
    document_problems(document)
    components = document.setdefault("components", {})
    components.setdefault("securitySchemes", {})["bearer"] = {
        "type": "http",
        "scheme": "bearer",
        "description": "an OIDC/JWT access token, a local-issuer token, or an API key (sxk_…)",
    }
    components["securitySchemes"]["session"] = {
        "type": "apiKey",
        "in": "cookie",
        "name": "sextant_session",
        "description": "the web portal's session (`__Host-sextant_session` over https); "
        "every /v1 route takes it when no Authorization header is sent, and a write "
        "needs the X-CSRF-Token that GET /v1/session gives",
    }
    for path, item in document.get("paths", {}).items():
        if path.startswith(UNAUTHENTICATED_PREFIXES):
            continue
        for operation in item.values():
            if not isinstance(operation, dict):
                continue
            operation["security"] = [{"session" if path in SESSION_PATHS else "bearer": []}]
            problems = dict(EDGE_PROBLEMS)
            if route_for(path) is not None:
                problems.update(ROUTED_PROBLEMS)
            if "{" in path:
                problems.setdefault("404", "no such object for this tenant")
            if operation.get("parameters") or "requestBody" in operation:
                problems.setdefault("400", "a value the service cannot use or store")
            if "requestBody" in operation:
                problems["413"] = "the body is over the gateway's limit"
            responses = operation.setdefault("responses", {})
            for status, description in problems.items():
                responses.setdefault(status, problem_response(description))
            operation["responses"] = dict(sorted(responses.items()))


DESCRIPTION = """The public API of Sextant, through the gateway. A platform admin acts on a \
tenant through /v1/tenants/{tenant_id}/<any path below>.

Every error is `application/problem+json` (RFC 9457) with the `Problem` schema: the \
errors each operation lists, and also an unknown path (404) or a method a path does not \
allow (405, with an `Allow` header)."""


class PublicOpenAPI:
    """Builds the merged document on first request; a service that cannot be read yet is
    left out of that answer and asked again next time."""

    def __init__(self, app: FastAPI, upstreams: Upstreams) -> None:
        self._app = app
        self._upstreams = upstreams
        self._services: dict[str, dict[str, Any]] = {}

    async def document(self) -> dict[str, Any]:
        for name in self._upstreams.names:
            if name not in self._services:
                try:
                    response = await within(5.0, self._upstreams.client(name).get("/openapi.json"))
                    response.raise_for_status()
                    self._services[name] = response.json()
                except (httpx.HTTPError, TimeoutError, ValueError):
                    continue
        own = get_openapi(
            title="Sextant API",
            version=self._app.version,
            description=DESCRIPTION,
            routes=self._app.routes,
        )
        own["paths"] = {p: item for p, item in own["paths"].items() if p.startswith("/v1/")}
        return merge(own, self._services)
