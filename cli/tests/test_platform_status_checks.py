"""GET /v1/status over the whole platform: every service's checks by name, and a check
that really fails (a stopped consumer) named with its service, degrading the platform."""

from __future__ import annotations

from pathlib import Path

from sextant.cli.testing import running_platform
from sextant.runtime.app import ServiceState
from sextant.runtime.testing.plugin import InternalKeys


async def test_status_lists_every_check_and_names_a_stopped_consumer(
    database_url: str, internal_keys: InternalKeys, tmp_path: Path
) -> None:
    async with running_platform(database_url, internal_keys, tmp_path) as platform:
        healthy = await platform.client.get("/v1/status")
        forecast: ServiceState = platform.apps["forecast"].state.service
        assert forecast.processor is not None
        await forecast.processor.stop()  # running no more, as a crashed consumer
        forecast.processor._stopping.clear()  # ... that was not asked to stop
        degraded = await platform.client.get("/v1/status")

    assert healthy.status_code == 200, healthy.text
    services = healthy.json()["services"]
    assert list(services) == [
        "gateway", "archive", "forecast", "identity", "ingest", "insights", "reports"
    ]  # fmt: skip
    for name, service in services.items():
        names = [check["name"] for check in service["checks"]]
        assert names == ["database", "migrations", "bus", "outbox relay", "consumer"], name
        assert service["ready"] is True
        assert service["detail"] == "all 5 checks pass"

    assert degraded.status_code == 503
    assert degraded.headers["content-type"] == "application/problem+json"
    body = degraded.json()
    assert body["health"] == "degraded"
    assert body["title"] == "Degraded"
    consumer = [c for c in body["services"]["forecast"]["checks"] if c["name"] == "consumer"]
    assert consumer[0]["ok"] is False
    assert consumer[0]["detail"].startswith("stopped: events of ")
    assert body["services"]["forecast"]["ready"] is False
    assert body["detail"] == f"forecast: failing: consumer ({consumer[0]['detail']})"
    assert all(body["services"][name]["ready"] for name in services if name != "forecast")
