"""nightly-report: tonight's report in S3 and the guardrails applied (docs/report.md).

Thin by design: which date (the event's `date`, else the day before the schedule fired),
run the report (earnest.report.nightly, wired by earnest_aws.nightly_report) over the
stores built here at cold start, within the invocation's remaining time, log and count
what it found, answer a summary. An invocation with {"date": "YYYY-MM-DD"} backfills that
date; a re-run overwrites the same outputs and changes nothing twice. A guardrail action
not applied by the deadline fails the invocation (Lambda's retry, then the DLQ's alarm).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from earnest.report.nightly import report_date
from earnest_aws.nightly_report import ReportOptions, run, stores_from_settings
from earnest_aws.settings import settings as load_settings

logger = Logger()
metrics = Metrics()
SETTINGS = load_settings()
OPTIONS = ReportOptions.from_env()


def _log(name: str, fields: Any) -> None:
    logger.info(name, extra=dict(fields))


STORES = stores_from_settings(SETTINGS, OPTIONS, log=_log)


@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    day = report_date(event)
    logger.append_keys(report_date=day.isoformat())
    # no context (invoked by hand): the run's own default deadline
    remaining = context.get_remaining_time_in_millis() / 1000 if context else None
    result = run(day, SETTINGS, OPTIONS, log=_log, stores=STORES, remaining_seconds=remaining)
    alerts = result.report["alerts"]
    for alert in alerts:  # SRM: reported and alerted, never acted on
        fields = {k: alert[k] for k in ("kind", "experience", "p_value")}
        logger.warning(alert["message"], extra={"alert": fields})
    metrics.add_metric(name="report_srm_flagged", unit=MetricUnit.Count, value=len(alerts))
    metrics.add_metric(
        name="report_guardrail_changes", unit=MetricUnit.Count, value=len(result.applied)
    )
    summary = result.summary()
    logger.info("report written", extra=summary)
    return summary
