"""Calls as JUnit test cases: outcomes map to failure/error, figures ride along as properties."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from shopper.results.junit import write_junit
from shopper.results.writer import ResultWriteError


def _result(
    outcome: str,
    failure: dict[str, Any] | None = None,
    name: str = "reach billing",
    file: str | None = "scripts/acme/billing.yaml",
    time_to_human_s: float | None = 42.5,
    reached: str | None = "human",
) -> dict[str, Any]:
    return {
        "schema": "shopper.result/1",
        "call_id": f"20240506T090000Z-{outcome}-abc123",
        "script": {"name": name, "file": file},
        "target": "sandbox:acme",
        "carrier": "sandbox",
        "engine": "vosk:vosk-model-small-en-us-0.15",
        "outcome": outcome,
        "failure": failure,
        "metrics": {
            "answer_s": 3.2,
            "first_prompt_s": 0.4,
            "time_to_human_s": time_to_human_s,
            "hold_s": 95.0,
            "duration_s": 140.25,
            "dtmf_sent": 2,
            "menus": 2,
            "dead_air_s": 0.0,
        },
        "reached": reached,
        "recording": "recording.wav",
    }


PASSED = _result("passed")
FAILED = _result(
    "failed",
    {"kind": "expectation-mismatch", "step": 2, "message": "heard 'sales <menu> & \x07more'"},
    name="reach sales",
    file=None,
    time_to_human_s=None,
    reached=None,
)
ERRORED = _result("error", {"kind": "error", "step": None, "message": "carrier refused the call"})


@pytest.fixture
def report(tmp_path: Path) -> ET.Element:
    path = tmp_path / "junit.xml"
    write_junit([PASSED, FAILED, ERRORED], path, suite="nightly")
    return ET.parse(path).getroot()


def _cases(root: ET.Element) -> list[ET.Element]:
    return root.findall("./testsuite/testcase")


def _properties(case: ET.Element) -> dict[str, str]:
    return {p.get("name", ""): p.get("value", "") for p in case.findall("./properties/property")}


def test_suite_counts_match_the_outcomes(report: ET.Element) -> None:
    suite = report.find("testsuite")
    assert suite is not None
    assert suite.get("name") == "nightly"
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("3", "1", "1")
    assert float(suite.get("time", "0")) == pytest.approx(3 * 140.25)


def test_each_call_is_one_named_testcase(report: ET.Element) -> None:
    cases = _cases(report)
    assert [(c.get("classname"), c.get("name")) for c in cases] == [
        ("scripts/acme/billing.yaml", "reach billing"),
        ("shopper", "reach sales"),
        ("scripts/acme/billing.yaml", "reach billing"),
    ]
    assert all(c.get("time") == "140.250" for c in cases)


def test_passed_call_has_no_failure_and_carries_its_figures(report: ET.Element) -> None:
    case = _cases(report)[0]
    assert case.find("failure") is None and case.find("error") is None
    assert _properties(case) == {
        "time_to_human_s": "42.5",
        "hold_s": "95.0",
        "answer_s": "3.2",
        "dead_air_s": "0.0",
        "engine": "vosk:vosk-model-small-en-us-0.15",
        "carrier": "sandbox",
        "call_id": "20240506T090000Z-passed-abc123",
        "outcome": "passed",
        "reached": "human",
        "recording": "recording.wav",
    }


def test_failed_call_is_a_failure_typed_by_kind_with_safe_text(report: ET.Element) -> None:
    case = _cases(report)[1]
    failure = case.find("failure")
    assert failure is not None and case.find("error") is None
    assert failure.get("type") == "expectation-mismatch"
    # Markup survives escaping; a control character XML cannot carry is replaced, not dropped.
    assert failure.get("message") == "heard 'sales <menu> & \ufffdmore'"
    assert (failure.text or "").startswith("expectation-mismatch at step 2: heard")
    properties = _properties(case)
    assert "time_to_human_s" not in properties  # no person reached: no figure
    assert "reached" not in properties  # nor what was reached
    assert properties["outcome"] == "failed"


def test_error_call_is_an_error_not_a_failure(report: ET.Element) -> None:
    case = _cases(report)[2]
    error = case.find("error")
    assert error is not None and case.find("failure") is None
    assert error.get("type") == "error"
    assert error.get("message") == "carrier refused the call"
    assert (error.text or "").startswith("error at call: carrier refused the call")


def test_call_dirs_make_recording_paths_resolve_from_the_report(tmp_path: Path) -> None:
    call_dir = tmp_path / "results" / "2024-05-06" / "call-1"
    path = tmp_path / "reports" / "junit.xml"
    path.parent.mkdir()
    write_junit([PASSED], path, call_dirs=[call_dir])
    case = _cases(ET.parse(path).getroot())[0]
    recording = _properties(case)["recording"]
    assert recording == "../results/2024-05-06/call-1/recording.wav"
    assert (path.parent / recording).resolve() == (call_dir / "recording.wav").resolve()
    assert (case.findtext("system-out") or "").startswith("[[ATTACHMENT|")


def test_unwritable_report_path_is_a_one_line_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ResultWriteError) as raised:
        write_junit([PASSED], blocker / "junit.xml")
    assert "\n" not in str(raised.value) and "junit.xml" in str(raised.value)


def test_no_calls_is_still_a_valid_empty_suite(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    write_junit([], path)
    suite = ET.parse(path).getroot().find("testsuite")
    assert suite is not None and suite.get("tests") == "0"
