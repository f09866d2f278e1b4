"""`shopper bench`: the accuracy and speed figures that docs/benchmarks.md quotes.

Benchmarks print measurements; they never pass or fail. Targets are shown beside the figures
so a reader sees at once where shopper stands.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, cast

import typer

from shopper.asr.selection import EngineChoice
from shopper.cli.errors import one_line_errors
from shopper.errors import ShopperError

bench_app = typer.Typer(help="Measure accuracy and speed on real telephony material.")


@bench_app.command("audio")
def bench_audio(
    prompts: int | None = typer.Option(
        None, help="Transcribe only this many prompts (default: the whole corpus)."
    ),
    seed: int = typer.Option(0, help="Seed for the generated parts of the test sets."),
) -> None:
    """WER and real-time factor per engine, classifier confusion matrix, DTMF and talk-off,
    recordings found inside spans."""
    from shopper.bench.asr_bench import run_asr_bench
    from shopper.bench.classifier_bench import run_classifier_bench
    from shopper.bench.common_stretch_bench import run_common_stretch_bench
    from shopper.bench.dtmf_bench import run_dtmf_bench

    with one_line_errors():
        for title, run in (
            (
                "Sound classifier (target >= 97 % of labelled time)",
                lambda: run_classifier_bench(seed),
            ),
            (
                "Sound segments as the call engine hears them: the receivers' keys and tones "
                "override the classifier",
                lambda: run_classifier_bench(seed, with_receivers=True),
            ),
            ("DTMF (target 100 % at 40/40 ms, zero talk-off)", lambda: run_dtmf_bench(seed)),
            (
                "A recording inside a span (crawl identity; target: no different pair accepted)",
                lambda: run_common_stretch_bench(seed),
            ),
            ("Speech recognition (target WER <= 6 %)", lambda: run_asr_bench(limit=prompts)),
        ):
            typer.echo(f"\n== {title}")
            typer.echo(run().render())


@bench_app.command("verify")
def bench_verify(
    seed: int = typer.Option(0, help="Seed for the keys of the synthetic menu sentences."),
) -> None:
    """The audio check (Moonshine scoring candidate texts): keys and phrases chosen right on
    synthetic menus in every flite voice and espeak-ng, and its CPU cost."""
    from shopper.bench.verify_bench import ACCEPT_MARGIN, run_verify_bench

    with one_line_errors():
        typer.echo(f"\n== The audio check on synthetic menus (accept at margin {ACCEPT_MARGIN})")
        typer.echo(run_verify_bench(seed).render())


@bench_app.command("call")
def bench_call(
    script: Path | None = typer.Argument(
        None, help="Call script to time (default: scripts/bench/hold-3m.yaml)."
    ),
    seed: int = typer.Option(0, help="Seed of the simulated phone system."),
) -> None:
    """Wall time, speed-up and CPU split of a whole simulated call on the virtual clock."""
    from shopper.bench.call_bench import BENCH_SCRIPT, run_call_bench

    with one_line_errors():
        typer.echo("\n== Simulated call, virtual clock (target < 15 s wall for hold-3m.yaml)")
        typer.echo(run_call_bench(script or BENCH_SCRIPT, seed=seed).render())


@bench_app.command("memory")
def bench_memory(
    script: Path | None = typer.Argument(
        None, help="Call script to measure (default: scripts/bench/hold-20m.yaml)."
    ),
    seed: int = typer.Option(0, help="Seed of the simulated phone system."),
) -> None:
    """Resident memory of the main process over a long call on hold, and its recording's
    size on disk."""
    from shopper.bench.memory_bench import MEMORY_SCRIPT, run_memory_bench

    with one_line_errors():
        typer.echo("\n== Memory over a long hold, virtual clock (the call's audio streams to disk)")
        typer.echo(run_memory_bench(script or MEMORY_SCRIPT, seed=seed).render())


@bench_app.command("realtime")
def bench_realtime(
    calls: list[int] = typer.Option(
        [1, 5, 10], "--calls", help="Concurrent calls (repeat for several runs, in order)."
    ),
    recall_across_calls: bool = typer.Option(
        False,
        "--recall-across-calls",
        help="Let every call recognise prompts another call already transcribed.",
    ),
) -> None:
    """N concurrent Acme demo calls on the real-time sandbox: verdicts, how far behind real
    time each call ended, frame and loop lag, text latency, worker backlog, CPU and memory."""
    from shopper.asr.moonshine_engine import MoonshineEngine
    from shopper.bench.realtime_bench import run_realtime_bench

    with one_line_errors():
        typer.echo("\n== Concurrent calls in real time (the Acme demo, sandbox --realtime)")
        engine = MoonshineEngine(recall_across_calls=recall_across_calls)
        typer.echo(run_realtime_bench(calls, engine).render())


@bench_app.command("load")
def bench_load(
    calls: list[int] = typer.Option(
        [1, 10], "--calls", help="Concurrent calls (repeat for several runs, in order)."
    ),
    recall_across_calls: bool = typer.Option(
        False,
        "--recall-across-calls",
        help="Let every call recognise prompts another call already transcribed.",
    ),
    calls_per_second: float | None = typer.Option(
        None,
        "--calls-per-second",
        min=0.01,
        help="Space the dials as a run's pacing does (default: all dialled at once).",
    ),
    processes: int = typer.Option(
        1,
        "--processes",
        min=1,
        help="Spread the calls over this many call hosts, as `shopper run --processes` does.",
    ),
) -> None:
    """N concurrent Acme demo calls over SIP/RTP on loopback against `shopper sandbox serve`:
    verdicts, time-to-human error, frame lag, CPU (the server's apart) and memory."""
    from shopper.bench.load_bench import run_load_bench

    with one_line_errors():
        typer.echo("\n== Concurrent calls over SIP (the Acme demo, shopper sandbox serve)")
        pacing = math.inf if calls_per_second is None else calls_per_second
        report = run_load_bench(
            calls, per_second=pacing, processes=processes, recall_across_calls=recall_across_calls
        )
        typer.echo(report.render())


@bench_app.command("speech")
def bench_speech(
    script: Path | None = typer.Argument(
        None, help="Call script to run (default: the Acme demo, scripts/acme/billing-human.yaml)."
    ),
    seed: int = typer.Option(0, help="Seed of the simulated phone system."),
) -> None:
    """Speech-worker CPU seconds per call-minute of one call on the virtual clock, and the
    sound it was spent on (prompts, hold music, announcements, silence; retries, scoring)."""
    from shopper.bench.realtime_bench import DEMO_SCRIPT
    from shopper.bench.speech_cost_bench import run_speech_cost_bench

    with one_line_errors():
        typer.echo("\n== What speech recognition costs per call-minute (virtual clock)")
        typer.echo(run_speech_cost_bench(script or DEMO_SCRIPT, seed).render())


@dataclass(frozen=True, slots=True, kw_only=True)
class VerdictsChoice:
    """What `bench verdicts` runs: the halves, the IVR folders (empty: all), the voices the
    scripts and crawls hear (empty: none of them), the engine, and where it writes."""

    halves: tuple[str, ...]
    ivrs: tuple[str, ...]
    voices: tuple[str, ...]
    crawl_voices: tuple[str, ...]
    engine: EngineChoice
    out: Path


@bench_app.command("verdicts")
def bench_verdicts(
    *,
    half: Annotated[
        str, typer.Option(help="dev, heldout, both or fresh (score heldout only at the end).")
    ] = "dev",
    voice: Annotated[
        list[str] | None,
        typer.Option(help="Voice to hear the IVRs in (repeat; default: awb slt rms kal espeak)."),
    ] = None,
    crawl_voice: Annotated[
        list[str] | None, typer.Option(help="Voice to crawl in (repeat; default: awb espeak).")
    ] = None,
    no_crawl: Annotated[
        bool, typer.Option("--no-crawl", help="Run the call scripts only.")
    ] = False,
    scripts_only: Annotated[
        bool, typer.Option("--scripts-only", help="Same as --no-crawl.")
    ] = False,
    no_scripts: Annotated[bool, typer.Option("--no-scripts", help="Crawl only.")] = False,
    ivr: Annotated[list[str] | None, typer.Option(help="Only these IVR folders (repeat).")] = None,
    out: Annotated[Path, typer.Option(help="Where calls and crawls are written.")] = Path(
        "recordings/verdicts"
    ),
    engine: Annotated[str, typer.Option(help="Speech engine: auto, vosk or moonshine.")] = "auto",
    show: Annotated[
        Path | None,
        typer.Option(
            help="Print a saved report.json (crawls scored again from their saved maps); stop."
        ),
    ] = None,
) -> None:
    """Wrong verdicts, time-to-human and hold errors, crawl places, findings and keys found,
    per half and voice, on IVRs written for this (scripts/verdicts/)."""
    with one_line_errors():
        if show is not None:
            _show_verdicts(show)
            return
        from shopper.bench.verdicts import DEFAULT_CRAWL_VOICES, VOICES
        from shopper.bench.verdicts_design import HALVES

        voices, crawl_voices = voice or [], crawl_voice or []
        _check_names([*voices, *crawl_voices], engine)
        if no_scripts:
            voices = []
        elif not voices:
            voices = list(VOICES)
        if no_crawl or scripts_only:
            crawl_voices = []
        elif not crawl_voices:
            crawl_voices = list(DEFAULT_CRAWL_VOICES)
        choice = VerdictsChoice(
            halves=HALVES if half == "both" else (half,),
            ivrs=tuple(ivr or ()),
            voices=tuple(voices),
            crawl_voices=tuple(crawl_voices),
            engine=cast(EngineChoice, engine),
            out=out,
        )
        _run_verdicts(choice)


def _show_verdicts(saved_report: Path) -> None:
    """A saved report.json printed again, its crawls scored again from their saved maps."""
    from shopper.bench.verdicts import VerdictsReport, rescore
    from shopper.bench.verdicts_design import load_half

    fix = "give the report.json a `bench verdicts --out DIR` run wrote (DIR/HALF/report.json)"
    try:
        saved = VerdictsReport.from_json(json.loads(saved_report.read_text()))
    except OSError as error:
        raise ShopperError(f"{saved_report}: cannot read it ({error.strerror}); {fix}") from None
    except (ValueError, KeyError, TypeError) as error:
        what = f"{type(error).__name__}: {error}"
        raise ShopperError(
            f"{saved_report}: not a `bench verdicts` report ({what}); {fix}"
        ) from None
    typer.echo(rescore(saved, load_half(saved.half), saved_report.parent).render())


def _check_names(voices: list[str], engine: str) -> None:
    from shopper.bench.verdicts import VOICES

    unknown = [v for v in voices if v not in VOICES]
    if unknown or engine not in ("auto", "vosk", "moonshine"):
        bad = unknown[0] if unknown else engine
        raise typer.BadParameter(
            f"unknown voice or engine {bad!r} (voices: {', '.join(VOICES)}; "
            "engines: auto, vosk, moonshine)"
        )


def _run_verdicts(choice: VerdictsChoice) -> None:
    from shopper.bench.verdicts import run_verdicts
    from shopper.bench.verdicts_design import load_half

    for name in choice.halves:
        ivrs = [i for i in load_half(name) if not choice.ivrs or i.name in choice.ivrs]
        report = run_verdicts(
            name,
            ivrs,
            choice.voices,
            choice.crawl_voices,
            choice.out,
            engine=choice.engine,
            progress=typer.echo,
        )
        typer.echo(f"\n== Verdicts, {name} half")
        typer.echo(report.render())


@bench_app.command("phrases")
def bench_phrases(
    seed: int = typer.Option(0, help="Seed of the folds and of the simulated recogniser errors."),
    speech: bool = typer.Option(
        True, help="Also speak the held-out phrasings (flite, espeak-ng) and transcribe them."
    ),
) -> None:
    """Precision and recall of the announcement classifier per kind: cross-validated on the
    training phrasings, and on the held-out phrasings as written, garbled and heard."""
    from shopper.bench.phrases_bench import run_phrases_bench

    with one_line_errors():
        typer.echo("\n== Recognising announcements (shopper.text.phrasebook)")
        typer.echo(run_phrases_bench(seed=seed, speech=speech).render())
