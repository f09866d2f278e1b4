"""`shopper crawl`: explore a phone system by calling it and write the map of what it heard."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.console import Console

from shopper.asr.selection import EngineChoice, select_engine
from shopper.carriers.safety import check_dialable, looks_like_phone_number
from shopper.cli.errors import one_line_errors, print_ivr_warnings
from shopper.cli.interrupts import interrupts
from shopper.cli.mqtt import (
    MQTT_CA,
    MQTT_CERT,
    MQTT_CLIENT_ID,
    MQTT_KEEPALIVE,
    MQTT_KEY,
    MQTT_PREFIX,
    MQTT_QOS,
    MQTT_SITE,
    MQTT_URL,
    MqttOptions,
    warn,
)
from shopper.crawl.explorer import Attempt, Budgets, CrawlSettings, explore
from shopper.crawl.map import CrawlMap
from shopper.crawl.outputs import CrawlVerdict, crawl_payload, crawl_target_id, write_crawl_outputs
from shopper.crawl.pathcall import PathResult
from shopper.crawl.policy import Policy, load_policy
from shopper.errors import ShopperError
from shopper.publish.envelope import stamped
from shopper.publish.publisher import publishing
from shopper.publish.settings import MqttSettings
from shopper.publish.topics import Topics

MAP_FILE = "map.json"
PHONE_KEYS = re.compile(r"[0-9*#]*")


class CrawlInputError(ShopperError):
    """A crawl option or file that cannot be used; the message says how to fix it."""


def crawl_command(
    target: str = typer.Argument(..., help="What to call: a sandbox IVR file today."),
    out: Path | None = typer.Option(
        None, help="Output folder (default: recordings/crawls/<date>/<target>)."
    ),
    max_depth: int = typer.Option(6, min=1, help="Most keys pressed on one path."),
    max_calls: int = typer.Option(200, min=1, help="Most calls placed."),
    max_call_seconds: float = typer.Option(7200.0, min=1, help="Most call time, summed (s)."),
    lines: int = typer.Option(2, min=1, max=16, help="Calls in progress at once."),
    try_keys: str = typer.Option("0*#", help="Keys tried at every menu even when not offered."),
    redial: bool = typer.Option(
        False,
        help="Dial every path afresh, never going on from a known menu on the same call "
        "(for phone systems whose menus behave differently when heard again).",
    ),
    engine: EngineChoice = typer.Option("auto", help="Speech engine: auto, vosk or moonshine."),
    vosk_model: Path | None = typer.Option(None, help="Vosk model folder."),
    seed: int = typer.Option(0, min=0, help="Seed of the simulated phone system."),
    at: datetime | None = typer.Option(
        None, help="Local time the simulated phone system believes it is (opening hours)."
    ),
    previous: Path | None = typer.Option(
        None, help="An earlier crawl's map.json to compare (default: the map.json in --out)."
    ),
    policy: Path | None = typer.Option(
        None, help="Pass/fail policy YAML (docs/crawl-outputs.md); default: shopper's own."
    ),
    mqtt: str | None = MQTT_URL,
    mqtt_ca: Path | None = MQTT_CA,
    mqtt_cert: Path | None = MQTT_CERT,
    mqtt_key: Path | None = MQTT_KEY,
    mqtt_site: str | None = MQTT_SITE,
    mqtt_prefix: str | None = MQTT_PREFIX,
    mqtt_client_id: str | None = MQTT_CLIENT_ID,
    mqtt_qos: int | None = MQTT_QOS,
    mqtt_keepalive: int | None = MQTT_KEEPALIVE,
    mqtt_drain: float = typer.Option(
        10.0, help="Seconds to wait at the end for the broker to take the crawl's message."
    ),
) -> None:
    """Explore TARGET key path by key path, map every menu and where each path ends, grade it.

    Exit code 1 when the map fails the policy, so a CI job can gate on a crawl."""
    console = Console(soft_wrap=True)
    with one_line_errors():
        if not PHONE_KEYS.fullmatch(try_keys):
            raise CrawlInputError(
                f'--try-keys {try_keys!r}: use only phone keys 0-9, * and # (e.g. "0*#")'
            )
        _check_target(target)
        folder = out or _default_out(target)
        earlier = _previous_map(
            previous or folder / MAP_FILE, given=previous is not None, console=console
        )
        rules = load_policy(policy) if policy is not None else None
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
        ).settings()
        speech = select_engine(engine, vosk_model)
    console.print(f"engine: {speech.name}; crawling {target} into {folder}")
    settings = CrawlSettings(
        target=target,
        out_dir=folder,
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
    )
    with one_line_errors():
        crawl_map, outcome, interrupted = asyncio.run(_explore(settings, console, earlier, rules))
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
    if interrupted is not None:
        typer.echo(
            "shopper: interrupted; the calls in progress were hung up, the map of the calls "
            "that finished was written (incomplete), nothing was published",
            err=True,
        )
        raise typer.Exit(interrupted)
    if broker is not None:
        asyncio.run(_publish(broker, crawl_map, outcome, mqtt_drain))
    raise typer.Exit(outcome.exit_code)


async def _explore(
    settings: CrawlSettings, console: Console, earlier: CrawlMap | None, rules: Policy | None
) -> tuple[CrawlMap, CrawlVerdict, int | None]:
    """The crawl as a task Ctrl-C and SIGTERM cancel: it then hangs up the calls in progress
    and returns the map so far, marked incomplete, which is written like any other (a further
    signal while it is written changes nothing); the exit code says which signal it was."""
    with interrupts() as stop:
        task = asyncio.create_task(
            explore(settings, lambda a, r, new: console.print(_progress(a, r, new)))
        )
        stop.current = task
        crawl_map = await task
        stop.current = None
        compared = earlier if crawl_map.complete else None  # unreached would show as removed
        outcome = write_crawl_outputs(crawl_map, settings.out_dir, compared, rules, crawl_map.at)
    return crawl_map, outcome, stop.exit_code


async def _publish(
    settings: MqttSettings, crawl_map: CrawlMap, outcome: CrawlVerdict, drain_s: float
) -> None:
    """The crawl's verdict goes through the durable outbox like call results: a broker that is
    away gets it later (`shopper publish --drain`), and the crawl's exit code is unaffected."""
    async with publishing(settings, warn) as publisher:
        if publisher is None:
            return
        topic = Topics.crawl(crawl_target_id(crawl_map.target))
        publisher.enqueue(topic, stamped(crawl_payload(crawl_map, outcome)), retain=True)
        await publisher.drain_and_report(drain_s)


def _progress(attempt: Attempt, result: PathResult, new: list[str]) -> str:
    where = "dial" if attempt.node is None else f"{attempt.node} key {attempt.key}"
    found = f"new: {', '.join(new)}" if new else "nothing new"
    if result.leg:
        via = f" by key {result.via}" if result.via is not None else ""
        where += f" (same call, from {result.entered_at}{via} at {result.started_s:.1f} s)"
    return f"  {where}: {result.ending} after {result.duration_s:.1f} s; {found}"


def _check_target(target: str) -> None:
    """Refuse a target that cannot be crawled before any speech worker starts, with the same
    safety words as `shopper run` for numbers."""
    if looks_like_phone_number(target):
        check_dialable(target)
        raise CrawlInputError(
            f"{target}: crawl calls sandbox IVR files only today (SIP and Twilio come later)"
        )
    path = Path(target)
    if path.is_dir():
        raise CrawlInputError(f"{target}: is a folder; give a sandbox IVR file (.yaml)")
    if not path.is_file():
        raise CrawlInputError(f"{target}: file not found (check the path)")
    print_ivr_warnings([path])


def _default_out(target: str) -> Path:
    slug = re.sub(r"[^a-z0-9]+", "-", Path(target).stem.lower() + "-" + Path(target).parent.name)
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
