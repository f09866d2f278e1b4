"""The pytest plugin, run inside a real inner pytest session (pytester) against a tiny IVR.

Calls run in a subprocess: numpy and the speech engines' native libraries cannot be loaded
twice in one process, which an in-process inner session would need.
"""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from importlib.metadata import entry_points
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

pytest_plugins = ["pytester"]

INI = "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"

TINY_IVR = """
name: Tiny Line
start: main
nodes:
  main:
    play: "asterisk:pls-hold-while-try"
    silence: 2s
"""
"""A recorded prompt ("Please hold while we try to connect you."), a moment of quiet line, and
the IVR hangs up: a five-second call."""

CALL_TESTS = """
from shopper.engine.failures import StepFailure


async def test_greeting_then_hangup(shopper_call):
    async with shopper_call("tiny.yaml") as call:
        await call.expect("please hold", within_s=15)
        await call.expect_hangup(within_s=15)


async def test_wrong_prompt_fails(shopper_call):
    async with shopper_call("tiny.yaml") as call:
        await call.expect("billing department", within_s=15)
"""


def plugin_args() -> list[str]:
    """`-p` only while the entry point is not installed, else pytest would register it twice."""
    installed = any(
        ep.value == "shopper.scripts.pytest_plugin" for ep in entry_points(group="pytest11")
    )
    return [] if installed else ["-p", "shopper.scripts.pytest_plugin"]


def test_options_are_registered(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    result = pytester.runpytest(*plugin_args(), "--help")
    result.stdout.fnmatch_lines(
        [
            "shopper: calls to phone systems:",
            "*--shopper-engine={auto,vosk,moonshine}*",
            "*--shopper-vosk-model=DIR*",
            "*--shopper-out=DIR*",
            "*--shopper-seed=N*",
            "*--shopper-realtime*",
        ]
    )


def test_importing_the_plugin_stays_light() -> None:
    """It loads in every pytest run of anyone who installs shopper."""
    code = (
        "import sys, shopper.scripts.pytest_plugin;"
        "heavy = [m for m in ('numpy', 'yaml', 'shopper.engine', 'shopper.asr.selection',"
        " 'shopper.scripts.runner', 'shopper.results.writer') if m in sys.modules];"
        "print(','.join(heavy))"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert output.strip() == ""


def test_calls_from_tests_keep_evidence_and_fill_junit(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makefile(".yaml", tiny=TINY_IVR)
    pytester.makepyfile(test_calls=CALL_TESTS)
    out = pytester.path / "calls"
    junit = pytester.path / "junit.xml"
    result = pytester.runpytest_subprocess(
        *plugin_args(), f"--shopper-out={out}", "--shopper-seed=3", f"--junitxml={junit}"
    )
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*shopper: call failed (expectation-mismatch); evidence: *"])

    cases = {case.get("name"): case for case in ET.parse(junit).getroot().iter("testcase")}
    properties = {
        name: {p.get("name"): p.get("value") for p in case.iter("property")}
        for name, case in cases.items()
    }
    passed = properties["test_greeting_then_hangup"]
    failed = properties["test_wrong_prompt_fails"]
    assert passed["outcome"] == "passed" and "failure" not in passed
    assert failed["outcome"] == "failed" and failed["failure"] == "expectation-mismatch"
    for props in (passed, failed):
        assert {"call_id", "engine", "hold_s", "duration_s", "recording", "evidence"} <= set(props)
        assert "time_to_human_s" not in props  # nobody answered: absent, not a made-up figure
        assert float(props["duration_s"]) > 1.0
        assert Path(props["recording"]).is_file()
        assert Path(props["evidence"]).parent == out
        result_json = json.loads((Path(props["evidence"]) / "result.json").read_text())
        assert result_json["call_id"] == props["call_id"]
        assert result_json["outcome"] == props["outcome"]
    assert (
        json.loads((Path(passed["evidence"]) / "result.json").read_text())["ended_by"] == "remote"
    )


DOCS_EXAMPLE = """
from shopper.text.match import fuzzy


async def test_tiny_line(shopper_call):
    async with shopper_call("tiny.yaml") as call:
        await call.expect(fuzzy("please hold while we try to connect you", 0.7), within_s=15)
        await call.expect_hangup(within_s=15)
"""


@pytest.mark.parametrize(
    ("ini", "extra"),
    [
        (None, []),  # a fresh project: no pytest config at all
        ("[pytest]\nasyncio_mode = strict\n", []),
        ("[pytest]\nasyncio_mode = auto\n", []),
        (None, ["-p", "no:asyncio"]),  # pytest-asyncio not there at all
    ],
    ids=["fresh", "strict", "auto", "no-pytest-asyncio"],
)
def test_the_docs_example_just_works(
    pytester: pytest.Pytester, ini: str | None, extra: list[str]
) -> None:
    if ini is not None:
        pytester.makeini(ini)
    pytester.makefile(".yaml", tiny=TINY_IVR)
    pytester.makepyfile(test_docs=DOCS_EXAMPLE)
    out = pytester.path / "evidence"
    result = pytester.runpytest_subprocess(
        *plugin_args(), *extra, "--shopper-engine=moonshine", f"--shopper-out={out}"
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"shopper: evidence of 1 call(s) in {out}"])
    (folder,) = out.iterdir()
    assert json.loads((folder / "result.json").read_text())["outcome"] == "passed"


def test_a_missing_ivr_is_a_one_line_test_failure(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makepyfile(
        test_missing="""
        async def test_missing(shopper_call):
            async with shopper_call("nowhere.yaml"):
                pass
        """
    )
    result = pytester.runpytest_subprocess(*plugin_args(), "--shopper-engine=moonshine")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*shopper: sandbox IVR 'nowhere.yaml' not found: looked for *nowhere.yaml and *"]
    )


CONCURRENT_TESTS = """
import asyncio

from shopper.text.match import fuzzy


async def test_two_lines_at_once(shopper_call):
    async def caller(name):
        async with shopper_call("tiny.yaml", name=name) as call:
            await call.expect(fuzzy("please hold while we try to connect you", 0.7), within_s=15)
            await call.expect_hangup(within_s=15)

    async with asyncio.TaskGroup() as calls:
        calls.create_task(caller("first line"))
        calls.create_task(caller("second line"))


async def test_a_failing_line_hangs_up_the_other(shopper_call):
    async def wrong():
        async with shopper_call("tiny.yaml", name="wrong line") as call:
            await call.expect("billing department", within_s=15)

    async def on_hold():
        async with shopper_call("long.yaml", name="cut line") as call:
            await call.hold(max_s=1800)

    async with asyncio.TaskGroup() as calls:
        calls.create_task(wrong())
        calls.create_task(on_hold())
"""
LONG_HOLD_IVR = """
name: Long Hold
start: main
nodes:
  main:
    queue: {hold: 20m, music: "asterisk-moh:manolo_camp-morning_coffee", then: main}
"""


def dialled_s(result: dict[str, object]) -> float:
    from datetime import datetime

    return datetime.fromisoformat(str(result["started_at"]).replace("Z", "+00:00")).timestamp()


def test_a_test_places_calls_at_once_with_a_task_group(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In real time the calls of one test overlap, dialled at least a second apart (the
    target's default cap); a failing call cancels its sibling, which is hung up and kept."""
    pytester.makeini(INI)
    pytester.makefile(".yaml", tiny=TINY_IVR, long=LONG_HOLD_IVR)
    pytester.makepyfile(test_concurrent=CONCURRENT_TESTS)
    monkeypatch.setenv("SHOPPER_CONFIG", str(pytester.makefile(".toml", config="")))
    out = pytester.path / "calls"
    result = pytester.runpytest_subprocess(
        *plugin_args(), f"--shopper-out={out}", "--shopper-engine=moonshine", "--shopper-realtime"
    )
    result.assert_outcomes(passed=1, failed=1)
    found = {
        r["script"]["name"]: r
        for r in (json.loads(p.read_text()) for p in out.glob("*/result.json"))
    }
    assert found.keys() == {"first line", "second line", "wrong line", "cut line"}
    first, second = sorted((found["first line"], found["second line"]), key=dialled_s)
    assert first["outcome"] == second["outcome"] == "passed"
    assert dialled_s(second) - dialled_s(first) >= 0.999  # 1 dial per second per target
    assert dialled_s(second) < dialled_s(first) + first["metrics"]["duration_s"]  # overlap
    assert found["wrong line"]["failure"]["kind"] == "expectation-mismatch"
    cut = found["cut line"]
    assert cut["outcome"] == "error" and cut["failure"]["message"].startswith("hung up")
    assert cut["ended_by"] == "tester"
