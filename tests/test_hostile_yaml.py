"""Hostile and broken definition files get a one-line error in well under a second: alias
bombs, deep nesting, huge files, folders and devices given where a file is expected."""

from __future__ import annotations

import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

from shopper.errors import ShopperError
from shopper.sandbox.loader import load_ivr
from shopper.scripts.loader import load_script
from shopper.yamlfile import MAX_DEPTH, MAX_FILE_BYTES, load_yaml


def alias_bomb(levels: int = 9, fan_out: int = 9) -> str:
    lines = ['a0: &a0 ["lol"]']
    for level in range(1, levels + 1):
        refs = ", ".join(f"*a{level - 1}" for _ in range(fan_out))
        lines.append(f"a{level}: &a{level} [{refs}]")
    return "\n".join(lines) + "\n"


def refused(path: Path, says: str) -> str:
    started = time.process_time()
    with pytest.raises(ShopperError) as raised:
        load_yaml(path)
    message = str(raised.value)
    assert says in message and "\n" not in message and message.startswith(str(path))
    assert time.process_time() - started < 5.0
    return message


def test_an_alias_bomb_is_refused_quickly_and_without_memory(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text("name: x\n" + alias_bomb())
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    refused(path, "expands to more than")
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 200


@pytest.mark.parametrize("loader", [load_script, load_ivr])
def test_the_script_and_ivr_loaders_refuse_a_bomb_by_line(tmp_path: Path, loader: object) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text("name: x\n" + alias_bomb())
    with pytest.raises(ShopperError, match=r"bomb.yaml:\d+: the document expands"):
        loader(path)  # type: ignore[operator]


def test_deep_nesting_is_refused(tmp_path: Path) -> None:
    shallow, deep, very_deep = (tmp_path / f"{n}.yaml" for n in ("shallow", "deep", "very"))
    shallow.write_text("x: " + "[" * MAX_DEPTH + "]" * MAX_DEPTH + "\n")
    load_yaml(shallow)
    deep.write_text("x: " + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1) + "\n")
    refused(deep, "nested more than")
    very_deep.write_text("x: " + "[" * 5000 + "]" * 5000 + "\n")
    refused(very_deep, "nested")


def test_choose_nested_a_hundred_deep_is_one_line(tmp_path: Path) -> None:
    step = "{hangup: true}"
    for _ in range(100):
        step = f"{{choose: [{{expect: hi, steps: [{step}]}}]}}"
    path = tmp_path / "deep.yaml"
    path.write_text(f"name: x\ntarget: ivr.yaml\nsteps: [{step}]\n")
    with pytest.raises(ShopperError, match="nested"):
        load_script(path)


def test_a_huge_file_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    words = " ".join(["hello"] * 2_000_000)
    path.write_text(f'name: x\nsay: "{words}"\n')
    assert path.stat().st_size > MAX_FILE_BYTES
    refused(path, "too large for a definition file")


def test_folders_and_devices_are_named_as_such(tmp_path: Path) -> None:
    refused(tmp_path, "is a folder, not a file")
    refused(Path("/dev/zero"), "is not a regular file")
    refused(tmp_path / "missing.yaml", "file not found")


def test_a_symlink_loop_as_target_or_recording_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "loop1").symlink_to(tmp_path / "loop2")
    (tmp_path / "loop2").symlink_to(tmp_path / "loop1")
    script = tmp_path / "s.yaml"
    script.write_text(f"name: x\ntarget: {tmp_path / 'loop1'}\nsteps: [{{hangup: true}}]\n")
    with pytest.raises(ShopperError, match=r"s.yaml:2: target .* loop of symbolic links"):
        load_script(script)
    ivr = tmp_path / "ivr.yaml"
    ivr.write_text("name: x\nstart: a\nnodes:\n  a: {play: loop1, hangup: true}\n")
    with pytest.raises(ShopperError, match=r"ivr.yaml:4: .*loop of symbolic links"):
        load_ivr(ivr)


def test_a_say_of_200k_words_is_refused_at_once(tmp_path: Path) -> None:
    words = " ".join(["hi"] * 200_000)
    (tmp_path / "ivr.yaml").write_text(
        "name: x\nstart: a\nnodes:\n  a: {say: hello, hangup: true}\n"
    )
    script = tmp_path / "s.yaml"
    script.write_text(f'name: x\ntarget: ivr.yaml\nsteps: [{{say: "{words}"}}]\n')
    with pytest.raises(ShopperError, match=r"say has 599999 characters; at most 5000"):
        load_script(script)
    ivr = tmp_path / "long.yaml"
    ivr.write_text(f'name: x\nstart: a\nnodes:\n  a: {{say: "{words}", hangup: true}}\n')
    with pytest.raises(ShopperError, match=r"long.yaml:4: say has"):
        load_ivr(ivr)


@pytest.mark.parametrize("command", ["run", "crawl"])
def test_a_negative_seed_is_a_usage_error(command: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "shopper", command, "--seed", "-1", "scripts/acme/ivr.yaml"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).parent.parent,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and "--seed" in done.stderr
