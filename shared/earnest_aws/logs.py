"""decide's structured logger: Powertools' JSON log lines, on the standard library's logging.

Why not Powertools' Logger here (the other functions keep it): importing it costs decide's
cold start 8-9 ms (Powertools' logging, metrics and tracing packages and
typing_extensions; botocore already imported `logging`), which was what kept decide's start
above `import boto3` + one client (docs/decide.md, "Speed"). decide logs little: the rules
refreshed, a refused request, the consent store failing closed, a bug. The line is the one
Powertools writes, key for key: `level`, `location`, `message`, `timestamp`, `service`,
`correlation_id` (the request), `xray_trace_id` when Lambda traces, the `extra` fields,
and `exception` / `exception_name` with a traceback (not Powertools' structured
`stack_trace` copy of it). Never an identifier: callers log
counts, codes and field names only.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Mapping
from typing import Any

import orjson

# What every LogRecord carries; the rest of its attributes came from `extra`.
_RECORD_KEYS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object a line, as Powertools' LambdaPowertoolsFormatter writes it."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service
        self.correlation_id: str | None = None

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        t = time.gmtime(record.created)
        return f"{time.strftime('%Y-%m-%d %H:%M:%S', t)},{int(record.msecs):03d}+0000"

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "level": record.levelname,
            "location": f"{record.funcName}:{record.lineno}",
            "message": record.getMessage(),
            "timestamp": self.formatTime(record),
            "service": self.service,
        }
        if self.correlation_id is not None:
            line["correlation_id"] = self.correlation_id
        line.update((k, v) for k, v in record.__dict__.items() if k not in _RECORD_KEYS)
        if record.exc_info and record.exc_info[0] is not None:
            line["exception"] = self.formatException(record.exc_info)
            line["exception_name"] = record.exc_info[0].__name__
        trace = os.environ.get("_X_AMZN_TRACE_ID", "")
        if trace.startswith("Root="):
            line["xray_trace_id"] = trace.split(";", 1)[0].removeprefix("Root=")
        return orjson.dumps(line, default=str).decode()


class _Stdout(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stdout is when a line is logged (Lambda's, or the local
    stack's per-function file), not to the one there was at import."""

    @property
    def stream(self) -> Any:
        return sys.stdout

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


class Logger:
    """The part of Powertools' Logger the handlers use: info, warning, exception with
    `extra`, and the correlation id every line carries."""

    def __init__(self, service: str | None = None, level: str | None = None) -> None:
        self.service = service or os.environ.get("POWERTOOLS_SERVICE_NAME") or "service_undefined"
        level = level or os.environ.get("POWERTOOLS_LOG_LEVEL") or os.environ.get("LOG_LEVEL")
        self.registered_formatter = JsonFormatter(self.service)
        handler = _Stdout()
        handler.setFormatter(self.registered_formatter)
        self._logger = logging.getLogger(self.service)
        self._logger.handlers = [handler]
        self._logger.setLevel((level or "INFO").upper())
        self._logger.propagate = True  # as Powertools' loggers do: pytest's caplog sees them

    def set_correlation_id(self, value: str | None) -> None:
        self.registered_formatter.correlation_id = value

    def info(self, message: str, *, extra: Mapping[str, Any] | None = None) -> None:
        self._logger.info(message, extra=extra, stacklevel=2)

    def warning(self, message: str, *, extra: Mapping[str, Any] | None = None) -> None:
        self._logger.warning(message, extra=extra, stacklevel=2)

    def exception(self, message: str, *, extra: Mapping[str, Any] | None = None) -> None:
        self._logger.exception(message, extra=extra, stacklevel=2)
