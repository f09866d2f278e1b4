"""Deciding that a person, not a recording, has answered — from evidence, with a confidence.

Three kinds of evidence, each weak alone: the speech came after hold and is not one of the
announcements heard on hold; it sounds like a greeting ("this is Sam, how can I help?");
and, most telling, the far end answers when spoken to (the responsiveness probe), which a
recording never does.
"""

from __future__ import annotations

from dataclasses import dataclass

from shopper.text.match import fuzzy
from shopper.text.normalize import normalize
from shopper.text.phrasebook import sounds_like_person

REPEAT_SIMILARITY = 0.75
"""Speech this similar to an announcement heard on hold is that announcement again."""

HUMAN_THRESHOLD = 0.6


@dataclass(frozen=True, slots=True)
class HumanEvidence:
    after_hold: bool
    new_speech: bool
    """Not a repeat of any announcement heard on hold."""
    greeting: bool
    responsive: bool | None
    """Answered the probe (None: no probe was made)."""

    @property
    def confidence(self) -> float:
        score = 0.15 * self.after_hold + 0.25 * self.new_speech + 0.3 * self.greeting
        if self.responsive is True:
            score += 0.4
        elif self.responsive is False:
            score -= 0.5
        return max(0.0, min(1.0, score))

    @property
    def is_human(self) -> bool:
        return self.confidence >= HUMAN_THRESHOLD

    def to_json(self) -> dict[str, bool | None]:
        return {
            "after_hold": self.after_hold,
            "new_speech": self.new_speech,
            "greeting": self.greeting,
            "responsive": self.responsive,
        }


def sounds_like_greeting(text: str) -> bool:
    """What people say when they pick up and recordings rarely do ("this is Sam, how can I
    help?"); "thank you for calling" alone is not it, every IVR greeting starts that way."""
    return sounds_like_person(text)


def repeats_announcement(text: str, announcements: list[str]) -> bool:
    if not normalize(text):
        return False
    return any(
        fuzzy(text, min_score=REPEAT_SIMILARITY).match(heard).matched
        or fuzzy(heard, min_score=REPEAT_SIMILARITY).match(text).matched
        for heard in announcements
    )
