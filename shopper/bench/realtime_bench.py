"""Whether the call engine keeps up with audio arriving in real time, N calls at once.

A real carrier does not wait for shopper: its frames arrive every 20 ms whatever shopper is
doing. The sandbox in real time (`DialOptions(realtime=True)`) releases each frame when its
20 ms have passed on the event loop's clock and, like a carrier's queue, lets frames pile up
when shopper falls behind. N copies of the Acme demo (scripts/acme/billing-human.yaml, about
75 s of media) run concurrently through the Python API on one event loop, exactly as
`shopper run` runs a script, and for each N the report gives:

- verdicts right: calls that passed with time to human within `HUMAN_TOLERANCE_S` of the
  sandbox's truth;
- behind real time: each call's wall duration minus its media duration (0 = it kept up; a
  call cannot end before the IVR has spoken);
- frame lag: for every frame, the wall time its analysis ended minus the moment it was due on
  the wire (the call placed, plus the frame's media end time);
- text latency: for every utterance, the wall time its text reached the session minus the
  moment its audio ended on the wire (the recogniser's end-of-speech wait plus the decode).

The sandbox itself runs on the same event loop (the far end's cost, which a SIP carrier would
not add), so the figures are an upper bound on the engine's own lag. Figures only; no pass or
fail (docs/benchmarks.md).
"""

from __future__ import annotations

import asyncio
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
from shopper.engine.timeline import Event, UtteranceHeard
from shopper.scripts.loader import load_script
from shopper.scripts.runner import CallContext, run_script

DEMO_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "acme" / "billing-human.yaml"
HUMAN_TOLERANCE_S = 1.0
"""A verdict is right when the call passed and its time to human is within this of the
truth (issue 12's SIP goal)."""
UNCAPPED = TargetCaps(at_once=1000, per_second=math.inf)
"""All the calls dialled at once, as the benchmark measures them: the simulated phone system
needs no protection from the per-target caps of a run."""


@dataclass(slots=True)
class _CallClock:
    """Wall-clock marks of one call, taken on the event loop."""

    placed: float = 0.0
    frame_lags: list[float] = field(default_factory=list)
    text_latencies: list[float] = field(default_factory=list)

    def watch(self, context: CallContext) -> None:
        loop = asyncio.get_running_loop()
        self.placed = loop.time()
        context.session.on_frame = self._frame_done
        context.session.timeline.subscribe(self._event)

    def _frame_done(self, frame: AudioFrame) -> None:
        due = self.placed + frame.end / TELEPHONY_RATE
        self.frame_lags.append(asyncio.get_running_loop().time() - due)

    def _event(self, event: Event) -> None:
        if isinstance(event, UtteranceHeard):
            ended = self.placed + event.end_s
            self.text_latencies.append(asyncio.get_running_loop().time() - ended)


@dataclass(frozen=True, slots=True)
class RealtimeRow:
    calls: int
    right: int
    behind_s: tuple[float, ...]
    frame_lag_s: tuple[float, float, float]
    """p50, p95, max over every frame of every call."""
    text_latency_s: tuple[float, float, float]
    load_before: float
    load_after: float
    wrong: tuple[str, ...] = ()
    """What each wrong verdict was: the failure kind, or the time-to-human error."""


@dataclass(frozen=True, slots=True)
class RealtimeReport:
    engine: str
    rows: tuple[RealtimeRow, ...]

    def render(self) -> str:
        lines = [
            f"engine {self.engine}; {os.cpu_count()} cores; "
            f"script {DEMO_SCRIPT.parent.name}/{DEMO_SCRIPT.name}",
            "calls  right  behind real time (s): min / median / max   "
            "frame lag ms p50 / p95 / max   text latency s p50 / p95 / max   load 1-min",
        ]
        for row in self.rows:
            behind = row.behind_s
            lag = " / ".join(f"{value * 1000:.0f}" for value in row.frame_lag_s)
            text = " / ".join(f"{value:.2f}" for value in row.text_latency_s)
            lines.append(
                f"{row.calls:5d}  {row.right:2d}/{row.calls:<2d}  "
                f"{min(behind):6.2f} / {float(np.median(behind)):6.2f} / {max(behind):6.2f}"
                f"   {lag:>27s}   {text:>30s}   {row.load_before:.2f} -> {row.load_after:.2f}"
            )
            if row.wrong:
                lines.append(f"       wrong: {', '.join(row.wrong)}")
        return "\n".join(lines)


def _quantiles(values: list[float]) -> tuple[float, float, float]:
    if not values:
        return (0.0, 0.0, 0.0)
    data = np.asarray(values)
    return (float(np.percentile(data, 50)), float(np.percentile(data, 95)), float(data.max()))


async def _one_call(engine: SpeechEngine, seed: int) -> tuple[str | None, float, _CallClock]:
    """What was wrong with the verdict (None: right), how far behind real time the call
    ended, and its marks."""
    clock = _CallClock()
    script = load_script(DEMO_SCRIPT)
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
        return str((result["failure"] or {}).get("kind", result["outcome"])), behind, clock
    if truth is None or measured is None:
        return "no time to human", behind, clock
    error = float(measured) - truth
    wrong = None if abs(error) <= HUMAN_TOLERANCE_S else f"time to human {error:+.1f} s"
    return wrong, behind, clock


async def _concurrent(engine: SpeechEngine, calls: int) -> RealtimeRow:
    load_before = os.getloadavg()[0]
    outcomes = await asyncio.gather(*(_one_call(engine, seed) for seed in range(calls)))
    clocks = [clock for _, _, clock in outcomes]
    return RealtimeRow(
        calls=calls,
        right=sum(wrong is None for wrong, _, _ in outcomes),
        behind_s=tuple(behind for _, behind, _ in outcomes),
        frame_lag_s=_quantiles([lag for clock in clocks for lag in clock.frame_lags]),
        text_latency_s=_quantiles([lag for clock in clocks for lag in clock.text_latencies]),
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
