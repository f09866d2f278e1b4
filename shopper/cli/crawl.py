"""`shopper crawl`: explore a phone system by calling it and write the map of what it heard."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.console import Console

from shopper.asr.selection import EngineChoice, select_engine
from shopper.cli.errors import one_line_errors
from shopper.crawl.explorer import Attempt, Budgets, CrawlSettings, crawl
from shopper.crawl.map import CrawlMap
from shopper.crawl.pathcall import PathResult
from shopper.errors import ShopperError
from shopper.results.writer import write_json_atomic

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
    engine: EngineChoice = typer.Option("auto", help="Speech engine: auto, vosk or moonshine."),
    vosk_model: Path | None = typer.Option(None, help="Vosk model folder."),
    seed: int = typer.Option(0, help="Seed of the simulated phone system."),
    at: datetime | None = typer.Option(
        None, help="Local time the simulated phone system believes it is (opening hours)."
    ),
    previous: Path | None = typer.Option(None, help="An earlier crawl's map.json to compare."),
) -> None:
    """Call TARGET once per key path and map every menu and where each path ends."""
    console = Console()
    with one_line_errors():
        if not PHONE_KEYS.fullmatch(try_keys):
            raise CrawlInputError(
                f'--try-keys {try_keys!r}: use only phone keys 0-9, * and # (e.g. "0*#")'
            )
        earlier = _previous_map(previous) if previous is not None else None
        speech = select_engine(engine, vosk_model)
    folder = out or _default_out(target)
    console.print(f"engine: {speech.name}; crawling {target} into {folder}")
    settings = CrawlSettings(
        target=target,
        out_dir=folder,
        budgets=Budgets(
            max_depth=max_depth, max_calls=max_calls, max_call_seconds=max_call_seconds
        ),
        lines=lines,
        try_keys=try_keys,
        engine=engine,
        vosk_model=vosk_model,
        seed=seed,
        now=at,
    )
    with one_line_errors():
        crawl_map = crawl(settings, lambda a, r, new: console.print(_progress(a, r, new)))
        written = _write_outputs(crawl_map, folder, earlier)
    console.print(
        f"{len(crawl_map.nodes)} nodes, {crawl_map.calls} calls, "
        f"{crawl_map.call_seconds:.0f} call-seconds (lower bound {crawl_map.lower_bound_s:.0f} s),"
        f" {crawl_map.wall_s:.0f} s on {crawl_map.lines} line(s); unexplored "
        f"{len(crawl_map.unexplored)}"
    )
    console.print(f"map: {written}")


def _progress(attempt: Attempt, result: PathResult, new: list[str]) -> str:
    where = "dial" if attempt.node is None else f"{attempt.node} key {attempt.key}"
    found = f"new: {', '.join(new)}" if new else "nothing new"
    return f"  {where}: {result.ending} after {result.duration_s:.1f} s; {found}"


def _default_out(target: str) -> Path:
    slug = re.sub(r"[^a-z0-9]+", "-", Path(target).stem.lower() + "-" + Path(target).parent.name)
    return Path("recordings") / "crawls" / datetime.now(UTC).strftime("%Y-%m-%d") / slug.strip("-")


def _previous_map(path: Path) -> CrawlMap:
    try:
        return CrawlMap.from_json(json.loads(path.read_text(encoding="utf-8")))
    except OSError as error:
        raise CrawlInputError(f"--previous {path}: cannot read ({error.strerror})") from None
    except (ValueError, KeyError, TypeError) as error:
        raise CrawlInputError(
            f"--previous {path}: not a crawl map ({error}); give the map.json of an earlier crawl"
        ) from None


def _write_outputs(crawl_map: CrawlMap, folder: Path, previous: CrawlMap | None) -> Path:
    """The map JSON; the analysis outputs (findings, pictures, scorecard, changes against
    `previous`) are written by shopper.crawl.outputs where that module is present."""
    del previous
    path = folder / MAP_FILE
    write_json_atomic(path, crawl_map.to_json())
    return path
