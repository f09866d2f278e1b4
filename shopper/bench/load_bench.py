"""Many calls at once over real SIP/RTP: N copies of the Acme demo, dialled through the SIP
carrier on loopback against `shopper sandbox serve` (a process of its own), in real time.

This is `shopper bench realtime` with a real network path in place of the in-process
sandbox, and it measures the same way (shopper.bench.realtime_bench's clocks, probe and
quantiles): per N, the verdicts right (passed, time to human within `HUMAN_TOLERANCE_S` of
the server's truth for that call), frame lag (wall time a frame's analysis ended minus the
moment it was due: the call placed plus the frame's media end), text latency, loop lag,
worker backlog, the tester's CPU per call (this process and its speech workers) and its
resident memory; the server's CPU per call and peak memory are given apart, as the far end's
cost that a real PBX would carry. Each call is paired with its truth by its SIP Call-ID (the
server names truth files by it). The calls are dialled with explicit caps (`UNCAPPED`): the
served sandbox needs no protection from the per-target pacing of a run.

With `processes` K > 1 the calls are placed by K call hosts (shopper.hosts.pool), exactly as
`shopper run --processes K` places them: this process takes each dial's turn and hands the
call to the least busy host. Each host then measures its own calls (the same clocks) and its
own loop lag, worker backlog, memory and CPU (`HostProbe`); the figures are merged: lags and
backlogs pooled over every host, CPU summed over this process, every host and every host's
speech workers, resident memory the sum of each host's peak (an upper bound: the peaks need
not coincide) plus this process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

from shopper.asr.types import SpeechEngine
from shopper.bench.call_bench import _truth_time_to_human_s
from shopper.bench.realtime_bench import (
    DEMO_SCRIPT,
    HUMAN_TOLERANCE_S,
    SAMPLE_S,
    UNCAPPED,
    RealtimeReport,
    RealtimeRow,
    _CallClock,
    _Probe,
    _quantiles,
    _resident_bytes,
    _total_resident,
    _Workers,
)
from shopper.carriers.options import DialOptions
from shopper.carriers.pacing import TargetCaps, wait_for_turn
from shopper.carriers.sip.call import SipCall
from shopper.errors import ShopperError
from shopper.hosts.pool import ALREADY_PACED, CallHosts, Emit
from shopper.scripts.loader import load_script
from shopper.scripts.model import CallScript
from shopper.scripts.runner import CallContext, run_script

IVR = DEMO_SCRIPT.parent / "ivr.yaml"
SERVER_START_S = 120.0
"""How long the server may take to render the IVR's sounds and listen."""
_TICK = os.sysconf("SC_CLK_TCK")


class ServedSandbox:
    """`shopper sandbox serve IVR --sip 127.0.0.1:PORT --truth DIR` as a child process."""

    def __init__(self, ivr: Path, truth_dir: Path, at: str | None) -> None:
        self.port = _free_udp_port()
        self.truth_dir = truth_dir
        command = [sys.executable, "-m", "shopper", "sandbox", "serve", str(ivr),
                   "--sip", f"127.0.0.1:{self.port}", "--truth", str(truth_dir)]  # fmt: skip
        if at is not None:
            command += ["--at", at]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        deadline = time.monotonic() + SERVER_START_S
        assert self.process.stderr is not None
        while time.monotonic() < deadline:
            line = self.process.stderr.readline()
            if "listening on" in line:
                return
            if not line and self.process.poll() is not None:
                break
        self.stop()
        raise ShopperError(f"shopper sandbox serve did not start on port {self.port}")

    @property
    def uri(self) -> str:
        return f"sip:ivr@127.0.0.1:{self.port}"

    @property
    def cpu_s(self) -> float:
        """CPU time the server has used (user and system)."""
        try:
            with open(f"/proc/{self.process.pid}/stat", encoding="ascii") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / _TICK

    @property
    def resident_bytes(self) -> int:
        return _resident_bytes(self.process.pid)

    def truth(self, sip_call_id: str) -> dict[str, Any] | None:
        """The truth of the call with this Call-ID (named as the server names it)."""
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", sip_call_id)[:80]
        for path in self.truth_dir.glob(f"*-{safe}.json"):
            loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
            return loaded
        return None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stderr is not None:
            self.process.stderr.close()


@dataclass(frozen=True, slots=True)
class LoadRow:
    tester: RealtimeRow
    """far_end_cpu_per_call_s is the server's CPU per call."""
    human_error_max_s: float | None
    """The largest |time to human - the truth's| over the calls that measured one."""
    server_peak_mb: float
    call_minutes: float
    """Media time of the average call, in minutes: CPU per call-minute is CPU per call over
    it, a cost that does not depend on how loaded the machine was."""

    def per_minute(self, cpu_per_call_s: float) -> float:
        return cpu_per_call_s / self.call_minutes if self.call_minutes > 0 else 0.0


@dataclass(frozen=True, slots=True)
class LoadReport:
    engine: str
    rows: tuple[LoadRow, ...]
    per_second: float = math.inf
    """Dials a second (math.inf: all at once)."""
    processes: int = 1
    """Call hosts the calls were spread over (1: all on this process's loop)."""

    def render(self) -> str:
        text = RealtimeReport(self.engine, tuple(row.tester for row in self.rows)).render()
        lines = text.splitlines()
        dialled = (
            "all dialled at once"
            if math.isinf(self.per_second)
            else f"dialled {self.per_second:g} a second"
        )
        hosts = "" if self.processes == 1 else f"; {self.processes} call hosts"
        out = [lines[0] + f"; over SIP/RTP on loopback to shopper sandbox serve; {dialled}{hosts}"]
        rows = iter(self.rows)
        for line in lines[1:]:
            out.append(line.replace("far end", "server"))
            if line.startswith("N="):
                row = next(rows)
                error = row.human_error_max_s
                out.append(
                    "  time to human, largest error vs the server's truth s: "
                    + ("-" if error is None else f"{error:.2f}")
                )
            if line.startswith("  CPU per call s:"):
                tester = row.tester
                main = tester.cpu_per_call_s - tester.worker_cpu_per_call_s
                where = "main process" if self.processes == 1 else "shopper and hosts"
                out.append(
                    f"  CPU per call-minute s: {where} {row.per_minute(main):.2f}, "
                    f"speech workers {row.per_minute(tester.worker_cpu_per_call_s):.2f}, "
                    f"server {row.per_minute(tester.far_end_cpu_per_call_s):.2f}"
                )
            if line.startswith("  resident memory MB:"):
                out.append(f"  server resident memory MB: peak {row.server_peak_mb:.0f}")
        return "\n".join(out)


async def _one_call(
    engine: SpeechEngine, script: CallScript, caps: TargetCaps
) -> tuple[_CallClock, dict[str, Any], str | None]:
    clock = _CallClock()
    sip_ids: list[str] = []

    def placed(context: CallContext) -> None:
        clock.watch(context)
        call = context.session.call
        if isinstance(call, SipCall):
            sip_ids.append(call.sip_call_id)

    loop = asyncio.get_running_loop()
    began = loop.time()
    record = await run_script(script, engine, DialOptions(caps=caps), on_call=placed)
    result = dict(record.result)
    # From the dial, not from the call's turn: a paced call's wait for it is not lag.
    result["wall_s"] = loop.time() - (clock.placed or began)
    return clock, result, sip_ids[0] if sip_ids else None


_Outcome = tuple[_CallClock, dict[str, Any], str | None]


@dataclass(frozen=True, slots=True)
class _HostedCall:
    """One demo call placed by a call host (its dial's turn taken by this process)."""

    script: CallScript

    async def run(self, engine: SpeechEngine, emit: Emit) -> _Outcome:
        return await _one_call(engine, self.script, ALREADY_PACED)


@dataclass(frozen=True, slots=True)
class HostFigures:
    """What one host measured of itself while the calls ran."""

    loop_lags: list[float]
    backlogs: list[int]
    resident_before: int
    peak_resident: int
    cpu_s: float
    """The host process's CPU (every thread of it), its speech workers excluded."""
    worker_cpu_s: float


@dataclass(frozen=True, slots=True)
class HostProbe:
    """Placed on every host before the calls: starts the host's speech workers, says so
    (emits), then samples the host's loop lag, backlog and memory until hung up, and returns
    its figures then."""

    async def run(self, engine: SpeechEngine, emit: Emit) -> HostFigures:
        workers = _Workers(engine)
        await asyncio.to_thread(workers.start)
        resident_before = _total_resident(workers)
        cpu_before = time.process_time()
        worker_cpu_before = workers.cpu_s
        probe = _Probe(workers, peak_resident=resident_before)
        emit("ready")
        with contextlib.suppress(asyncio.CancelledError):
            await probe.run()
        return HostFigures(
            loop_lags=probe.loop_lags,
            backlogs=probe.backlogs,
            resident_before=resident_before,
            peak_resident=probe.peak_resident,
            cpu_s=time.process_time() - cpu_before,
            worker_cpu_s=workers.cpu_s - worker_cpu_before,
        )


def host_engine(recall_across_calls: bool, speech_workers: int) -> SpeechEngine:
    """A host's engine for the bench: Moonshine with its share of the speech workers (the
    recall of replayed prompts is then per host)."""
    from shopper.asr.moonshine_engine import MoonshineEngine, MoonshineWorkerPool

    return MoonshineEngine(
        MoonshineWorkerPool(speech_workers), recall_across_calls=recall_across_calls
    )


def _human_error_s(result: dict[str, Any], truth: dict[str, Any] | None) -> float | None:
    true_s = _truth_time_to_human_s(truth or {})
    measured = result["metrics"]["time_to_human_s"]
    if true_s is None or measured is None:
        return None
    return abs(float(measured) - true_s)


def _verdict(result: dict[str, Any], truth: dict[str, Any] | None, number: int) -> str | None:
    """What was wrong (None: right)."""
    if result["outcome"] != "passed":
        failure = result["failure"] or {}
        return f"call {number}: {failure.get('kind', result['outcome'])}: {failure.get('message')}"
    error = _human_error_s(result, truth)
    if error is None:
        return f"call {number}: no time to human (or no truth)"
    if error > HUMAN_TOLERANCE_S:
        return f"call {number}: time to human off by {error:.1f} s"
    return None


async def _server_peak(server: ServedSandbox, peak: list[int]) -> None:
    while True:
        peak[0] = max(peak[0], server.resident_bytes)
        await asyncio.sleep(SAMPLE_S)


@dataclass(slots=True)
class _Measured:
    """What one N measured, wherever the calls ran."""

    outcomes: list[_Outcome]
    loop_lags: list[float]
    backlogs: list[int]
    cpu_s: float
    worker_cpu_s: float
    resident_before: int
    peak_resident: int
    server_cpu_s: float
    load_before: float
    server_peak: list[int] = field(default_factory=lambda: [0])


async def _concurrent(
    engine: SpeechEngine, calls: int, server: ServedSandbox, caps: TargetCaps
) -> LoadRow:
    """N calls on this process's event loop."""
    workers = _Workers(engine)
    await asyncio.to_thread(workers.start)
    script = await _served_script(server)
    load_before = os.getloadavg()[0]
    resident_before = _total_resident(workers)
    cpu_before = time.process_time()
    worker_cpu_before = workers.cpu_s
    server_cpu_before = server.cpu_s
    probe = _Probe(workers, peak_resident=resident_before)
    server_peak = [server.resident_bytes]
    async with _watching(probe.run(), _server_peak(server, server_peak)):
        outcomes = await asyncio.gather(*(_one_call(engine, script, caps) for _ in range(calls)))
    worker_cpu = workers.cpu_s - worker_cpu_before
    measured = _Measured(
        outcomes=list(outcomes),
        loop_lags=probe.loop_lags,
        backlogs=probe.backlogs,
        cpu_s=time.process_time() - cpu_before + worker_cpu,
        worker_cpu_s=worker_cpu,
        resident_before=resident_before,
        peak_resident=probe.peak_resident,
        server_cpu_s=server.cpu_s - server_cpu_before,
        load_before=load_before,
        server_peak=server_peak,
    )
    return await _row(calls, measured, server)


async def _concurrent_hosted(
    hosts: CallHosts, calls: int, server: ServedSandbox, caps: TargetCaps
) -> LoadRow:
    """N calls spread over the call hosts, each dial's turn taken here as a run takes it."""
    script = await _served_script(server)
    ready = [asyncio.Event() for _ in hosts.pids]
    probes = [
        asyncio.create_task(hosts.place(HostProbe(), partial(_set, event), host=number))
        for number, event in enumerate(ready)
    ]
    await asyncio.gather(*(event.wait() for event in ready))
    load_before = os.getloadavg()[0]
    own_resident = _resident_bytes("self")
    cpu_before = time.process_time()
    server_cpu_before = server.cpu_s
    server_peak = [server.resident_bytes]

    async def paced() -> _Outcome:
        slot = await wait_for_turn("sip", server.uri, caps)
        try:
            return await hosts.place(_HostedCall(script))
        finally:
            slot.release()

    try:
        async with _watching(_server_peak(server, server_peak)):
            outcomes = await asyncio.gather(*(paced() for _ in range(calls)))
    finally:
        for probing in probes:
            probing.cancel()
        figures = await asyncio.gather(*probes)
    worker_cpu = sum(f.worker_cpu_s for f in figures)
    measured = _Measured(
        outcomes=list(outcomes),
        loop_lags=[lag for f in figures for lag in f.loop_lags],
        backlogs=[backlog for f in figures for backlog in f.backlogs],
        cpu_s=time.process_time() - cpu_before + sum(f.cpu_s for f in figures) + worker_cpu,
        worker_cpu_s=worker_cpu,
        resident_before=own_resident + sum(f.resident_before for f in figures),
        peak_resident=own_resident + sum(f.peak_resident for f in figures),
        server_cpu_s=server.cpu_s - server_cpu_before,
        load_before=load_before,
        server_peak=server_peak,
    )
    return await _row(calls, measured, server)


def _set(event: asyncio.Event, _: object) -> None:
    event.set()


async def _served_script(server: ServedSandbox) -> CallScript:
    script = await asyncio.to_thread(load_script, DEMO_SCRIPT)
    return replace(script, carrier="sip", target=server.uri)


@contextlib.asynccontextmanager
async def _watching(*watchers: Coroutine[Any, Any, None]) -> AsyncIterator[None]:
    """Run `watchers` (endless samplers) while the block runs."""
    tasks = [asyncio.create_task(watcher) for watcher in watchers]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _row(calls: int, measured: _Measured, server: ServedSandbox) -> LoadRow:
    await asyncio.sleep(1.0)  # the server writes each truth as its call ends
    outcomes = measured.outcomes
    clocks = [clock for clock, _, _ in outcomes]
    truths = [server.truth(sip_id) if sip_id else None for _, _, sip_id in outcomes]
    results = [result for _, result, _ in outcomes]
    wrong = [
        _verdict(result, truth, number)
        for number, (result, truth) in enumerate(zip(results, truths, strict=True), 1)
    ]
    errors = [
        e
        for e in (_human_error_s(r, t) for r, t in zip(results, truths, strict=True))
        if e is not None
    ]
    mb = 2.0**20
    backlogs = measured.backlogs
    tester = RealtimeRow(
        calls=calls,
        right=sum(w is None for w in wrong),
        behind_s=tuple(r["wall_s"] - float(r["metrics"]["duration_s"]) for r in results),
        frame_lag_s=_quantiles([lag for clock in clocks for lag in clock.frame_lags]),
        text_latency_s=_quantiles([lag for clock in clocks for lag in clock.text_latencies]),
        loop_lag_s=_quantiles(measured.loop_lags),
        backlog=_quantiles([float(b) for b in backlogs]) if backlogs else None,
        cpu_per_call_s=measured.cpu_s / calls,
        worker_cpu_per_call_s=measured.worker_cpu_s / calls,
        far_end_cpu_per_call_s=measured.server_cpu_s / calls,
        resident_peak_mb=measured.peak_resident / mb,
        resident_per_call_mb=max(0, measured.peak_resident - measured.resident_before) / mb / calls,
        load_before=measured.load_before,
        load_after=os.getloadavg()[0],
        wrong=tuple(w for w in wrong if w is not None),
    )
    minutes = sum(float(r["metrics"]["duration_s"]) for r in results) / 60.0 / calls
    peak = measured.server_peak[0] / mb
    return LoadRow(tester, max(errors) if errors else None, peak, minutes)


def run_load_bench(
    counts: list[int],
    engine: SpeechEngine | None = None,
    per_second: float = math.inf,
    processes: int = 1,
    recall_across_calls: bool = False,
) -> LoadReport:
    """For each N in `counts` (in order), N Acme demo calls at once over SIP to one served
    sandbox (the script's `at:` given to the server), all dialled together, or `per_second`
    dials a second as a run's pacing spaces them (the calls still overlap: each lasts over
    a minute). With `processes` > 1 they are placed by that many call hosts (each with
    Moonshine and an equal share of the cores for its speech workers; `engine` unused)."""
    caps = UNCAPPED if math.isinf(per_second) else replace(UNCAPPED, per_second=per_second)
    at = load_script(DEMO_SCRIPT).sandbox_at
    with tempfile.TemporaryDirectory(prefix="shopper-load-") as folder:
        server = ServedSandbox(IVR, Path(folder), at.isoformat() if at is not None else None)
        try:
            if processes > 1:
                name, rows = asyncio.run(
                    _hosted_rows(counts, server, caps, processes, recall_across_calls)
                )
            else:
                if engine is None:
                    from shopper.asr.moonshine_engine import MoonshineEngine

                    engine = MoonshineEngine(recall_across_calls=recall_across_calls)
                name = engine.name
                rows = tuple(
                    asyncio.run(_concurrent(engine, calls, server, caps)) for calls in counts
                )
        finally:
            server.stop()
    return LoadReport(name, rows, per_second, processes)


async def _hosted_rows(
    counts: list[int], server: ServedSandbox, caps: TargetCaps, processes: int, recall: bool
) -> tuple[str, tuple[LoadRow, ...]]:
    workers = max(1, (os.cpu_count() or 1) // processes)
    recipe = partial(host_engine, recall, workers)
    async with CallHosts(processes, recipe, preload=(__name__,)) as hosts:
        rows = [await _concurrent_hosted(hosts, calls, server, caps) for calls in counts]
    return hosts.engine_name, tuple(rows)


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
