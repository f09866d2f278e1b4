"""`shopper bench verdicts`: are shopper's verdicts right on phone systems it was not tuned on?

Runs every call script of scripts/verdicts/<half>/ with every voice (the sandbox speaks each
IVR's `say:` text in that voice; its recorded Asterisk prompts stay as they are) on the
virtual clock, exactly as `shopper run` does, and crawls every IVR as `shopper crawl` does.
The answers are scored against the design (expected.yaml beside each IVR) and the sandbox's
truth of each call (docs/benchmarks.md, "Verdicts", says what each column means).

The held-out half is scored only at the end of a piece of work, never tuned on.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from shopper.asr.selection import EngineChoice, select_engine
from shopper.asr.types import SpeechEngine
from shopper.bench.verdicts_design import VerdictIvr
from shopper.bench.verdicts_score import (
    CrawlScore,
    ScriptRun,
    Truth,
    hold_errors,
    score_crawl,
    time_to_human_errors,
    truth_hold_s,
    truth_time_to_human_s,
    verdict_of,
)
from shopper.carriers.options import DialOptions, SandboxOptions
from shopper.crawl.explorer import CrawlSettings, crawl
from shopper.crawl.findings import find_problems
from shopper.crawl.map import CrawlMap
from shopper.results.writer import write_call
from shopper.sandbox.model import IvrDefinition, Voice
from shopper.scripts.runner import run_script
from shopper.tts import TtsName

VOICES: dict[str, tuple[TtsName, str]] = {
    "awb": ("flite", "awb"),
    "espeak": ("espeak-ng", "en-us"),
    "slt": ("flite", "slt"),
    "rms": ("flite", "rms"),
    "kal": ("flite", "kal"),
}
"""The voices every IVR is heard in: flite's four, and espeak-ng as the worst case; the
best and the worst first, so a run cut short has both."""
DEFAULT_CRAWL_VOICES = ("awb", "espeak")
CRAWL_LINES = 2


def ivr_voice(definition: IvrDefinition, name: str) -> Voice:
    """Voice `name` at the speed the IVR's author chose."""
    tts, voice = VOICES[name]
    return Voice(tts=tts, voice=voice, speed=definition.voice.speed)


@dataclass(slots=True)
class VerdictsReport:
    half: str
    ivrs: int
    scripts: int
    runs: dict[str, list[ScriptRun]] = field(default_factory=dict)
    """Script runs by voice."""
    crawls: dict[str, list[CrawlScore]] = field(default_factory=dict)
    """Crawl scores by voice, one per IVR crawled."""

    def render(self, details: bool = True) -> str:
        lines = [
            f"half {self.half}: {self.ivrs} IVRs, {self.scripts} scripts",
            f"{'voice':<7} {'wrong':>7}  {'time to human err max/mean':<28} "
            f"{'hold err max/mean':<24} {'places':>7} {'findings r/m/i':>15} "
            f"{'keys':>7} {'crawl calls/s':>14} {'crawled':>8}",
        ]
        for voice in dict.fromkeys([*self.runs, *self.crawls]):
            runs = self.runs.get(voice, [])
            wrong = f"{sum(r.wrong for r in runs)}/{len(runs)}" if runs else "-"
            tth = time_to_human_errors(runs).render() if runs else "-"
            hold = hold_errors(runs).render() if runs else "-"
            crawled = self.crawls.get(voice, [])
            score = total(crawled)
            places = findings = keys = cost = "-"
            if crawled:
                places = f"{score.places_right}/{score.places}"
                findings = (
                    f"{score.findings_right}/{score.findings_missed}/{score.findings_invented}"
                )
                keys = f"{score.keys_found}/{score.keys_offered}"
                cost = f"{score.calls}/{score.call_seconds:.0f}"
            lines.append(
                f"{voice:<7} {wrong:>7}  {tth:<28} {hold:<24} {places:>7} {findings:>15} "
                f"{keys:>7} {cost:>14} {len(crawled):>8}"
            )
        if details:
            lines += self.details()
        return "\n".join(lines)

    def to_json(self) -> dict[str, object]:
        """Everything measured, so a run can be looked into (and re-scored) afterwards."""
        return {
            "half": self.half,
            "ivrs": self.ivrs,
            "scripts": self.scripts,
            "runs": {voice: [asdict(run) for run in runs] for voice, runs in self.runs.items()},
            "crawls": {
                voice: [asdict(score) for score in scores] for voice, scores in self.crawls.items()
            },
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> VerdictsReport:
        runs = {
            voice: [ScriptRun(**{**run, "expected": tuple(run["expected"])}) for run in items]
            for voice, items in data["runs"].items()
        }
        crawls = {
            voice: [CrawlScore(**score) for score in items]
            for voice, items in data["crawls"].items()
        }
        return cls(data["half"], data["ivrs"], data["scripts"], runs, crawls)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n")

    def details(self) -> list[str]:
        lines: list[str] = []
        for voice, runs in self.runs.items():
            lines += [
                f"  wrong [{voice}] {r.ivr}/{r.script}: expected {'|'.join(r.expected)}, "
                f"got {r.got} ({r.folder})"
                for r in runs
                if r.wrong
            ]
        for voice, scores in self.crawls.items():
            lines += [f"  crawl [{voice}] {note}" for note in total(scores).notes]
        return lines


def total(scores: Sequence[CrawlScore]) -> CrawlScore:
    summed = CrawlScore()
    for score in scores:
        summed.add(score)
    return summed


def run_verdicts(
    half: str,
    ivrs: Sequence[VerdictIvr],
    voices: Sequence[str],
    crawl_voices: Sequence[str],
    out: Path,
    engine: EngineChoice = "auto",
    progress: Callable[[str], None] = print,
) -> VerdictsReport:
    """Every script with every voice, then a crawl of every IVR with every crawl voice.

    The report is saved to OUT/<half>/report.json after every call and crawl, so a run cut
    short still leaves what it measured (`shopper bench verdicts --show`)."""
    report = VerdictsReport(half, len(ivrs), sum(len(ivr.scripts) for ivr in ivrs))
    saved = out / half / "report.json"
    if voices and report.scripts:
        speech = select_engine(engine, deterministic=True)
        for voice in voices:
            runs = report.runs.setdefault(voice, [])
            for ivr in ivrs:
                for index in range(len(ivr.scripts)):
                    runs.append(_run_case(ivr, index, voice, speech, out / half / voice, progress))
                    report.save(saved)
    for voice in crawl_voices:
        scores = report.crawls.setdefault(voice, [])
        for ivr in ivrs:
            scores.append(_crawl_ivr(ivr, voice, out / half / voice / "crawls" / ivr.name, engine))
            report.save(saved)
            progress(f"crawled {ivr.name} [{voice}]")
    return report


def _run_case(
    ivr: VerdictIvr,
    index: int,
    voice: str,
    speech: SpeechEngine,
    out: Path,
    progress: Callable[[str], None],
) -> ScriptRun:
    case = ivr.scripts[index]
    options = DialOptions(sandbox=SandboxOptions(voice=ivr_voice(ivr.definition, voice)))
    folder = out / ivr.name / case.path.stem
    record = asyncio.run(run_script(case.script, speech, options, folder=lambda *_: folder))
    write_call(record, folder)
    result, truth = record.result, record.truth or {}
    metrics = result["metrics"]
    run = ScriptRun(
        ivr=ivr.name,
        script=case.path.name,
        voice=voice,
        expected=case.expected,
        got=verdict_of(result),
        time_to_human_s=metrics["time_to_human_s"],
        truth_time_to_human_s=truth_time_to_human_s(truth),
        hold_s=float(metrics["hold_s"]),
        truth_hold_s=truth_hold_s(truth),
        folder=str(out / ivr.name / case.path.stem),
        asks_for_human=case.asks_for_human,
    )
    mark = "WRONG" if run.wrong else "ok"
    progress(f"{mark:<5} [{voice}] {ivr.name}/{run.script}: {run.got}")
    return run


def _crawl_ivr(ivr: VerdictIvr, voice: str, out: Path, engine: EngineChoice) -> CrawlScore:
    out.mkdir(parents=True, exist_ok=True)
    settings = CrawlSettings(
        target=str(ivr.ivr),
        out_dir=out,
        lines=CRAWL_LINES,
        engine=engine,
        now=ivr.crawl.at,
        voice=ivr_voice(ivr.definition, voice),
    )
    crawl_map = crawl(settings)
    crawl_map.findings = find_problems(crawl_map)
    (out / "map.json").write_text(json.dumps(crawl_map.to_json(), indent=2) + "\n")
    return score_saved_crawl(ivr, out)


def score_saved_crawl(ivr: VerdictIvr, out: Path) -> CrawlScore:
    """Score the crawl saved in `out` (its map.json and calls) against the IVR's answer key."""
    crawl_map = CrawlMap.from_json(json.loads((out / "map.json").read_text()))
    return score_crawl(
        crawl_map, crawl_map.findings, _truths(out), ivr.crawl, label=f"{ivr.name}: "
    )


def rescore(report: VerdictsReport, ivrs: Sequence[VerdictIvr], out: Path) -> VerdictsReport:
    """The report with its crawls scored again, from the maps saved under `out` (the folder
    of report.json), against the current answer keys."""
    for voice, scores in report.crawls.items():
        scores[:] = [
            score_saved_crawl(ivr, out / voice / "crawls" / ivr.name)
            for ivr in ivrs
            if (out / voice / "crawls" / ivr.name / "map.json").exists()
        ]
    return report


def _truths(out: Path) -> Callable[[str], Truth]:
    @cache
    def truth_of(call_id: str) -> Truth:
        if not re.fullmatch(r"[\w.-]+", call_id):
            return {}
        path = out / "calls" / call_id / "sandbox-truth.json"
        return json.loads(path.read_text()) if path.exists() else {}

    return truth_of
