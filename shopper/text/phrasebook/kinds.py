"""The kinds of IVR announcement shopper acts on; a sentence may be of several or none."""

from __future__ import annotations

from enum import StrEnum


class PromptKind(StrEnum):
    """What a sentence does for the caller (phrasings.tsv's header defines each)."""

    CALLBACK_OFFER = "callback-offer"
    RETRY = "retry"
    TRANSFER = "transfer"
    CLOSED = "closed"
    VOICEMAIL = "voicemail"
    HOLD = "hold"
    NAVIGATION = "navigation"
    SAY_OR_PRESS = "say-or-press"
    PERSON = "person"


OTHER = "other"
"""How the corpus files write "none of the kinds"."""
