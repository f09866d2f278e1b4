"""How `expect:` phrases are decided on real speech: by text, by letters, by the audio.

Menu prompts in the style of many industries, each naming a company written as one word on
its website, are spoken by espeak-ng and the flite voices, sent through a μ-law round trip
and recognised by the real engine. For each prompt, phrases a QA engineer would write (the
greeting with the company name as one word; "for billing press 1") must pass, and wrong
versions (a sound-alike company, a wrong key digit, a department the prompt does not offer)
must fail. Each phrase goes through the engine's decision (text, then letters, then audio:
shopper.engine.confirm) and the table counts what decided it.

    python -m shopper.bench.expect_bench [--voices espeak-ng:en-us,flite:slt]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from shopper.asr.moonshine_engine import MoonshineEngine
from shopper.asr.types import Fit, RecognizerStream, SpeechEngine, Utterance
from shopper.audio.files import read_audio
from shopper.audio.frame import Samples, split_frames
from shopper.audio.g711 import ulaw_round_trip
from shopper.bench.corpus import prompt_transcripts
from shopper.engine.confirm import AudioJudge, Confirmer
from shopper.text.decide import Phrase, find_letters
from shopper.text.match import Match, contains
from shopper.tts import TTS_PACKAGES, TtsName, synthesize

COMPANIES = (
    ("Oakbrook", "Oakwood", "Energy"),
    ("Lakeshore", "Lakeside", "Bank"),
    ("Pinecrest", "Pinecroft", "Airlines"),
    ("Silverline", "Silverton", "Telecom"),
    ("Northwind", "Northfield", "Health"),
    ("Sunridge", "Sunrise", "Insurance"),
    ("Stonebridge", "Stoneridge", "Water"),
    ("Bluewater", "Bluewood", "Travel"),
)
"""(name as written on the website, a sound-alike wrong name, industry)."""
DEPARTMENTS = (
    "billing",
    "sales",
    "technical support",
    "reservations",
    "claims",
    "the pharmacy",
    "outages",
    "new accounts",
)
VOICES: tuple[tuple[TtsName, str], ...] = (
    ("espeak-ng", "en-us"),
    ("flite", "awb"),
    ("flite", "kal"),
    ("flite", "rms"),
    ("flite", "slt"),
)
SPEED = 165
_DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


@dataclass(frozen=True, slots=True)
class Prompt:
    spoken: str
    right: tuple[str, ...]
    """Phrases that must pass."""
    wrong: tuple[tuple[str, str], ...]
    """(what is wrong, phrase) that must fail."""


def prompts() -> tuple[Prompt, ...]:
    """One greeting-and-menu prompt per company; departments and keys rotate with it."""
    made = []
    for index, (company, sound_alike, industry) in enumerate(COMPANIES):
        first = DEPARTMENTS[index]
        second = DEPARTMENTS[(index + 3) % len(DEPARTMENTS)]
        absent = DEPARTMENTS[(index + 5) % len(DEPARTMENTS)]
        key, other_key = index % 9 + 1, (index + 4) % 9 + 1
        wrong_key = next(k for k in range(1, 10) if k not in (key, other_key) and k > key)
        spoken = (
            f"Thank you for calling {company} {industry}. For {first}, press {key}. "
            f"For {second}, press {other_key}."
        )
        made.append(
            Prompt(
                spoken,
                right=(
                    f"thank you for calling {company.lower()} {industry.lower()}",
                    f"for {first} press {_DIGITS[key]}",
                ),
                wrong=(
                    ("company", f"thank you for calling {sound_alike.lower()} {industry.lower()}"),
                    ("digit", f"for {first} press {_DIGITS[wrong_key]}"),
                    ("department", f"for {absent} press {_DIGITS[key]}"),
                ),
            )
        )
    return tuple(made)


_KEY_RE = re.compile(
    r"\bpress (\d|zero|one|two|three|four|five|six|seven|eight|nine)\b((?: [a-z']+){0,2})",
    re.IGNORECASE,
)


def recorded_prompts() -> tuple[tuple[Path, Prompt], ...]:
    """Asterisk's recorded prompts that offer a key: "press N" and the two words after it must
    pass, the same with the next digit must fail (unless the prompt says that too)."""
    made = []
    for path, text in sorted(prompt_transcripts().items()):
        found = _KEY_RE.search(text)
        if found is None:
            continue
        digit = found[1].lower()
        key = int(digit) if digit.isdigit() else _DIGITS.index(digit)
        tail = found[2].lower()
        wrong = f"press {_DIGITS[(key + 1) % 10]}{tail}"
        if contains(wrong).match(text).matched:  # the prompt offers that too
            continue
        made.append(
            (
                path,
                Prompt(
                    text,
                    right=(f"press {_DIGITS[key]}{tail}",),
                    wrong=(("digit", wrong),),
                ),
            )
        )
    return tuple(made)


async def heard(engine: SpeechEngine, samples: Samples) -> tuple[RecognizerStream, list[Utterance]]:
    """The engine's finals for one prompt, and the stream that can check them against audio."""
    stream = engine.stream()
    finals: list[Utterance] = []
    for frame in split_frames(ulaw_round_trip(samples)):
        finals += [u for u in stream.feed(frame) if u.final and u.text]
    finals += [u for u in await stream.finish() if u.final and u.text]
    return stream, finals


@dataclass(slots=True)
class CountingJudge:
    """The stream's audio check, counted: how many checks, candidates and seconds it took."""

    stream: RecognizerStream
    checks: int = 0
    candidates: int = 0
    seconds: float = 0.0

    async def verify(self, utterance: Utterance, candidates: Sequence[str]) -> list[Fit]:
        began = time.perf_counter()
        fits = await self.stream.verify(utterance, candidates)
        self.seconds += time.perf_counter() - began
        self.checks += 1
        self.candidates += len(candidates)
        return fits


async def decide(
    judge: AudioJudge,
    finals: Sequence[Utterance],
    phrase: str,
    contrasts: list[float] | None = None,
) -> Match | None:
    """The engine's decision on one `expect:` phrase: the passing match, or None. The key
    contrast of a phrase decided by contrast, passed or not, is added to `contrasts`."""
    matcher = contains(phrase)
    by_text = matcher.match(" ".join(u.text for u in finals))
    if by_text.matched:
        return by_text
    confirmer = Confirmer(judge, [matcher])
    found = await confirmer.confirm(finals)
    decided = confirmer.closest if found is None else found[1]
    if contrasts is not None and decided is not None and decided.contrast is not None:
        contrasts.append(decided.contrast)
    return None if found is None else found[1]


async def audio_agrees(judge: AudioJudge, finals: Sequence[Utterance], phrase: str) -> bool:
    """Whether the audio also passes, re-spelt, a phrase the letters passed alone (the same
    letters, other word breaks). The engine never asks this (shopper.text.render says why);
    it measures how often the model's taste in spelling would have failed a right phrase."""
    for utterance in finals:
        finding = find_letters(Phrase(phrase, "contains", ()), utterance.text)
        if finding is None or not finding.exact:
            continue
        groups = finding.candidates(word_breaks=True)
        texts = [text for group in groups for text in group]
        fits = await judge.verify(utterance, [utterance.text, *texts])
        margins = iter(fit.margin - fits[0].margin for fit in fits[1:])
        return finding.by_audio([[next(margins) for _ in group] for group in groups]).matched
    return False


@dataclass(slots=True)
class Tally:
    right: Counter[str] = field(default_factory=Counter)
    """How the right phrases were decided: text, letters, audio or rejected."""
    wrong: Counter[str] = field(default_factory=Counter)
    """How the wrong phrases were decided, by what was wrong and how: 'digit:rejected'."""
    letters_audio_agrees: int = 0
    """Phrases passed by letters alone that the audio passes too."""
    transcripts: list[str] = field(default_factory=list)
    checks: int = 0
    """Audio checks (one per utterance and phrase the letters sent to the audio)."""
    candidates: int = 0
    """Texts scored by those checks, the utterance's own reading included."""
    check_s: float = 0.0
    """Wall time of the audio checks."""
    contrasts: dict[str, list[float]] = field(default_factory=dict)
    """Contrasts (nats) of phrases their key's or words' rivals decided, by 'right' or what is
    wrong."""


async def measure(engine: SpeechEngine, tts: TtsName, voice: str) -> Tally:
    spoken = [(synthesize(p.spoken, voice, SPEED, tts), p) for p in prompts()]
    return await _measure(engine, spoken)


async def measure_recorded(engine: SpeechEngine) -> Tally:
    return await _measure(engine, [(read_audio(path), p) for path, p in recorded_prompts()])


async def _measure(engine: SpeechEngine, spoken: Sequence[tuple[Samples, Prompt]]) -> Tally:
    tally = Tally()
    for audio, prompt in spoken:
        stream, finals = await heard(engine, audio)
        tally.transcripts.append(" ".join(u.text for u in finals))
        judge = CountingJudge(stream)
        for phrase in prompt.right:
            decided = await decide(judge, finals, phrase, tally.contrasts.setdefault("right", []))
            tally.right[decided.method if decided else "rejected"] += 1
            if decided is not None and decided.method == "letters":
                tally.letters_audio_agrees += await audio_agrees(stream, finals, phrase)
        for what, phrase in prompt.wrong:
            decided = await decide(judge, finals, phrase, tally.contrasts.setdefault(what, []))
            tally.wrong[f"{what}:{decided.method if decided else 'rejected'}"] += 1
        tally.checks += judge.checks
        tally.candidates += judge.candidates
        tally.check_s += judge.seconds
    return tally


def _row(name: str, tally: Tally) -> str:
    right, wrong = tally.right, tally.wrong
    by_text = sum(n for key, n in wrong.items() if key.endswith(":text"))
    by_check = sum(
        n for key, n in wrong.items() if key.endswith((":letters", ":audio", ":contrast"))
    )
    return (
        f"| {name} | {right['text']} | {right['letters']} "
        f"({tally.letters_audio_agrees} re-spelt within the margin) | {right['audio']} "
        f"(+{right['contrast']} by contrast) | "
        f"{sum(right.values()) - right['rejected']}/{sum(right.values())} | "
        f"{by_text} | {by_check} | {sum(wrong.values())} | {tally.checks} | "
        f"{tally.candidates} | {1000 * tally.check_s / max(tally.candidates, 1):.0f} |"
    )


def _voice(item: str) -> tuple[TtsName, str]:
    tts, _, voice = item.partition(":")
    for known, _package in TTS_PACKAGES.items():
        if tts == known and voice:
            return known, voice
    raise SystemExit(f"--voices: {item!r} is not tts:voice (espeak-ng:en-us, flite:slt)")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--voices", help="tts:voice,... (default: espeak-ng and four flite)")
    parser.add_argument("--transcripts", action="store_true", help="print what was heard")
    parser.add_argument(
        "--recorded", action="store_true", help="also the Asterisk prompts that offer a key"
    )
    args = parser.parse_args(argv)
    voices = tuple(map(_voice, args.voices.split(","))) if args.voices else VOICES
    engine = MoonshineEngine()
    print(
        "| voice | right: by text | by letters | by audio | right accepted "
        "| wrong accepted: by text | by letters or audio | wrong phrases | audio checks "
        "| texts scored | ms per text |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    total = Tally()
    runs = [(f"{tts} {voice}", measure(engine, tts, voice)) for tts, voice in voices]
    if args.recorded:
        runs.append(("asterisk recorded, press N", measure_recorded(engine)))
    for name, run in runs:
        tally = asyncio.run(run)
        print(_row(name, tally))
        total.right.update(tally.right)
        total.wrong.update(tally.wrong)
        total.letters_audio_agrees += tally.letters_audio_agrees
        total.checks += tally.checks
        total.candidates += tally.candidates
        total.check_s += tally.check_s
        for what, values in tally.contrasts.items():
            total.contrasts.setdefault(what, []).extend(values)
        if args.transcripts:
            for text in tally.transcripts:
                print(f"|   | {text} |")
    print(_row("all", total))
    print("wrong phrases:", dict(sorted(total.wrong.items())))
    for what, values in sorted(total.contrasts.items()):
        shown = ", ".join(f"{value:+.1f}" for value in sorted(values))
        print(f"contrasts asked (key or words), {what}: {len(values)} [{shown}]")


if __name__ == "__main__":
    main()
