"""`shopper run` end to end: exit codes, the evidence folder, the summary and JUnit."""

import json
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

SCRIPTS = Path(__file__).parent.parent / "scripts"
SHOPPER = [sys.executable, "-m", "shopper", "run", "--engine", "moonshine"]


def shopper_run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SHOPPER, *args], capture_output=True, text=True, timeout=300)


def test_a_passing_and_a_failing_script(tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    run = shopper_run(
        str(SCRIPTS / "acme/any-time.yaml"),
        str(SCRIPTS / "failing/busy-call.yaml"),
        "--out",
        str(tmp_path / "calls"),
        "--junit",
        str(junit),
    )
    assert run.returncode == 1, run.stderr
    assert "PASSED Reach Acme at any time" in run.stdout
    assert "FAILED Busy line" in run.stdout and "busy at step 1" in run.stdout
    folders = sorted((tmp_path / "calls").iterdir())
    assert len(folders) == 2
    for folder in folders:
        assert {p.name for p in folder.iterdir()} >= {
            "result.json",
            "recording.wav",
            "transcript.json",
            "transcript.vtt",
            "report.html",
            "sandbox-truth.json",
        }
    outcomes = {json.loads((f / "result.json").read_text())["outcome"] for f in folders}
    assert outcomes == {"passed", "failed"}
    cases = ElementTree.parse(junit).getroot().iter("testcase")
    failures = [case.find("failure") for case in cases]
    assert sorted(f is None for f in failures) == [False, True]


def test_bad_scripts_are_one_line_and_exit_2(tmp_path: Path) -> None:
    script = tmp_path / "bad.yaml"
    script.write_text("name: x\ntarget: ivr.yaml\nsteps:\n  - press: 1\n")
    (tmp_path / "ivr.yaml").write_text(
        'name: t\nstart: main\nnodes:\n  main: {say: "Hello.", hangup: true}\n'
    )
    run = shopper_run(str(script))
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr
    assert f"{script}:4" in run.stderr and '"1"' in run.stderr
    assert run.stdout == ""


def test_sandbox_warnings_are_printed_before_the_call(tmp_path: Path) -> None:
    ivr = tmp_path / "ivr.yaml"
    ivr.write_text(
        "name: W\nstart: main\nnodes:\n"
        '  main: {play: "asterisk:goodbye", hangup: true}\n'
        '  orphan: {play: "asterisk:goodbye", hangup: true}\n'
    )
    script = tmp_path / "s.yaml"
    script.write_text(f"name: w\ntarget: {ivr}\nsteps: [{{expect: goodbye}}]\n")
    run = shopper_run(str(script), "--out", str(tmp_path / "out"))
    assert f"{ivr}:5: warning: node 'orphan' cannot be reached from 'main'" in run.stderr
    assert run.stderr.count("warning:") == 1


def test_piped_output_keeps_whole_lines_and_json_gives_one_line_per_call(tmp_path: Path) -> None:
    out = tmp_path / ("a-rather-long-folder-name-for-evidence-" * 3) / "calls"
    run = shopper_run(str(SCRIPTS / "failing/busy-call.yaml"), "--out", str(out))
    (evidence,) = [line for line in run.stdout.splitlines() if "evidence:" in line]
    assert evidence.strip().startswith("evidence: ") and evidence.endswith("/report.html")
    assert str(out) in evidence
    scripts = [
        str(SCRIPTS / "failing/busy-call.yaml"),
        str(SCRIPTS / "failing/no-answer-call.yaml"),
    ]
    run = shopper_run(*scripts, "--json", "--out", str(tmp_path / "json"))
    assert run.returncode == 1
    lines = [json.loads(line) for line in run.stdout.splitlines()]
    assert [line["outcome"] for line in lines] == ["failed", "failed"]
    assert {line["failure"]["kind"] for line in lines} == {"busy", "no-answer"}
    assert all(Path(line["evidence"], "result.json").is_file() for line in lines)
    assert "engine:" in run.stderr
