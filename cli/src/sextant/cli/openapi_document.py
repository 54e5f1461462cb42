"""The public API's OpenAPI document as the gateway merges it, built without a running
platform (no database, no bus: only the routes), so the web portal's API types can be
generated from it (``sextant openapi --output web/openapi.json``) and checked for drift."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from sextant.cli.services import UPSTREAM_SPECS
from sextant.gateway.main import create_app as create_gateway
from sextant.gateway.openapi import PublicOpenAPI
from sextant.gateway.upstreams import Upstreams
from sextant.runtime.app import create_service_app
from sextant.runtime.bus.base import EventBus
from sextant.runtime.settings import RuntimeSettings
from sextant.runtime.tokens import ensure_local_keypair


def _no_bus() -> EventBus:
    raise RuntimeError("the document is built without starting any service")


async def public_document() -> dict[str, Any]:
    """What ``GET /openapi.json`` answers on a platform of every service."""
    with tempfile.TemporaryDirectory(prefix="sextant-openapi-") as folder:
        private_pem, public_pem = ensure_local_keypair(Path(folder))
    settings = RuntimeSettings(
        database_url="postgresql://unused@127.0.0.1:1/unused",  # never connected to
        internal_token_public_key=public_pem,
        internal_token_private_key=private_pem,
        bus="local",
    )
    apps = {
        name: create_service_app(
            spec, settings, bus_factory=_no_bus, owns_bus=False, configure_logs=False
        )
        for name, spec in UPSTREAM_SPECS.items()
    }
    upstreams = Upstreams.in_process(apps, timeout=10)
    gateway = create_gateway(settings, upstreams=upstreams)
    try:
        return await PublicOpenAPI(gateway, upstreams).document()
    finally:
        await upstreams.close()


def render(document: dict[str, Any]) -> str:
    """The document as committed: sorted keys, two-space indents, a final newline."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
