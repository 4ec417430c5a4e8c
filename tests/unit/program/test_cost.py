"""The cost model's arithmetic against a case computed by hand, and the price table it reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from earnest.program import cost
from tests.conftest import ROOT

GB = 2**30
TABLE = ROOT / "bench" / "prices.toml"


def prices() -> cost.Prices:
    usd = {
        "lambda_gb_second": 0.00001,
        "lambda_request": 0.0000002,
        "dynamodb_read_unit": 0.0000001,
        "dynamodb_write_unit": 0.000001,
        "s3_put": 0.000005,
        "s3_get": 0.0000004,
        "s3_storage_gb_month": 0.02,
        "athena_tb_scanned": 5.0,
        "cloudfront_request": 0.000001,
        "logs_ingested_gb": 0.5,
    }
    assumptions = {
        "dynamodb_round_trip_ms": 4.0,
        "s3_put_round_trip_ms": 25.0,
        "s3_get_round_trip_ms": 15.0,
        "s3_list_round_trip_ms": 20.0,
        "athena_wait_seconds": 30.0,
        "events_per_decision": 1.0,
        "events_per_request": 10,
        "nightly_days_read": 30,
        "retention_days": 2 * cost.DAYS_PER_MONTH,
        "events_through_cloudfront": True,
    }
    table = {
        name: cost.Price(v, "unit", "2024-11-01", "https://example") for name, v in usd.items()
    }
    return cost.Prices(table, assumptions, {"small": 100_000})


NIGHT = cost.Night(
    memory_mb=2048,
    fixed_ms=500.0,
    per_event_ms=0.01,
    fixed_calls=cost.Calls(dynamodb=3, read_units=5, write_units=2, s3_puts=6, s3_gets=1),
    stored_bytes_per_event=50.0,
)


def test_a_million_decisions_by_hand() -> None:
    # 1.5 ms own + one 4 ms DynamoDB round trip = 5.5 ms, billed 6 ms at 1 GB; 1.5 read
    # units; a million decisions log exactly 1 GB
    decide = cost.Invocation(1024, 1.5, cost.Calls(dynamodb=1, read_units=1.5, log_bytes=GB / 1e6))
    lines = cost.per_million_decisions(decide, prices())
    assert lines == pytest.approx(
        {
            "lambda_requests": 0.20,  # 1e6 x $0.0000002
            "lambda_duration": 0.06,  # 1e6 x 0.006 s x 1 GB x $0.00001
            "dynamodb": 0.15,  # 1e6 x 1.5 x $0.0000001
            "s3_requests": 0.0,
            "cloudfront": 0.0,
            "logs": 0.50,  # 1 GB x $0.5
        }
    )
    assert sum(lines.values()) == pytest.approx(0.91)


def test_a_million_events_by_hand() -> None:
    # 100,000 requests of 10 events: 3.2 ms own + 4 ms DynamoDB + 25 ms PUT = 32.2 ms,
    # billed 33 ms at 0.5 GB; each event stored in 2^30 / 1e6 bytes, kept two months
    request = cost.Invocation(
        512, 3.2, cost.Calls(dynamodb=1, read_units=10, s3_puts=1), cloudfront=True
    )
    lines = cost.per_million_events(request, GB / 1e6, prices())
    assert lines == pytest.approx(
        {
            "lambda_requests": 0.02,
            "lambda_duration": 100_000 * 0.033 * 0.5 * 0.00001,  # 0.0165
            "dynamodb": 0.10,
            "s3_requests": 0.50,
            "cloudfront": 0.10,
            "logs": 0.0,
            "s3_storage": 0.04,  # 1 GB x 2 months x $0.02
        }
    )


def test_a_night_in_the_function_by_hand() -> None:
    # 100,000 decisions a day x 1 event x 30 days = 3,000,000 events in 300,000 objects;
    # 30 + 300 listings. Duration: 500 + 0.01 x 3e6 own, 3 x 4 DynamoDB, 6 x 25 PUT,
    # 330 x 20 LIST, 300,001 x 15 GET = 4,537,277 ms, at 2 GB
    night = cost.night_python(NIGHT, 100_000, prices())
    assert (night.events_read, night.objects) == (3_000_000, 300_000)
    assert night.seconds == pytest.approx(4537.277)
    assert night.usd == pytest.approx(
        {
            "lambda_requests": 0.0000002,
            "lambda_duration": 4537.277 * 2 * 0.00001,
            "dynamodb": 5 * 0.0000001 + 2 * 0.000001,
            "s3_requests": (6 + 330) * 0.000005 + 300_001 * 0.0000004,
            "cloudfront": 0.0,
            "logs": 0.0,
        }
    )


def test_a_night_with_athena_by_hand() -> None:
    # the function waits 30 s besides its own 0.5 + 30 s; Athena scans 3e6 x 50 bytes and
    # GETs and lists every object itself
    night = cost.night_athena(NIGHT, 100_000, prices())
    assert night.seconds == pytest.approx(30.677)
    assert night.usd["lambda_duration"] == pytest.approx(30.677 * 2 * 0.00001)
    assert night.usd["athena"] == pytest.approx(1.5e8 / 2**40 * 5)
    assert night.usd["s3_requests"] == pytest.approx(
        6 * 0.000005 + 0.0000004 + 300_000 * 0.0000004 + 330 * 0.000005
    )
    # a small window is billed Athena's 10 MB minimum
    assert cost.night_athena(NIGHT, 100, prices()).usd["athena"] == pytest.approx(
        10 * 2**20 / 2**40 * 5
    )


def test_where_athena_takes_over_by_hand() -> None:
    # the function's night: (1277 + 45.36 ms per decision a day) -> 600 s at 13,199 a day
    assert cost.decisions_within(NIGHT, 600, prices()) == pytest.approx(598_723 / 45.36)
    # cost: the function's extra 45.36 ms x 2 GB per decision against Athena's 30 s wait and
    # 10 MB minimum: (0.00061354 + 0.0000476837 - 0.00002554) / 9.072e-7 = 700.7 a day
    assert cost.cost_crossover(NIGHT, prices()) == pytest.approx(700.7, rel=0.01)


def test_the_shipped_price_table_has_every_price_with_its_date_and_source() -> None:
    table = cost.load(TABLE)
    assert set(cost.PRICES) <= set(table.prices)
    assert all(
        p.usd > 0 and p.published and p.source.startswith("https://") for p in table.prices.values()
    )
    assert table.meta["region"] == "us-east-1"
    assert len(table.traffic) == 3


def test_a_table_without_a_price_is_refused_naming_it(tmp_path: Path) -> None:
    text = TABLE.read_text().replace("[prices.athena_tb_scanned]", "[prices.athena_renamed]")
    (tmp_path / "prices.toml").write_text(text)
    with pytest.raises(ValueError, match=r"prices\.athena_tb_scanned is missing"):
        cost.load(tmp_path / "prices.toml")


def test_docs_cost_md_shows_the_prices_the_model_reads() -> None:
    doc = (ROOT / "docs" / "cost.md").read_text()
    for line in cost.price_table(cost.load(TABLE)):
        assert line in doc, f"docs/cost.md lacks {line!r}: run bench/bench_cost.py and update it"
