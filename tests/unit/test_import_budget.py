"""A generous guard on decide's import cost: catches an eager boto3 or pydantic, not noise.

The real figure comes from bench/bench_decide.py; these only fail on a gross regression.
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


def test_decides_core_loads_a_bounded_number_of_modules() -> None:
    """The budget as a module count, not a time: the same on a loaded machine.

    decide's core loads about 60 modules (stdlib included); pydantic would add about 85,
    botocore about 240. The figure in seconds comes from bench/bench_decide.py.
    """
    code = (
        "import sys; before = set(sys.modules)\n"
        f"import {HOT_MODULES}\n"
        "print(len(set(sys.modules) - before))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert int(out.stdout) < 100


def test_decides_settings_load_nothing_of_the_cmps_events_or_pydantic() -> None:
    """The one settings module declares every function's settings; decide's start reads
    its own without loading the CMP registry, the events batch or pydantic (lazy there)."""
    code = (
        "import sys, earnest_aws.settings, earnest_aws.front_door, earnest_aws.rules_cache\n"
        "earnest_aws.settings.DecideSettings.from_env({})\n"
        "print(sorted(m for m in sys.modules if m.startswith("
        "('pydantic', 'earnest.consent.cmp', 'earnest.events', 'earnest.report'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
