"""The web portal (``web/``, built to static files) served at ``/``.

Registered last, after every API route, and it never answers for a path the platform
owns (:data:`RESERVED`): an unknown ``/v1/…`` stays the API's problem+json, never the
portal's page. A path with no file behind it and no extension is one of the app's own
routes (``/forecasts``): it gets ``index.html`` and the app draws it. Vite names the
files under ``assets/`` by their content's hash, so they are cached for a year;
``index.html`` is revalidated every time, so a new build shows at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter
from fastapi import Path as PathParam
from fastapi.responses import FileResponse

from sextant.gateway.access import gateway_of
from sextant.runtime.app import State
from sextant.runtime.errors import NotFound

router = APIRouter(include_in_schema=False)

# First path segments that belong to the platform, never to the portal.
RESERVED = frozenset(
    {"v1", "internal", "docs", "openapi.json", "healthz", "readyz", "metrics", "webhooks"}
)
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
# The portal loads nothing from elsewhere and is framed by nobody.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'; object-src 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
NOT_BUILT = (
    "the web portal is not built: `make run` builds it (it needs npm), or run "
    "`npm ci && npm run build` in web/; the API works without it"
)


def repository_web_dist() -> Path:
    """Where ``web/`` builds to in this source tree (the workspace installs the gateway
    editable, so its sources sit under ``services/gateway/src``)."""
    return Path(__file__).resolve().parents[6] / "web" / "dist"


def portal_file(dist: Path, path: str) -> tuple[Path, str] | None:
    """The file to answer ``path`` with and its Cache-Control, or None for a 404.

    ``path`` is the request's path without its leading slash. Anything that would leave
    ``dist`` (``..``, a symlink out) is no file; a path whose last segment has a dot names
    a file, so a missing one is a 404 rather than the app's page."""
    root = dist.resolve()
    first = path.split("/", 1)[0]
    if first in RESERVED:
        return None
    if path:
        candidate = (root / path).resolve()
        if candidate.is_relative_to(root) and candidate.is_file():
            cache = IMMUTABLE if first == "assets" else REVALIDATE
            return candidate, cache
        if "." in path.rsplit("/", 1)[-1]:
            return None
    index = root / "index.html"
    return (index, REVALIDATE) if index.is_file() else None


@router.api_route("/{path:path}", methods=["GET", "HEAD"])
async def portal(
    path: Annotated[str, PathParam(description="a page of the portal or one of its files")],
    state: State,
) -> FileResponse:
    """A file of the built portal, or its ``index.html`` for the app's own routes."""
    dist = gateway_of(state).settings.web_dist or repository_web_dist()
    found = portal_file(dist, path)
    if found is None:
        if path.split("/", 1)[0] in RESERVED or (dist / "index.html").is_file():
            raise NotFound(f"no such path: /{path[:200]}")
        raise NotFound(NOT_BUILT)
    file, cache = found
    headers = {"Cache-Control": cache}
    if file.name == "index.html":
        headers |= PAGE_HEADERS
    return FileResponse(file, headers=headers)
