"""The report page's program view: the inventory of every experience ever pushed, and the
program across its history (its lift night by night, the experiences per month, the
share of traffic personalized by reason), as HTML with inline SVG charts in the style of
earnest.report.charts.

Reads report.json's `inventory` and `program.history` (earnest.program.inventory and
.history build them); a report without them (an older one) shows neither.

Pure: stdlib only (and the core). It must not import boto3, pydantic or `earnest_aws`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from earnest.program.inventory import flat
from earnest.report.charts import (
    REASON_COLOURS,
    VERDICT_COLOURS,
    VERDICT_LABELS,
    night_scale,
    pct,
    signed_pct,
)

STANDING_COLOURS = {
    "harming": "#cf222e",
    "costing": "#bc4c00",
    "paused": "#9a6700",
    "learning": "#6e7781",
    "earning": "#1a7f37",
    "draft": "#8c959f",
    "retired": "#57606a",
}
COUNT_COLOURS = {
    "launched": "#0969da",
    "kept": "#1a7f37",
    "paused": "#9a6700",
    "retired": "#57606a",
}
DEFAULT_SHOWN = 60  # characters of a default's content shown in the table


def _standing(kind: str) -> str:
    return (
        f'<span class="badge standing" data-standing="{escape(kind)}" '
        f'style="background:{STANDING_COLOURS.get(kind, "#6e7781")}">{escape(kind)}</span>'
    )


def _short(text: str) -> str:
    return text if len(text) <= DEFAULT_SHOWN else text[: DEFAULT_SHOWN - 1] + "…"


def _verdicts(row: Mapping[str, Any]) -> str:
    measured = row.get("measured") or {}
    parts = []
    for v in measured.get("variants") or []:
        colour = VERDICT_COLOURS.get(v.get("verdict"), "#6e7781")
        label = VERDICT_LABELS.get(v.get("verdict"), str(v.get("verdict")))
        interval = (
            f" [{signed_pct(v.get('sequential_low'))} … {signed_pct(v.get('sequential_high'))}]"
        )
        paused = " (paused)" if v.get("paused") else ""
        earlier = v.get("earlier")
        if isinstance(earlier, Mapping):
            interval += (
                f" (before its allocation restarted: {earlier.get('verdict')}, report of "
                f"{earlier.get('date')})"
            )
        parts.append(
            f"<div class='variant-verdict' data-variant='{escape(str(v.get('variant')))}'>"
            f"{escape(str(v.get('variant')))}{paused}: <span style='color:{colour}'>"
            f"{escape(label)}</span> {signed_pct(v.get('relative'))}{escape(interval)}</div>"
        )
    if not parts:
        return "<span class='muted'>not measured</span>"
    return (
        f"{''.join(parts)}<span class='muted'>report of {escape(str(measured.get('date')))}</span>"
    )


def _changes(row: Mapping[str, Any]) -> str:
    items = "".join(
        f"<li class='change' data-event='{escape(str(c['event']))}'>"
        f"{escape(str(c['at'])[:10])} <b>{escape(str(c['event']).replace('_', ' '))}"
        f"{' ' + escape(str(c['variant'])) if c.get('variant') else ''}</b> "
        f"({escape(str(c['rule']))}, by {escape(str(c['actor']))}): {escape(str(c['reason']))}"
        "</li>"
        for c in row.get("changes") or []
    )
    return f"<ul class='changes'>{items}</ul>" if items else "<span class='muted'>none</span>"


def inventory_section(inventory: Mapping[str, Any]) -> str:
    """Cards by standing, then one row per experience, the ones to act on first."""
    rows = inventory.get("experiences") or []
    cards = "".join(
        f"<div class='card' data-standing='{escape(kind)}'><b>{n}</b>{escape(kind)}</div>"
        for kind, n in (inventory.get("counts") or {}).items()
    )
    body = []
    for r in rows:
        review = f"{r.get('review_due') or '—'} ({str(r.get('review')).replace('_', ' ')})"
        units = "—" if r.get("units") is None else f"{r['units']:,}"
        body.append(
            f"<tr class='inventory-row' data-experience='{escape(str(r['id']))}' "
            f"data-standing='{escape(str(r['standing']))}'>"
            f"<td>{_standing(str(r['standing']))}<div class='muted'>{escape(str(r['why']))}"
            f"</div></td><td class='text'><b>{escape(str(r['id']))}</b><div class='muted'>"
            f"{escape(str(r.get('placement')))} · {escape(str(r['status']))}</div></td>"
            f"<td class='text'>{escape(str(r.get('owner') or 'UNOWNED'))}</td>"
            f"<td class='text'><code>{escape(_short(str(flat(r)['default'])))}</code></td>"
            f"<td>{pct(r.get('holdout'), 1)}</td><td>{r.get('days_live', 0):g}</td>"
            f"<td>{units}</td><td class='text'>{_verdicts(r)}</td>"
            f"<td class='text'>{escape(review)}</td><td class='text'>{_changes(r)}</td></tr>"
        )
    if not body:
        return "<p class='muted'>No experience pushed yet.</p>"
    return (
        f"<div class='cards inventory-counts'>{cards}</div>"
        "<div style='overflow-x:auto'><table class='inventory'><tr><th class='text'>standing</th>"
        "<th class='text'>experience</th><th class='text'>owner</th>"
        "<th class='text'>default</th><th>holdout</th><th>days live</th><th>units</th>"
        "<th class='text'>latest verdict, lift against the holdout [always-valid interval]"
        "</th><th class='text'>review due</th><th class='text'>paused, retired: when and why"
        f"</th></tr>{''.join(body)}</table></div>"
    )


def lift_history_svg(points: Sequence[Mapping[str, Any]], metric: str) -> str:
    """The global holdout's relative lift night by night: dot and 95 % bar (the trend
    chart's style), the zero line the default."""
    width, height, left, right, top, bottom = 1000, 180, 56, 16, 22, 26
    lifts = [p["lift"].get(metric) or {} for p in points]
    values = [
        v
        for lift in lifts
        for v in (lift.get("relative"), lift.get("relative_low"), lift.get("relative_high"))
        if isinstance(v, int | float)
    ]
    bound, y = night_scale(max((abs(v) for v in values), default=0.05), height, top, bottom)
    step = (width - left - right) / max(len(points), 1)

    title = f"The program against the global holdout: relative lift ({metric}) by night"
    parts = [
        f'<svg class="chart program-history" role="img" aria-label="{escape(title)}" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">',
        f'<text x="{left}" y="14" font-weight="600">{escape(title)} (bar: 95 % interval)</text>',
        f'<line class="zero" x1="{left}" x2="{width - right}" y1="{y(0)}" y2="{y(0)}" '
        'stroke="#1f2328"/>',
        f'<text x="{left - 4}" y="{y(bound) + 4}" text-anchor="end" font-size="10" '
        f'fill="#656d76">{bound * 100:+.0f} %</text>',
        f'<text x="{left - 4}" y="{y(-bound) + 4}" text-anchor="end" font-size="10" '
        f'fill="#656d76">{-bound * 100:+.0f} %</text>',
    ]
    if not points:
        parts.append(f'<text x="{left}" y="{top + 40}" fill="#656d76">no nightly report</text>')
    for i, (p, lift) in enumerate(zip(points, lifts, strict=True)):
        cx = round(left + step * (i + 0.5), 2)
        parts.append(f'<g class="history-night" data-date="{escape(str(p["date"]))}">')
        low, high = lift.get("relative_low"), lift.get("relative_high")
        if isinstance(low, int | float) and isinstance(high, int | float):
            parts.append(
                f'<rect class="interval-ci" x="{cx - 2}" y="{y(high)}" width="4" '
                f'height="{max(y(low) - y(high), 1.0):.2f}" fill="#8250df" fill-opacity="0.35"/>'
            )
        if isinstance(lift.get("relative"), int | float):
            parts.append(
                f'<circle class="estimate" cx="{cx}" cy="{y(lift["relative"])}" r="2.5" '
                'fill="#8250df"/>'
            )
        parts.append("</g>")
    if points:
        parts.append(
            f'<text x="{left}" y="{height - 6}" font-size="10" fill="#656d76">'
            f"{escape(str(points[0]['date']))}</text>"
            f'<text x="{width - right}" y="{height - 6}" text-anchor="end" font-size="10" '
            f'fill="#656d76">{escape(str(points[-1]["date"]))}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def months_svg(months: Sequence[Mapping[str, Any]]) -> str:
    """Per month, bars of the experiences launched, kept, paused and retired."""
    kinds = tuple(COUNT_COLOURS)
    width, height, left, top, bottom = 1000, 200, 40, 40, 26
    most = max((int(m.get(k) or 0) for m in months for k in kinds), default=0) or 1
    group = (width - left - 10) / max(len(months), 1)
    bar = min(group / (len(kinds) + 1), 28)
    scale = (height - top - bottom) / most
    legend = "".join(
        f'<rect x="{left + i * 110}" y="20" width="10" height="10" fill="{c}"/>'
        f'<text x="{left + i * 110 + 14}" y="29" font-size="11">{k}</text>'
        for i, (k, c) in enumerate(COUNT_COLOURS.items())
    )
    parts = [
        '<svg class="chart months" role="img" aria-label="experiences per month" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">',
        f'<text x="{left}" y="14" font-weight="600">Experiences per month</text>{legend}',
        f'<line x1="{left}" x2="{width - 10}" y1="{height - bottom}" y2="{height - bottom}" '
        'stroke="#1f2328"/>',
    ]
    if not months:
        parts.append(f'<text x="{left}" y="{top + 40}" fill="#656d76">no experiences</text>')
    for i, m in enumerate(months):
        x0 = left + i * group + bar / 2
        parts.append(f'<g class="month" data-month="{escape(str(m["month"]))}">')
        for j, k in enumerate(kinds):
            n = int(m.get(k) or 0)
            h = round(n * scale, 2)
            parts.append(
                f'<rect class="count" data-kind="{k}" data-count="{n}" x="{x0 + j * bar:.2f}" '
                f'y="{height - bottom - h}" width="{bar * 0.9:.2f}" height="{max(h, 0.5)}" '
                f'fill="{COUNT_COLOURS[k]}"><title>{k}: {n}</title></rect>'
            )
        parts.append(
            f'<text x="{x0 + bar * len(kinds) / 2:.2f}" y="{height - 8}" text-anchor="middle" '
            f'font-size="11">{escape(str(m["month"]))}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


def coverage_months_svg(months: Sequence[Mapping[str, Any]]) -> str:
    """Per month, one stacked bar: the share of exposures by decision reason (the month's
    last nightly report)."""
    shown = [m for m in months if m.get("coverage")]
    row_h, top, left, width = 26, 28, 90, 1000
    height = top + row_h * max(len(shown), 1) + 10
    bar_w = width - left - 20
    parts = [
        '<svg class="chart coverage-months" role="img" aria-label="coverage by month" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">',
        f'<text x="{left}" y="16" font-weight="600">Share of exposures by decision reason, '
        "per month (green: personalized)</text>",
    ]
    if not shown:
        parts.append(f'<text x="{left}" y="{top + 16}" fill="#656d76">no exposures</text>')
    for i, m in enumerate(shown):
        y0, x = top + i * row_h, float(left)
        parts.append(
            f'<g class="coverage-month" data-month="{escape(str(m["month"]))}">'
            f'<text x="{left - 10}" y="{y0 + 15}" text-anchor="end">{escape(str(m["month"]))}'
            "</text>"
        )
        for reason, share in m["coverage"].items():
            w = round(bar_w * float(share), 2)
            parts.append(
                f'<rect data-reason="{escape(reason)}" x="{x:.2f}" y="{y0 + 3}" width="{w}" '
                f'height="16" fill="{REASON_COLOURS.get(reason, "#8c959f")}">'
                f"<title>{escape(reason)}: {pct(share, 1)}</title></rect>"
            )
            x += w
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)


def _months_table(months: Sequence[Mapping[str, Any]]) -> str:
    cols = ("launched", "active", "kept", "paused", "retired", "withdrawn", "variants_paused")
    rows = "".join(
        f"<tr class='month-row' data-month='{escape(str(m['month']))}'>"
        f"<td>{escape(str(m['month']))}</td>"
        + "".join(f"<td>{int(m.get(c) or 0)}</td>" for c in cols)
        + f"<td>{pct(m.get('personalized_share'), 1)}</td>"
        f"<td>{signed_pct((m.get('lift') or {}).get('relative'))}</td></tr>"
        for m in months
    )
    head = "".join(f"<th>{c.replace('_', ' ')}</th>" for c in cols)
    return (
        f"<table class='months'><tr><th class='text'>month</th>{head}<th>personalized</th>"
        f"<th>program lift</th></tr>{rows}</table>"
    )


def history_section(history: Mapping[str, Any]) -> str:
    months = history.get("months") or []
    return (
        lift_history_svg(history.get("lift") or [], str(history.get("metric")))
        + months_svg(months)
        + coverage_months_svg(months)
        + "<p class='muted'>Per month, each experience that served in it (live or paused) is "
        "counted once by where it stood at the month's end (kept: live); launched: first "
        "live that month. Coverage and lift: the month's last nightly report.</p>"
        + _months_table(months)
    )


def page_sections(report: Mapping[str, Any]) -> str:
    """The inventory and the program's history, for index.html ("" when not in it)."""
    out = ""
    if isinstance(report.get("inventory"), Mapping):
        out += (
            "<h2 id='inventory'>Inventory: every experience ever pushed</h2>"
            + inventory_section(report["inventory"])
        )
    history = (report.get("program") or {}).get("history")
    if isinstance(history, Mapping):
        out += "<h2 id='program-history'>The program across its history</h2>" + history_section(
            history
        )
    return out
