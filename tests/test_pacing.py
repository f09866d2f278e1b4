"""Per-target caps on calls (shopper.carriers.pacing) and the parallel run's scheduler
(shopper.cli.batch), on plain asyncio tasks: no call, no speech engine."""

from __future__ import annotations

import asyncio
import itertools
import math
import signal
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from shopper.carriers.pacing import TargetCaps, configured_caps, target_key, wait_for_turn
from shopper.cli.batch import run_at_most
from shopper.cli.interrupts import Interrupts
from shopper.config import ConfigError

_targets = itertools.count()


def fresh_target() -> str:
    """A target no other test has called (the lines are kept for the whole process)."""
    return f"ivr-{next(_targets)}.yaml"


def test_no_more_calls_at_once_than_the_cap_first_come_first_served() -> None:
    target = fresh_target()
    caps = TargetCaps(at_once=2, per_second=math.inf)
    in_progress: list[int] = []
    dialled: list[int] = []
    live = 0

    async def call(index: int, release: asyncio.Event) -> None:
        nonlocal live
        slot = await wait_for_turn("sandbox", target, caps)
        live += 1
        dialled.append(index)
        in_progress.append(live)
        await release.wait()
        live -= 1
        slot.release()

    async def main() -> None:
        releases = [asyncio.Event() for _ in range(5)]
        tasks = [asyncio.create_task(call(i, releases[i])) for i in range(5)]
        await asyncio.sleep(0.01)
        assert dialled == [0, 1], "two dialled, three waiting"
        for index in (1, 0, 2, 3, 4):
            releases[index].set()
            await asyncio.sleep(0.01)
        await asyncio.gather(*tasks)

    asyncio.run(main())
    assert dialled == [0, 1, 2, 3, 4]
    assert max(in_progress) == 2


def test_dials_to_one_target_are_spaced_across_event_loops() -> None:
    target = fresh_target()
    caps = TargetCaps(at_once=10, per_second=20.0)  # 50 ms apart
    stamps: list[float] = []

    async def dial_three() -> None:
        async def one() -> None:
            slot = await wait_for_turn("sandbox", target, caps)
            stamps.append(time.monotonic())
            slot.release()

        await asyncio.gather(one(), one(), one())

    asyncio.run(dial_three())
    asyncio.run(dial_three())  # the pytest plugin runs each test on a new loop
    gaps = [later - earlier for earlier, later in itertools.pairwise(stamps)]
    assert len(gaps) == 5
    assert min(gaps) >= caps.spacing_s - 0.001


def test_a_dial_made_later_than_its_turn_spaces_the_next_from_the_dial() -> None:
    """A call host dials a moment after the turn shopper's process took for it: the next
    turn waits for that dial and keeps the spacing from it; a call released before it was
    dialled holds up nobody."""
    target = fresh_target()
    caps = TargetCaps(at_once=10, per_second=20.0)  # 50 ms apart

    async def main() -> tuple[float, float]:
        first = await wait_for_turn("sandbox", target, caps, until_dialled=True)
        second = asyncio.create_task(wait_for_turn("sandbox", target, caps, until_dialled=True))
        await asyncio.sleep(0.2)  # the host is slow to dial: 4 spacings
        assert not second.done()
        first.dialled()
        dialled = time.monotonic()
        (await second).release()  # never dialled
        turned = time.monotonic()
        async with asyncio.timeout(5):
            (await wait_for_turn("sandbox", target, caps)).release()
        first.release()
        return dialled, turned

    dialled, turned = asyncio.run(main())
    assert turned - dialled >= caps.spacing_s - 0.001


def test_other_targets_are_not_held_up() -> None:
    busy, other = fresh_target(), fresh_target()
    caps = TargetCaps(at_once=1, per_second=0.01)  # one dial per 100 s

    async def main() -> None:
        first = await wait_for_turn("sandbox", busy, caps)
        async with asyncio.timeout(5):
            (await wait_for_turn("sandbox", other, caps)).release()
        first.release()

    asyncio.run(main())


def test_a_cancelled_wait_gives_its_turn_to_the_next_call() -> None:
    target = fresh_target()
    caps = TargetCaps(at_once=1, per_second=math.inf)

    async def main() -> None:
        first = await wait_for_turn("sandbox", target, caps)
        second = asyncio.create_task(wait_for_turn("sandbox", target, caps))
        third = asyncio.create_task(wait_for_turn("sandbox", target, caps))
        await asyncio.sleep(0.01)
        second.cancel()
        first.release()
        first.release()  # twice is harmless
        async with asyncio.timeout(5):
            (await third).release()
        assert second.cancelled()

    asyncio.run(main())


def test_a_number_is_one_target_however_it_is_written() -> None:
    assert target_key("sip", "+1 (555) 010-0000") == target_key("sip", "+15550100000")
    assert target_key("sip", "+15550100000") != target_key("twilio", "+15550100000")
    assert target_key("sandbox", "/a/ivr.yaml") != target_key("sandbox", "/b/ivr.yaml")


def test_caps_come_from_the_config_safety_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config.toml"
    monkeypatch.setenv("SHOPPER_CONFIG", str(config))
    assert configured_caps() == TargetCaps(at_once=5, per_second=1.0)
    config.write_text("[safety]\ncalls_per_second = 0.5\ncalls_at_once = 2\n")
    assert configured_caps() == TargetCaps(at_once=2, per_second=0.5)
    assert configured_caps().spacing_s == 2.0
    for bad, named in [
        ("calls_per_second = 0", "calls_per_second = 0 must be a number above 0"),
        ('calls_per_second = "fast"', "calls_per_second = 'fast' must be a number above 0"),
        ("calls_at_once = 1.5", "calls_at_once = 1.5 must be a whole number of 1 or more"),
        ("calls_at_once = 0", "calls_at_once = 0 must be a whole number of 1 or more"),
    ]:
        config.write_text(f"[safety]\n{bad}\n")
        with pytest.raises(ConfigError, match=f"^{config}: \\[safety\\] {named}"):
            configured_caps()


def run_jobs(
    count: int, at_once: int, end_order: list[int] | None = None
) -> tuple[list[int], list[int], Interrupts]:
    """`count` jobs that end in `end_order`, each once the one before it was handed over
    (None: none ends, a SIGINT as the handler sees it stops them once `at_once` started);
    the indices in the order they were handed over (negative: hung up by the signal), and
    in the order they started."""
    ended: list[int] = []
    started: list[int] = []
    stop = Interrupts()
    may_end = [asyncio.Event() for _ in range(count)]
    in_progress: set[int] = set()

    def job(index: int) -> Callable[[], Coroutine[Any, Any, int]]:
        async def call() -> int:
            started.append(index)
            in_progress.add(index)
            assert len(in_progress) <= at_once
            try:
                await may_end[index].wait()
            except asyncio.CancelledError:
                return -index  # a call hung up by the signal still hands its record over
            finally:
                in_progress.discard(index)
            return index

        return call

    async def drive() -> None:
        async with asyncio.timeout(10):
            while len(started) < at_once:
                await asyncio.sleep(0.005)
            if end_order is None:
                stop.stop(signal.SIGINT)
                return
            for done, index in enumerate(end_order):
                may_end[index].set()
                while len(ended) <= done:
                    await asyncio.sleep(0.005)

    async def main() -> None:
        driver = asyncio.create_task(drive())
        await run_at_most(
            [job(i) for i in range(count)], at_once, stop, lambda _, i: ended.append(i)
        )
        await driver

    asyncio.run(main())
    return ended, started, stop


def test_results_are_handed_over_as_each_job_ends() -> None:
    ended, started, _ = run_jobs(3, at_once=3, end_order=[1, 2, 0])
    assert started == [0, 1, 2]
    assert ended == [1, 2, 0]


def test_no_more_jobs_at_once_than_asked() -> None:
    ended, started, _ = run_jobs(4, at_once=2, end_order=[1, 2, 3, 0])
    assert started == [0, 1, 2, 3]  # 2 and 3 started only as 1 and 2 ended
    assert ended == [1, 2, 3, 0]


def test_a_signal_stops_every_job_in_progress_and_starts_none() -> None:
    ended, started, stop = run_jobs(4, at_once=2)
    assert started == [0, 1]
    assert sorted(ended) == [-1, 0]  # both hung up (their records kept), none after them
    assert stop.exit_code == 130


def test_an_error_hangs_up_the_others_and_is_raised_after_them() -> None:
    handed: list[str] = []

    async def broken() -> str:
        await asyncio.sleep(0.05)
        raise OSError("disk full")

    async def long_call() -> str:
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            return "hung up"
        return "ended"

    async def main() -> None:
        await run_at_most(
            [long_call, broken, long_call], 3, Interrupts(), lambda _, value: handed.append(value)
        )

    with pytest.raises(OSError, match="disk full"):
        asyncio.run(main())
    assert handed == ["hung up", "hung up"]
