"""Whether the call engine keeps up with audio arriving in real time, N calls at once.

A real carrier does not wait for shopper: its frames arrive every 20 ms whatever shopper is
doing. The sandbox in real time (`DialOptions(realtime=True)`) releases each frame when its
20 ms have passed on the event loop's clock and, like a carrier's queue, lets frames pile up
when shopper falls behind. N copies of the Acme demo (scripts/acme/billing-human.yaml, about
75 s of media) run concurrently through the Python API on one event loop, exactly as
`shopper run` runs a script, and for each N the report gives:

- verdicts right: calls that passed with time to human within `HUMAN_TOLERANCE_S` of the
  sandbox's truth (and, for each wrong one, its failure);
- behind real time: each call's wall duration minus its media duration (0 = it kept up; a
  call cannot end before the IVR has spoken);
- frame lag: for every frame, the wall time its analysis ended minus the moment it was due on
  the wire (the call placed, plus the frame's media end time);
- text latency: for every utterance, the wall time its text reached the session minus the
  moment its audio ended on the wire (the recogniser's end-of-speech wait plus the decode);
- loop lag: how late a probe task that sleeps `PROBE_S` again and again wakes up, i.e. how
  long the event loop was busy with other work when it was due;
- worker backlog: chunks of speech queued for the speech workers or being read, sampled
  every `SAMPLE_S` (Moonshine only): more than the workers means text waits for a worker;
- CPU per call: this process (engine, sandbox and all) plus the speech worker processes,
  divided by N; the simulated phone system's own share is given apart (a SIP carrier's far
  end would not run in the tester);
- resident memory: the highest total of this process and its worker processes while the
  calls ran, and per call that peak minus the total just before the calls, divided by N.

The sandbox itself runs on the same event loop (the far end's cost, which a SIP carrier would
not add), so the figures are an upper bound on the engine's own lag. Figures only; no pass or
fail (docs/benchmarks.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from shopper.asr.types import SpeechEngine
from shopper.audio.frame import TELEPHONY_RATE, AudioFrame
from shopper.bench.call_bench import _truth_time_to_human_s
from shopper.carriers.options import DialOptions, SandboxOptions
from shopper.carriers.pacing import TargetCaps
from shopper.carriers.sandbox import SandboxCall
from shopper.engine.timeline import Event, UtteranceHeard
from shopper.scripts.loader import load_script
from shopper.scripts.model import CallScript
from shopper.scripts.runner import CallContext, run_script

DEMO_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "acme" / "billing-human.yaml"
HUMAN_TOLERANCE_S = 1.0
"""A verdict is right when the call passed and its time to human is within this of the
truth (issue 12's SIP goal)."""
UNCAPPED = TargetCaps(at_once=1000, per_second=math.inf)
"""All the calls dialled at once, as the benchmark measures them: the simulated phone system
needs no protection from the per-target caps of a run."""
PROBE_S = 0.01
"""The loop-lag probe's sleep: short enough to see any stretch the loop is busy for."""
SAMPLE_S = 0.1
"""How often the worker backlog and the memory are sampled."""
_PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass(slots=True)
class _CallClock:
    """Wall-clock marks of one call, taken on the event loop."""

    placed: float = 0.0
    frame_lags: list[float] = field(default_factory=list)
    text_latencies: list[float] = field(default_factory=list)
    call: SandboxCall | None = None

    def watch(self, context: CallContext) -> None:
        loop = asyncio.get_running_loop()
        self.placed = loop.time()
        context.session.on_frame = self._frame_done
        context.session.timeline.subscribe(self._event)
        call = context.session.call
        self.call = call if isinstance(call, SandboxCall) else None

    def _frame_done(self, frame: AudioFrame) -> None:
        due = self.placed + frame.end / TELEPHONY_RATE
        self.frame_lags.append(asyncio.get_running_loop().time() - due)

    def _event(self, event: Event) -> None:
        if isinstance(event, UtteranceHeard):
            ended = self.placed + event.end_s
            self.text_latencies.append(asyncio.get_running_loop().time() - ended)

    @property
    def far_end_cpu_s(self) -> float:
        return self.call.far_end_cpu_s if self.call is not None else 0.0


class _Workers:
    """What the bench can learn of an engine's worker processes (none for Vosk)."""

    def __init__(self, engine: SpeechEngine) -> None:
        self._engine = engine

    @property
    def cpu_s(self) -> float:
        return float(getattr(self._engine, "worker_cpu_s", 0.0))

    @property
    def pids(self) -> tuple[int, ...]:
        return tuple(getattr(self._engine, "worker_pids", ()))

    @property
    def backlog(self) -> int | None:
        backlog = getattr(self._engine, "backlog", None)
        return None if backlog is None else int(backlog)

    def start(self) -> None:
        self._engine.wait_until_loaded()


def _resident_bytes(pid: int | str) -> int:
    """A process's resident memory now (0 once it has gone)."""
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return 0


def _total_resident(workers: _Workers) -> int:
    return _resident_bytes("self") + sum(_resident_bytes(pid) for pid in workers.pids)


@dataclass(slots=True)
class _Probe:
    """Samples the event loop's lag, the worker backlog and the memory while calls run."""

    workers: _Workers
    loop_lags: list[float] = field(default_factory=list)
    backlogs: list[int] = field(default_factory=list)
    peak_resident: int = 0

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        sampled = 0.0
        while True:
            asked = loop.time()
            await asyncio.sleep(PROBE_S)
            woke = loop.time()
            self.loop_lags.append(max(0.0, woke - asked - PROBE_S))
            if woke - sampled >= SAMPLE_S:
                sampled = woke
                backlog = self.workers.backlog
                if backlog is not None:
                    self.backlogs.append(backlog)
                self.peak_resident = max(self.peak_resident, _total_resident(self.workers))


@dataclass(frozen=True, slots=True)
class RealtimeRow:
    calls: int
    right: int
    behind_s: tuple[float, ...]
    frame_lag_s: tuple[float, float, float]
    """p50, p95, max over every frame of every call."""
    text_latency_s: tuple[float, float, float]
    loop_lag_s: tuple[float, float, float]
    backlog: tuple[float, float, float] | None
    """Worker backlog p50, p95, max (None: the engine has no workers)."""
    cpu_per_call_s: float
    """This process and the workers, per call (far end included)."""
    worker_cpu_per_call_s: float
    far_end_cpu_per_call_s: float
    resident_peak_mb: float
    resident_per_call_mb: float
    load_before: float
    load_after: float
    wrong: tuple[str, ...] = ()
    """What each wrong verdict was: the failure kind and its detail, or the time-to-human
    error."""


@dataclass(frozen=True, slots=True)
class RealtimeReport:
    engine: str
    rows: tuple[RealtimeRow, ...]

    def render(self) -> str:
        lines = [
            f"engine {self.engine}; {os.cpu_count()} cores; "
            f"script {DEMO_SCRIPT.parent.name}/{DEMO_SCRIPT.name}",
        ]
        for row in self.rows:
            behind = row.behind_s
            backlog = (
                "none (no workers)"
                if row.backlog is None
                else " / ".join(f"{value:.0f}" for value in row.backlog)
            )
            lines += [
                f"N={row.calls}: right {row.right}/{row.calls}; load (1 min) "
                f"{row.load_before:.2f} -> {row.load_after:.2f}",
                f"  behind real time s (min / median / max): {min(behind):.2f} / "
                f"{float(np.median(behind)):.2f} / {max(behind):.2f}",
                f"  frame lag ms (p50 / p95 / max): {_ms(row.frame_lag_s)}",
                f"  loop lag ms (p50 / p95 / max): {_ms(row.loop_lag_s)}",
                "  text latency s (p50 / p95 / max): "
                + " / ".join(f"{value:.2f}" for value in row.text_latency_s),
                f"  worker backlog, chunks (p50 / p95 / max): {backlog}",
                f"  CPU per call s: {row.cpu_per_call_s:.2f} (speech workers "
                f"{row.worker_cpu_per_call_s:.2f}, far end {row.far_end_cpu_per_call_s:.2f})",
                f"  resident memory MB: peak {row.resident_peak_mb:.0f} in total, "
                f"{row.resident_per_call_mb:.1f} per call",
            ]
            lines += [f"  wrong: {wrong}" for wrong in row.wrong]
        return "\n".join(lines)


def _ms(values: tuple[float, float, float]) -> str:
    return " / ".join(f"{value * 1000:.0f}" for value in values)


def _quantiles(values: list[float]) -> tuple[float, float, float]:
    if not values:
        return (0.0, 0.0, 0.0)
    data = np.asarray(values)
    return (float(np.percentile(data, 50)), float(np.percentile(data, 95)), float(data.max()))


async def _one_call(
    engine: SpeechEngine, script: CallScript, seed: int
) -> tuple[str | None, float, _CallClock]:
    """What was wrong with the verdict (None: right), how far behind real time the call
    ended, and its marks."""
    clock = _CallClock()
    began = time.perf_counter()
    record = await run_script(
        script,
        engine,
        DialOptions(caps=UNCAPPED, sandbox=SandboxOptions(seed=seed, realtime=True)),
        on_call=clock.watch,
    )
    wall_s = time.perf_counter() - began
    result = record.result
    metrics = result["metrics"]
    truth = _truth_time_to_human_s(record.truth or {})
    measured = metrics["time_to_human_s"]
    behind = wall_s - float(metrics["duration_s"])
    if result["outcome"] != "passed":
        failure = result["failure"] or {}
        kind = str(failure.get("kind", result["outcome"]))
        return f"seed {seed}: {kind}: {failure.get('message', '')}", behind, clock
    if truth is None or measured is None:
        return f"seed {seed}: no time to human", behind, clock
    error = float(measured) - truth
    if abs(error) > HUMAN_TOLERANCE_S:
        return f"seed {seed}: time to human {error:+.1f} s", behind, clock
    return None, behind, clock


async def _concurrent(engine: SpeechEngine, calls: int) -> RealtimeRow:
    workers = _Workers(engine)
    await asyncio.to_thread(workers.start)
    load_before = os.getloadavg()[0]
    resident_before = _total_resident(workers)
    cpu_before = time.process_time()
    worker_cpu_before = workers.cpu_s
    # Loaded once, off the loop: loading checks the IVR's voices by running flite.
    script = await asyncio.to_thread(load_script, DEMO_SCRIPT)
    probe = _Probe(workers, peak_resident=resident_before)
    probing = asyncio.create_task(probe.run())
    try:
        outcomes = await asyncio.gather(*(_one_call(engine, script, seed) for seed in range(calls)))
    finally:
        probing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await probing
    worker_cpu = workers.cpu_s - worker_cpu_before
    cpu = time.process_time() - cpu_before + worker_cpu
    clocks = [clock for _, _, clock in outcomes]
    mb = 2.0**20
    return RealtimeRow(
        calls=calls,
        right=sum(wrong is None for wrong, _, _ in outcomes),
        behind_s=tuple(behind for _, behind, _ in outcomes),
        frame_lag_s=_quantiles([lag for clock in clocks for lag in clock.frame_lags]),
        text_latency_s=_quantiles([lag for clock in clocks for lag in clock.text_latencies]),
        loop_lag_s=_quantiles(probe.loop_lags),
        backlog=_quantiles([float(b) for b in probe.backlogs]) if probe.backlogs else None,
        cpu_per_call_s=cpu / calls,
        worker_cpu_per_call_s=worker_cpu / calls,
        far_end_cpu_per_call_s=sum(clock.far_end_cpu_s for clock in clocks) / calls,
        resident_peak_mb=probe.peak_resident / mb,
        resident_per_call_mb=max(0, probe.peak_resident - resident_before) / mb / calls,
        load_before=load_before,
        load_after=os.getloadavg()[0],
        wrong=tuple(wrong for wrong, _, _ in outcomes if wrong is not None),
    )


def run_realtime_bench(counts: list[int], engine: SpeechEngine | None = None) -> RealtimeReport:
    """Run the demo N times at once for each N in `counts` (each N after the previous)."""
    if engine is None:
        from shopper.asr.moonshine_engine import MoonshineEngine

        engine = MoonshineEngine()
    rows = tuple(asyncio.run(_concurrent(engine, calls)) for calls in counts)
    return RealtimeReport(engine.name, rows)
