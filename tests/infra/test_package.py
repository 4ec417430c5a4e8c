"""`make package` builds what Lambda runs: arm64 / CPython 3.12 code that imports there."""

from __future__ import annotations

import platform
import struct
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from earnest_aws import clients
from earnest_aws.experiences_store import ExperiencesStore
from earnest_aws.settings import Settings
from earnest_aws.settings import settings as current_settings
from earnest_cli.local_stack import function_url_event
from earnest_cli.template import create_resources, load_template
from infra import bootstrap_secrets
from infra.package import LAYER_CODE, code_uris, package, pip_install, runtime_pins
from tests.builders.deployed import (
    LAMBDA_RUNTIME_ENV,
    cold_start,
    function_environment,
    lambda_python,
)
from tests.builders.experiences import experience, request

EM_AARCH64 = 183  # ELF e_machine
PYC_312 = (3531).to_bytes(2, "little") + b"\r\n"  # CPython 3.12's bytecode magic number
UNCHECKED_HASH = 0b01  # PEP 552 flags: hash-based, source not checked
FUNCTIONS = sorted(
    k for k, v in load_template()["Resources"].items() if v["Type"] == "AWS::Serverless::Function"
)


def elf_machine(path: Path) -> int:
    header = path.read_bytes()[:20]
    assert header[:4] == b"\x7fELF", f"{path.name} is not an ELF file"
    assert header[4] == 2, f"{path.name} is not a 64-bit build"
    order = "<" if header[5] == 1 else ">"
    machine: int = struct.unpack(order + "H", header[18:20])[0]
    return machine


def wheel_tags(layer: Path) -> dict[str, list[str]]:
    """Distribution -> the tags its WHEEL file declares, for platform-specific ones."""
    out: dict[str, list[str]] = {}
    for wheel in layer.glob("python/*.dist-info/WHEEL"):
        lines = wheel.read_text().splitlines()
        if "Root-Is-Purelib: false" in lines:
            out[wheel.parent.name] = [ln.split(": ", 1)[1] for ln in lines if ln.startswith("Tag:")]
    return out


def test_the_package_holds_only_aarch64_cpython_312_native_code(
    tmp_path: Path, wheel_cache: Path
) -> None:
    layer = package(tmp_path / "build", cache_dir=wheel_cache)

    native = sorted(layer.rglob("*.so"))
    assert {p.name.split(".")[0] for p in native} >= {"mmh3", "orjson"}
    for so in native:
        assert elf_machine(so) == EM_AARCH64, so.name
        assert so.name.endswith((".cpython-312-aarch64-linux-gnu.so", ".abi3.so")), so.name
    tags = wheel_tags(layer)
    assert tags, "no platform wheel in the layer"
    for dist, dist_tags in tags.items():
        assert all(t.startswith("cp312-cp312-") and t.endswith("_aarch64") for t in dist_tags), (
            dist,
            dist_tags,
        )


def test_every_module_shipped_carries_cpython_312_bytecode_that_needs_no_source_check(
    tmp_path: Path, wheel_cache: Path
) -> None:
    out = tmp_path / "build"
    package(out, cache_dir=wheel_cache)

    sources = sorted(out.rglob("*.py"))
    assert len(sources) > 100  # the layer's code and its dependencies, the four handlers
    for source in sources:
        pyc = source.parent / "__pycache__" / f"{source.stem}.cpython-312.pyc"
        assert pyc.is_file(), source.relative_to(out)
        header = pyc.read_bytes()[:8]
        assert header[:4] == PYC_312, source.relative_to(out)
        # Valid whatever mtime the deployment zip gives the source: never recompiled.
        assert int.from_bytes(header[4:8], "little") == UNCHECKED_HASH, source.relative_to(out)


def test_the_package_is_laid_out_as_sam_build_lays_it_out(
    tmp_path: Path, wheel_cache: Path
) -> None:
    out = tmp_path / "build"
    package(out, cache_dir=wheel_cache)

    built = code_uris((out / "template.yaml").read_text())
    assert set(built) == {"SharedLayer", *FUNCTIONS}
    for logical_id, uri in built.items():
        assert uri == logical_id  # relative to the built template, as SAM writes it
    for package_name in LAYER_CODE:
        assert (out / "SharedLayer" / "python" / package_name / "__init__.py").is_file()
    for name in FUNCTIONS:
        assert (out / name / "app.py").is_file(), name


def _python_version(python: str) -> str:
    code = "import sys; print('%d.%d' % sys.version_info[:2])"
    return subprocess.run([python, "-c", code], capture_output=True, text=True).stdout.strip()


def _seed(moto_url: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The stack's resources in moto: tables and bucket from the template, a live experience
    pushed as `earnest push` writes it, the secrets bootstrapped."""
    # The bucket too, as in Lambda: a write publishes the edge's bundle there.
    bucket = {"EVENTS_BUCKET": env["EVENTS_BUCKET"]}
    for key, value in {**LAMBDA_RUNTIME_ENV, "AWS_ENDPOINT_URL": moto_url, **bucket}.items():
        monkeypatch.setenv(key, value)
    clients.reset()
    current_settings.cache_clear()
    settings = Settings(
        experiences_table=env["EXPERIENCES_TABLE"],
        consent_table=env["CONSENT_TABLE"],
        events_bucket=env["EVENTS_BUCKET"],
    )
    create_resources(clients.client("dynamodb"), clients.client("s3"), settings)
    doc = experience(last_reviewed=datetime.now(UTC).date().isoformat())
    ExperiencesStore(settings.experiences_table).save(doc, None, "test", "push")
    secrets = {"CONSENT_DIDOMI_TOKENS": "d" * 32}
    bootstrap_secrets.bootstrap(clients.client("ssm"), bootstrap_secrets.DEFAULTS, secrets)
    clients.reset()


def _url_event(path: str, body: Any, headers: dict[str, str] | None = None) -> dict[str, Any]:
    hdrs = {"content-type": "application/json", **(headers or {})}
    return function_url_event("POST", path, "", hdrs, orjson.dumps(body), "203.0.113.9")


CALLS: dict[str, list[dict[str, Any]]] = {
    "DecideFunction": [_url_event("/decide", request(unit="a-7"))],
    "RecordExposureFunction": [
        _url_event(
            "/events",
            {
                "events": [
                    {
                        "type": "conversion",
                        "event_id": "c-1",
                        "unit_id": "a-7",
                        "name": "purchase",
                        "value": 1.0,
                        "ts": 0,
                    }
                ]
            },
        )
    ],
    "ConsentUpdateFunction": [_url_event("/consent", {"updates": []})],
    "NightlyReportFunction": [],  # filled with yesterday's date at run time (see below)
}
EXPECTED = {"DecideFunction": 200, "RecordExposureFunction": 202, "ConsentUpdateFunction": 401}


@pytest.mark.e2e
@pytest.mark.slow
def test_every_handler_cold_starts_and_answers_with_only_the_layer_and_boto3(
    tmp_path: Path, wheel_cache: Path, moto_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    python = lambda_python()
    version = _python_version(python)
    host = f"manylinux2014_{platform.machine()}"
    layer = package(tmp_path / "build", version, host, wheel_cache) / "python"
    runtime = tmp_path / "runtime"  # what the Lambda runtime ships: boto3 and its needs
    pip_install(runtime_pins(version, host), runtime, version, host, wheel_cache)
    _seed(moto_url, function_environment("DecideFunction"), monkeypatch)
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    calls = {**CALLS, "NightlyReportFunction": [{"date": yesterday}]}

    def files(folder: Path) -> dict[str, int]:
        return {str(p): p.stat().st_mtime_ns for p in folder.rglob("*")}

    shipped = files(tmp_path / "build")
    imported: set[str] = set()
    for name in FUNCTIONS:
        env = {**function_environment(name), **LAMBDA_RUNTIME_ENV, "AWS_ENDPOINT_URL": moto_url}
        folder = tmp_path / "build" / name
        work = tmp_path / name
        work.mkdir()
        result = cold_start(python, [folder, layer, runtime], env, calls[name], work)

        assert result["version"] == [int(x) for x in version.split(".")]
        [answer] = result["answers"]
        if name in EXPECTED:
            assert answer["statusCode"] == EXPECTED[name], (name, answer)
        else:
            assert answer["date"] == yesterday
        imported |= {m.split(".")[0] for m in result["loaded"][str(layer)]}
        if name == "DecideFunction":
            decision = orjson.loads(answer["body"])["decisions"]["home-hero"]
            assert decision["experience"] == "hero-test"
            # decide's start loads only what a decision needs: no Powertools (its logger is
            # earnest_aws.logs), nor anything of the report, events or authoring.
            loaded = result["loaded"][str(layer)]
            assert not [m for m in loaded if m.startswith("aws_lambda_powertools")]
            assert not [m for m in loaded if m.startswith(("earnest.report", "earnest.events"))]

    # Every module came from its shipped bytecode: a cold start compiled and wrote nothing.
    assert files(tmp_path / "build") == shipped
    assert not imported & {"pydantic", "pydantic_core", "yaml"}
    in_layer = {p.name.split(".")[0].split("-")[0] for p in layer.iterdir()}
    in_layer -= {"__pycache__"}
    assert imported == in_layer  # the layer holds what the handlers import, nothing else
