"""What a crawl call keeps of what it heard: cut residue, a menu's re-prompts, a voicemail
greeting, an ignored key. Utterances are real Moonshine transcripts of shipped IVRs, with the
media times they were heard at."""

from shopper.asr.types import Utterance
from shopper.audio.frame import TELEPHONY_RATE
from shopper.crawl.pathcall import (
    HeardPrompt,
    RouteStep,
    _greeting_apart,
    _ignored,
    _without_cut,
    _without_rest,
)

NORTHWIND_MAIN = (
    "Fourth lanes, press one. For roadside assistance, breast-hoo! Put all other questions, press "
    "for. To hear these options again, press star, four policies and billing, press free."
)
QUIET = round(1.8 * TELEPHONY_RATE)


def heard(start_s: float, end_s: float, text: str) -> Utterance:
    return Utterance(
        round(start_s * TELEPHONY_RATE), round(end_s * TELEPHONY_RATE), text, 0.5, True
    )


def test_a_word_cut_in_the_middle_goes_with_the_residue() -> None:
    first = heard(25.46, 27.66, "To him, four claims, brass one,")
    pressed = round(25.62 * TELEPHONY_RATE)
    assert _without_cut([first], pressed, NORTHWIND_MAIN, 15) == ["four claims, brass one,"]


def test_residue_is_looked_for_where_the_prompt_was_cut() -> None:
    """The menu names "policies and billing" near its end; a key pressed early cuts the first
    option, so the next menu's title, "Policies and billing", is not residue."""
    first = heard(20.0, 23.0, "For roadside, Policies and billing,")
    pressed = round(20.3 * TELEPHONY_RATE)
    assert _without_cut([first], pressed, NORTHWIND_MAIN, 4) == ["Policies and billing,"]


def test_pressing_nothing_hears_the_rest_then_re_prompts_then_what_comes_next() -> None:
    shop = "Corner shop for opening time press 1"
    finals = [
        heard(8.1, 10.0, "Corner shop for opening time press 1"),
        heard(
            16.0, 17.9, "Sorry, I did not hear your choice. Corner shop for opening time press 1"
        ),
        heard(24.0, 24.6, "Goodbye."),
    ]
    texts, reprompts = _without_rest(finals, round(5.0 * TELEPHONY_RATE), QUIET, shop)
    assert (texts, reprompts) == (["", "", "Goodbye."], 2), "the menu had ended: both re-prompt"
    texts, reprompts = _without_rest(finals, round(7.0 * TELEPHONY_RATE), QUIET, shop)
    assert (texts, reprompts) == (["", "", "Goodbye."], 1), "the first is the prompt's rest"
    texts, reprompts = _without_rest(finals[1:], round(10.5 * TELEPHONY_RATE), QUIET, shop)
    assert texts == ["", "Goodbye."] and reprompts == 1


def test_a_re_prompt_with_a_long_pause_inside_is_one_re_prompt() -> None:
    """A menu whose recording pauses after its greeting as long as a prompt's end comes back
    after a notice in two turns; the second continues the re-prompt and is not what comes
    next (it once became a menu node of its own, apart from its greeting)."""
    menu = (
        "Welcome to Pine Power. Our options have changed. "
        "For billing, press 2. For repairs, press 5."
    )
    finals = [
        heard(8.0, 9.5, "We did not get a selection. Welcome to Pine Power."),
        heard(9.6, 11.0, "Our options have changed."),
        heard(13.0, 16.0, "For billing, press 2. For repairs, press 5."),
        heard(22.0, 22.6, "Goodbye."),
    ]
    texts, reprompts = _without_rest(finals, round(6.0 * TELEPHONY_RATE), QUIET, menu)
    assert (texts, reprompts) == (["", "", "", "Goodbye."], 1)


def test_the_rest_of_a_prompt_is_the_turn_before_the_first_pause() -> None:
    finals = [heard(7.0, 9.0, "For billing, press one."), heard(15.0, 16.0, "Goodbye.")]
    texts, reprompts = _without_rest(finals, round(6.9 * TELEPHONY_RATE), QUIET, NORTHWIND_MAIN)
    assert (texts, reprompts) == (["", "Goodbye."], 0)


def test_the_voicemail_greeting_is_split_from_the_message_before_it_without_punctuation() -> None:
    spoken = HeardPrompt(
        "accounting and receiving only on a mail it all right now Please leave your message "
        "out to the tone when done, hang up, or press the pound key.",
        10.0,
        20.0,
        None,
    )
    before, greeting = _greeting_apart([spoken])
    assert before.text == "accounting and receiving only on a mail it all right now"
    assert greeting.text.startswith("Please leave your message")
    assert before.end_s == greeting.start_s and 10.0 < before.end_s < 20.0


def test_a_key_is_ignored_when_the_prompt_plays_on_to_its_usual_end() -> None:
    welcome_and_menu = (
        "Thank you for calling North Wind Insurance. This call may be recorded for quality and "
        "training purposes. For faster service, visit Northwyn dot com. Please listen carefully, "
        "as her options have changed. " + NORTHWIND_MAIN
    )
    step = RouteStep("main", welcome_and_menu, "1", heard_s=26.12)
    rest = HeardPrompt(
        "Please listen carefully, as her options have changed. " + NORTHWIND_MAIN,
        14.48,
        30.46,
        None,
    )
    assert _ignored(step, round(4.34 * TELEPHONY_RATE), [rest])
    restarted = HeardPrompt(rest.text, 14.48, 34.5, None)
    assert not _ignored(step, round(4.34 * TELEPHONY_RATE), [restarted]), "the menu restarted"
    late = RouteStep("main", welcome_and_menu, "1", after_prompt=True, heard_s=26.12)
    assert not _ignored(late, round(4.34 * TELEPHONY_RATE), [rest])


def test_a_re_prompt_still_being_heard_is_a_re_prompt() -> None:
    policies = (
        "Policies and billing, Portato policies, press one. For whom policies, press to, For "
        "your policy, documents, press for. To return to the main-man-year, fresh-mine, Poor "
        "billing and payment, fresh free,"
    )
    finals = [
        heard(74.6, 75.9, "Policies and billing,"),
        heard(76.3, 78.3, "For not all policies, press one."),
        heard(78.7, 80.6, "For whom policies, press to,"),
    ]
    texts, reprompts = _without_rest(finals, round(68.2 * TELEPHONY_RATE), QUIET, policies)
    assert (texts, reprompts) == (["", "", ""], 1)
    texts, _ = _without_rest(finals[:1], round(68.2 * TELEPHONY_RATE), QUIET, policies)
    assert texts == ["Policies and billing,"], "too little to tell yet"
