"""`shopper crawl` end to end: one-line input errors, the scorecard, the policy's exit code,
and the incremental re-crawl against the map an earlier crawl left in --out."""

import json
import subprocess
import sys
from pathlib import Path

SHOPPER = [sys.executable, "-m", "shopper", "crawl", "--engine", "moonshine", "--lines", "1"]
SHOP = """\
name: Corner Shop
voice: {tts: espeak-ng, voice: en-us, speed: 165}
start: main
answer: {after: 1s}
nodes:
  main:
    say: "Corner shop. For opening times, press 1."
    menu: {options: {"1": times}, timeout: 6s, retries: 1, on_exhausted: bye}
  times: {say: "We open every day from nine until five. Goodbye.", hangup: true}
  bye: {say: "Goodbye.", hangup: true}
"""


def shopper_crawl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SHOPPER, *args], capture_output=True, text=True, timeout=600)


def test_bad_policy_and_previous_map_are_one_line_and_exit_2(tmp_path: Path) -> None:
    ivr = tmp_path / "shop.yaml"
    ivr.write_text(SHOP)
    policy = tmp_path / "policy.yaml"
    policy.write_text("fail_on: [loop, dropd]\n")
    run = shopper_crawl(str(ivr), "--out", str(tmp_path / "out"), "--policy", str(policy))
    assert run.returncode == 2, run.stdout
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr
    assert str(policy) in run.stderr and "dropd" in run.stderr
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "map.json").write_text('{"schema": "something else"}')
    run = shopper_crawl(str(ivr), "--out", str(tmp_path / "out"))
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and "map.json" in run.stderr and "--previous" in run.stderr


def test_crawl_grades_with_the_policy_and_compares_with_the_last_crawl(tmp_path: Path) -> None:
    ivr = tmp_path / "shop.yaml"
    ivr.write_text(SHOP)
    out = tmp_path / "out"
    policy = tmp_path / "policy.yaml"
    policy.write_text("fail_on: [no-human-path]\n")
    first = shopper_crawl(str(ivr), "--out", str(out), "--try-keys", "", "--policy", str(policy))
    assert first.returncode == 1, first.stdout + first.stderr
    assert "every menu reaches a human: 0/1" in first.stdout
    assert "FAIL: 1 no-human-path finding(s) at main" in first.stdout
    crawl_map = json.loads((out / "map.json").read_text())
    assert [node["kind"] for node in crawl_map["nodes"]] == ["menu", "message"]
    assert {f["kind"] for f in crawl_map["findings"]} >= {"no-human-path"}
    assert (out / "index.html").is_file() and list((out / "scripts").glob("*.yaml"))
    assert not (out / "changes.json").exists()
    second = shopper_crawl(str(ivr), "--out", str(out), "--try-keys", "")
    assert "changes since the previous crawl: 0" in second.stdout, second.stdout
    assert json.loads((out / "changes.json").read_text()) == []
