"""Log lines are JSON and carry the request id, tenant id and traceparent of their task."""

import json

import structlog

from sextant.runtime.logging import bind_request_context, clear_request_context, configure_logging


def test_json_log_lines_carry_the_bound_ids(capsys):
    configure_logging("INFO", json=True)
    clear_request_context()
    bind_request_context(
        request_id="req-1",
        tenant_id="tenant-a",
        traceparent="00-" + "a" * 32 + "-" + "b" * 16 + "-01",
    )
    structlog.get_logger().info("forecast.computed", trials=10)
    clear_request_context()
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["event"] == "forecast.computed"
    assert (line["request_id"], line["tenant_id"]) == ("req-1", "tenant-a")
    assert line["traceparent"].startswith("00-aaaa")
    assert line["level"] == "info" and "timestamp" in line
