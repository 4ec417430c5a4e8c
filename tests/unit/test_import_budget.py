"""A generous guard on decide's import cost: catches an eager boto3 or pydantic, not noise.

The real figure comes from bench/bench_decide.py; this only fails on a ten-fold regression.
"""

from __future__ import annotations

import subprocess
import sys

HOT_MODULES = (
    "earnest.decide.service, earnest.decide.engine, earnest.decide.request, earnest.tokens,"
    " earnest.consent.purposes, earnest.jsonbody"
)
# What decide must never load: the other capabilities, the authoring tools, the CLI.
NOT_DECIDES = ("earnest.report", "earnest.events", "earnest.experiences", "earnest_cli")


def test_decides_core_imports_no_aws_and_no_pydantic() -> None:
    code = (
        f"import sys, {HOT_MODULES}\n"
        "heavy = [m for m in ('boto3', 'botocore', 'pydantic', 'yaml') if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_decides_core_imports_nothing_of_the_report_events_authoring_or_cli() -> None:
    code = (
        f"import sys, {HOT_MODULES}\n"
        f"print(sorted(m for m in sys.modules if m.startswith({NOT_DECIDES!r})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_core_package_never_imports_boto3() -> None:
    code = (
        "import sys, pkgutil, importlib, earnest\n"
        "for m in pkgutil.walk_packages(earnest.__path__, 'earnest.'):\n"
        "    importlib.import_module(m.name)\n"
        "print('boto3' in sys.modules or 'botocore' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_decides_core_imports_in_well_under_a_tenth_of_a_second() -> None:
    code = (
        "import time; t = time.perf_counter()\n"
        f"import {HOT_MODULES}\n"
        "print(time.perf_counter() - t)"
    )
    runs = [
        float(
            subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(3)
    ]
    # Measured at about 10 ms; pydantic or boto3 would each add 50-200 ms.
    assert min(runs) < 0.1
