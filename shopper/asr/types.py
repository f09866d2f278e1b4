"""The one streaming interface every speech recogniser offers shopper.

The engine feeds call audio frame by frame and gets back utterances stamped in media time
(sample indices at 8 kHz since the call began), whichever engine did the listening.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from shopper.audio.frame import AudioFrame
from shopper.audio.segments import SoundContext, Span
from shopper.errors import ShopperError


@dataclass(frozen=True, slots=True)
class Word(Span):
    text: str
    confidence: float


@dataclass(frozen=True, slots=True)
class Utterance(Span):
    """A partial (still growing) or final recognition of one stretch of speech."""

    text: str
    confidence: float
    final: bool
    words: tuple[Word, ...] = ()


@dataclass(frozen=True, slots=True)
class Fit:
    """How well one candidate text fits an utterance's audio, by the model's own judgement."""

    text: str
    """The candidate exactly as scored."""
    margin: float
    """Nats: log-likelihood of `text` given the audio minus that of the model's own (free)
    reading of the same audio. 0 = as likely as what the model transcribed; > 0 more likely;
    very negative = does not fit. Engines without likelihoods map their judgement onto this
    scale as their docstring says (Vosk: see shopper.asr.vosk_engine)."""


class VerifyUnavailable(ShopperError):
    """The audio check cannot be done here: the backend cannot score text (Moonshine on its
    native library), or the utterance is not one of the stream's recent finals. Callers fall
    back to the text; the message says why."""


class RecognizerStream(Protocol):
    """One call's recogniser: not shared between calls, not thread-safe.

    Feeding never waits for a decode: an engine that decodes elsewhere (Moonshine's worker
    processes) returns each final once its text is in, stamped with the media time of its
    audio, and says meanwhile that it is `decoding`. Finals always come out in media order.
    """

    def feed(self, frame: AudioFrame, sound: SoundContext | None = None) -> list[Utterance]:
        """Take the next frame (8 kHz); return the partials and finals now known.

        `sound`: the caller's sound classifier on this frame, given with every frame or with
        none; engines that need speech segments use it instead of classifying again.
        """
        ...

    @property
    def decoding(self) -> bool:
        """Whether speech already heard is still being decoded (its final not yet returned)."""
        ...

    async def settle(self) -> list[Utterance]:
        """Wait, without blocking the event loop, for every decode under way; return their
        finals. A caller on a virtual clock does this after each frame, so its run is the
        same however fast the decoder is."""
        ...

    async def finish(self, sound: SoundContext | None = None) -> list[Utterance]:
        """End of audio: return whatever is still pending, as finals (awaiting decodes)."""
        ...

    @property
    def pending(self) -> Span | None:
        """Speech this stream has been given and has not yet returned as a final (nor found
        to hold no words), or None: while it is not None, what the stream has returned is
        not yet all that was said."""
        ...

    def cut(self, speech_since: int | None) -> list[Utterance]:
        """Have the speech heard so far recognised now, without waiting for it to end (a
        listening step's time limit: what was said by then must be judged by then); returns
        the finals already in, the rest come as any decode's do (`decoding`, `settle`).
        Speech that goes on after the cut becomes a new utterance.

        `speech_since`: where the caller's sound classifier heard the speech that is still
        going on begin (its segment is not closed yet), or None when none is going on.
        """
        ...

    async def verify(self, utterance: Utterance, candidates: Sequence[str]) -> list[Fit]:
        """How well each candidate (a full alternative text for the whole utterance) fits the
        audio of `utterance`, a final this stream returned. One Fit per candidate, same order.

        Works after `finish()` too, for the stream's recent finals (engines keep a bounded
        number). Raises VerifyUnavailable when it cannot be done here, and another
        ShopperError (the engine's own) if the model fails.
        """
        ...


class SpeechEngine(Protocol):
    """A loaded model, shared by the streams of many concurrent calls."""

    @property
    def name(self) -> str:
        """Engine and model, as recorded in every result: 'vosk:vosk-model-small-en-us-0.15'."""
        ...

    def stream(self, phrases: Sequence[str] | None = None) -> RecognizerStream:
        """A new recogniser; `phrases` biases it towards the prompts the caller expects."""
        ...

    def wait_until_loaded(self) -> None:
        """Block until the engine can read speech at once (a model some engines load in the
        background). Calls are dialled only then: a real carrier does not wait, and a first
        menu whose words came after its time for a key was heard as a message."""
        ...
