"""Evidence that a person answered: greeting language, repeats of announcements, confidence."""

import pytest

from shopper.engine.human import HumanEvidence, repeats_announcement, sounds_like_greeting


@pytest.mark.parametrize(
    "text",
    [
        "Thank you for calling Acme Bank, this is Sam. How can I help you today?",
        "Card security, Priya speaking.",
        "Hi, my name is Jo, who am I speaking with?",
        "Thanks for holding, may I have your account number?",
    ],
)
def test_what_people_say_when_they_pick_up(text: str) -> None:
    assert sounds_like_greeting(text)


@pytest.mark.parametrize(
    "text",
    [
        "Thank you for calling Acme Bank. For billing, press 1.",
        "Your call is important to us. Please stay on the line.",
        "Please hold while I transfer you to billing.",
    ],
)
def test_what_recordings_say(text: str) -> None:
    assert not sounds_like_greeting(text)


def test_a_cut_off_announcement_repeats_the_full_one() -> None:
    full = "All of our representatives are currently busy. Please stay on the line."
    assert repeats_announcement("All of our representatives are currently busy. Please", [full])
    assert not repeats_announcement("Hello, this is Sam from billing.", [full])
    assert not repeats_announcement("...", [full])


def test_confidence_rewards_a_response_and_punishes_silence() -> None:
    base = HumanEvidence(after_hold=True, new_speech=True, greeting=True, responsive=None)
    answered = HumanEvidence(True, True, True, responsive=True)
    ignored = HumanEvidence(True, True, True, responsive=False)
    assert answered.confidence > base.confidence > ignored.confidence
    assert answered.is_human and base.is_human and not ignored.is_human
    recording_after_hold = HumanEvidence(True, True, greeting=False, responsive=False)
    assert not recording_after_hold.is_human
