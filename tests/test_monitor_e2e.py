"""The monitor end to end with real calls through the sandbox on its virtual clock (a short
line written by the test: a greeting, a key, six seconds of hold music, a person): a run is
called, written, recorded in the history, published over a real mosquitto with its run id,
and told to observers after it is in the history; when the person is gone from the IVR, the
next run fails with the failure kind after its retry, counts once, and publishes one result
(its last attempt's). What shopper reports
is compared with the sandbox's own truth file, never with the IVR's definition."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jsonschema
import pytest
from mosquitto import Collector, Mosquitto

from shopper.asr.selection import select_engine
from shopper.carriers.options import DialOptions
from shopper.monitor.checks import CheckContext
from shopper.monitor.dispatch import CallHere
from shopper.monitor.history import History, opened_history
from shopper.monitor.records import RunRecord, SkippedRun
from shopper.monitor.scheduler import Monitor
from shopper.monitor.spec import CheckSpec, Every, Retries, Schedule
from shopper.publish import mqtt_settings, publishing
from shopper.results.writer import result_schema

pytestmark = pytest.mark.slow

DATA = Path(__file__).parent / "data" / "mqtt"
FIRST = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=1)
"""A fire time in the past: the run is due at once (no jitter to wait for)."""
NOBODY = """
  closed:
    say: "Sorry, all of our staff have gone home. Goodbye."
    hangup: true
"""


class Observer:
    """Notes each run it is told of and whether the history held it at that moment."""

    def __init__(self, history: History) -> None:
        self.history = history
        self.told: list[tuple[str, bool]] = []

    async def run_ended(self, run: RunRecord) -> None:
        self.told.append((run.run_id, run in self.history.runs(run.check)))

    async def run_skipped(self, skip: SkippedRun) -> None:
        self.told.append((f"skipped {skip.reason}", True))


def truth_of(run: RunRecord) -> dict[str, Any]:
    assert run.evidence is not None
    truth: dict[str, Any] = json.loads((Path(run.evidence) / "sandbox-truth.json").read_text())
    return truth


def result_of(run: RunRecord) -> dict[str, Any]:
    assert run.evidence is not None
    result: dict[str, Any] = json.loads((Path(run.evidence) / "result.json").read_text())
    return result


async def test_runs_are_called_recorded_published_and_fail_when_the_person_is_gone(
    tmp_path: Path, broker: Mosquitto
) -> None:
    ivr = tmp_path / "ivr.yaml"
    ivr.write_text((DATA / "ivr.yaml").read_text())
    script = tmp_path / "quick-line.yaml"
    script.write_text((DATA / "quick-line.yaml").read_text())
    check = CheckSpec(
        name="quick",
        script=script,
        cadence=Every(300),
        retries=Retries(count=1, after_s=30.0),
    )
    schedule = Schedule(path=tmp_path / "s.yaml", timezone=ZoneInfo("UTC"), checks=(check,))
    broker.start()
    collector = Collector(broker)
    collecting = asyncio.create_task(collector.collect())
    await collector.wait_for(lambda: collector.ready, 20)
    waits: list[float] = []

    async def no_wait(seconds: float) -> None:
        waits.append(seconds)

    settings = mqtt_settings({"url": broker.url(), "site": "lab"})
    warnings: list[str] = []
    with opened_history(tmp_path / "state" / "monitor.sqlite3") as history:
        async with publishing(settings, warnings.append, tmp_path / "outbox.sqlite3") as publisher:
            context = CheckContext(
                speech=select_engine("moonshine"),
                options=DialOptions(),
                out=tmp_path / "out",
                publisher=publisher,
                sleep=no_wait,
            )
            observer = Observer(history)
            monitor = Monitor(schedule, history, CallHere(context, 1), [observer])

            await monitor.fire(check, FIRST)
            (good,) = history.runs("quick")
            assert good.outcome == "passed", good.failure_message
            assert good.run_id == f"quick@{FIRST:%Y-%m-%dT%H:%M:%SZ}" and good.attempts == 1
            truth = truth_of(good)
            true_time_to_human = truth["agent_first_spoke_s"] - truth["answer"]["answered_s"]
            assert good.reached_human and good.time_to_human_s is not None
            assert abs(good.time_to_human_s - true_time_to_human) <= 1.0, (good, truth)
            assert good.evidence == str(tmp_path / "out" / "quick" / good.call_id)
            assert (Path(good.evidence) / "report.html").is_file()
            result = result_of(good)
            jsonschema.Draft202012Validator(result_schema()).validate(result)
            assert result["run_id"] == good.run_id
            assert observer.told == [(good.run_id, True)]

            ivr.write_text(
                (DATA / "ivr.yaml").read_text().replace("then: agent", "then: closed") + NOBODY
            )
            await monitor.fire(check, FIRST + timedelta(minutes=5))
            runs = history.runs("quick")
            assert len(runs) == 2  # two attempts, one run
            bad = runs[-1]
            assert truth_of(bad)["agent_first_spoke_s"] is None  # nobody answered indeed
            assert bad.outcome == "failed" and bad.attempts == 2 and not bad.reached_human
            assert bad.failure_kind == result_of(bad)["failure"]["kind"]
            assert bad.failure_kind == "dropped", bad  # the IVR hung up after its goodbye
            assert waits == [30.0]  # the retry waited `after` once
            folders = {p.name for p in (tmp_path / "out" / "quick").iterdir()}
            assert folders == {good.call_id, bad.call_id}  # one folder per run
            assert bad.evidence is not None
            (retried,) = (Path(bad.evidence) / "retried").iterdir()
            first_try = json.loads((retried / "result.json").read_text())
            assert first_try["run_id"] == bad.run_id and first_try["outcome"] == "failed"
            assert (retried / "report.html").is_file() and (retried / "recording.wav").is_file()
            assert observer.told[-1] == (bad.run_id, True)
            assert publisher is not None and await publisher.drain(30) == 0

    def published() -> dict[str, str]:
        """call id -> run id of the results received (QoS 1: duplicates folded)."""
        results = [message["result"] for message in collector.on("/results/quick-line")]
        return {result["call_id"]: result["run_id"] for result in results}

    # in order on one topic: once the last attempt's result is in, an earlier one would be
    await collector.wait_for(lambda: bad.call_id in published(), 30)
    assert published() == {good.call_id: good.run_id, bad.call_id: bad.run_id}
    collecting.cancel()
    await asyncio.gather(collecting, return_exceptions=True)
