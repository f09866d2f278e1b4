"""How much memory a long call costs the main process: the recording-memory benchmark.

A call on hold for twenty minutes (scripts/bench/hold-20m.yaml, on the sandbox's virtual
clock, with the bundled Moonshine engine) is run as `shopper run` runs it, evidence folder
and all, while a thread samples the process's resident memory every 100 ms of wall time.
The report gives the resident memory when the call is placed, after its first minute (the
models warmed up, the first speech transcribed) and at its end, its peak during the call and
while the evidence is written, and the recording's size on disk. Growth from the first minute
to the end, per minute of call, says whether the call's audio stays in memory: it would add
1.9 MB a minute (two channels of 16-bit samples at 8 kHz), more as Python objects. The speech
workers are other processes, with their own, constant memory (docs/benchmarks.md); they are
not counted.

Run `shopper bench memory` for the report.
"""

from __future__ import annotations

import asyncio
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from shopper.asr.types import SpeechEngine
from shopper.audio.frame import TELEPHONY_RATE, AudioFrame
from shopper.carriers.options import DialOptions, SandboxOptions
from shopper.results.writer import RECORDING_FILE, write_call
from shopper.scripts.loader import load_script
from shopper.scripts.runner import CallContext, run_script

MEMORY_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench" / "hold-20m.yaml"
SAMPLE_EVERY_S = 0.1


@dataclass(frozen=True, slots=True)
class MemoryBenchReport:
    script: str
    outcome: str
    call_s: float
    """Simulated call length (media time)."""
    placed_mb: float
    """Resident memory of this process when the call was placed (models, sandbox, code)."""
    first_minute_mb: float
    """Resident memory after the call's first minute of media time."""
    end_mb: float
    """Resident memory at the end of the call (sampled every 10 s of media time)."""
    peak_call_mb: float
    """The highest resident memory sampled from placing the call to its end."""
    peak_write_mb: float
    """The highest resident memory sampled while the call's evidence was written."""
    recording_mb: float
    """recording.wav on disk."""

    def render(self) -> str:
        minutes = (self.call_s - 60) / 60
        grown = self.end_mb - self.first_minute_mb
        per_minute = f"{grown / minutes:.2f} MB per minute" if minutes > 0 else "-"
        return "\n".join(
            [
                f"script                  {self.script} ({self.outcome})",
                f"simulated call          {self.call_s:.1f} s",
                f"resident when placed    {self.placed_mb:.1f} MB",
                f"after the first minute  {self.first_minute_mb:.1f} MB",
                f"at the end of the call  {self.end_mb:.1f} MB",
                f"growth after minute 1   {grown:+.1f} MB ({per_minute})",
                f"peak during the call    {self.peak_call_mb:.1f} MB",
                f"peak writing evidence   {self.peak_write_mb:.1f} MB",
                f"recording.wav on disk   {self.recording_mb:.1f} MB",
            ]
        )


class _ResidentSampler:
    """Samples this process's resident memory on a thread until stopped; `peak()` gives the
    highest sample since the last `restart()`."""

    def __init__(self) -> None:
        self._peak = resident_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> _ResidentSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_EVERY_S):
            self._peak = max(self._peak, resident_mb())

    def restart(self) -> float:
        """The peak so far; sampling goes on from the current value."""
        peak = max(self._peak, resident_mb())
        self._peak = resident_mb()
        return peak


def resident_mb() -> float:
    """VmRSS of this process (Linux /proc), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise OSError("no VmRSS in /proc/self/status (the benchmark needs Linux)")


def run_memory_bench(
    script: Path = MEMORY_SCRIPT, engine: SpeechEngine | None = None, seed: int = 0
) -> MemoryBenchReport:
    """Run one scripted call on the virtual clock and sample the memory it costs."""
    if engine is None:
        from shopper.asr.moonshine_engine import MoonshineEngine

        engine = MoonshineEngine()
    loaded = load_script(script)
    placed: list[float] = []
    minute: list[float] = []
    last: list[float] = []
    with tempfile.TemporaryDirectory(prefix="shopper-memory-") as out:
        folder = Path(out) / "call"

        def on_call(context: CallContext) -> None:
            placed.append(resident_mb())
            sampler.restart()

            def on_frame(frame: AudioFrame) -> None:
                if frame.start < 60 * TELEPHONY_RATE <= frame.end:
                    minute.append(resident_mb())
                if frame.end % (10 * TELEPHONY_RATE) < len(frame.samples):
                    last[:] = [resident_mb()]  # every 10 s of media: the end's within 10 s

            context.session.on_frame = on_frame

        options = DialOptions(sandbox=SandboxOptions(seed=seed))
        with _ResidentSampler() as sampler:
            record = asyncio.run(
                run_script(loaded, engine, options, on_call=on_call, folder=lambda *_: folder)
            )
            peak_call = sampler.restart()
            write_call(record, folder)
            peak_write = sampler.restart()
        recording_mb = (folder / RECORDING_FILE).stat().st_size / 1e6
    return MemoryBenchReport(
        script=loaded.name,
        outcome=record.result["outcome"],
        call_s=float(record.result["metrics"]["duration_s"]),
        placed_mb=placed[0],
        first_minute_mb=minute[0],
        end_mb=last[0],
        peak_call_mb=peak_call,
        peak_write_mb=peak_write,
        recording_mb=recording_mb,
    )


if __name__ == "__main__":
    print(run_memory_bench().render())
