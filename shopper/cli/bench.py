"""`shopper bench`: the accuracy and speed figures that docs/benchmarks.md quotes.

Benchmarks print measurements; they never pass or fail. Targets are shown beside the figures
so a reader sees at once where shopper stands.
"""

from __future__ import annotations

from pathlib import Path

import typer

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
