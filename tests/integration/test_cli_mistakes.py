"""Every mistake a user can make with the `earnest` command is a line naming the fix and a
non-zero exit, never a traceback: malformed files, values out of range, wrong flags, an
endpoint without a scheme. In-process against moto, so a value that is wrongly accepted
runs (and exits 0) instead of hiding behind an unreachable AWS."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from earnest_cli.main import main
from tests.conftest import EXAMPLES

PROPERTY = settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
FOLDERS = settings(PROPERTY, max_examples=40)  # each example writes and reads a folder


@pytest.fixture
def cli(aws: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> Any:
    monkeypatch.chdir(tmp_path)

    def run(*argv: str) -> tuple[int, str, str]:
        try:
            code = main(list(argv))
        except SystemExit as exc:  # argparse refusing a flag or a value
            code = exc.code if isinstance(exc.code, int) else 2
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def _one_line_refusal(result: tuple[int, str, str]) -> None:
    code, _, err = result
    assert code != 0, result
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("earnest"), err


# -- values out of range, for every command that takes a number, a port or a date ------

NOT_NUMBERS = st.sampled_from(["", "x", "1.5.2", "0x10", "一"])
NOT_FINITE = st.sampled_from(["nan", "inf", "-inf", "1e999"])


def _ints_outside(low: int, high: int) -> st.SearchStrategy[str]:
    return st.one_of(
        st.integers(max_value=low - 1).map(str),
        st.integers(min_value=high + 1).map(str),
        NOT_NUMBERS,
        st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: f != int(f)).map(str),
    )


def _numbers_outside(low: float, high: float | None, closed: bool) -> st.SearchStrategy[str]:
    """Values outside [low, high] (closed) or (low, high) (open), as Python compares them
    (hypothesis orders -0.0 below 0.0; Python does not)."""
    below = st.floats(max_value=low, exclude_max=closed, allow_nan=False).filter(
        lambda f: f < low if closed else f <= low
    )
    parts = [below.map(str), NOT_NUMBERS, NOT_FINITE]
    if high is not None:
        above = st.floats(min_value=high, exclude_min=closed, allow_infinity=False)
        parts.append(above.filter(lambda f: f > high if closed else f >= high).map(str))
    return st.one_of(*parts)


DAILY_UNITS = _numbers_outside(0, None, closed=False)
BASE_RATE = _numbers_outside(0, 1, closed=False)
BAD_DATES = st.sampled_from(["2026-02-30", "yesterday", "2026-13-01", "26-11-01", ""])

# (the command line before the value, the flag, the values it must refuse)
FLAGS: list[tuple[list[str], str, st.SearchStrategy[str]]] = [
    (["serve"], "--api-port", _ints_outside(0, 65535)),
    (["serve"], "--aws-port", _ints_outside(0, 65535)),
    (["demo"], "--days", _ints_outside(1, 29)),
    (["demo"], "--visitors", _ints_outside(1, 1_000_000)),
    (["demo"], "--seed", NOT_NUMBERS),
    (["validate", str(EXAMPLES)], "--daily-units", DAILY_UNITS),
    (["validate", str(EXAMPLES)], "--base-rate", BASE_RATE),
    (["push", str(EXAMPLES)], "--daily-units", DAILY_UNITS),
    (["plan", "search-landing-recs"], "--days", _ints_outside(1, 400)),
    (["plan", "search-landing-recs"], "--daily-units", DAILY_UNITS),
    (["plan", "search-landing-recs"], "--base-rate", BASE_RATE),
    (["report"], "--date", BAD_DATES),
    (["report"], "--lookback-days", _ints_outside(1, 400)),
    (["report-url"], "--expires-in", _ints_outside(1, 7 * 24 * 3600)),
    (
        ["explain", "--placement", "pdp-recs"],
        "--identity-confidence",
        _numbers_outside(0, 1, closed=True),
    ),
    (["rollback", "search-landing-recs"], "--to", NOT_NUMBERS),
]


@st.composite
def bad_flags(draw: st.DrawFn) -> list[str]:
    before, flag, values = draw(st.sampled_from(FLAGS))
    value = draw(values)
    return [*before, f"{flag}={value}"]


@PROPERTY
@given(argv=bad_flags())
def test_a_value_out_of_range_is_one_line_naming_the_flag(cli: Any, argv: list[str]) -> None:
    result = cli(*argv)
    _one_line_refusal(result)
    assert argv[-1].split("=")[0] in result[2]


@PROPERTY
@given(
    command=st.sampled_from(
        [
            "validate",
            "push",
            "list",
            "serve",
            "demo",
            "report",
            "plan",
            "consent",
            "explain",
            "import",
            "report-url",
            "pause",
            "history",
            "inventory",
        ]
    ),
    flag=st.sampled_from(["--no-such-flag", "--verbose=3", "-z"]),
)
def test_an_unknown_flag_is_one_line(cli: Any, command: str, flag: str) -> None:
    _one_line_refusal(cli(command, flag))


@pytest.mark.parametrize(
    ("days", "visitors"), [("0", "100"), ("30", "100"), ("5", "-5"), ("5", "0")]
)
def test_the_demo_refuses_days_and_visitors_it_cannot_simulate(
    cli: Any, days: str, visitors: str
) -> None:
    _one_line_refusal(cli("demo", "--days", days, "--visitors", visitors))


@pytest.mark.parametrize("seconds", ["-1", "0", "99999999", "604801"])
def test_a_presigned_link_lives_between_a_second_and_seven_days(cli: Any, seconds: str) -> None:
    code, _, err = cli("report-url", "--expires-in", seconds)
    assert code == 2 and "1 to 604800" in err


# -- an endpoint boto3 cannot use ------------------------------------------------------


@PROPERTY
@given(
    endpoint=st.sampled_from(
        [
            "127.0.0.1:15055",
            "localhost:5000",
            "localhost",
            "ftp://127.0.0.1:5000",
            "http://",
            "http://127.0.0.1:99999",
            "http://127.0.0.1:port",
        ]
    ),
    command=st.sampled_from(
        [
            ["list"],
            ["push", str(EXAMPLES)],
            ["history", "x"],
            ["consent", "show", "s"],
            ["report"],
            ["plan", "x"],
            ["explain", "--placement", "p"],
            ["report-url"],
        ]
    ),
)
def test_an_endpoint_without_a_scheme_is_one_line_with_the_fix(
    cli: Any, monkeypatch: pytest.MonkeyPatch, endpoint: str, command: list[str]
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    code, _, err = cli(*command)
    _one_line_refusal((code, "", err))
    assert code == 2 and f"AWS_ENDPOINT_URL={endpoint}" in err


def test_an_endpoint_that_is_not_the_local_stack_without_credentials_says_so(
    cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from earnest_aws.clients import reset

    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # never ask the network
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://192.0.2.1:5000")  # TEST-NET: never reached
    reset()
    code, _, err = cli("list")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "no AWS credentials for http://192.0.2.1:5000 (AWS_ENDPOINT_URL)" in err
    assert "export AWS_ENDPOINT_URL (the local stack" not in err  # it is exported already


# -- malformed files: every problem of every file at once ------------------------------

GOOD = (EXAMPLES / "home-hero-hiking.yaml").read_text()


def _nested(depth: int) -> str:
    return "audience: " + "[" * depth + "]" * depth + "\n"


# Files that hold no experience at all: empty, a plain value, broken, nested past reading.
UNREADABLE = st.one_of(
    st.just(""),
    st.just("\n\n# only a comment\n"),
    st.text(alphabet="abcdefgh ", min_size=1).filter(str.strip).map(lambda t: f"'{t}'\n"),
    st.integers().map(str),
    st.just("- one\n- two\n"),
    st.just("[1, [2]]\n"),
    st.just("id: [unclosed\n"),
    st.just("a: b: c\n"),
    st.integers(min_value=260, max_value=1500).map(_nested),
    st.just("saved_groups: [a, b]\n"),
    st.just("saved_groups:\n  vip: [1, 2]\n"),
    st.binary(min_size=1, max_size=40)
    .map(lambda b: b.decode("latin-1"))
    .filter(lambda t: not t.strip().isalnum()),
)
# Experiences that read but break a launch check: dates that do not exist, deep audiences.
INVALID = st.one_of(
    st.integers(min_value=33, max_value=250).map(_nested),
    st.sampled_from(["2026-02-30", "2026-13-01", "2026-00-10", "2025-02-29"]).map(
        lambda d: GOOD.replace("last_reviewed: 2026-11-10", f"last_reviewed: {d}").replace(
            "id: hiking-hero", "id: bad-date"
        )
    ),
    st.just(GOOD.replace("id: hiking-hero", "id: bad-end") + "ends_at: 2027-02-31T00:00:00Z\n"),
)


@st.composite
def folders(draw: st.DrawFn, bad_files: st.SearchStrategy[str]) -> list[tuple[str, str]]:
    bad = draw(st.lists(bad_files, min_size=1, max_size=4))
    files = [(f"bad-{i}.{draw(st.sampled_from(['yaml', 'yml']))}", t) for i, t in enumerate(bad)]
    if draw(st.booleans()):
        files.append(("bad-json.json", draw(st.sampled_from(["", '"x"', "[1]", "{", "[" * 600]))))
    return files


def _write(folder: Path, files: list[tuple[str, str]]) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    (folder / "good.yaml").write_text(GOOD)
    for name, text in files:
        (folder / name).write_text(text, encoding="latin-1" if name.endswith("yml") else "utf-8")


@FOLDERS
@given(
    files=st.one_of(folders(UNREADABLE), folders(st.one_of(UNREADABLE, INVALID))),
    command=st.sampled_from(["validate", "push"]),
)
def test_every_bad_file_of_a_folder_is_named_and_none_aborts_the_others(
    cli: Any, tmp_path: Path, files: list[tuple[str, str]], command: str
) -> None:
    folder = tmp_path / "experiences"
    _write(folder, files)
    code, out, err = cli(command, str(folder))
    assert code != 0 and "Traceback" not in err
    for name, _ in files:
        assert f"{folder / name}: " in err, (name, err)
    if command == "push":
        assert "nothing was pushed" in err and "created" not in out


@FOLDERS
@given(files=folders(UNREADABLE))
def test_diff_names_every_file_it_cannot_read_and_diffs_the_rest(
    cli: Any, tmp_path: Path, files: list[tuple[str, str]]
) -> None:
    folder = tmp_path / "experiences"
    _write(folder, files)
    code, out, err = cli("diff", str(folder))
    assert code == 1 and "Traceback" not in err
    for name, _ in files:
        assert f"{folder / name}: " in err, (name, err)
    assert "hiking-hero (" in out and ": new" in out  # the good file, still diffed


def test_a_date_that_does_not_exist_is_a_problem_on_its_field(cli: Any, tmp_path: Path) -> None:
    (tmp_path / "x.yaml").write_text(GOOD.replace("2026-11-10", "2026-02-30"))
    code, _, err = cli("validate", str(tmp_path / "x.yaml"))
    assert code == 1
    assert "x.yaml: hiking-hero: last_reviewed: [review_cadence]" in err


@pytest.mark.parametrize("text", ["", "a plain string\n", "42\n", "- a\n- b\n"])
def test_a_file_that_holds_no_experience_says_what_one_holds(
    cli: Any, tmp_path: Path, text: str
) -> None:
    (tmp_path / "x.yaml").write_text(text)
    (tmp_path / "y.yaml").write_text(GOOD)
    code, _, err = cli("validate", str(tmp_path))
    assert code == 1
    assert f"{tmp_path / 'x.yaml'}: ?: " in err and "experience_document" in err
    assert "y.yaml" not in err  # the good file has no problem and was still validated


@PROPERTY
@given(
    payload=st.one_of(
        st.just(""),
        st.just("[]"),
        st.just('"x"'),
        st.just('{"features": []}'),
        st.just('{"features": {"f": {"rules": [{"variations": [1]}]}}}'),
        st.just('{"encryptedFeatures": "abc"}'),
        st.just("[" * 5000),
        st.dictionaries(st.text(max_size=5), st.integers(), max_size=3).map(json.dumps),
    )
)
def test_a_payload_the_importer_cannot_read_is_one_line(
    cli: Any, tmp_path: Path, payload: str
) -> None:
    (tmp_path / "f.json").write_text(payload)
    code, out, err = cli("import", "growthbook", str(tmp_path / "f.json"), "--out", str(tmp_path))
    assert "Traceback" not in err
    assert code != 0 or "0 experiment(s) imported" in out


@pytest.mark.parametrize(
    "body",
    ["", "[]", '"x"', "{", "[" * 5000, '{"visitor": 1, "placements": "x"}'],
    ids=["empty", "list", "string", "unclosed", "deep", "wrong-types"],
)
def test_a_malformed_explain_request_is_one_line(cli: Any, tmp_path: Path, body: str) -> None:
    (tmp_path / "r.json").write_text(body)
    _one_line_refusal(cli("explain", str(tmp_path / "r.json")))
