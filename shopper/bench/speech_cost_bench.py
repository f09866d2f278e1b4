"""What speech recognition costs per minute of call, and on which audio it is spent.

Wall-clock lag on a shared machine says more about the other processes than about shopper,
so this measures work: the CPU seconds of the speech worker processes (their own
`time.process_time`, reported with every reply), per minute of media time, for one scripted
call on the sandbox's virtual clock. Each stretch of audio the recogniser sent to the
workers is attributed, after the call, to the sound the sandbox's truth says was playing
over most of it (a prompt, hold music, an announcement, the agent...; none: silence or
noise), and its cost is split into the first reading of each chunk, the retries of an
empty reading with less padding (`PADDINGS_S`), and replays recalled without a reading.
Scoring candidates against the audio (`verify`) is counted apart; what is left is worker
CPU no request accounts for (a worker replaced for memory).

Run `shopper bench speech` for the report.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shopper.asr.moonshine_engine import MoonshineEngine, MoonshineStream, PendingReading
from shopper.audio.frame import TELEPHONY_RATE
from shopper.audio.segments import Span
from shopper.bench.realtime_bench import DEMO_SCRIPT
from shopper.carriers.options import DialOptions, SandboxOptions
from shopper.scripts.loader import load_script
from shopper.scripts.runner import run_script

NO_SOUND = "(nothing played)"
"""The role of audio the truth has no sound for: silence or line noise heard as speech."""


@dataclass(frozen=True, slots=True)
class _Sent:
    """A stretch of speech a stream sent to be read, and its reading being prepared."""

    span: Span
    prepared: Future[PendingReading]


class _CostedStream(MoonshineStream):
    """A Moonshine stream that remembers every stretch it sends to the workers."""

    def __init__(self, engine: MoonshineEngine, sent: list[_Sent]) -> None:
        super().__init__(engine)
        self._sent = sent

    def _flush(self) -> None:
        pending = self.pending
        super()._flush()
        if pending is not None:
            self._sent.append(_Sent(pending, self._decoding[-1][1]))


class CostedEngine(MoonshineEngine):
    """The Moonshine engine, its streams remembering what they send (`sent`)."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[_Sent] = []

    def stream(self, phrases: Sequence[str] | None = None) -> MoonshineStream:
        return _CostedStream(self, self.sent)


@dataclass(frozen=True, slots=True)
class RoleCost:
    """The cost of the stretches attributed to one kind of sound."""

    role: str
    stretches: int
    recalled: int
    """Of them, replays recalled from an earlier reading (no worker time)."""
    audio_s: float
    """Seconds of audio read (recalled replays not counted)."""
    empty: int
    """Read stretches that gave no text."""
    first_cpu_s: float
    retry_cpu_s: float

    @property
    def cpu_s(self) -> float:
        return self.first_cpu_s + self.retry_cpu_s


@dataclass(frozen=True, slots=True)
class SpeechCostReport:
    script: str
    outcome: str
    call_s: float
    main_cpu_s: float
    worker_cpu_s: float
    score_cpu_s: float
    roles: tuple[RoleCost, ...]
    overlap_s: float
    """Audio sent more than once (stretches overlapping): re-decodes of the same speech."""

    @property
    def read_cpu_s(self) -> float:
        return sum(role.cpu_s for role in self.roles)

    def per_minute(self, cpu_s: float) -> float:
        return cpu_s / (self.call_s / 60.0) if self.call_s > 0 else 0.0

    def render(self) -> str:
        minutes = self.call_s / 60.0
        rest = self.worker_cpu_s - self.read_cpu_s - self.score_cpu_s
        lines = [
            f"script {self.script} ({self.outcome}); {self.call_s:.1f} s of call "
            f"({minutes:.2f} call-minutes); CPU seconds, and per call-minute",
            f"speech workers        {self.worker_cpu_s:6.2f} s  "
            f"{self.per_minute(self.worker_cpu_s):5.2f} s/min",
            f"  reading, 1st try    {sum(r.first_cpu_s for r in self.roles):6.2f} s  "
            f"{self.per_minute(sum(r.first_cpu_s for r in self.roles)):5.2f} s/min",
            f"  reading, retries    {sum(r.retry_cpu_s for r in self.roles):6.2f} s  "
            f"{self.per_minute(sum(r.retry_cpu_s for r in self.roles)):5.2f} s/min"
            "  (an empty reading tried again with less padding)",
            f"  scoring (verify)    {self.score_cpu_s:6.2f} s  "
            f"{self.per_minute(self.score_cpu_s):5.2f} s/min",
            f"  other               {rest:6.2f} s  {self.per_minute(rest):5.2f} s/min",
            f"main process          {self.main_cpu_s:6.2f} s  "
            f"{self.per_minute(self.main_cpu_s):5.2f} s/min  (ear, engine, sandbox)",
            f"re-read audio (overlapping stretches): {self.overlap_s:.2f} s",
            "by the sound the truth says was playing:",
            "  role               stretches recalled empty  audio s  CPU s (1st + retries)",
        ]
        for role in self.roles:
            lines.append(
                f"  {role.role:<18} {role.stretches:9d} {role.recalled:8d} {role.empty:5d} "
                f"{role.audio_s:8.1f}  {role.cpu_s:5.2f} ({role.first_cpu_s:.2f} + "
                f"{role.retry_cpu_s:.2f})"
            )
        return "\n".join(lines)


def run_speech_cost_bench(script: Path = DEMO_SCRIPT, seed: int = 0) -> SpeechCostReport:
    """One call of `script` on the virtual clock, its speech cost measured and attributed."""
    loaded = load_script(script)
    engine = CostedEngine()
    engine.wait_until_loaded()
    worker_before = engine.worker_cpu_s
    score_before = engine.score_cpu_s
    cpu_before = time.process_time()
    record = asyncio.run(run_script(loaded, engine, DialOptions(sandbox=SandboxOptions(seed=seed))))
    main_cpu_s = time.process_time() - cpu_before
    result = record.result
    sounds = (record.truth or {}).get("sounds", [])
    return SpeechCostReport(
        script=loaded.name,
        outcome=str(result["outcome"]),
        call_s=float(result["metrics"]["duration_s"]),
        main_cpu_s=main_cpu_s,
        worker_cpu_s=engine.worker_cpu_s - worker_before,
        score_cpu_s=engine.score_cpu_s - score_before,
        roles=_by_role(engine.sent, sounds),
        overlap_s=read_twice_s([sent.span for sent in engine.sent]),
    )


def _by_role(sent: list[_Sent], sounds: list[dict[str, Any]]) -> tuple[RoleCost, ...]:
    rows: dict[str, dict[str, float]] = {}
    seen: set[int] = set()
    for item in sent:
        pending = item.prepared.result()
        reading = pending.result()
        row = rows.setdefault(
            sound_role(item.span, sounds),
            {"stretches": 0, "recalled": 0, "audio": 0.0, "empty": 0, "first": 0.0, "retry": 0.0},
        )
        row["stretches"] += 1
        if id(pending) in seen:
            row["recalled"] += 1
            continue
        seen.add(id(pending))
        row["audio"] += (item.span.end - item.span.start) / TELEPHONY_RATE
        row["empty"] += not reading.text
        for chunk in reading.chunks:
            tries = chunk.text.tries_cpu_s
            row["first"] += tries[0] if tries else chunk.text.cpu_s
            row["retry"] += sum(tries[1:])
    return tuple(
        RoleCost(
            role,
            int(row["stretches"]),
            int(row["recalled"]),
            row["audio"],
            int(row["empty"]),
            row["first"],
            row["retry"],
        )
        for role, row in sorted(rows.items(), key=lambda item: -item[1]["first"])
    )


def sound_role(span: Span, sounds: list[dict[str, Any]]) -> str:
    """The role of the truth's sound that overlaps the span most (NO_SOUND: none does)."""
    start, end = span.start / TELEPHONY_RATE, span.end / TELEPHONY_RATE
    best, most = NO_SOUND, 0.0
    for sound in sounds:
        overlap = min(end, float(sound["end_s"])) - max(start, float(sound["start_s"]))
        if overlap > most:
            best, most = str(sound["role"]), overlap
    return best


def read_twice_s(spans: list[Span]) -> float:
    ordered = sorted(spans, key=lambda span: span.start)
    overlap = 0
    reached = None
    for span in ordered:
        if reached is not None and span.start < reached:
            overlap += min(span.end, reached) - span.start
        reached = span.end if reached is None else max(reached, span.end)
    return overlap / TELEPHONY_RATE
