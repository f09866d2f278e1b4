"""Recognising what an IVR sentence does — offers a callback, rejects a key, transfers,
says the office is closed, asks for a voicemail, asks the caller to hold, offers a way back,
takes spoken answers, or is a person answering — from a broad body of real IVR phrasing.

A classifier trained on the labelled corpus beside this module (corpus.py) decides, not a
list of keywords: the same kind worded in ways nobody here wrote down is still recognised,
and recogniser errors cost little (docs/matching.md, "Recognising announcements").

    kinds("To be rung back when a colleague is free, press 2.")  ->  {CALLBACK_OFFER}
"""

from __future__ import annotations

from functools import lru_cache

from shopper.text.phrasebook.kinds import PromptKind
from shopper.text.phrasebook.model import shipped_model

__all__ = [
    "PromptKind",
    "is_callback_offer",
    "is_closed_message",
    "is_hold_announcement",
    "is_navigation",
    "is_retry_notice",
    "is_transfer",
    "is_voicemail_greeting",
    "kinds",
    "sounds_like_person",
    "takes_speech",
]


@lru_cache(maxsize=4096)
def kinds(text: str) -> frozenset[PromptKind]:
    """The kinds of any sentence of `text` (or of two adjacent sentences read together)."""
    return shipped_model().kinds_of(text)


def is_callback_offer(text: str) -> bool:
    """The caller can take a call back now; "we will call you back" alone is no offer."""
    return PromptKind.CALLBACK_OFFER in kinds(text)


def is_retry_notice(text: str) -> bool:
    """The last key or answer was not accepted (invalid, not heard, not understood)."""
    return PromptKind.RETRY in kinds(text)


def is_transfer(text: str) -> bool:
    """The call is being passed on now."""
    return PromptKind.TRANSFER in kinds(text)


def is_closed_message(text: str) -> bool:
    """The business is closed, or its opening hours are stated."""
    return PromptKind.CLOSED in kinds(text)


def is_voicemail_greeting(text: str) -> bool:
    """Asks the caller to leave a message (an option leading to voicemail is not one)."""
    return PromptKind.VOICEMAIL in kinds(text)


def is_hold_announcement(text: str) -> bool:
    """Asks the caller to wait or reports the queue."""
    return PromptKind.HOLD in kinds(text)


def is_navigation(text: str) -> bool:
    """Goes or offers to go back: main or previous menu, the options again, start over."""
    return PromptKind.NAVIGATION in kinds(text)


def takes_speech(text: str) -> bool:
    """The menu takes spoken answers ("say billing or press 1")."""
    return PromptKind.SAY_OR_PRESS in kinds(text)


def sounds_like_person(text: str) -> bool:
    """What a person says on picking up ("this is Sam, how can I help?")."""
    return PromptKind.PERSON in kinds(text)
