"""`shopper crawl`: explore a phone system by calling it and write the map of what it heard."""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from shopper.carriers.options import SipOptions, TwilioGiven
from shopper.carriers.safety import check_dialable, looks_like_phone_number
from shopper.carriers.sip.target import parse_sip_target
from shopper.carriers.twilio.settings import TwilioSettingsError, twilio_settings
from shopper.cli.errors import USAGE_ERROR, one_line_errors, print_ivr_warnings
from shopper.cli.interrupts import interrupts
from shopper.cli.mqtt import (
    MqttCa,
    MqttCert,
    MqttClientId,
    MqttDelivery,
    MqttDrain,
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
from shopper.crawl.explorer import Attempt, Budgets, CrawlSettings, explore
from shopper.crawl.map import CrawlMap
from shopper.crawl.outputs import CrawlVerdict, crawl_payload, crawl_target_id, write_crawl_outputs
from shopper.crawl.pathcall import PathResult
from shopper.crawl.policy import Policy, load_policy
from shopper.errors import ShopperError
from shopper.publish.envelope import stamped
from shopper.publish.publisher import publishing
from shopper.publish.topics import Topics

MAP_FILE = "map.json"
PHONE_KEYS = re.compile(r"[0-9*#]*")


class CrawlInputError(ShopperError):
    """A crawl option or file that cannot be used; the message says how to fix it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CrawlOutput:
    """Where `crawl` writes its map, findings and page, and what it judges them against: the
    earlier map to compare (None: a first crawl) and the pass/fail policy (None: shopper's)."""

    folder: Path
    previous: CrawlMap | None
    policy: Policy | None


def crawl_command(
    target: Annotated[
        str,
        typer.Argument(
            help="What to call: a sandbox IVR file; a SIP URI (sip:USER@HOST:PORT) or a phone "
            "number (+E.164, through Twilio), called in real time."
        ),
    ],
    *,
    out: Annotated[
        Path | None,
        typer.Option(help="Output folder (default: recordings/crawls/<date>/<target>)."),
    ] = None,
    max_depth: Annotated[int, typer.Option(min=1, help="Most keys pressed on one path.")] = 6,
    max_calls: Annotated[int, typer.Option(min=1, help="Most calls placed.")] = 200,
    max_call_seconds: Annotated[
        float, typer.Option(min=1, help="Most call time, summed (s).")
    ] = 7200.0,
    lines: Annotated[int, typer.Option(min=1, max=16, help="Calls in progress at once.")] = 2,
    try_keys: Annotated[
        str, typer.Option(help="Keys tried at every menu even when not offered.")
    ] = "0*#",
    redial: Annotated[
        bool,
        typer.Option(
            help="Dial every path afresh, never going on from a known menu on the same call "
            "(for phone systems whose menus behave differently when heard again)."
        ),
    ] = False,
    engine: Engine = "auto",
    vosk_model: VoskModel = None,
    seed: Seed = 0,
    at: At = None,
    sip_trace: Annotated[
        Path | None,
        typer.Option(
            help="Append every SIP message of the crawl's calls to this file (credentials "
            "masked), for a PBX administrator."
        ),
    ] = None,
    twilio_from: TwilioFrom = None,
    public_url: PublicUrl = None,
    listen: Listen = None,
    twilio_api_url: TwilioApiUrl = None,
    twilio_dtmf: TwilioDtmf = None,
    previous: Annotated[
        Path | None,
        typer.Option(
            help="An earlier crawl's map.json to compare (default: the map.json in --out)."
        ),
    ] = None,
    policy: Annotated[
        Path | None,
        typer.Option(help="Pass/fail policy YAML (docs/crawl-outputs.md); default: shopper's own."),
    ] = None,
    mqtt: MqttUrl = None,
    mqtt_ca: MqttCa = None,
    mqtt_cert: MqttCert = None,
    mqtt_key: MqttKey = None,
    mqtt_site: MqttSite = None,
    mqtt_prefix: MqttPrefix = None,
    mqtt_client_id: MqttClientId = None,
    mqtt_qos: MqttQos = None,
    mqtt_keepalive: MqttKeepalive = None,
    mqtt_drain: MqttDrain = 10.0,
) -> None:
    """Explore TARGET key path by key path, map every menu and where each path ends, grade it.

    Exit code 1 when the map fails the policy, so a CI job can gate on a crawl."""
    console = Console(soft_wrap=True)
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
    )
    twilio = TwilioGiven(twilio_from, public_url, listen, twilio_api_url, twilio_dtmf)
    with one_line_errors():
        _check_keys(try_keys)
        carrier = _check_target(target, at, twilio)
        output = _output(target, out, previous, policy, console)
        delivery = MqttDelivery(broker.settings(), mqtt_drain)
        speech = SpeechOptions(engine, vosk_model).select()
    console.print(f"engine: {speech.name}; crawling {target} into {output.folder}")
    settings = CrawlSettings(
        target=target,
        out_dir=output.folder,
        budgets=Budgets(
            max_depth=max_depth, max_calls=max_calls, max_call_seconds=max_call_seconds
        ),
        lines=lines,
        try_keys=try_keys,
        redial=redial,
        engine=engine,
        vosk_model=vosk_model,
        seed=seed,
        now=at,
        carrier=carrier,
        sip=SipOptions(trace=sip_trace),
        twilio=twilio,
    )
    with one_line_errors():
        crawl_map, outcome, interrupted = asyncio.run(_explore(settings, console, output))
    _report(console, crawl_map, outcome, output.folder)
    if interrupted is not None:
        typer.echo(
            "shopper: interrupted; the calls in progress were hung up, the map of the calls "
            "that finished was written (incomplete), nothing was published",
            err=True,
        )
        raise typer.Exit(interrupted)
    if crawl_map.stopped is not None:  # stopped by no signal: a line's process died
        typer.echo(
            f"shopper: {crawl_map.stopped}; the map of the calls that finished was written "
            "(incomplete), nothing was published",
            err=True,
        )
        raise typer.Exit(USAGE_ERROR)
    if delivery.settings is not None:
        asyncio.run(_publish(delivery, crawl_map, outcome))
    raise typer.Exit(outcome.exit_code)


def _check_keys(try_keys: str) -> None:
    if not PHONE_KEYS.fullmatch(try_keys):
        raise CrawlInputError(
            f'--try-keys {try_keys!r}: use only phone keys 0-9, * and # (e.g. "0*#")'
        )


def _output(
    target: str, out: Path | None, previous: Path | None, policy: Path | None, console: Console
) -> CrawlOutput:
    """`--out`, `--previous` and `--policy` read and checked before any call is placed."""
    folder = out or _default_out(target)
    return CrawlOutput(
        folder=folder,
        previous=_previous_map(
            previous or folder / MAP_FILE, given=previous is not None, console=console
        ),
        policy=load_policy(policy) if policy is not None else None,
    )


def _report(console: Console, crawl_map: CrawlMap, outcome: CrawlVerdict, folder: Path) -> None:
    """What the crawl found, its scorecard and its verdict, for the person at the terminal."""
    console.print(
        f"{len(crawl_map.nodes)} nodes, {crawl_map.paths} paths in {crawl_map.calls} calls, "
        f"{crawl_map.call_seconds:.0f} call-seconds (lower bound {crawl_map.lower_bound_s:.0f} s),"
        f" {crawl_map.wall_s:.0f} s on {crawl_map.lines} line(s); unexplored "
        f"{len(crawl_map.unexplored)}"
        + ("" if crawl_map.complete else f"; INCOMPLETE: {crawl_map.stopped}")
    )
    console.print(outcome.scorecard.render_text(), markup=False, highlight=False)
    if outcome.changes is not None:
        console.print(f"changes since the previous crawl: {len(outcome.changes)}")
    for reason in outcome.verdict.reasons:
        console.print(f"FAIL: {reason}", markup=False, highlight=False)
    console.print(f"{'passed' if outcome.verdict.passed else 'failed'}; outputs in {folder}")


async def _explore(
    settings: CrawlSettings, console: Console, output: CrawlOutput
) -> tuple[CrawlMap, CrawlVerdict, int | None]:
    """The crawl as a task Ctrl-C and SIGTERM cancel: it then hangs up the calls in progress
    and returns the map so far, marked incomplete, which is written like any other (a further
    signal while it is written changes nothing); the exit code says which signal it was."""
    with interrupts() as stop:
        task = asyncio.create_task(
            explore(settings, lambda a, r, new: console.print(_progress(a, r, new)))
        )
        stop.cancels(task)
        crawl_map = await task
        compared = output.previous if crawl_map.complete else None  # unreached: not removed
        outcome = write_crawl_outputs(
            crawl_map, settings.out_dir, compared, output.policy, crawl_map.at
        )
    return crawl_map, outcome, stop.exit_code


async def _publish(delivery: MqttDelivery, crawl_map: CrawlMap, outcome: CrawlVerdict) -> None:
    """The crawl's verdict goes through the durable outbox like call results: a broker that is
    away gets it later (`shopper publish --drain`), and the crawl's exit code is unaffected."""
    async with publishing(delivery.settings, warn) as publisher:
        if publisher is None:
            return
        topic = Topics.crawl(crawl_target_id(crawl_map.target))
        publisher.enqueue(topic, stamped(crawl_payload(crawl_map, outcome)), retain=True)
        await publisher.drain_and_report(delivery.drain_s)


def _progress(attempt: Attempt, result: PathResult, new: list[str]) -> str:
    where = "dial" if attempt.node is None else f"{attempt.node} key {attempt.key}"
    found = f"new: {', '.join(new)}" if new else "nothing new"
    if result.leg:
        via = f" by key {result.via}" if result.via is not None else ""
        where += f" (same call, from {result.entered_at}{via} at {result.started_s:.1f} s)"
    return f"  {where}: {result.ending} after {result.duration_s:.1f} s; {found}"


def _check_target(target: str, at: datetime | None, twilio: TwilioGiven) -> str:
    """The carrier that calls `target`: "sip" for a SIP URI, "twilio" for a phone number,
    "sandbox" for an IVR file. A target that cannot be crawled is refused before any speech
    worker starts, with the same safety words as `shopper run` for numbers (a SIP URI's
    number included), and so are missing Twilio settings."""
    if target.strip().lower().startswith(("sip:", "sips:")):
        parse_sip_target(target)
        _no_clock(target, at)
        return "sip"
    if looks_like_phone_number(target):
        check_dialable(target)
        _no_clock(target, at)
        try:
            settings = twilio_settings(twilio)
        except TwilioSettingsError as error:
            raise CrawlInputError(
                f"{target}: a number is crawled through Twilio, and {error} (or write it as a "
                f"SIP URI, sip:{target.strip()}@pbx.example.com, to crawl it through your SIP "
                "trunk)"
            ) from None
        if settings.dtmf == "twiml":
            raise CrawlInputError(
                f"{target}: a crawl speaks to the people it reaches (a probe, a courtesy "
                "message), which a call with Twilio dtmf = twiml cannot: crawl with "
                "--twilio-dtmf inband"
            )
        return "twilio"
    path = Path(target)
    if path.is_dir():
        raise CrawlInputError(f"{target}: is a folder; give a sandbox IVR file (.yaml)")
    if not path.is_file():
        raise CrawlInputError(f"{target}: file not found (check the path)")
    print_ivr_warnings([path])
    return "sandbox"


def _no_clock(target: str, at: datetime | None) -> None:
    """`--at` sets the sandbox's clock; a phone system called in real time keeps its own."""
    if at is not None:
        raise CrawlInputError(
            f"--at {at:%Y-%m-%dT%H:%M}: sets the simulated phone system's clock, and "
            f"{target} keeps its own (for `shopper sandbox serve`, give --at to the server)"
        )


def _default_out(target: str) -> Path:
    name = (
        target
        if target.strip().lower().startswith("sip:") or looks_like_phone_number(target)
        else Path(target).stem + "-" + Path(target).parent.name
    )
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower())
    return Path("recordings") / "crawls" / datetime.now(UTC).strftime("%Y-%m-%d") / slug.strip("-")


def _previous_map(path: Path, *, given: bool, console: Console) -> CrawlMap | None:
    """The map to compare with: the one given, else the one an earlier crawl left in --out,
    unless that crawl was stopped (what it did not reach would show as new)."""
    if not given and not path.is_file():
        return None
    name = f"--previous {path}" if given else f"{path} (the earlier crawl's map in --out)"
    earlier = _read_map(path, name)
    if not given and not earlier.complete:
        console.print(
            f"not comparing with {name}: that crawl was stopped ({earlier.stopped})",
            markup=False,
            highlight=False,
        )
        return None
    return earlier


def _read_map(path: Path, name: str) -> CrawlMap:
    try:
        return CrawlMap.from_json(json.loads(path.read_text(encoding="utf-8")))
    except OSError as error:
        raise CrawlInputError(f"{name}: cannot read ({error.strerror})") from None
    except (ValueError, KeyError, TypeError) as error:
        raise CrawlInputError(
            f"{name}: not a crawl map ({error}); give an earlier crawl's map.json with --previous,"
            " or crawl into an empty --out"
        ) from None
