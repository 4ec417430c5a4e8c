"""The nightly report's files: report.json, report.csv and a self-contained index.html.

Owns the presentation of a report dict built by `earnest.report.build`: canonical JSON
(sorted keys, so a re-run is byte-identical), one CSV row per arm, and an HTML page a
person reads at a glance (a forest plot of each variant's lift with its intervals, the
coverage bar chart, verdicts, what was paused or retired and why). The page carries its
CSS and its charts (inline SVG, drawn here, no script) and loads nothing from anywhere.

Pure: stdlib and orjson only. It must not import boto3, pydantic or `earnest_aws`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping, Sequence
from html import escape
from typing import Any

import orjson

from earnest.experiences.weights import describe
from earnest.report.charts import (
    VERDICT_COLOURS,
    VERDICT_LABELS,
    coverage_svg,
    forest_rows,
    forest_svg,
    pct,
    segment_svg,
    segment_weights_svg,
    signed_pct,
    trend_svg,
    weights_svg,
)
from earnest.report.inventory_page import page_sections
from earnest.report.lifts import judged_lift
from earnest.report.metrics import BINARY, METRICS

# CSV column -> field of the variant's primary-metric lift.
_LIFT_COLUMNS = {
    "lift_absolute": "absolute",
    "lift_absolute_low": "absolute_low",
    "lift_absolute_high": "absolute_high",
    "lift_relative": "relative",
    "lift_relative_low": "relative_low",
    "lift_relative_high": "relative_high",
    "lift_relative_p_value": "relative_p_value",
    "p_value": "p_value",
    "p_value_holm": "p_value_holm",
    "sequential_low": "sequential_low",
    "sequential_high": "sequential_high",
    "sequential_p_value": "sequential_p_value",
}


def arm_columns() -> tuple[str, ...]:
    """Each arm's own numbers, as the report's `arms` entries name them: per declared
    metric (earnest.report.metrics) its total and its mean per unit."""
    per_metric = (c for m in METRICS.values() for c in (m.total, m.name))
    return (
        "arm",
        "variant",
        "in_config",
        "paused",
        "share",
        "units",
        "exposures",
        *per_metric,
        "units_in_several_arms",
    )


def csv_columns() -> tuple[str, ...]:
    return (
        "date",
        "experience",
        "placement",
        "status",
        *arm_columns(),
        "metric",
        *_LIFT_COLUMNS,
        "verdict",
        "srm_p_value",
        "srm_flagged",
        "action",
    )


def to_json(report: Mapping[str, Any]) -> bytes:
    """Canonical JSON: sorted keys, two-space indent, a final newline."""
    return orjson.dumps(report, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2) + b"\n"


# ---------------------------------------------------------------- CSV


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def csv_rows(report: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    actions: dict[tuple[str, str | None], str] = {}
    for a in report.get("guardrails", []):
        actions[(a["experience"], a["variant"])] = a["action"]
    for exp in report.get("experiences", []):
        variants = {v["variant"]: v for v in exp["variants"]}
        metric = exp["metric"]
        for arm in exp["arms"]:
            variant = variants.get(arm["variant"]) if arm["variant"] else None
            lift = judged_lift(variant, metric) if variant else {}
            action = actions.get((exp["id"], arm["variant"])) if arm["variant"] else None
            yield {
                "date": report["date"],
                "experience": exp["id"],
                "placement": exp["placement"],
                "status": exp["status"],
                **{c: arm[c] for c in arm_columns()},
                "metric": metric,
                **{c: lift.get(f) for c, f in _LIFT_COLUMNS.items()},
                "verdict": variant["verdict"] if variant else None,
                "srm_p_value": exp["srm"]["p_value"],
                "srm_flagged": exp["srm"]["flagged"],
                "action": action,
            }


def to_csv(report: Mapping[str, Any]) -> bytes:
    """One row per arm of every reported experience (holdout first), primary metric lift."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=csv_columns(), lineterminator="\n")
    writer.writeheader()
    for row in csv_rows(report):
        writer.writerow({k: _cell(v) for k, v in row.items()})
    return out.getvalue().encode()


# ---------------------------------------------------------------- HTML

CSS = """
:root{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2328;
background:#fff;line-height:1.4}
body{max-width:1040px;margin:0 auto;padding:24px}
h1{font-size:1.6rem;margin:0 0 4px}h2{font-size:1.2rem;margin:28px 0 8px;
border-bottom:1px solid #d0d7de;padding-bottom:4px}h3{font-size:1.05rem;margin:20px 0 6px}
.muted{color:#656d76}.cards{display:flex;flex-wrap:wrap;gap:12px;margin:16px 0}
.card{border:1px solid #d0d7de;border-radius:8px;padding:10px 14px;min-width:130px}
.card b{display:block;font-size:1.5rem}
table{border-collapse:collapse;width:100%;font-size:.9rem;margin:6px 0 12px}
th,td{border-bottom:1px solid #d8dee4;padding:4px 8px;text-align:right}
th:first-child,td:first-child,td.text,th.text{text-align:left}
th{background:#f6f8fa}
.badge{display:inline-block;border-radius:10px;padding:1px 8px;color:#fff;font-size:.8rem;
white-space:nowrap}
.alert{border:1px solid #cf222e;background:#fff5f5;border-radius:6px;padding:8px 12px;
margin:6px 0}
.ok{border:1px solid #1a7f37;background:#f0fff4;border-radius:6px;padding:8px 12px}
svg{width:100%;height:auto;display:block}svg text{font-family:inherit;font-size:12px}
.legend span{margin-right:14px;font-size:.85rem}
"""


def _money(value: float | None) -> str:
    return "—" if value is None else f"{value:,.2f}"


def _p(value: float | None) -> str:
    if value is None:
        return "—"
    return "< 0.0001" if value < 0.0001 else f"{value:.4f}"


def _badge(verdict: str | None) -> str:
    colour = VERDICT_COLOURS.get(verdict, "#6e7781")
    label = VERDICT_LABELS.get(verdict, str(verdict))
    return (
        f'<span class="badge verdict" data-verdict="{escape(str(verdict))}" '
        f'style="background:{colour}">{escape(label)}</span>'
    )


def _analysis_line(analysis: Mapping[str, Any] | None) -> str:
    """Which units the numbers below are about: those first exposed since when."""
    if not analysis:
        return ""
    started = analysis.get("allocation_started_at")
    since = escape(str(analysis.get("events_from")))
    what = (
        f"allocation started {escape(started)}; units first exposed since {since}"
        if started
        else f"no allocation start recorded; units first exposed since {since}"
    )
    return f"<p class='muted allocation'>{what} ({analysis.get('days', 0):g} days).</p>"


_COUNT = "count"


def _arm_metric_columns() -> list[tuple[str, str, str]]:
    """The arms table's metric columns, (arm field, how it is shown, header): per declared
    metric a rate with its count first (conversions, conversion rate), else money per unit."""
    out: list[tuple[str, str, str]] = []
    for m in METRICS.values():
        if m.binary:
            out.append((m.total, _COUNT, m.total.replace("_", " ")))
        out.append((m.name, m.kind, m.label or m.name))
    return out


def _cell_text(value: Any, shown: str) -> str:
    if shown == _COUNT:
        return f"{value:,}"
    return pct(value) if shown == BINARY else _money(value)


def _arms_table(exp: Mapping[str, Any]) -> str:
    shown = _arm_metric_columns()
    head = (
        "<tr><th class='text'>arm</th><th>configured share</th><th>units</th><th>exposures</th>"
        + "".join(f"<th>{escape(label)}</th>" for _, _, label in shown)
        + "<th>units in several arms</th></tr>"
    )
    body = []
    for arm in exp["arms"]:
        name = arm["arm"] + (" (paused)" if arm["paused"] and arm["in_config"] else "")
        if not arm["in_config"]:
            name += " (no longer configured)"
        body.append(
            f"<tr><td>{escape(name)}</td><td>{pct(arm['share'], 1)}</td><td>{arm['units']:,}</td>"
            f"<td>{arm['exposures']:,}</td>"
            + "".join(f"<td>{_cell_text(arm[key], kind)}</td>" for key, kind, _ in shown)
            + f"<td>{arm['units_in_several_arms']:,}</td></tr>"
        )
    return f"<table class='arms'>{head}{''.join(body)}</table>"


def _lift_table(exp: Mapping[str, Any]) -> str:
    head = (
        "<tr><th class='text'>variant</th><th class='text'>metric</th><th>holdout</th>"
        "<th>variant</th><th>absolute lift (95 %)</th><th>p</th><th>relative lift (95 %)</th>"
        "<th>p</th><th>always-valid interval (relative, verdicts read it)</th>"
        "<th>always-valid p</th>"
        "<th class='text'>verdict</th></tr>"
    )
    body = []
    for v in exp["variants"]:
        judged = judged_lift(v, exp["metric"])
        rows = [(m, "", lift) for m, lift in v["lift"].items()]
        rows += [(m, " (CUPED)", lift) for m, lift in (v.get("lift_adjusted") or {}).items()]
        rows += [
            (g["metric"], f" (guardrail {g['name']})", g["lift"]) for g in v.get("guardrails", [])
        ]
        for metric, label, lift in rows:
            body.append(_lift_row(v, metric, label, lift, primary=lift is judged))
    return f"<table class='lift'>{head}{''.join(body)}</table>"


def _lift_row(
    v: Mapping[str, Any], metric: str, label: str, lift: Mapping[str, Any], *, primary: bool
) -> str:
    declared = METRICS.get(metric)  # a guardrail's event rate is not declared: a rate
    fmt = _money if declared is not None and not declared.binary else pct
    abs_ci = f"{fmt(lift['absolute_low'])} … {fmt(lift['absolute_high'])}"
    rel_ci = f"{signed_pct(lift['relative_low'])} … {signed_pct(lift['relative_high'])}"
    ratio_ci = (
        f"{signed_pct(lift.get('sequential_ratio_low'))} … "
        f"{signed_pct(lift.get('sequential_ratio_high'))}"
    )
    return (
        f"<tr{' style=font-weight:600' if primary else ''}>"
        f"<td>{escape(v['variant'])}</td><td class='text'>{escape(metric + label)}"
        f"{' (verdict)' if primary else ''}</td>"
        f"<td>{fmt(lift['holdout'])}</td><td>{fmt(lift['variant'])}</td>"
        f"<td>{fmt(lift['absolute'])} [{abs_ci}]</td><td>{_p(lift['p_value'])}</td>"
        f"<td>{signed_pct(lift['relative'])} [{rel_ci}]</td>"
        f"<td>{_p(lift['relative_p_value'])}</td><td>[{ratio_ci}]</td>"
        f"<td>{_p(lift.get('sequential_ratio_p_value'))}</td>"
        f"<td class='text'>{_badge(v['verdict']) if primary else ''}</td></tr>"
    )


def _cap_line(exp: Mapping[str, Any]) -> str:
    cap = exp.get("revenue_cap") or {}
    value = cap.get("value")
    where = "no unit had revenue" if value is None else f"{_money(value)}"
    return (
        f" Revenue per unit is capped at the {cap.get('percentile', 0) * 100:g}th percentile of "
        f"the units' positive revenues ({where}); revenue verdicts read the capped metric."
    )


def _allocation_block(exp: Mapping[str, Any]) -> str:
    """A bandit's weights by epoch and tonight's re-weighting in words; empty for a fixed
    split."""
    allocation = exp.get("allocation")
    if not allocation:
        return ""
    reweight, by_value = allocation.get("reweight"), allocation.get("segments")
    tonight = describe(reweight) if reweight else "weights unchanged"
    mismatched = allocation.get("mismatched_epochs") or []
    listed = escape(", ".join(str(m)[:10] for m in mismatched))
    srm = f" Epochs whose traffic did not match their weights: {listed}." if mismatched else ""
    return (
        f"<p class='muted bandit'>Bandit on {escape(str(allocation.get('metric')))}: "
        f"tonight {escape(tonight)}.{srm}</p>"
        + weights_svg(str(exp["id"]), allocation)
        + (segment_weights_svg(str(exp["id"]), by_value) if by_value else "")
    )


def _segments_block(exp: Mapping[str, Any]) -> str:
    """Lift by segment: what differs by segment in words, and a small chart per variant."""
    found = exp.get("segments")
    if not found:
        return ""
    flags = "".join(
        f"<p class='segment-flag' data-kind='{escape(f['kind'])}'>{escape(f['message'])}</p>"
        for f in found["flags"]
    )
    charts = "".join(
        segment_svg(exp["id"], v["variant"], tests)
        for v in exp["variants"]
        if (tests := [t for t in found["tests"] if t["variant"] == v["variant"]])
    )
    return (
        f"<h4>Lift by segment ({escape(', '.join(found['paths']))})</h4>{flags}{charts}"
        "<p class='muted'>Each value against the same value's holdout, the false discovery "
        "rate controlled across them (Benjamini-Hochberg); it informs, it never pauses a "
        "variant or gives the verdict.</p>"
    )


def _srm_line(srm: Mapping[str, Any]) -> str:
    tests = "; ".join(
        f"{t['test']}: observed {t['observed']} vs expected shares "
        f"{[round(s, 4) for s in t['expected_shares']]}, always-valid p = "
        f"{_p(t['sequential_p_value'])} (chi-square p = {_p(t['p_value'])})"
        for t in srm["tests"]
    )
    if srm["flagged"]:
        return (
            f"<p class='alert srm' data-flagged='true'><b>Sample ratio mismatch</b> "
            f"(p &lt; {srm['threshold']}): no verdict, no pause. {escape(tests)}</p>"
        )
    return f"<p class='muted srm' data-flagged='false'>Sample ratio OK. {escape(tests)}</p>"


def _actions_table(actions: Sequence[Mapping[str, Any]]) -> str:
    if not actions:
        return "<p class='ok'>No guardrail acted tonight: nothing was paused or retired.</p>"
    rows = "".join(
        f"<tr class='action' data-action='{escape(a['action'])}'>"
        f"<td>{escape(a['experience'])}</td><td class='text'>{escape(a['variant'] or '—')}</td>"
        f"<td class='text'><b>{escape(a['action'].replace('_', ' '))}</b></td>"
        f"<td class='text'>{escape(a['rule'])}</td><td class='text'>{escape(a['reason'])}</td>"
        f"<td class='text status'>{escape(a['status'])}</td></tr>"
        for a in actions
    )
    return (
        "<table class='actions'><tr><th class='text'>experience</th><th class='text'>variant</th>"
        "<th class='text'>action</th><th class='text'>rule</th><th class='text'>why</th>"
        "<th class='text'>status</th></tr>"
        f"{rows}</table>"
    )


def _program_section(program: Mapping[str, Any]) -> str:
    held = program["global_holdout"]
    rows = []
    for metric, lift in held["lift"].items():
        fmt = pct if metric == "conversion_rate" else _money
        rows.append(
            f"<tr><td>{escape(metric)}</td><td>{fmt(lift['holdout'])}</td>"
            f"<td>{fmt(lift['variant'])}</td><td>{signed_pct(lift['relative'])} "
            f"[{signed_pct(lift['relative_low'])} … {signed_pct(lift['relative_high'])}]</td>"
            f"<td>{_p(lift['p_value'])}</td>"
            f"<td class='text'>{_badge(held['verdicts'][metric])}</td></tr>"
        )
    arms = held["arms"]
    srm = held.get("srm")
    return (
        f"<p>Units in the global holdout ({pct(held['global_holdout_share'], 1)} of units, "
        "the default on every placement) against units the program treats (personalized or "
        f"in an experience's holdout); conversions within {held['attribution_window_days']} "
        "days of a unit's first exposure.</p>"
        "<table class='program'><tr><th class='text'>metric</th><th>global holdout</th>"
        "<th>program</th><th>relative lift (95 %)</th><th>p</th><th class='text'>verdict</th></tr>"
        f"{''.join(rows)}</table>"
        f"<p class='muted'>units: global holdout {arms[0]['units']:,}, program "
        f"{arms[1]['units']:,}</p>" + (_srm_line(srm) if srm else "")
    )


def to_html(report: Mapping[str, Any]) -> bytes:
    """The report as one self-contained page: inline CSS and SVG, no script, no fetches."""
    day = escape(str(report["date"]))
    window = report["window"]
    summary = report["summary"]
    events = report["events"]
    verdicts = summary["verdicts"]
    cards = "".join(
        f"<div class='card'><b>{n}</b>{escape(label)}</div>"
        for label, n in (
            ("experiences", summary["experiences"]),
            ("variants", summary["variants"]),
            ("beat the default", verdicts.get("beats_default", 0)),
            ("lose to it", verdicts.get("loses_to_default", 0)),
            ("guardrail actions", summary["actions"]),
            ("alerts", summary["alerts"]),
        )
    )
    alerts = "".join(
        f"<p class='alert' data-kind='{escape(a['kind'])}'>{escape(a['message'])}</p>"
        for a in report.get("alerts", [])
    )
    words = (
        "<ul class='in-words'>"
        + "".join(f"<li>{escape(line)}</li>" for line in summary.get("in_words", []))
        + "</ul>"
    )
    sections = []
    for exp in report.get("experiences", []):
        mine = [a for a in report.get("guardrails", []) if a["experience"] == exp["id"]]
        sections.append(
            f"<section class='experience' id='exp-{escape(exp['id'])}'>"
            f"<h3>{escape(exp['id'])} <span class='muted'>· {escape(str(exp['placement']))} · "
            f"{escape(str(exp['status']))} · owner {escape(str(exp['owner'] or 'NONE'))} · "
            f"review due {escape(str(exp['review_due']))}</span></h3>"
            f"<p class='muted'>primary metric {escape(str(exp['primary_metric']))} "
            f"({escape(exp['metric'])}); minimum {exp['min_units_per_arm']:,} units per arm; "
            f"conversions within {exp['attribution_window_days']} days of first exposure."
            f"{_cap_line(exp)}</p>"
            + _analysis_line(exp.get("analysis"))
            + _arms_table(exp)
            + _lift_table(exp)
            + "".join(
                trend_svg(exp["id"], v["variant"], v.get("trend") or []) for v in exp["variants"]
            )
            + _allocation_block(exp)
            + _segments_block(exp)
            + _srm_line(exp["srm"])
            + (_actions_table(mine) if mine else "")
            + "</section>"
        )
    legend = "".join(
        f"<span><span class='badge' style='background:{c}'>&nbsp;</span> "
        f"{escape(VERDICT_LABELS[v])}</span>"
        for v, c in VERDICT_COLOURS.items()
    )
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Earnest nightly report {day}</title><style>{CSS}</style></head>
<body>
<h1>Earnest nightly report · {day}</h1>
<p class="muted">Events stamped before {escape(str(window.get("events_before", "")))}, read
from partitions {escape(window["start"])} to {escape(str(window.get("last_partition", "")))}
(each experience from the start of its allocation; the program over
{window["lookback_days"]} days); {events.get("records", 0):,} records read,
{events.get("duplicates_dropped", 0):,} duplicates and {events.get("erased_dropped", 0):,}
events of {events.get("erased_subjects", 0):,} erased subjects dropped.</p>
<div class="cards">{cards}</div>
{alerts}
<h2>What to do</h2>
{words}
<h2>Guardrails: what was paused or retired, and why</h2>
{_actions_table(report.get("guardrails", []))}
<h2>Lift of every variant against its holdout</h2>
<p class="legend">{legend}</p>
{forest_svg(forest_rows(report))}
<p class="muted">Verdicts are read from the always-valid interval (it stays honest however
often the report looks, and is widened for the number of variants); the 95 % interval is
what a single look would say.</p>
<h2>Coverage</h2>
{coverage_svg(report["program"]["coverage"])}
<h2>The whole program against the global holdout</h2>
{_program_section(report["program"])}
{page_sections(report)}
<h2>Experiences</h2>
{"".join(sections) or "<p class='muted'>No live or recently paused experience.</p>"}
<p class="muted">Schema and definitions: docs/report.md ({escape(str(report["schema"]))}).</p>
</body></html>
"""
    return page.encode()


def render(report: Mapping[str, Any]) -> dict[str, tuple[bytes, str]]:
    """Every output file: name -> (bytes, content type)."""
    return {
        "report.json": (to_json(report), "application/json"),
        "report.csv": (to_csv(report), "text/csv; charset=utf-8"),
        "index.html": (to_html(report), "text/html; charset=utf-8"),
    }
