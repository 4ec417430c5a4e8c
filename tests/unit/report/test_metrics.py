"""A metric is declared once (earnest.report.metrics), and that declaration is all it takes.

Adding a metric to the registry, and nothing else, gives it in both aggregation paths
(the Python path and the SQL on DuckDB, which agree on it), in the statistics (its lift on
every variant, CUPED-adjusted when declared so), in report.json, the CSV and the page.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from earnest.report import metrics, render
from earnest.report.metrics import BINARY, CONTINUOUS, Metric
from earnest.report.window import Window
from tests.builders.experiences import one_variant
from tests.builders.report_events import at, conversion, exposure, write_files
from tests.builders.report_paths import both_reports, both_totals, comparable

pytest.importorskip("duckdb")

DAY = date(2026, 11, 20)
DOC = {**one_variant("hero", "home-hero"), "holdout": 0.5}
# A unit's basket of at least 50: a binary metric, formed from the unit's revenue.
BIG_BASKET = Metric(
    "big_basket_rate",
    "big_baskets",
    BINARY,
    lambda o: 1.0 if o.revenue >= 50 else 0.0,
    "CASE WHEN {revenue} >= 50 THEN 1 ELSE 0 END",
    cuped=True,
    label="big-basket rate",
)
# Revenue above a basket of 50: a continuous metric.
BASKET_EXCESS = Metric(
    "basket_excess_per_unit",
    "basket_excess",
    CONTINUOUS,
    lambda o: max(o.revenue - 50.0, 0.0),
    "greatest({revenue} - 50.0, 0.0)",
)


def events(root: Path) -> None:
    """100 units an arm; the holdout's 20 big baskets of 80 (and 20 small of 10), the variant's
    40 big baskets of 60; every unit's basket of the day before repeats its later one."""
    records = []
    for arm, variant, big, value in (("h", None, 20, 80.0), ("b", "b", 40, 60.0)):
        reason = "personalized" if variant else "holdout"
        for i in range(100):
            unit, when = f"{arm}-{i:03d}", at(DAY, 9, i % 60)
            records.append(exposure(unit, "hero", variant, reason, when))
            spent = value if i < big else (10.0 if i < big + 20 else 0.0)
            if spent:
                records.append(conversion(unit, when + timedelta(minutes=5), spent))
                records.append(conversion(unit, when - timedelta(hours=12), spent))
    write_files(root, records)


@pytest.fixture
def declared(monkeypatch: pytest.MonkeyPatch) -> None:
    """The two metrics added to the registry: the only change made to the product."""
    monkeypatch.setitem(metrics.METRICS, BIG_BASKET.name, BIG_BASKET)
    monkeypatch.setitem(metrics.METRICS, BASKET_EXCESS.name, BASKET_EXCESS)


def test_a_declared_metric_is_aggregated_alike_on_both_paths(
    declared: None, tmp_path: Path
) -> None:
    events(tmp_path)
    python, sql = both_totals(tmp_path, [DOC], Window(DAY, 3), pre_exposure_days=1)
    arms = python.experiences["hero"].arms
    assert arms[None].sums["big_basket_rate"] == (20.0, 20.0)
    assert arms["b"].sums["big_basket_rate"] == (40.0, 40.0)
    assert arms[None].sums["basket_excess_per_unit"] == (20 * 30.0, 20 * 900.0)
    assert arms["b"].sums["basket_excess_per_unit"] == (40 * 10.0, 40 * 100.0)
    # its covariate: the same baskets the day before, so x = y for every unit
    pre = arms["b"].pre_exposure
    assert pre is not None and pre["big_basket_rate"].total == pre["big_basket_rate"].product == 40
    assert "basket_excess_per_unit" not in pre  # not declared `cuped`
    assert sql.experiences == python.experiences
    assert sql.program == python.program


def test_a_declared_metric_reaches_the_statistics_and_every_output(
    declared: None, tmp_path: Path
) -> None:
    events(tmp_path)
    python, sql = both_reports(tmp_path, [DOC], Window(DAY, 3), pre_exposure_days=1)
    assert comparable(python) == comparable(sql)
    (experience,) = python["experiences"]
    holdout, variant = experience["arms"]
    assert (holdout["big_baskets"], holdout["big_basket_rate"]) == (20, 0.2)
    assert (variant["big_baskets"], variant["big_basket_rate"]) == (40, 0.4)
    assert (variant["basket_excess"], variant["basket_excess_per_unit"]) == (400.0, 4.0)
    lift = experience["variants"][0]["lift"]["big_basket_rate"]
    assert (lift["holdout"], lift["variant"]) == (0.2, 0.4)
    assert lift["absolute"] == pytest.approx(0.2) and lift["p_value"] < 0.01
    assert experience["variants"][0]["lift"]["basket_excess_per_unit"]["absolute"] == -2.0
    # x explains y entirely (the same basket before): CUPED adjusts the declared metric
    assert "big_basket_rate" in experience["variants"][0]["lift_adjusted"]
    assert python["program"]["global_holdout"]["lift"]["big_basket_rate"]["variant"] == 0.3
    files = render.render(python)
    header = files["report.csv"][0].decode().splitlines()[0].split(",")
    assert {"big_baskets", "big_basket_rate", "basket_excess_per_unit"} <= set(header)
    page = files["index.html"][0].decode()
    assert "<th>big-basket rate</th>" in page and "<th>big baskets</th>" in page


def test_an_undeclared_metric_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"unknown metric 'orders'.*conversion_rate"):
        metrics.metric("orders")
