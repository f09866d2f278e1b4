"""How fast a whole simulated call runs on the virtual clock, and whether speed cost accuracy.

The issue's benchmark: a call with about a minute of menus and three minutes of hold
(scripts/bench/hold-3m.yaml against the Northwind IVR in scripts/bench/ivr.yaml) must finish
in under 15 s of wall time on the 2-core CI machine. The call is run exactly as
`shopper run` runs it; wall time is split into this process's CPU (sandbox, sound
classifier, tone and DTMF receivers, the engine) and the speech worker's CPU (Moonshine runs
in a child process whose time this process's clock does not show). Accuracy is checked
against the sandbox's own truth, since a faster call that measured the hold wrongly would be
no gain.

Run `shopper bench call` for the report.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shopper.asr.types import SpeechEngine
from shopper.carriers.options import DialOptions, SandboxOptions
from shopper.scripts.loader import load_script
from shopper.scripts.runner import run_script

BENCH_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench" / "hold-3m.yaml"
TARGET_WALL_S = 15.0
"""The issue's target for BENCH_SCRIPT's call on the 2-core CI machine."""


@dataclass(frozen=True, slots=True)
class CallBenchReport:
    script: str
    outcome: str
    call_s: float
    """Simulated call length (media time)."""
    wall_s: float
    main_cpu_s: float
    """CPU seconds of this process during the call (all its threads)."""
    worker_cpu_s: float | None
    """CPU seconds of the speech engine's worker processes (None: the engine has none)."""
    worker_cpu_each_s: tuple[float, ...]
    """`worker_cpu_s` process by process."""
    waited_cpu_s: float | None
    """The engine's estimate of how long the call waited for text on an idle machine."""
    speech_s: float
    """Far-end speech transcribed (sum of the transcript's utterance lengths)."""
    hold_s: float
    truth_hold_s: float
    time_to_human_s: float | None
    truth_time_to_human_s: float | None
    target_wall_s: float | None = None
    """The wall-time target that applies to this call (only the issue's benchmark call has one)."""

    @property
    def idle_wall_s(self) -> float | None:
        """Wall time on an idle machine with a core per process, estimated from CPU times:
        this process runs while the workers are idle, except while it waits for text."""
        return None if self.waited_cpu_s is None else self.main_cpu_s + self.waited_cpu_s

    @property
    def speed_up(self) -> float:
        """How many times faster than real time the call ran."""
        return self.call_s / self.wall_s if self.wall_s > 0 else float("inf")

    def render(self) -> str:
        worker = "-" if self.worker_cpu_s is None else f"{self.worker_cpu_s:.1f} s"
        if len(self.worker_cpu_each_s) > 1:
            worker += " (" + " + ".join(f"{cpu:.1f}" for cpu in self.worker_cpu_each_s) + ")"
        idle = "-" if self.idle_wall_s is None else f"{self.idle_wall_s:.1f} s"
        target = ""
        if self.target_wall_s is not None:
            verdict = "met" if self.wall_s < self.target_wall_s else "NOT met"
            target = f" (target < {self.target_wall_s:.0f} s: {verdict})"
        lines = [
            f"script                {self.script} ({self.outcome})",
            f"simulated call        {self.call_s:.1f} s",
            f"wall time             {self.wall_s:.1f} s{target}",
            f"speed-up              {self.speed_up:.1f}x real time",
            f"CPU, main process     {self.main_cpu_s:.1f} s",
            f"CPU, speech workers   {worker} for {self.speech_s:.1f} s of speech",
            f"idle-machine estimate {idle} (main CPU + wait for text at one core per worker)",
            f"hold                  {self.hold_s:.2f} s measured, {self.truth_hold_s:.2f} s "
            f"true (error {self.hold_s - self.truth_hold_s:+.2f} s)",
            f"time to human         {_human_line(self)}",
        ]
        return "\n".join(lines)


def _human_line(report: CallBenchReport) -> str:
    measured, truth = report.time_to_human_s, report.truth_time_to_human_s
    if measured is None or truth is None:
        shown = ["-" if value is None else f"{value:.2f} s" for value in (measured, truth)]
        return f"{shown[0]} measured, {shown[1]} true"
    return f"{measured:.2f} s measured, {truth:.2f} s true (error {measured - truth:+.2f} s)"


def run_call_bench(
    script: Path = BENCH_SCRIPT, engine: SpeechEngine | None = None, seed: int = 0
) -> CallBenchReport:
    """Run one scripted call on the sandbox's virtual clock and time it.

    `engine` defaults to the bundled Moonshine engine, the one every machine (and CI) has.
    """
    if engine is None:
        from shopper.asr.moonshine_engine import MoonshineEngine

        engine = MoonshineEngine()
    loaded = load_script(script)
    worker_before = _worker_cpu(engine)
    each_before = _worker_cpu_each(engine)
    waited_before = _waited(engine)
    cpu_before = time.process_time()
    wall_before = time.perf_counter()
    record = asyncio.run(run_script(loaded, engine, DialOptions(sandbox=SandboxOptions(seed=seed))))
    wall_s = time.perf_counter() - wall_before
    main_cpu_s = time.process_time() - cpu_before
    worker_after = _worker_cpu(engine)
    each = tuple(
        after - before for after, before in zip(_worker_cpu_each(engine), each_before, strict=True)
    )
    waited_after = _waited(engine)
    result = record.result
    truth = record.truth or {}
    metrics = result["metrics"]
    return CallBenchReport(
        script=loaded.name,
        outcome=result["outcome"],
        call_s=float(metrics["duration_s"]),
        wall_s=wall_s,
        main_cpu_s=main_cpu_s,
        worker_cpu_s=(
            None if worker_before is None or worker_after is None else worker_after - worker_before
        ),
        worker_cpu_each_s=each,
        waited_cpu_s=(
            None if waited_before is None or waited_after is None else waited_after - waited_before
        ),
        speech_s=sum(u.end_s - u.start_s for u in record.transcript),
        hold_s=float(metrics["hold_s"]),
        truth_hold_s=_truth_hold_s(truth),
        time_to_human_s=metrics["time_to_human_s"],
        truth_time_to_human_s=_truth_time_to_human_s(truth),
        target_wall_s=TARGET_WALL_S if script.resolve() == BENCH_SCRIPT else None,
    )


def _worker_cpu(engine: SpeechEngine) -> float | None:
    value = getattr(engine, "worker_cpu_s", None)
    return float(value) if value is not None else None


def _worker_cpu_each(engine: SpeechEngine) -> tuple[float, ...]:
    return tuple(getattr(engine, "worker_cpu_each_s", ()))


def _waited(engine: SpeechEngine) -> float | None:
    value = getattr(engine, "waited_cpu_s", None)
    return float(value) if value is not None else None


def _truth_hold_s(truth: dict[str, Any]) -> float:
    return float(sum((h["end_s"] or 0.0) - h["start_s"] for h in truth.get("holds", [])))


def _truth_time_to_human_s(truth: dict[str, Any]) -> float | None:
    spoke = truth.get("agent_first_spoke_s")
    answered = truth.get("answer", {}).get("answered_s")
    if spoke is None or answered is None:
        return None
    return round(float(spoke) - float(answered), 3)


if __name__ == "__main__":
    print(run_call_bench().render())
