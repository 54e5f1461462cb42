"""Which service owns a public path (ARCHITECTURE §7): the gateway's one routing table.

A pattern is a list of segments: a literal, ``{name}`` for exactly one segment, or a
final ``**`` for any number (zero included). The first pattern that matches wins, so
the more specific ones come first (``/v1/developers/{id}/trends`` before
``/v1/developers/**``)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, unquote


@dataclass(frozen=True)
class Route:
    pattern: str
    service: str
    # A platform admin holding no tenant may call it too: the service keeps what it does
    # under the platform (reports: cross-tenant roll-ups). Every other route needs a tenant.
    platform: bool = False

    def match(self, segments: list[str]) -> dict[str, str] | None:
        parts = self.pattern.strip("/").split("/")
        params: dict[str, str] = {}
        for i, part in enumerate(parts):
            if part == "**":
                return params
            if i >= len(segments):
                return None
            if part.startswith("{") and part.endswith("}"):
                params[part[1:-1]] = segments[i]
            elif part != segments[i]:
                return None
        return params if len(parts) == len(segments) else None


ROUTES: tuple[Route, ...] = (
    Route("/v1/workspaces/{workspace_id}/sources", "ingest"),
    Route("/v1/sources/**", "ingest"),
    Route("/v1/developers/{developer_id}/trends", "insights"),
    Route("/v1/developers/**", "identity"),
    Route("/v1/teams/{team_id}/metrics", "insights"),
    Route("/v1/teams/**", "identity"),
    Route("/v1/forecasts/**", "forecast"),
    Route("/v1/sprints/**", "forecast"),
    Route("/v1/work-items/**", "forecast"),
    Route("/v1/metrics/**", "insights"),
    Route("/v1/suggestions/**", "insights"),
    Route("/v1/change-requests/**", "insights"),
    Route("/v1/deployments/**", "insights"),
    Route("/v1/incidents/**", "insights"),
    Route("/v1/builds/**", "insights"),
    Route("/v1/gate-policies", "insights"),
    Route("/v1/gates/**", "insights"),
    Route("/v1/retention-policies/**", "archive"),
    Route("/v1/archive/**", "archive"),
    Route("/v1/legal-holds/**", "archive"),
    Route("/v1/reports/**", "reports", platform=True),
    Route("/v1/report-schedules/**", "reports"),
    Route("/v1/report-logo", "reports"),
    Route("/v1/rollup-grants/**", "reports"),
)


@dataclass(frozen=True)
class Match:
    service: str
    params: dict[str, str]
    pattern: str = ""  # the route's template: the request metrics' label, never the raw path
    platform: bool = False  # see Route.platform


def path_segments(raw_path: str) -> list[str] | None:
    """The decoded segments of a request's raw path, or None when it cannot be a public
    path: an empty, ``.`` or ``..`` segment, a segment that decodes to one holding
    ``/`` (``%2F``), or a control character. Routing and forwarding both use these
    segments, so what is checked is exactly what is sent."""
    if not raw_path.startswith("/"):
        return None
    segments = [unquote(part) for part in raw_path[1:].split("/")]
    for segment in segments:
        if segment in ("", ".", "..") or "/" in segment:
            return None
        if any(ord(c) < 0x20 or ord(c) == 0x7F for c in segment):
            return None
    return segments


def encoded_path(segments: list[str]) -> str:
    """The path to forward: every segment percent-encoded on its own."""
    return "/" + "/".join(quote(segment, safe="") for segment in segments)


def route_for(path: str | list[str]) -> Match | None:
    """The service behind ``path`` (a path or its segments) and its named segments."""
    segments = path if isinstance(path, list) else [s for s in path.split("/") if s]
    for route in ROUTES:
        params = route.match(segments)
        if params is not None:
            return Match(route.service, params, route.pattern, route.platform)
    return None
