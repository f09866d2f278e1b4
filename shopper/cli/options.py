"""Options `run` and `crawl` share, declared once so both spell and explain them alike, and
the settings object they make (the `--mqtt-*` options live in shopper.cli.mqtt).

Typer needs every option in the command's signature; these `Annotated` aliases keep those
signatures to one line per option, and the command groups the values into frozen objects
before passing anything down."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from shopper.asr.selection import EngineChoice, select_engine
from shopper.asr.types import SpeechEngine

Engine = Annotated[EngineChoice, typer.Option(help="Speech engine: auto, vosk or moonshine.")]
VoskModel = Annotated[Path | None, typer.Option(help="Vosk model folder.")]
Seed = Annotated[int, typer.Option(min=0, help="Seed of the simulated phone system.")]
At = Annotated[
    datetime | None,
    typer.Option(help="Local time the simulated phone system believes it is (opening hours)."),
]


@dataclass(frozen=True, slots=True)
class SpeechOptions:
    """`--engine` and `--vosk-model`: which speech engine hears the calls."""

    engine: EngineChoice = "auto"
    vosk_model: Path | None = None
    recall_across_calls: bool = False
    """`--recall-across-calls` (shopper run): the calls share the readings of replayed prompts."""

    def select(self) -> SpeechEngine:
        """The engine these options pick (a clear error when it cannot be used)."""
        return select_engine(
            self.engine, self.vosk_model, recall_across_calls=self.recall_across_calls
        )
