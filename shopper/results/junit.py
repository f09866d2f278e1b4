"""Call results as a JUnit XML report, the one format every CI system already displays.

A call is a test case: a failed call is a <failure> whose type is the failure kind, a call
that could not be judged (outcome "error") is an <error>, and the figures that matter to a
contact centre ride along as per-test-case <properties>, which Jenkins, GitLab and pytest
tooling show beside the case.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from shopper.results.writer import write_bytes_atomic

PROPERTY_METRICS = ("time_to_human_s", "hold_s", "answer_s", "dead_air_s")
XML_INVALID = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
"""Characters XML 1.0 cannot carry at all, escaped or not (control codes, lone surrogates)."""


def write_junit(
    results: Sequence[dict[str, Any]],
    path: Path,
    suite: str = "shopper",
    call_dirs: Sequence[Path] | None = None,
) -> None:
    """Write one <testsuite> with a <testcase> per result.

    `call_dirs` (one per result) makes the recording property a path relative to the report,
    so a CI artifact link resolves; without it the property is the result's own file name.
    """
    if call_dirs is not None and len(call_dirs) != len(results):
        raise ValueError("call_dirs must give one folder per result")
    write_bytes_atomic(path, junit_xml(results, path.parent, suite, call_dirs))


def junit_xml(
    results: Sequence[dict[str, Any]],
    report_dir: Path,
    suite: str = "shopper",
    call_dirs: Sequence[Path] | None = None,
) -> bytes:
    outcomes = [result.get("outcome") for result in results]
    total_s = sum(_duration(result) for result in results)
    root = ET.Element("testsuites", _attrs(name=suite, tests=len(results), time=f"{total_s:.3f}"))
    testsuite = ET.SubElement(
        root,
        "testsuite",
        _attrs(
            name=suite,
            tests=len(results),
            failures=outcomes.count("failed"),
            errors=outcomes.count("error"),
            skipped=0,
            time=f"{total_s:.3f}",
        ),
    )
    for index, result in enumerate(results):
        call_dir = call_dirs[index] if call_dirs is not None else None
        _testcase(testsuite, result, report_dir, call_dir)
    ET.indent(root)
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document + b"\n"


def _testcase(
    parent: ET.Element, result: dict[str, Any], report_dir: Path, call_dir: Path | None
) -> None:
    script = result.get("script") or {}
    case = ET.SubElement(
        parent,
        "testcase",
        _attrs(
            classname=script.get("file") or "shopper",
            name=script.get("name") or result.get("call_id") or "call",
            time=f"{_duration(result):.3f}",
        ),
    )
    recording = _recording_path(result, report_dir, call_dir)
    properties = ET.SubElement(case, "properties")
    for name, value in _properties(result, recording):
        ET.SubElement(properties, "property", _attrs(name=name, value=value))
    outcome = result.get("outcome")
    if outcome in ("failed", "error"):
        failure = result.get("failure") or {}
        kind = failure.get("kind") or outcome
        message = failure.get("message") or f"call {outcome}"
        step = failure.get("step")
        element = ET.SubElement(
            case, "failure" if outcome == "failed" else "error", _attrs(type=kind, message=message)
        )
        where = f"step {step}" if step is not None else "call"
        element.text = _clean(f"{kind} at {where}: {message}\nrecording: {recording}")
    if call_dir is not None:
        # Jenkins' attachments plugin and GitLab pick up this marker to link the evidence.
        ET.SubElement(case, "system-out").text = _clean(
            f"[[ATTACHMENT|{(call_dir / _recording_name(result)).resolve()}]]"
        )


def _properties(result: dict[str, Any], recording: str) -> list[tuple[str, Any]]:
    """Metrics a call did not produce (no human reached: no time_to_human_s) are left out."""
    metrics = result.get("metrics") or {}
    pairs: list[tuple[str, Any]] = [(name, metrics.get(name)) for name in PROPERTY_METRICS]
    pairs += [
        ("engine", result.get("engine")),
        ("carrier", result.get("carrier")),
        ("call_id", result.get("call_id")),
        ("outcome", result.get("outcome")),
        ("reached", result.get("reached")),
        ("recording", recording),
    ]
    return [(name, value) for name, value in pairs if value is not None]


def _recording_name(result: dict[str, Any]) -> str:
    return str(result.get("recording") or "recording.wav")


def _recording_path(result: dict[str, Any], report_dir: Path, call_dir: Path | None) -> str:
    name = _recording_name(result)
    if call_dir is None:
        return name
    return os.path.relpath(call_dir / name, report_dir)


def _duration(result: dict[str, Any]) -> float:
    value = (result.get("metrics") or {}).get("duration_s")
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def _attrs(**values: Any) -> dict[str, str]:
    return {name: _clean(str(value)) for name, value in values.items()}


def _clean(text: str) -> str:
    return XML_INVALID.sub("\ufffd", text)
