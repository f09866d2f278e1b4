"""`shopper analyze`: show what shopper hears in any recording, for people or as JSON."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from shopper.analysis import Analysis, ChannelAnalysis, analyze_channels
from shopper.asr.selection import EngineChoice, select_engine
from shopper.audio.files import read_channels
from shopper.cli.errors import one_line_errors


def analyze(
    audio: Path = typer.Argument(..., help="Recording to analyse: wav, mp3, ogg, flac; any rate."),
    as_json: bool = typer.Option(False, "--json", help="Print exactly one JSON object."),
    engine: EngineChoice = typer.Option(
        "auto", help="Speech engine: auto = Vosk when a model is installed, else Moonshine."
    ),
    vosk_model: Path | None = typer.Option(
        None, help="Vosk model folder (default: SHOPPER_VOSK_MODEL, config, then the cache)."
    ),
) -> None:
    """Print the sound segments, DTMF digits, call-progress tones and transcript of AUDIO,
    channel by channel (a stereo call recording: the far end, then the tester)."""
    with one_line_errors():
        channels = read_channels(audio)
        speech = select_engine(engine, vosk_model)
        if not as_json:
            Console(stderr=True).print(f"engine: {speech.name}")
        result = analyze_channels(channels, speech)
    if as_json:
        typer.echo(json.dumps(result.to_json()))
    else:
        _print_report(audio, result)


CHANNEL_TITLES = {
    "far": "far end (left channel)",
    "tester": "tester (right channel)",
}


def _print_report(audio: Path, result: Analysis) -> None:
    console = Console()
    console.print(f"[bold]{audio}[/bold]: {result.duration_s:.1f} s, engine {result.engine}")
    for channel in result.channels:
        if len(result.channels) > 1:
            title = CHANNEL_TITLES.get(channel.channel, channel.channel)
            console.print(f"\n[bold]{title}[/bold]")
        console.print(_table(channel))


def _table(result: ChannelAnalysis) -> Table:
    table = Table("from", "to", "heard", "detail", box=None, pad_edge=False)
    rows: list[tuple[float, float, str, str]] = [
        (s.start_s, s.end_s, s.kind, "") for s in result.segments
    ]
    rows += [(d.start_s, d.end_s, "dtmf", d.digit) for d in result.dtmf]
    rows += [(t.start_s, t.end_s, "call tone", t.kind) for t in result.tones]
    rows += [(u.start_s, u.end_s, "said", u.text) for u in result.transcript]
    for start, end, kind, detail in sorted(rows, key=lambda row: (row[0], row[2])):
        table.add_row(f"{start:7.2f}", f"{end:7.2f}", kind, detail)
    return table
