"""Decision counts as CloudWatch metrics (Embedded Metric Format via Powertools).

One metric per reason in the closed set, so a dashboard shows coverage live; flushed once
per invocation as a single EMF line on stdout (no API call on the request path).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit


class DecisionMetrics:
    def __init__(self, service: str, reasons: Iterable[str]) -> None:
        self._metrics = Metrics(service=service)
        self._reasons = tuple(reasons)

    def record(self, decisions: Mapping[str, Mapping[str, Any]]) -> None:
        counts: dict[str, int] = {}
        for decision in decisions.values():
            reason = decision["reason"]
            counts[reason] = counts.get(reason, 0) + 1
        for reason, n in counts.items():
            self._metrics.add_metric(name=f"decision_{reason}", unit=MetricUnit.Count, value=n)
        self.flush()

    def count(self, name: str) -> None:
        self._metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
        self.flush()

    def flush(self) -> None:
        self._metrics.flush_metrics(raise_on_empty_metrics=False)
