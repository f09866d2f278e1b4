"""Which speech engine a run uses: Vosk when a model is installed, else the bundled Moonshine.

Vosk streams with word timings and can be biased towards expected prompts, so it is preferred;
but its models are a separate download, and shopper must work straight after installation,
which the Moonshine English model shipped inside its wheel guarantees.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from shopper.asr.models import ENV_VOSK_MODEL, ModelError, find_vosk_model
from shopper.asr.types import SpeechEngine

EngineChoice = Literal["auto", "vosk", "moonshine"]


def select_engine(
    choice: EngineChoice = "auto",
    vosk_model: Path | None = None,
    deterministic: bool = False,
    speech_workers: int | None = None,
    recall_across_calls: bool = False,
) -> SpeechEngine:
    """Load the engine asked for; "auto" is Vosk when a model is found, else Moonshine.

    `deterministic` turns off Vosk's random dither so the same audio always gives the same
    text (Moonshine is deterministic anyway). `recall_across_calls` lets Moonshine's calls
    recognise prompts another call already transcribed (Vosk transcribes as it hears and
    has nothing to recall). Raises ModelError, with a one-line fix, when Vosk is asked for
    explicitly and no model is found.
    """
    if choice not in ("auto", "vosk", "moonshine"):
        raise ModelError(f"unknown speech engine '{choice}' (choose auto, vosk or moonshine)")
    model = find_vosk_model(vosk_model) if choice != "moonshine" else None
    if model is not None:
        from shopper.asr.vosk_engine import VoskEngine

        return VoskEngine(model, deterministic=deterministic)
    if choice == "vosk":
        raise ModelError(
            "no Vosk model found: run `shopper models download vosk-small-en-us`, or set "
            f"{ENV_VOSK_MODEL} to an unpacked Vosk model folder"
        )
    from shopper.asr.moonshine_engine import MoonshineEngine

    if speech_workers is None:
        return MoonshineEngine(recall_across_calls=recall_across_calls)
    from shopper.asr.moonshine_engine import MoonshineWorkerPool

    return MoonshineEngine(
        MoonshineWorkerPool(speech_workers), recall_across_calls=recall_across_calls
    )
