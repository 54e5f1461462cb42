"""structlog JSON logs that carry request id, tenant id and the W3C traceparent, and the
trace and span ids read from it (``trace_id``/``span_id``, the names log backends join
traces on). With tracing on, the traceparent bound is the current span's
(:mod:`sextant.runtime.tracing`), so a line names the span it was written in."""

from __future__ import annotations

import logging
import sys

import structlog


def configure_logging(level: str = "INFO", *, json: bool = True) -> None:
    """Configure structlog and the stdlib root logger once per process."""
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            add_trace_ids,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level]),
        # Resolve sys.stderr on every call: it may be swapped (test capture, daemonizing).
        logger_factory=_stderr_logger,
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(level=level, stream=sys.stderr, format="%(name)s %(levelname)s %(message)s")
    for noisy in ("aiokafka", "botocore", "aiobotocore", "urllib3", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def add_trace_ids(
    _logger: object, _method: str, event: structlog.typing.EventDict
) -> structlog.typing.EventDict:
    """``trace_id`` and ``span_id`` from the line's W3C traceparent, when it has one."""
    traceparent = event.get("traceparent")
    if isinstance(traceparent, str) and len(traceparent) == 55:
        event["trace_id"], event["span_id"] = traceparent[3:35], traceparent[36:52]
    return event


def _stderr_logger(*_args: object) -> structlog.PrintLogger:
    return structlog.PrintLogger(sys.stderr)


def bind_request_context(
    *, request_id: str | None = None, tenant_id: str | None = None, traceparent: str | None = None
) -> None:
    """Attach ids to every log line of the current task (request or event)."""
    values = {"request_id": request_id, "tenant_id": tenant_id, "traceparent": traceparent}
    structlog.contextvars.bind_contextvars(**{k: v for k, v in values.items() if v is not None})


def clear_request_context() -> None:
    structlog.contextvars.clear_contextvars()
