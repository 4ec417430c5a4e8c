"""The report's charts: inline SVG drawn from the report dict, no script, nothing fetched.

Owns the forest plot of every variant's lift (estimate, 95 % interval, the always-valid
interval the verdict reads), each variant's trend night by night and its lift by segment
value, a bandit's weights by epoch and the coverage bars; `earnest.report.render` puts
them in index.html.

Pure: stdlib only (and the core). It must not import boto3, pydantic or `earnest_aws`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from html import escape
from typing import Any

from earnest.report.lifts import judged_lift

VERDICT_LABELS = {
    "beats_default": "beats default",
    "loses_to_default": "loses to default",
    "inconclusive": "inconclusive",
    "needs_more_data": "needs more data",
    None: "no verdict (SRM)",
}
VERDICT_COLOURS = {
    "beats_default": "#1a7f37",
    "loses_to_default": "#cf222e",
    "inconclusive": "#6e7781",
    "needs_more_data": "#9a6700",
    None: "#8250df",  # no verdict: sample ratio mismatch
}

# A segment value's effect (earnest.report.segment_lift), as its row is coloured.
EFFECT_COLOURS = {"helps": "#1a7f37", "harms": "#cf222e", "flat": "#6e7781"}

# The decision reasons the coverage charts colour (the rest grey).
REASON_COLOURS = {"personalized": "#1a7f37", "holdout": "#0969da", "global_holdout": "#8250df"}


def pct(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value * 100:.{digits}f} %"


def signed_pct(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value * 100:+.{digits}f} %"


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


def night_scale(
    extent: float, height: int, top: int, bottom: int
) -> tuple[float, Callable[[float], float]]:
    """The symmetric vertical scale of a by-night lift chart: its bound (a round number past
    `extent` by a tenth) and the y of a value, clipped to the bound."""
    bound = _nice_bound(extent * 1.1)

    def y(value: float) -> float:
        value = min(max(value, -bound), bound)
        return round(top + (bound - value) / (2 * bound) * (height - top - bottom), 2)

    return bound, y


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


def segment_svg(exp_id: str, variant: str, tests: Sequence[Mapping[str, Any]]) -> str:
    """One variant's lift in each segment value against that value's holdout: the estimate
    and the always-valid interval, coloured by what the adjusted test found."""
    row_h, top, left, right, width = 24, 30, 230, 190, 820
    height = top + row_h * max(len(tests), 1) + 30
    ends = [
        abs(v)
        for t in tests
        for k in ("relative", "sequential_ratio_low", "sequential_ratio_high")
        if (v := t.get(k)) is not None
    ]
    bound = _nice_bound(max(ends, default=0.05) * 1.1)
    x = _Scale(-bound, bound, left, width - right)
    title = f"{variant}: lift by segment (whisker: always-valid interval)"
    parts = [
        f'<svg class="chart segments" role="img" aria-label="{escape(exp_id)} {escape(title)}" '
        f'data-experience="{escape(exp_id)}" data-variant="{escape(variant)}" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">',
        f'<text x="{left}" y="16" font-weight="600">{escape(title)}</text>',
    ]
    for tick in (-bound, 0.0, bound):
        tx = x(tick)
        parts.append(
            f'<line x1="{tx}" x2="{tx}" y1="{top - 6}" y2="{height - 24}" '
            f'stroke="{"#1f2328" if tick == 0 else "#d0d7de"}"/>'
            f'<text x="{tx}" y="{height - 8}" text-anchor="middle" fill="#656d76">'
            f"{tick * 100:+.0f} %</text>"
        )
    for i, t in enumerate(tests):
        cy = top + i * row_h + row_h / 2
        colour = EFFECT_COLOURS.get(str(t["effect"]), "#9a6700")
        parts.append(
            f'<g class="segment-row" data-path="{escape(t["path"])}" '
            f'data-value="{escape(t["value"])}" data-effect="{escape(str(t["effect"]))}">'
            f'<text x="{left - 10}" y="{cy + 4}" text-anchor="end">'
            f"{escape(t['path'])} = {escape(t['value'])}</text>"
        )
        low, high = t.get("sequential_ratio_low"), t.get("sequential_ratio_high")
        lo, hi = x(-bound if low is None else low), x(bound if high is None else high)
        parts.append(
            f'<line class="interval-sequential" x1="{lo}" x2="{hi}" y1="{cy}" y2="{cy}" '
            f'stroke="{colour}" stroke-width="2"/>'
        )
        if t.get("relative") is not None:
            parts.append(
                f'<circle class="estimate" cx="{x(t["relative"])}" cy="{cy}" r="4" '
                f'fill="{colour}"/>'
            )
        said = str(t["effect"]).replace("_", " ")
        parts.append(
            f'<text x="{width - right + 10}" y="{cy + 4}" fill="{colour}">{escape(said)} '
            f"(p adj. {t['p_value_bh']:.2g})</text></g>"
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
    bound, y = night_scale(extent, height, top, bottom)
    step = (width - left - right) / max(len(trend), 1)

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
        colour = REASON_COLOURS.get(r["reason"], "#8c959f")
        parts.append(
            f'<g class="coverage-bar" data-reason="{escape(r["reason"])}">'
            f'<text x="{left - 10}" y="{y + 15}" text-anchor="end">{escape(r["reason"])}</text>'
            f'<rect x="{left}" y="{y + 3}" width="{max(w, 0.5)}" height="16" fill="{colour}"/>'
            f'<text x="{left + w + 8}" y="{y + 15}">{pct(r["share"], 1)} '
            f"({r['exposures']:,})</text></g>"
        )
    parts.append("</svg>")
    return "".join(parts)


# A bandit's variants, coloured in the file's order (then grey).
VARIANT_COLOURS = ("#0969da", "#1a7f37", "#bf8700", "#cf222e", "#8250df", "#1b7c83")


ShareRow = tuple[str, str, Mapping[str, Any], bool]  # label, data-* attrs, weights, SRM


def _shares_svg(exp_id: str, kind: str, row_kind: str, title: str, rows: Sequence[ShareRow]) -> str:
    """Rows of weights, each variant's share of the treated traffic end to end (the
    variants in first seen order, coloured alike in every row); a row whose traffic did
    not match its weights is marked SRM."""
    variants = list(dict.fromkeys(v for _, _, weights, _ in rows for v in weights))
    colour = {
        v: VARIANT_COLOURS[i] if i < len(VARIANT_COLOURS) else "#8c959f"
        for i, v in enumerate(variants)
    }
    row_h, top, left, right, width = 22, 40, 110, 60, 480
    height = top + row_h * max(len(rows), 1) + 6
    bar_w = width - left - right
    parts = [
        f'<svg class="chart {kind}" role="img" aria-label="{escape(title)}" '
        f'data-experience="{escape(exp_id)}" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">',
        f'<text x="{left}" y="12" font-size="11">{escape(title)} '
        "(share of the treated traffic; the holdout never moves)</text>",
    ]
    x = float(left)
    for v in variants:
        parts.append(
            f'<rect x="{x:.0f}" y="20" width="9" height="9" fill="{colour[v]}"/>'
            f'<text x="{x + 12:.0f}" y="28" font-size="10">{escape(v)}</text>'
        )
        x += 16 + 6.5 * len(v)
    if not rows:
        parts.append(f'<text x="{left}" y="{top + 14}" fill="#656d76">none yet</text>')
    for i, (label, attrs, weights, srm) in enumerate(rows):
        y = top + i * row_h
        total = sum(float(w) for w in weights.values()) or 1.0
        parts.append(
            f'<g class="{row_kind}" {attrs}>'
            f'<text x="{left - 8}" y="{y + 14}" text-anchor="end" font-size="10">'
            f"{escape(label)}</text>"
        )
        at = float(left)
        for v in variants:
            share = float(weights.get(v, 0.0)) / total
            w = bar_w * share
            parts.append(
                f'<rect class="weight" data-variant="{escape(v)}" data-share="{share:.4f}" '
                f'x="{at:.2f}" y="{y + 3}" width="{w:.2f}" height="15" fill="{colour[v]}">'
                f"<title>{escape(v)} {share * 100:.1f} %</title></rect>"
            )
            if w >= 34:
                parts.append(
                    f'<text x="{at + w / 2:.2f}" y="{y + 14}" text-anchor="middle" '
                    f'font-size="10" fill="#ffffff">{share * 100:.0f} %</text>'
                )
            at += w
        if srm:
            parts.append(
                f'<text x="{width - right + 6}" y="{y + 14}" font-size="10" '
                f'fill="{VERDICT_COLOURS[None]}">SRM</text>'
            )
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)


def weights_svg(exp_id: str, allocation: Mapping[str, Any]) -> str:
    """A bandit's weights over time: one bar per epoch (a period of constant weights, the
    current one last); an epoch whose traffic did not match its weights is marked SRM."""
    epochs = allocation.get("epochs") or []
    rows: list[ShareRow] = []
    for i, epoch in enumerate(epochs):
        started = str(epoch.get("started_at") or "")[:10] or "start"
        current = epoch.get("report_date") is None and i == len(epochs) - 1
        srm = bool(epoch.get("srm_flagged"))
        attrs = f'data-started="{escape(started)}" data-srm="{str(srm).lower()}"'
        label = f"{started}{' (now)' if current else ''}"
        rows.append((label, attrs, epoch.get("weights") or {}, srm))
    return _shares_svg(exp_id, "weights", "weights-epoch", f"{exp_id}: weights by epoch", rows)


def segment_weights_svg(exp_id: str, segments: Mapping[str, Any]) -> str:
    """A segmented bandit's weights tonight, one bar per segment value: its own weights,
    or (marked "overall") the experience's that it is served until it has enough units."""
    rows: list[ShareRow] = [
        (
            f"{r['value']}{'' if r['own_weights'] else ' (overall)'}",
            f'data-value="{escape(str(r["value"]))}" '
            f'data-own="{str(bool(r["own_weights"])).lower()}"',
            r.get("weights") or {},
            False,
        )
        for r in segments.get("values") or []
    ]
    title = f"{exp_id}: weights by {segments.get('path')}"
    return _shares_svg(exp_id, "segment-weights", "weights-value", title, rows)
