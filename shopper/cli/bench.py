"""`shopper bench`: the accuracy and speed figures that docs/benchmarks.md quotes.

Benchmarks print measurements; they never pass or fail. Targets are shown beside the figures
so a reader sees at once where shopper stands.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import cast

import typer

from shopper.asr.selection import EngineChoice
from shopper.cli.errors import one_line_errors

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


@bench_app.command("verdicts")
def bench_verdicts(
    half: str = typer.Option("dev", help="dev, heldout or both (score heldout only at the end)."),
    voice: list[str] = typer.Option(
        [], help="Voice to hear the IVRs in (repeat; default: awb slt rms kal espeak)."
    ),
    crawl_voice: list[str] = typer.Option(
        [], help="Voice to crawl in (repeat; default: awb espeak)."
    ),
    no_crawl: bool = typer.Option(False, "--no-crawl", help="Run the call scripts only."),
    scripts_only: bool = typer.Option(False, "--scripts-only", help="Same as --no-crawl."),
    no_scripts: bool = typer.Option(False, "--no-scripts", help="Crawl only."),
    ivr: list[str] = typer.Option([], help="Only these IVR folders (repeat)."),
    out: Path = typer.Option(
        Path("recordings/verdicts"), help="Where calls and crawls are written."
    ),
    engine: str = typer.Option("auto", help="Speech engine: auto, vosk or moonshine."),
    show: Path | None = typer.Option(
        None,
        help="Print a saved report.json (crawls scored again from their saved maps); stop.",
    ),
) -> None:
    """Wrong verdicts, time-to-human and hold errors, crawl places, findings and keys found,
    per half and voice, on IVRs written for this (scripts/verdicts/)."""
    from shopper.bench.verdicts import (
        DEFAULT_CRAWL_VOICES,
        VOICES,
        VerdictsReport,
        rescore,
        run_verdicts,
    )
    from shopper.bench.verdicts_design import HALVES, load_half

    with one_line_errors():
        if show is not None:
            saved = VerdictsReport.from_json(json.loads(show.read_text()))
            typer.echo(rescore(saved, load_half(saved.half), show.parent).render())
            return
        halves = HALVES if half == "both" else (half,)
        unknown = [v for v in [*voice, *crawl_voice] if v not in VOICES]
        if unknown or engine not in ("auto", "vosk", "moonshine"):
            bad = unknown[0] if unknown else engine
            raise typer.BadParameter(
                f"unknown voice or engine {bad!r} (voices: {', '.join(VOICES)}; "
                "engines: auto, vosk, moonshine)"
            )
        voices = [] if no_scripts else (voice or list(VOICES))
        crawl_voices = [] if no_crawl or scripts_only else (crawl_voice or DEFAULT_CRAWL_VOICES)
        for name in halves:
            ivrs = [i for i in load_half(name) if not ivr or i.name in ivr]
            report = run_verdicts(
                name,
                ivrs,
                voices,
                crawl_voices,
                out,
                engine=cast(EngineChoice, engine),
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
