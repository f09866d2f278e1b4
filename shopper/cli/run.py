"""`shopper run`: run call scripts, write their evidence, print a verdict per call."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.status import Status

from shopper.asr.selection import select_engine
from shopper.asr.types import SpeechEngine
from shopper.carriers.options import DialOptions, SandboxOptions, SipOptions, TwilioGiven
from shopper.carriers.pacing import Slot, configured_caps, wait_for_turn
from shopper.carriers.twilio.settings import twilio_settings
from shopper.cli.batch import run_at_most
from shopper.cli.errors import USAGE_ERROR, one_line_errors, print_ivr_warnings
from shopper.cli.interrupts import interrupts
from shopper.cli.mqtt import (
    MqttCa,
    MqttCert,
    MqttClientId,
    MqttDelivery,
    MqttDrain,
    MqttHaDiscovery,
    MqttHaPrefix,
    MqttKeepalive,
    MqttKey,
    MqttOptions,
    MqttPrefix,
    MqttQos,
    MqttSite,
    MqttUrl,
    warn,
)
from shopper.cli.options import At, Engine, Seed, SpeechOptions, VoskModel
from shopper.cli.twilio import Listen, PublicUrl, TwilioApiUrl, TwilioDtmf, TwilioFrom
from shopper.engine.timeline import Event
from shopper.errors import ShopperError
from shopper.hosts.pool import ALREADY_PACED, CallHosts, Emit, HostDied
from shopper.monitor.fleet.hangup import Leg, follow_legs, hang_up_leftover
from shopper.publish.feed import CallDialled, CallFeed, follow
from shopper.publish.homeassistant import Discovery
from shopper.publish.publisher import publishing
from shopper.publish.topics import script_id
from shopper.results.junit import write_junit
from shopper.results.record import CallRecord
from shopper.results.writer import default_call_dir, write_call
from shopper.scripts.loader import load_script
from shopper.scripts.model import CallScript
from shopper.scripts.runner import CallContext, CallInterrupted, run_script

FAILED = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class RunOutput:
    """How `run` hands each call over: its evidence folder under `--out` (else under
    recordings/), and a summary on the console or, with `--json`, one JSON line on stdout."""

    out: Path | None
    as_json: bool
    console: Console

    def show(self, result: dict[str, Any], folder: Path) -> None:
        if self.as_json:
            typer.echo(_json_line(result, folder))
        else:
            self.console.print(_summary(result, folder))


def run(
    scripts: Annotated[list[Path], typer.Argument(help="Call script YAML files.")],
    *,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Write each call into this folder (default: recordings/<date>/<call id>)."
        ),
    ] = None,
    junit: Annotated[Path | None, typer.Option(help="Also write a JUnit XML report here.")] = None,
    engine: Engine = "auto",
    vosk_model: VoskModel = None,
    realtime: Annotated[
        bool,
        typer.Option(
            help="Run the simulated phone system in real time instead of its virtual clock."
        ),
    ] = False,
    seed: Seed = 0,
    at: At = None,
    sip_trace: Annotated[
        Path | None,
        typer.Option(
            help="Append every SIP message of the run's SIP calls to this file (credentials "
            "masked), for a PBX administrator."
        ),
    ] = None,
    twilio_from: TwilioFrom = None,
    public_url: PublicUrl = None,
    listen: Listen = None,
    twilio_api_url: TwilioApiUrl = None,
    twilio_dtmf: TwilioDtmf = None,
    mqtt: MqttUrl = None,
    mqtt_ca: MqttCa = None,
    mqtt_cert: MqttCert = None,
    mqtt_key: MqttKey = None,
    mqtt_site: MqttSite = None,
    mqtt_prefix: MqttPrefix = None,
    mqtt_client_id: MqttClientId = None,
    mqtt_qos: MqttQos = None,
    mqtt_keepalive: MqttKeepalive = None,
    mqtt_ha_discovery: MqttHaDiscovery = False,
    mqtt_ha_prefix: MqttHaPrefix = None,
    mqtt_drain: MqttDrain = 10.0,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json", help="Print one JSON line per call on stdout (everything else: stderr)."
        ),
    ] = False,
    parallel: Annotated[
        int,
        typer.Option(
            min=1,
            help="Calls in progress at once (each target's calls are capped further by the "
            "config's [safety] calls_at_once and calls_per_second: 5 and 1 by default).",
        ),
    ] = 1,
    processes: Annotated[
        int,
        typer.Option(
            min=1,
            help="Spread the calls in progress over this many call host processes, each with "
            "its own event loop and speech engine: one process's loop uses one core "
            "(docs/scripts.md). Not for Twilio calls.",
        ),
    ] = 1,
    recall_across_calls: Annotated[
        bool,
        typer.Option(
            "--recall-across-calls",
            help="Let the calls (of each call host) recognise prompts another call already "
            "transcribed: many calls to one phone system read its recorded prompts once "
            "(Moonshine; off by default, so that no call's text depends on another's).",
        ),
    ] = False,
) -> None:
    """Call, follow each SCRIPT, and report: exit 0 all passed, 1 any failed, 2 usage error."""
    output = RunOutput(out=out, as_json=as_json, console=Console(soft_wrap=True, stderr=as_json))
    broker = MqttOptions(
        url=mqtt,
        ca=mqtt_ca,
        cert=mqtt_cert,
        key=mqtt_key,
        site=mqtt_site,
        prefix=mqtt_prefix,
        client_id=mqtt_client_id,
        qos=mqtt_qos,
        keepalive=mqtt_keepalive,
        ha_discovery=mqtt_ha_discovery,
        ha_prefix=mqtt_ha_prefix,
    )
    with one_line_errors():
        loaded: list[CallScript] = [load_script(path) for path in scripts]
        print_ivr_warnings(Path(s.target) for s in loaded if s.carrier == "sandbox")
        delivery = MqttDelivery(broker.settings(), mqtt_drain)
        caps = configured_caps()  # a bad [safety] table is an error before any call
        twilio = TwilioGiven(twilio_from, public_url, listen, twilio_api_url, twilio_dtmf)
        if any(script.carrier == "twilio" for script in loaded):
            twilio_settings(twilio)  # missing credentials or public URL: before any call
        _check_processes(processes, loaded)
        chosen = SpeechOptions(engine, vosk_model, recall_across_calls)
        speech: SpeechEngine | HostedSpeech = (
            chosen.select() if processes == 1 else HostedSpeech(chosen, processes)
        )
    if not isinstance(speech, HostedSpeech):
        output.console.print(f"engine: {speech.name}")
    options = DialOptions(
        caps=caps,
        sandbox=SandboxOptions(seed=seed, realtime=realtime, at=at),
        sip=SipOptions(trace=sip_trace),
        twilio=twilio,
    )
    results, folders, interrupted = asyncio.run(
        _call_all(loaded, speech, options, delivery, output, parallel)
    )
    if junit is not None:
        with one_line_errors():
            write_junit(results, junit, call_dirs=folders)
    if interrupted is not None:
        typer.echo("shopper: interrupted; the calls in progress were hung up and kept", err=True)
        raise typer.Exit(interrupted)
    if any(r["outcome"] == "error" for r in results):
        raise typer.Exit(USAGE_ERROR)
    if any(r["outcome"] == "failed" for r in results):
        raise typer.Exit(FAILED)


@dataclass(frozen=True, slots=True)
class HostedSpeech:
    """`--processes K` (K > 1): the calls are placed by K call hosts (shopper.hosts.pool),
    each with its own engine of this choice. Each host gets an equal share of the cores for
    its speech workers (at least one), so K hosts start about as many workers as one process
    would: more would only compete for the same cores and cost ~800 MB each."""

    chosen: SpeechOptions
    processes: int

    def hosts(self) -> CallHosts:
        workers = max(1, (os.cpu_count() or 1) // self.processes)
        recipe = partial(
            select_engine,
            self.chosen.engine,
            self.chosen.vosk_model,
            speech_workers=workers,
            recall_across_calls=self.chosen.recall_across_calls,
        )
        return CallHosts(self.processes, recipe, preload=(__name__,))


def _check_processes(processes: int, loaded: list[CallScript]) -> None:
    """Twilio calls come in through the one media server of shopper's own process."""
    if processes > 1 and any(script.carrier == "twilio" for script in loaded):
        raise ShopperError(
            f"--processes {processes}: Twilio calls are served by one process (its media "
            "server and public URL); run Twilio scripts with --processes 1"
        )


Dial = Callable[[CallScript, CallFeed | None], Awaitable[tuple[dict[str, Any], Path]]]
"""Place one script's call, write its evidence; its result and folder."""


async def _call_all(
    loaded: list[CallScript],
    speech: SpeechEngine | HostedSpeech,
    options: DialOptions,
    delivery: MqttDelivery,
    output: RunOutput,
    parallel: int,
) -> tuple[list[dict[str, Any]], list[Path], int | None]:
    """Every call in one event loop, so the publisher keeps delivering while calls run; at
    most `parallel` at once, each written and shown as it ends. The results come back in the
    scripts' order, so the JUnit report lists its test cases in a stable order.

    Ctrl-C or SIGTERM stops the calls in progress (hung up, their evidence written with
    outcome `error`) and the calls after them; the exit code then says which signal it was."""
    ended: dict[int, tuple[dict[str, Any], Path]] = {}
    async with publishing(delivery.settings, warn) as publisher:
        discovery = None
        if publisher is not None and publisher.settings.ha_discovery_prefix is not None:
            discovery = Discovery(publisher, publisher.settings.ha_discovery_prefix)
        with interrupts() as stop, output.console.status("calling") as status:
            calling = CallingStatus(status)
            async with AsyncExitStack() as hosts:
                dial = await _dialler(speech, options, output, hosts)

                async def place(script: CallScript) -> tuple[dict[str, Any], Path]:
                    feed = CallFeed(publisher, script_id(script)) if publisher is not None else None
                    if discovery is not None:
                        discovery.announce(script_id(script), script.name)
                    with one_line_errors(), calling.of(script.name):
                        result, folder = await dial(script, feed)
                    if feed is not None:
                        feed.finish_result(result)
                    return result, folder

                def show(index: int, call: tuple[dict[str, Any], Path]) -> None:
                    ended[index] = call
                    output.show(*call)

                jobs = [partial(place, script) for script in loaded]
                await run_at_most(jobs, parallel, stop, show)
        if publisher is not None:
            await publisher.drain_and_report(delivery.drain_s)
    in_order = [ended[index] for index in sorted(ended)]
    return [result for result, _ in in_order], [folder for _, folder in in_order], stop.exit_code


class CallingStatus:
    """The console's one status line, naming the calls in progress."""

    def __init__(self, status: Status) -> None:
        self._status = status
        self._names: list[str] = []

    @contextmanager
    def of(self, name: str) -> Iterator[None]:
        self._names.append(name)
        self._show()
        try:
            yield
        finally:
            self._names.remove(name)
            self._show()

    def _show(self) -> None:
        self._status.update(f"calling: {', '.join(self._names)}" if self._names else "calling")


async def _dialler(
    speech: SpeechEngine | HostedSpeech,
    options: DialOptions,
    output: RunOutput,
    hosts: AsyncExitStack,
) -> Dial:
    """How this run places its calls: on this process's loop, or on call hosts (started
    here, closed with `hosts`)."""
    if not isinstance(speech, HostedSpeech):
        return partial(_call_here, speech, options, output.out)
    with one_line_errors():
        started = await hosts.enter_async_context(speech.hosts())
    output.console.print(f"engine: {started.engine_name} ({speech.processes} call hosts)")
    return partial(_call_on_host, started, options, output.out)


async def _call_here(
    speech: SpeechEngine,
    options: DialOptions,
    out: Path | None,
    script: CallScript,
    feed: CallFeed | None,
) -> tuple[dict[str, Any], Path]:
    record = await _call(script, speech, options, feed.attach if feed else None, out)
    folder = _call_folder(record, out)
    with one_line_errors():
        write_call(record, folder)
    return record.result, folder


async def _call_on_host(
    hosts: CallHosts,
    options: DialOptions,
    out: Path | None,
    script: CallScript,
    feed: CallFeed | None,
) -> tuple[dict[str, Any], Path]:
    """The target's turn is taken here, under the run's caps, so that they hold across every
    host; the host dials at once and writes the evidence."""
    caps = options.caps or configured_caps()
    slot = await wait_for_turn(script.carrier, script.target, caps, until_dialled=True)
    legs: list[Leg] = []
    try:
        job = HostedScript(script, options, out, live=feed is not None)
        return await hosts.place(job, partial(_from_host, slot, feed, legs))
    except HostDied as died:
        raise HostDied(f"{died}; {await _hang_up_left(legs)}") from None
    finally:
        slot.release()


async def _hang_up_left(legs: list[Leg]) -> str:
    """A dead host's call may still be up at the far end (a PBX keeps a SIP dialog until its
    session timer): it is ended from here, from what the host reported of it, as a fleet
    worker ends a dead worker's call (shopper.monitor.fleet.hangup)."""
    if not legs:
        return "it had not been dialled"
    return f"its call: {await hang_up_leftover(legs[-1])}"


@dataclass(frozen=True, slots=True)
class DialTimeTaken:
    """A hosted call's dial time was taken (its result's `started_at`): the target's next
    dial is spaced from now, so the caps hold where the dials happen."""


def _from_host(slot: Slot, feed: CallFeed | None, legs: list[Leg], item: object) -> None:
    """What a hosted call sent while it ran: its dial, its carrier leg (each report replaces
    the one before), its live events."""
    if isinstance(item, DialTimeTaken):
        slot.dialled()
    elif isinstance(item, Leg):
        legs[:] = [item]
    elif feed is not None and isinstance(item, CallDialled | Event):
        feed.take(item)


@dataclass(frozen=True, slots=True)
class HostedScript:
    """One script's call placed by a call host: dialled there (the parent has taken its
    turn), its evidence written there, its live events sent back when `live`."""

    script: CallScript
    options: DialOptions
    out: Path | None
    live: bool

    async def run(self, engine: SpeechEngine, emit: Emit) -> tuple[dict[str, Any], Path]:
        options = replace(self.options, caps=ALREADY_PACED)
        on_dial = partial(emit, DialTimeTaken())
        record = await _call(self.script, engine, options, self._placed(emit), self.out, on_dial)
        folder = _call_folder(record, self.out)
        write_call(record, folder)
        return record.result, folder

    def _placed(self, emit: Emit) -> Callable[[CallContext], None]:
        """What the parent hears of the call once placed: its carrier leg, so that it can
        hang the call up if this host dies, and its live events when `live`."""

        def placed(context: CallContext) -> None:
            follow_legs(context.session.call, emit)
            if self.live:
                follow(context, take=emit)

        return placed


def _call_folder(record: CallRecord, out: Path | None) -> Path:
    started = datetime.fromisoformat(record.result["started_at"].replace("Z", "+00:00"))
    return _folder(str(record.result["call_id"]), started, out)


def _folder(call_id: str, started: datetime, out: Path | None) -> Path:
    """`--out DIR/<call id>`, else `recordings/<date>/<call id>`."""
    if out is not None:
        return out / call_id
    return default_call_dir(Path("recordings"), started.astimezone(UTC), call_id)


async def _call(
    script: CallScript,
    speech: SpeechEngine,
    options: DialOptions,
    on_call: Callable[[CallContext], None] | None,
    out: Path | None,
    on_dial: Callable[[], None] | None = None,
) -> CallRecord:
    """One script's call; an interrupted call's record too. Stopped before it was dialled
    (waiting for its target's turn), it ends cancelled: there is no call to keep. Its
    recording streams into its folder as the call goes."""
    try:
        return await run_script(
            script,
            speech,
            options,
            on_call=on_call,
            folder=partial(_named_folder, out, on_dial),
        )
    except CallInterrupted as interrupted:
        return interrupted.record


def _named_folder(
    out: Path | None, on_dial: Callable[[], None] | None, call_id: str, started: datetime
) -> Path:
    """The call's folder, asked for by the runner the moment it takes the dial time (before
    it dials): `on_dial` hears of that moment."""
    if on_dial is not None:
        on_dial()
    return _folder(call_id, started, out)


def _json_line(result: dict[str, Any], folder: Path) -> str:
    """The call on one line for log collectors: what the summary says, as JSON."""
    line = {
        "call_id": result["call_id"],
        "script": result["script"]["name"],
        "outcome": result["outcome"],
        "failure": result["failure"],
        "metrics": result["metrics"],
        "callback_offered": result["callback_offered"],
        "evidence": str(folder),
    }
    return json.dumps(line, separators=(",", ":"), default=str)


def _summary(result: dict, folder: Path) -> str:  # type: ignore[type-arg]
    metrics = result["metrics"]
    colour = {"passed": "green", "failed": "red"}.get(result["outcome"], "yellow")
    lines = [f"[bold {colour}]{result['outcome'].upper()}[/] {result['script']['name']}"]
    failure = result["failure"]
    if failure is not None:
        step = f" at step {failure['step']}" if failure["step"] else ""
        lines.append(f"  {failure['kind']}{step}: {failure['message']}")
    human = metrics["time_to_human_s"]
    lines.append(
        f"  time to human {'-' if human is None else f'{human:.1f} s'}, "
        f"hold {metrics['hold_s']:.1f} s, call {metrics['duration_s']:.1f} s, "
        f"keys {metrics['dtmf_sent']}, menus {metrics['menus']}, "
        f"callback offered {'yes' if result['callback_offered'] else 'no'}"
    )
    if result["reached"] == "voicemail":
        beep = result["voicemail"]["beep_at_s"]
        lines.append(f"  reached a voicemail box (beep at {beep:.1f} s)")
    lines.append(f"  evidence: {folder}/report.html")
    return "\n".join(lines)
