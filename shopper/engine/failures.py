"""Why a call script failed, in the result's vocabulary."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from shopper.carriers.base import EndCause

FailureKind = Literal[
    "expectation-timeout",
    "expectation-mismatch",
    "dtmf-not-acknowledged",
    "dropped",
    "dead-air",
    "no-human",
    "voicemail",
    "hold-too-long",
    "busy",
    "no-answer",
    "unreachable",
    "sit-tone",
    "assertion",
    "error",
]


NOT_PLACED: dict[EndCause | None, FailureKind] = {
    "no-route": "unreachable",
    "refused": "unreachable",
    "timeout": "unreachable",
    "auth-failed": "error",
    "failed": "error",
}
"""The failure of a call the carrier could not place, by its cause: the phone system could
not be reached (`unreachable`), or shopper's own carrier set-up is wrong (`error`)."""


class StepFailure(Exception):
    """Raised inside a step when the call did not do what the script expects."""

    def __init__(self, kind: FailureKind, message: str) -> None:
        super().__init__(message)
        self.kind: FailureKind = kind
        self.message = message


class KeyIgnored(StepFailure):
    """Keys pressed while a prompt played, which played on as if nothing had been pressed."""

    def __init__(self, message: str, taken_after_prompt: bool | None) -> None:
        super().__init__("dtmf-not-acknowledged", message)
        self.taken_after_prompt = taken_after_prompt
        """Whether the same keys, pressed again once the prompt had ended, were acknowledged
        (the call has then moved on as they asked); None if they were not pressed again."""
