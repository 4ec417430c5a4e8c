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

from earnest.report.build import judged_lift

# Each arm's own numbers, as the report's `arms` entries name them.
_ARM_COLUMNS = (
    "arm",
    "variant",
    "in_config",
    "paused",
    "share",
    "units",
    "exposures",
    "conversions",
    "conversion_rate",
    "revenue",
    "revenue_per_unit",
    "revenue_capped",
    "revenue_per_unit_capped",
    "units_in_several_arms",
)
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
CSV_COLUMNS = (
    "date",
    "experience",
    "placement",
    "status",
    *_ARM_COLUMNS,
    "metric",
    *_LIFT_COLUMNS,
    "verdict",
    "srm_p_value",
    "srm_flagged",
    "action",
)

VERDICT_COLOURS = {
    "beats_default": "#1a7f37",
    "loses_to_default": "#cf222e",
    "inconclusive": "#6e7781",
    "needs_more_data": "#9a6700",
    None: "#8250df",  # no verdict: sample ratio mismatch
}
VERDICT_LABELS = {
    "beats_default": "beats default",
    "loses_to_default": "loses to default",
    "inconclusive": "inconclusive",
    "needs_more_data": "needs more data",
    None: "no verdict (SRM)",
}


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
                **{c: arm[c] for c in _ARM_COLUMNS},
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
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
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


def _pct(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value * 100:.{digits}f} %"


def _signed_pct(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value * 100:+.{digits}f} %"


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


def _pair(lift: Mapping[str, Any], low: str, high: str) -> tuple[float, float] | None:
    lo, hi = lift.get(low), lift.get(high)
    return None if lo is None or hi is None else (lo, hi)


def _verdicts_interval(lift: Mapping[str, Any]) -> tuple[float, float] | None:
    """The always-valid interval the verdict reads: the ratio interval, a relative lift on
    the chart's own scale. A report written before it had one drew the difference over
    the holdout's mean."""
    if "sequential_ratio_low" in lift:
        return _pair(lift, "sequential_ratio_low", "sequential_ratio_high")
    base, pair = lift.get("holdout"), _pair(lift, "sequential_low", "sequential_high")
    if not base or pair is None:
        return None
    return pair[0] / base, pair[1] / base


class _Scale:
    """Maps relative lift to x pixels, clamping intervals that run off the chart."""

    def __init__(self, lo: float, hi: float, x0: float, x1: float) -> None:
        self.lo, self.hi, self.x0, self.x1 = lo, hi, x0, x1

    def __call__(self, value: float) -> float:
        value = min(max(value, self.lo), self.hi)
        return round(self.x0 + (value - self.lo) / (self.hi - self.lo) * (self.x1 - self.x0), 2)


def _nice_bound(value: float) -> float:
    for step in (0.05, 0.1, 0.2, 0.25, 0.5, 1.0, 2.0):
        if value <= step:
            return step
    return 2.0


def forest_rows(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for exp in report.get("experiences", []):
        for v in exp["variants"]:
            lift = judged_lift(v, exp["metric"])
            rows.append(
                {
                    "experience": exp["id"],
                    "variant": v["variant"],
                    "metric": exp["metric"],
                    "verdict": v["verdict"],
                    "paused": v["paused"],
                    "relative": lift.get("relative"),
                    "ci": _pair(lift, "relative_low", "relative_high"),
                    "sequential": _verdicts_interval(lift),
                    "units": min(
                        a["units"] for a in exp["arms"] if a["variant"] in (None, v["variant"])
                    ),
                }
            )
    return rows


def _forest_extent(rows: Sequence[Mapping[str, Any]]) -> float:
    """The largest lift or interval end, either side of zero."""
    extent = 0.0
    for r in rows:
        for pair in (r["ci"], r["sequential"]):
            if pair:
                extent = max(extent, abs(pair[0]), abs(pair[1]))
        if r["relative"] is not None:
            extent = max(extent, abs(r["relative"]))
    return extent


def forest_svg(rows: Sequence[Mapping[str, Any]], title: str = "Lift against the holdout") -> str:
    """Forest plot: per variant, the estimate, its 95 % interval and its always-valid one."""
    row_h, top, left, right, width = 30, 34, 250, 150, 1000
    height = top + row_h * max(len(rows), 1) + 34
    extent = _forest_extent(rows)
    bound = _nice_bound(extent * 1.1 if extent else 0.05)
    x = _Scale(-bound, bound, left, width - right)
    parts = [
        f'<svg class="chart forest" role="img" aria-label="{escape(title)}" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">',
        f'<text x="{left}" y="16" font-weight="600">{escape(title)} '
        "(relative; bar: 95 % interval, whisker: always-valid interval)</text>",
    ]
    for tick in (-bound, -bound / 2, 0.0, bound / 2, bound):
        tx = x(tick)
        parts.append(
            f'<line class="{"zero" if tick == 0 else "grid"}" x1="{tx}" x2="{tx}" y1="{top - 6}" '
            f'y2="{height - 26}" stroke="{"#1f2328" if tick == 0 else "#d0d7de"}" '
            f'stroke-width="{1.5 if tick == 0 else 1}"/>'
            f'<text x="{tx}" y="{height - 10}" text-anchor="middle" fill="#656d76">'
            f"{tick * 100:+.0f} %</text>"
        )
    if not rows:
        parts.append(f'<text x="{left}" y="{top + 16}" fill="#656d76">no variants</text>')
    for i, r in enumerate(rows):
        cy = top + i * row_h + row_h / 2
        colour = VERDICT_COLOURS.get(r["verdict"], "#6e7781")
        label = f"{r['experience']} / {r['variant']}" + (" (paused)" if r["paused"] else "")
        parts.append(
            f'<g class="forest-row" data-experience="{escape(r["experience"])}" '
            f'data-variant="{escape(r["variant"])}" data-verdict="{escape(str(r["verdict"]))}">'
        )
        parts.append(f'<text x="{left - 10}" y="{cy + 4}" text-anchor="end">{escape(label)}</text>')
        if r["sequential"]:
            lo, hi = x(r["sequential"][0]), x(r["sequential"][1])
            parts.append(
                f'<line class="interval-sequential" x1="{lo}" x2="{hi}" y1="{cy}" y2="{cy}" '
                f'stroke="{colour}" stroke-width="1.5"/>'
                f'<line x1="{lo}" x2="{lo}" y1="{cy - 6}" y2="{cy + 6}" stroke="{colour}"/>'
                f'<line x1="{hi}" x2="{hi}" y1="{cy - 6}" y2="{cy + 6}" stroke="{colour}"/>'
            )
        if r["ci"]:
            lo, hi = x(r["ci"][0]), x(r["ci"][1])
            parts.append(
                f'<rect class="interval-ci" x="{lo}" y="{cy - 4}" width="{max(hi - lo, 1.0):.2f}" '
                f'height="8" rx="2" fill="{colour}" fill-opacity="0.35" stroke="{colour}"/>'
            )
        if r["relative"] is not None:
            parts.append(
                f'<circle class="estimate" cx="{x(r["relative"])}" cy="{cy}" r="5" '
                f'fill="{colour}"/>'
            )
        else:
            parts.append(
                f'<text x="{x(0) + 8}" y="{cy + 4}" fill="#656d76">no holdout conversions yet'
                "</text>"
            )
        verdict_label = VERDICT_LABELS.get(r["verdict"], str(r["verdict"]))
        parts.append(
            f'<text x="{width - right + 10}" y="{cy + 4}" fill="{colour}">'
            f"{escape(verdict_label)}</text></g>"
        )
    parts.append("</svg>")
    return "".join(parts)


def trend_svg(exp_id: str, variant: str, trend: Sequence[Mapping[str, Any]]) -> str:
    """A variant's relative lift night by night: dot, 95 % bar and always-valid whisker.

    One sees the always-valid interval close in as units accumulate; the zero line is the
    default.
    """
    width, height, left, right, top, bottom = 480, 150, 48, 12, 18, 24
    extent = max(
        (
            abs(v)
            for p in trend
            for v in (p.get("relative"), *(_verdicts_interval(p) or ()))
            if v is not None
        ),
        default=0.05,
    )
    bound = _nice_bound(extent * 1.1)
    step = (width - left - right) / max(len(trend), 1)

    def y(value: float) -> float:
        value = min(max(value, -bound), bound)
        return round(top + (bound - value) / (2 * bound) * (height - top - bottom), 2)

    title = f"{exp_id} / {variant}: relative lift by night"
    parts = [
        f'<svg class="chart trend" role="img" aria-label="{escape(title)}" '
        f'data-experience="{escape(exp_id)}" data-variant="{escape(variant)}" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">',
        f'<text x="{left}" y="12" font-size="11">{escape(title)}</text>',
        f'<line class="zero" x1="{left}" x2="{width - right}" y1="{y(0)}" y2="{y(0)}" '
        'stroke="#1f2328"/>',
        f'<text x="{left - 4}" y="{y(bound) + 4}" text-anchor="end" font-size="10" '
        f'fill="#656d76">{bound * 100:+.0f} %</text>',
        f'<text x="{left - 4}" y="{y(-bound) + 4}" text-anchor="end" font-size="10" '
        f'fill="#656d76">{-bound * 100:+.0f} %</text>',
    ]
    for i, point in enumerate(trend):
        cx = round(left + step * (i + 0.5), 2)
        parts.append(f'<g class="trend-night" data-date="{escape(str(point.get("date")))}">')
        seq = _verdicts_interval(point)
        if seq:
            parts.append(
                f'<line class="interval-sequential" x1="{cx}" x2="{cx}" y1="{y(seq[1])}" '
                f'y2="{y(seq[0])}" stroke="#6e7781"/>'
            )
        ci = _pair(point, "relative_low", "relative_high")
        if ci:
            parts.append(
                f'<rect class="interval-ci" x="{cx - 2}" y="{y(ci[1])}" width="4" '
                f'height="{max(y(ci[0]) - y(ci[1]), 1.0):.2f}" fill="#0969da" '
                'fill-opacity="0.35"/>'
            )
        if point.get("relative") is not None:
            parts.append(
                f'<circle class="estimate" cx="{cx}" cy="{y(point["relative"])}" r="2.5" '
                'fill="#0969da"/>'
            )
        parts.append("</g>")
    if trend:
        parts.append(
            f'<text x="{left}" y="{height - 6}" font-size="10" fill="#656d76">'
            f"{escape(str(trend[0].get('date')))}</text>"
            f'<text x="{width - right}" y="{height - 6}" text-anchor="end" font-size="10" '
            f'fill="#656d76">{escape(str(trend[-1].get("date")))}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def coverage_svg(coverage: Mapping[str, Any]) -> str:
    """Horizontal bars: the share of exposures by decision reason."""
    reasons = coverage.get("reasons", [])
    row_h, top, left, width = 26, 28, 170, 1000
    height = top + row_h * max(len(reasons), 1) + 10
    bar_w = width - left - 170
    parts = [
        f'<svg class="chart coverage" role="img" aria-label="coverage by reason" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">',
        f'<text x="{left}" y="16" font-weight="600">Share of exposures by decision reason '
        f"({coverage.get('exposures', 0):,} exposures)</text>",
    ]
    if not reasons:
        parts.append(f'<text x="{left}" y="{top + 16}" fill="#656d76">no exposures</text>')
    for i, r in enumerate(reasons):
        y = top + i * row_h
        w = round(bar_w * r["share"], 2)
        colour = {"personalized": "#1a7f37", "holdout": "#0969da", "global_holdout": "#8250df"}.get(
            r["reason"], "#8c959f"
        )
        parts.append(
            f'<g class="coverage-bar" data-reason="{escape(r["reason"])}">'
            f'<text x="{left - 10}" y="{y + 15}" text-anchor="end">{escape(r["reason"])}</text>'
            f'<rect x="{left}" y="{y + 3}" width="{max(w, 0.5)}" height="16" fill="{colour}"/>'
            f'<text x="{left + w + 8}" y="{y + 15}">{_pct(r["share"], 1)} '
            f"({r['exposures']:,})</text></g>"
        )
    parts.append("</svg>")
    return "".join(parts)


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


def _arms_table(exp: Mapping[str, Any]) -> str:
    head = (
        "<tr><th class='text'>arm</th><th>configured share</th><th>units</th><th>exposures</th>"
        "<th>conversions</th><th>conversion rate</th><th>revenue / unit</th>"
        "<th>revenue / unit, capped</th><th>units in several arms</th></tr>"
    )
    body = []
    for arm in exp["arms"]:
        name = arm["arm"] + (" (paused)" if arm["paused"] and arm["in_config"] else "")
        if not arm["in_config"]:
            name += " (no longer configured)"
        body.append(
            f"<tr><td>{escape(name)}</td><td>{_pct(arm['share'], 1)}</td><td>{arm['units']:,}</td>"
            f"<td>{arm['exposures']:,}</td><td>{arm['conversions']:,}</td>"
            f"<td>{_pct(arm['conversion_rate'])}</td><td>{_money(arm['revenue_per_unit'])}</td>"
            f"<td>{_money(arm['revenue_per_unit_capped'])}</td>"
            f"<td>{arm['units_in_several_arms']:,}</td></tr>"
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
    fmt = _money if metric.startswith("revenue") else _pct
    abs_ci = f"{fmt(lift['absolute_low'])} … {fmt(lift['absolute_high'])}"
    rel_ci = f"{_signed_pct(lift['relative_low'])} … {_signed_pct(lift['relative_high'])}"
    ratio_ci = (
        f"{_signed_pct(lift.get('sequential_ratio_low'))} … "
        f"{_signed_pct(lift.get('sequential_ratio_high'))}"
    )
    return (
        f"<tr{' style=font-weight:600' if primary else ''}>"
        f"<td>{escape(v['variant'])}</td><td class='text'>{escape(metric + label)}"
        f"{' (verdict)' if primary else ''}</td>"
        f"<td>{fmt(lift['holdout'])}</td><td>{fmt(lift['variant'])}</td>"
        f"<td>{fmt(lift['absolute'])} [{abs_ci}]</td><td>{_p(lift['p_value'])}</td>"
        f"<td>{_signed_pct(lift['relative'])} [{rel_ci}]</td>"
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
        f"<td class='text'>{escape(a['rule'])}</td><td class='text'>{escape(a['reason'])}</td></tr>"
        for a in actions
    )
    return (
        "<table class='actions'><tr><th class='text'>experience</th><th class='text'>variant</th>"
        "<th class='text'>action</th><th class='text'>rule</th><th class='text'>why</th></tr>"
        f"{rows}</table>"
    )


def _program_section(program: Mapping[str, Any]) -> str:
    held = program["global_holdout"]
    rows = []
    for metric, lift in held["lift"].items():
        fmt = _pct if metric == "conversion_rate" else _money
        rows.append(
            f"<tr><td>{escape(metric)}</td><td>{fmt(lift['holdout'])}</td>"
            f"<td>{fmt(lift['variant'])}</td><td>{_signed_pct(lift['relative'])} "
            f"[{_signed_pct(lift['relative_low'])} … {_signed_pct(lift['relative_high'])}]</td>"
            f"<td>{_p(lift['p_value'])}</td>"
            f"<td class='text'>{_badge(held['verdicts'][metric])}</td></tr>"
        )
    arms = held["arms"]
    srm = held.get("srm")
    return (
        f"<p>Units in the global holdout ({_pct(held['global_holdout_share'], 1)} of units, "
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
