"""Builds what `sam deploy` ships, without Docker: the shared layer and every function.

Lays the build out the way `sam build` does (`.aws-sam/build/template.yaml`, one folder per
logical id, the layer's code under `python/`), so `sam deploy` picks it up unchanged. The
layer's third-party code comes from requirements.lock (hashes checked), downloaded as
wheels for the target platform, so an x86 laptop builds the arm64 / CPython 3.12 layer.

Only what deployed functions import goes in: LAYER_ROOTS and what they need, minus what
the Lambda runtime already provides (boto3 and its dependencies). pydantic and PyYAML serve
the CLI and validation only (tests/infra/test_package.py proves no handler imports them).

Everything shipped carries its bytecode, compiled by a CPython of the target version
(this one, `python3.12` on the PATH, or pyenv's): without it every cold start compiles
earnest and Powertools from source (about 80 ms), since /opt and /var/task are read-only.
The `.pyc` files are unchecked-hash ones: valid whatever mtimes the zip gives the sources.

    python infra/package.py                      # arm64 / 3.12, into .aws-sam/build
    python infra/package.py --platform manylinux2014_x86_64 --python-version 3.11 --out DIR
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from packaging.markers import Marker
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"
TEMPLATE = ROOT / "template.yaml"

# What the deployed functions import beyond the standard library and the runtime's boto3.
LAYER_ROOTS = ("aws-lambda-powertools", "mmh3", "orjson")
# What the python3.12 Lambda runtime ships: a layer copy would only shadow it.
RUNTIME_ROOTS = ("boto3",)
LAYER_CODE = ("earnest", "earnest_aws")  # the packages under shared/
# Lambda's python3.12 on arm64 (Amazon Linux 2023, glibc 2.34).
LAMBDA_PLATFORM = "manylinux2014_aarch64"
LAMBDA_PYTHON = "3.12"
SKIPPED = shutil.ignore_patterns("__pycache__", "*.pyc", ".*")
_VERSION_OF = "import sys; print('%d.%d' % sys.version_info[:2]); print(sys.executable)"


@dataclass(frozen=True)
class Pin:
    """One entry of the lock: `name==version [; marker]`, its hashes, who needs it."""

    name: str
    text: str  # the entry as pip reads it, marker removed
    marker: str | None
    via: frozenset[str]


def read_lock(path: Path = LOCK) -> list[Pin]:
    """The lock's entries, with uv's `# via` annotations (who requires each)."""
    pins: list[Pin] = []
    blocks = re.split(r"\n(?=[A-Za-z0-9])", path.read_text())
    for block in blocks:
        if block.startswith("#") or not block.strip():
            continue
        head, _, rest = block.partition("\n")
        requirement, _, marker = head.rstrip(" \\").partition(";")
        hashes = re.findall(r"--hash=\S+", rest)
        via = set()
        for line in rest.splitlines():
            note = line.strip().lstrip("#").strip().removeprefix("via").strip()
            if line.strip().startswith("#") and note and "(" not in note:  # not the project
                via.add(canonicalize_name(note))
        name = canonicalize_name(requirement.split("==")[0])
        text = f"{requirement.strip()} " + " ".join(hashes)
        pins.append(Pin(name, text, marker.strip() or None, frozenset(via)))
    return pins


def target_environment(python_version: str, platform: str) -> dict[str, str]:
    """Marker values of the interpreter that will run the layer (not the one building it)."""
    machine = "aarch64" if "aarch64" in platform else "x86_64"
    return {
        "python_version": python_version,
        "python_full_version": f"{python_version}.0",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "platform_machine": machine,
        "os_name": "posix",
        "extra": "",
    }


def closure(pins: Iterable[Pin], roots: Iterable[str], env: Mapping[str, str]) -> list[Pin]:
    """The roots and everything they need, for the target environment."""
    live = [p for p in pins if p.marker is None or Marker(p.marker).evaluate(dict(env))]
    wanted: set[str] = {canonicalize_name(r) for r in roots}
    while True:
        grown = wanted | {p.name for p in live if p.via & wanted}
        if grown == wanted:
            return [p for p in live if p.name in wanted]
        wanted = grown


def layer_pins(python_version: str, platform: str) -> list[Pin]:
    """What the layer installs: its roots' closure minus what the runtime provides."""
    pins = read_lock()
    env = target_environment(python_version, platform)
    provided = {p.name for p in closure(pins, RUNTIME_ROOTS, env)}
    return [p for p in closure(pins, LAYER_ROOTS, env) if p.name not in provided]


def runtime_pins(python_version: str, platform: str) -> list[Pin]:
    """What the Lambda runtime provides (the import smoke test installs it beside the layer)."""
    return closure(read_lock(), RUNTIME_ROOTS, target_environment(python_version, platform))


def pip_install(
    pins: Iterable[Pin], target: Path, python_version: str, platform: str, cache_dir: Path | None
) -> None:
    """Wheels for the target platform only, every hash checked, nothing resolved anew."""
    with tempfile.TemporaryDirectory() as tmp:
        requirements = Path(tmp) / "requirements.txt"
        requirements.write_text("".join(f"{p.text}\n" for p in pins))
        command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        command += ["--platform", platform, "--python-version", python_version]
        command += ["--implementation", "cp", "--only-binary=:all:", "--require-hashes"]
        command += ["--no-deps", "--no-compile", "--target", str(target), "-r", str(requirements)]
        command += ["--cache-dir", str(cache_dir)] if cache_dir else ["--no-cache-dir"]
        subprocess.run(command, check=True)
    shutil.rmtree(target / "bin", ignore_errors=True)  # console scripts: nothing runs them


def find_python(version: str) -> str | None:
    """The path of a CPython `version` ("3.12") on this machine: this interpreter, else
    `python3.12` on the PATH, else one pyenv installed; None when there is none."""
    if f"{sys.version_info[0]}.{sys.version_info[1]}" == version:
        return sys.executable
    pyenv = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    found = [shutil.which(f"python{version}")]
    found += [str(p) for p in sorted(pyenv.glob(f"{version}.*/bin/python{version}"), reverse=True)]
    for candidate in filter(None, found):
        done = subprocess.run([candidate, "-c", _VERSION_OF], capture_output=True, text=True)
        lines = done.stdout.split()
        if done.returncode == 0 and len(lines) == 2 and lines[0] == version:
            return lines[1]  # the interpreter itself, not a pyenv shim
    return None


def compile_bytecode(folders: Iterable[Path], python_version: str) -> None:
    """`__pycache__/*.cpython-3XX.pyc` beside every module, as the target Python reads them."""
    python = find_python(python_version)
    if python is None:
        raise SystemExit(
            f"no CPython {python_version} here to compile the bytecode Lambda runs: "
            f"install one (e.g. `pyenv install {python_version}`) and build again"
        )
    command = [python, "-m", "compileall", "-q", "-j", "0"]
    command += ["--invalidation-mode", "unchecked-hash", *map(str, folders)]
    subprocess.run(command, check=True)


def build_layer(out: Path, python_version: str, platform: str, cache_dir: Path | None) -> Path:
    """`<out>/SharedLayer/python/`: the shared code and its third-party dependencies."""
    python = out / "SharedLayer" / "python"
    pip_install(layer_pins(python_version, platform), python, python_version, platform, cache_dir)
    for package in LAYER_CODE:
        shutil.copytree(ROOT / "shared" / package, python / package, ignore=SKIPPED)
    return python.parent


def code_uris(template: str) -> dict[str, str]:
    """Logical id -> the folder its CodeUri / ContentUri names, read from the template text."""
    uris: dict[str, str] = {}
    logical_id = ""
    for line in template.splitlines():
        if match := re.match(r"^  ([A-Za-z0-9]+):\s*$", line):
            logical_id = match[1]
        elif match := re.match(r"^\s+(?:CodeUri|ContentUri):\s*(\S+)\s*$", line):
            uris[logical_id] = match[1]
    return uris


def built_template(template: str, uris: Mapping[str, str]) -> str:
    """The template with each CodeUri / ContentUri pointing at its built folder, as SAM's."""
    out = template
    for logical_id, uri in uris.items():
        pattern = rf"^(\s+(?:CodeUri|ContentUri):\s*){re.escape(uri)}\s*$"
        out, n = re.subn(pattern, rf"\g<1>{logical_id}", out, count=1, flags=re.MULTILINE)
        assert n == 1, f"{logical_id}: {uri} not found once in the template"
    return out


def package(
    out: Path,
    python_version: str = LAMBDA_PYTHON,
    platform: str = LAMBDA_PLATFORM,
    cache_dir: Path | None = None,
) -> Path:
    """Build everything `sam deploy` ships into `out`; returns the layer's folder."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    template = TEMPLATE.read_text()
    uris = code_uris(template)
    layer = build_layer(out, python_version, platform, cache_dir)
    functions = [out / logical_id for logical_id in uris if logical_id != "SharedLayer"]
    for folder in functions:
        shutil.copytree(ROOT / uris[folder.name], folder, ignore=SKIPPED)
    compile_bytecode([layer / "python", *functions], python_version)
    (out / "template.yaml").write_text(built_template(template, uris))
    return layer


def size_of(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / ".aws-sam" / "build")
    parser.add_argument("--python-version", default=LAMBDA_PYTHON)
    parser.add_argument("--platform", default=LAMBDA_PLATFORM)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    layer = package(args.out, args.python_version, args.platform)
    seconds = time.perf_counter() - started
    target = f"{args.platform} / CPython {args.python_version}"
    print(f"built {args.out} for {target} in {seconds:.1f} s")
    print(f"layer SharedLayer: {size_of(layer) / 1e6:.1f} MB unzipped")
    for path in sorted(p for p in args.out.iterdir() if p.is_dir() and p != layer):
        print(f"function {path.name}: {size_of(path) / 1e3:.0f} kB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
