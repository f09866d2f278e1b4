"""What a crawl call keeps of what it heard: cut residue, a menu's re-prompts, a voicemail
greeting, an ignored key. Utterances are real Moonshine transcripts of shipped IVRs, with the
media times they were heard at."""

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import numpy as np

from shopper.asr.types import Fit, Utterance
from shopper.audio.frame import TELEPHONY_RATE
from shopper.crawl.pathcall import (
    HeardPrompt,
    MenuHeard,
    PathJob,
    Press,
    RouteStep,
    _greeting_apart,
    _heard,
    _ignored,
    _keys_offered_on_hold,
    _last_notice,
    _Leg,
    _not_taken,
    _offer_read,
    _offer_words,
    _offers,
    _Outcome,
    _Passing,
    _PieceAudio,
    _press,
    _reach,
    _replayed,
    _reprompts,
    _sounding_at_end,
    _stop_on_known_or_repeat,
    _voicemail_after_hold,
    _waited_for_key,
    _with_last_notice,
    _without_cut,
    _without_rest,
)
from shopper.crawl.prompts import Piece, split_prompts
from shopper.engine.caller import Caller
from shopper.engine.failures import KeyIgnored, StepFailure
from shopper.engine.session import CallSession
from shopper.engine.timeline import KeySent

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


KESTREL_BILLING = (
    "for your balance and due date, press one. To pay by phone, press two, Press, hard to go "
    "back, or press pound to repeat this man you."
)


def test_a_notice_run_into_the_re_prompt_is_no_new_prompt() -> None:
    """Kestrel kal: the no-input notice and the billing menu's first option heard as one
    sentence, "We didn't receive your selection, billing for your balance...". Dropped whole
    as a notice, the menu's opening went with it, and the rest was taken for a new prompt:
    the menu's no-input path (its closing notice and hang-up) was never reached."""
    finals = [
        heard(
            58.74,
            63.6,
            "We didn't receive your selection, billing for your balance, and due date, press one.",
        ),
        heard(63.96, 65.88, "To pay by phone, pressed to,"),
        heard(66.28, 69.88, "Press, hard to go back, or press pound to repeat this man you."),
        heard(76.2, 78.0, "We didn't receive your selection."),
    ]
    texts, reprompts = _without_rest(finals, round(52.5 * TELEPHONY_RATE), QUIET, KESTREL_BILLING)
    assert (texts, reprompts) == (["", "", "", "We didn't receive your selection."], 1)


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


def _piece(text: str, index: int) -> Piece:
    return Piece(text, index, index)


def test_a_first_round_the_words_did_not_cut_is_the_cycle() -> None:
    """A circle of two departments: the first time round the transfer sentence was garbled
    ("fending you"), so the whole round is one piece; the second round is cut by it. The key
    leads to the cycle's first node, not to a node of the whole round's words."""
    first_round = _piece(
        "The parking desk is closed today. We are fending you to permits. Permits. Parking "
        "questions go to the parking desk. Please hold while we send you back.",
        0,
    )
    desk = _piece("The parking desk is closed today. We are sending you to permits.", 1)
    permits = _piece(
        "Permits. Parking questions go to the parking desk. Please hold while we send you back.",
        2,
    )
    again = _piece("The parking desk is closed today. We are sending you to permit.", 3)
    stop = _stop_on_known_or_repeat([first_round, desk, permits, again], frozenset())
    assert stop == ("repeating", [desk, permits], 0)


def test_what_came_before_a_first_round_stays_before_the_cycle() -> None:
    heard = _piece(
        "Thank you. The parking desk is closed today. We are fending you to permits. Permits. "
        "Parking questions go to the parking desk.",
        0,
    )
    desk = _piece("The parking desk is closed today. We are sending you to permits.", 1)
    permits = _piece("Permits. Parking questions go to the parking desk.", 2)
    again = _piece("The parking desk is closed today. We are sending you to permits.", 3)
    stop = _stop_on_known_or_repeat([heard, desk, permits, again], frozenset())
    assert stop is not None and stop[0] == "repeating" and stop[2] == 1
    assert [piece.text for piece in stop[1]] == ["Thank you.", desk.text, permits.text]
    other = _piece("Our offices are open on weekdays from nine to five.", 0)
    stop = _stop_on_known_or_repeat([other, desk, permits, again], frozenset())
    assert stop == ("repeating", [other, desk, permits], 1), "a different prompt stays"


def test_a_last_department_run_into_the_first_ones_round_again_stays_in_the_circle() -> None:
    """A circle of three whose third department hands back with "One moment.": its prompt
    and the first department's second round are one piece. When the audio finds the first
    department's recording inside that piece after a prompt of its own (_PieceAudio's
    round_again), the piece is cut there and the circle has its three departments; before,
    the audio alone took the whole piece for the first department heard again."""
    first = _piece("Refunds are issued by our billing team. Please hold while I transfer you.", 0)
    second = _piece("Billing review. Approval comes from retention. Transferring you now.", 1)
    both = _piece(f"Customer retention. Refunds are done by refunds. One moment. {first.text}", 2)
    again = _piece(second.text, 3)
    third = Piece(
        "Customer retention. Refunds are done by refunds. One moment.", 2, 2, end_share=0.4
    )
    round_two = Piece(first.text, 2, 2, start_share=0.4)

    def round_again(earlier: Piece, piece: Piece) -> tuple[Piece, Piece] | None:
        return (third, round_two) if (earlier, piece) == (first, both) else None

    def same(a: Piece, b: Piece) -> bool:
        return (a, b) == (first, both)

    audio = _PieceAudio(same, round_again)
    stop = _stop_on_known_or_repeat([first, second, both, again], frozenset(), audio)
    assert stop == ("repeating", [first, second, third], 0)
    taken_whole = _PieceAudio(same, lambda earlier, piece: None)
    stop = _stop_on_known_or_repeat([first, second, both, again], frozenset(), taken_whole)
    assert stop == ("repeating", [first, second], 0), "what the same audio alone made of it"


class _KeyTimes:
    def of_type(self, kind: type) -> list[SimpleNamespace]:
        return [SimpleNamespace(t=round(9.5 * TELEPHONY_RATE))] if kind is KeySent else []


class _TalksOn:
    """A caller whose engine heard no reaction to the key while the far end talked on (the
    next prompt run straight on, as espeak-ng does) and did not press again."""

    def __init__(self) -> None:
        self.session = SimpleNamespace(now=round(40.0 * TELEPHONY_RATE), timeline=_KeyTimes())

    async def press(self, keys: str, at_once: bool = False) -> float:
        raise KeyIgnored(f"pressed {keys!r}; ignored while the prompt played", None)


def test_a_key_with_no_reaction_the_engine_could_tell_is_heard_from_the_key() -> None:
    menu = RouteStep("main", "Press 1 for news. Press 2 for sport.", "1")
    job = PathJob("ivr.yaml", (menu,), (), Path("."))
    passing = _Passing("dial", 0)
    presses: list[Press] = []
    caller = cast(Caller, _TalksOn())
    assert asyncio.run(_press(job, caller, menu, passing, presses)) is None
    assert passing.listen_from == round(9.5 * TELEPHONY_RATE) and not passing.ignored_in_prompt
    assert presses[-1].at_s == 9.5
    sport = RouteStep("sport", "Press 1 for scores.", "1")
    via = PathJob("ivr.yaml", (menu, sport), (), Path("."))
    outcome = asyncio.run(_press(via, caller, menu, _Passing("dial", 0), []))
    assert outcome is not None and outcome.ending == "lost", "a route key is not guessed at"


def _listening(now_s: float, said: list[Utterance], hearing: str = "") -> CallSession:
    partial = heard(now_s - 0.5, now_s, hearing) if hearing else None
    session = SimpleNamespace(
        now=round(now_s * TELEPHONY_RATE),
        transcript=said,
        partial=partial,
        speech_unfinished=partial is not None,
        settings=SimpleNamespace(prompt_end_silence_s=1.8),
        samples=lambda seconds: round(seconds * TELEPHONY_RATE),
        finals_since=lambda t: [u for u in said if u.end > t],
    )
    return cast(CallSession, session)


def test_a_callback_offer_cut_before_its_key_is_heard_with_the_key() -> None:
    """The recogniser ended the offer at a pause before "Just press five": the key phrase is
    the next utterance, and the offer is not complete (nor pressed) without it."""
    offer = heard(50.0, 54.0, "If you like, we will call you back and keep your place.")
    key = heard(54.6, 55.8, "Just press five.")
    assert _offer_words(_listening(54.2, [offer]), offer, final=False) is None
    assert _offer_words(_listening(55.0, [offer], "Just press"), offer, final=False) is None
    complete = _offer_words(_listening(56.0, [offer, key]), offer, final=False)
    assert complete == f"{offer.text} {key.text}"
    music_again = heard(60.0, 61.0, "Please continue to hold.")
    assert _offer_words(_listening(62.0, [offer, music_again]), offer) == offer.text
    assert _offer_words(_listening(54.2, [offer]), offer) == offer.text, "the call is over"
    whole = heard(50.0, 54.0, "For a call back instead of holding, press 1.")
    assert _offer_words(_listening(54.1, [whole]), whole, final=False) == whole.text


def test_prompts_run_together_in_one_utterance_each_have_their_own_span() -> None:
    """Two departments said without a pause are one utterance; each prompt's span is its own
    part of it (by words), so its evidence is its own recording, not its neighbour's."""
    said = heard(
        10.0,
        21.0,
        "The parking desk is closed today. Transferring you to the permits office now. "
        "Permits office. Permit questions go to the parking desk.",
    )
    desk, permits = _heard(split_prompts([said.text], []), [said])
    assert desk.text.startswith("The parking desk") and permits.text.startswith("Permits")
    assert desk.start_s == 10.0 and permits.end_s == 21.0
    assert desk.end_s == permits.start_s == 16.5, "13 of the utterance's 22 words"


def test_a_menu_back_after_a_key_it_did_not_offer_may_be_retrying() -> None:
    """Whatever came before the menu again may be its retry notice garbled past recognition:
    the call goes on from there only with a key the menu offers."""
    menu = RouteStep("main", "To book, press 1. To change a booking, press 2.", "#")
    garbled = HeardPrompt("The term at none and much any on my eruption.", 11.0, 13.8, None)
    again = HeardPrompt("Hello, thank you for calling. To book, press 1.", 14.2, 19.0, "main")
    leg = _Leg((menu,), False, 0, 0, _Outcome("known", [garbled, again]))
    said = [heard(11.0, 13.8, garbled.text), heard(14.2, 19.0, again.text)]
    assert _replayed(leg, "main", _listening(19.5, said))
    offered = _Leg((replace(menu, key="1"),), True, 0, 0, _Outcome("known", [garbled, again]))
    assert not _replayed(offered, "main", _listening(19.5, said)), "information, then the menu"


def _holding(since_s: float, ended: bool) -> CallSession:
    """A call on hold since `since_s`, which heard the queue's intro in other words."""
    said = [heard(16.5, 22.8, "All our customer care agents are helping our customers.")]
    period = SimpleNamespace(start=round(since_s * TELEPHONY_RATE))
    session = SimpleNamespace(
        now=round(25.0 * TELEPHONY_RATE),
        ended=ended,
        hold=SimpleNamespace(state="hold", periods=[period]),
        finals_since=lambda t: [u for u in said if u.end > t],
        samples=lambda seconds: round(seconds * TELEPHONY_RATE),
    )
    return cast(CallSession, session)


def test_a_queue_is_reached_by_its_hold_when_its_intro_is_heard_in_other_words() -> None:
    """The callback key of a queue answers its offer: the hold beginning after the route's
    last key is the queue, whatever the recogniser made of its intro this time."""
    queue = RouteStep("queue", "All the malware customer care agents are busy.", "1", on_hold=True)
    after_key = round(16.0 * TELEPHONY_RATE)
    reached = asyncio.run(_reach(_holding(23.0, False), queue, 60.0, after_key))
    assert reached == MenuHeard(round(23.0 * TELEPHONY_RATE), 0)
    assert asyncio.run(_reach(_holding(10.0, True), queue, 60.0, after_key)) is None, "before"


def test_a_callback_offer_key_is_read_by_the_audio() -> None:
    """The hold's offer names its key in the utterance after it, garbled ("press I'm"): the
    audio check reads it as a key, so the queue gets its callback option."""
    offer = heard(63.9, 66.0, "If you like, we will call you back and keep your place.")
    key = heard(66.4, 67.2, "Just press I'm.")
    scores = {"Just press five.": -1.0}

    async def verify(utterance: Utterance, texts: Sequence[str]) -> list[Fit]:
        return [Fit(text, scores.get(text, -20.0)) for text in texts]

    session = _listening(70.0, [offer, key])
    held = SimpleNamespace(callback_offers=[offer], periods=[])
    listened = SimpleNamespace(**vars(session), hold=held, verify=verify)
    on_hold = cast(CallSession, listened)
    read = asyncio.run(_offer_read(on_hold, round(60.0 * TELEPHONY_RATE)))
    assert read == f"{offer.text} Just press five."
    assert asyncio.run(_offer_read(on_hold, round(67.0 * TELEPHONY_RATE))) is None, "before"


def test_a_callback_key_with_no_reaction_heard_is_observed_a_menu_key_is_a_dead_end() -> None:
    """The engine tells a reaction to a key pressed over hold music by a change of sound,
    late when speech follows the music at once: a callback key is observed from the key,
    while a menu's key the far end played on through is a dead end."""
    failure = StepFailure("dtmf-not-acknowledged", "pressed '5'; ignored: the music played on")
    queue = RouteStep("queue", "Our team will be right with you.", "5", on_hold=True)
    assert _not_taken(PathJob("ivr.yaml", (queue,), (), Path(".")), queue, failure) is None
    menu = RouteStep("main", "Press 1 for bookings.", "1")
    outcome = _not_taken(PathJob("ivr.yaml", (menu,), (), Path(".")), menu, failure)
    assert outcome is not None and outcome.ending == "ignored"


def test_a_hang_up_right_after_a_retry_notice_ends_on_that_notice() -> None:
    """A wrong key, "That is not a valid entry.", then the line goes: the call ended with that
    message. A menu that re-prompted after its notices and then hung up ended in silence."""
    cut = heard(20.0, 23.0, "For renewals. That is not a valid entry.")
    assert _last_notice([cut]) == [HeardPrompt("That is not a valid entry.", 20.0, 23.0, None)]
    reprompts = [
        heard(30.0, 32.0, "We did not receive a selection."),
        heard(32.5, 36.0, "For renewals, press 1. For tests, press 2."),
    ]
    assert _last_notice(reprompts) == []


def test_an_offer_cut_before_its_key_is_an_offer_with_the_next_utterance() -> None:
    """Alone, "we can phone you back as soon as a specialist is free" is no offer to the
    classifier; with the next utterance, "Press 1 to choose that option", it is."""
    wish = heard(
        58.9, 64.0, "Rather than wait, we can phone you back as soon as a specialist is free."
    )
    key = heard(64.4, 66.4, "Press 1 to choose that option")
    session = _listening(70.0, [wish, key])
    hold = SimpleNamespace(callback_offers=[], periods=[SimpleNamespace(start=0, end=None)])
    on_hold = cast(CallSession, SimpleNamespace(**vars(session), hold=hold))
    assert _offers(on_hold, 0, round(70.0 * TELEPHONY_RATE)) == [wish]
    hold.periods = [SimpleNamespace(start=0, end=round(50.0 * TELEPHONY_RATE))]
    assert _offers(on_hold, 0, round(70.0 * TELEPHONY_RATE)) == [], "not said on hold"


def test_what_follows_a_key_is_heard_after_the_key() -> None:
    """espeak-ng CareBridge: the recogniser ran the menu's last words before the key and the
    queue's greeting after it into one utterance (7.3-13.4 s, key at 10.9 s). The queue's
    span began at 7.3 s, most of it the menu's recording: nothing heard after a key began
    before it."""
    said = heard(7.3, 13.4, "Just can you or cancel an appointment? please hold while we try.")
    piece = Piece(said.text, 0, 0)
    pressed = round(10.9 * TELEPHONY_RATE)
    assert [(p.start_s, p.end_s) for p in _heard([piece], [said], pressed)] == [(10.9, 13.4)]
    assert [p.start_s for p in _heard([piece], [said])] == [7.3]


def test_a_box_after_a_hold_keeps_a_greeting_taken_for_an_announcement() -> None:
    """espeak-ng CareBridge: the nurse box's greeting ("All the moderners in are with
    patience. Leave my message...") was taken for a hold announcement, so nothing was left
    as the greeting and the box the engine recognised by its beep became a drop."""
    said = heard(58.5, 63.4, "All the moderners in are with patience. Leave my message.")
    box = SimpleNamespace(beep=SimpleNamespace(start=round(63.7 * TELEPHONY_RATE)))
    session = SimpleNamespace(
        hold=SimpleNamespace(announcements=[said]),
        finals_since=lambda t: [said],
        voicemail=SimpleNamespace(box=box),
        segments=[],
    )
    greeting = _voicemail_after_hold(cast(CallSession, session), round(13.4 * TELEPHONY_RATE))
    assert [(g.text, g.start_s) for g in greeting] == [(said.text, 58.5)]


def test_a_new_piece_before_the_menu_heard_again_is_its_no_input_notice() -> None:
    """Swiftlane (scripts/verdicts/fresh): "I'm still waiting for your choice." is no notice
    the classifier knows; it came before the menu each time, so it is the menu re-prompting,
    and the call listens on to what the menu does in the end."""
    pieces = [
        Piece("I'm still waiting for your choice.", 0, 0),
        Piece("You have reached the Swiftlane Parcels customer line.", 1, 1, "main"),
        Piece("I'm still waiting for your choice.", 2, 2),
        Piece("You have reached the Swiftlane Parcels customer line.", 3, 3, "main"),
        Piece("I'm still waiting for your choice. This call will now end.", 4, 4),
    ]
    assert _reprompts(pieces, "main") == (4, 2)
    assert _reprompts(pieces[:1], "main") == (0, 0), "not yet followed by the menu"
    elsewhere = [pieces[0], Piece("Billing.", 1, 1, "billing"), pieces[1]]
    assert _reprompts(elsewhere, "main") == (0, 0), "another known prompt came first"


REFILLS = (
    "Reveal. I'll want to reveal using your prescription number. I'll do if your doctor still "
    "needs to approve the reveal."
)


def test_a_prompt_played_again_after_a_prompts_end_of_quiet_waited_for_a_key() -> None:
    """espeak-ng Meadowvale: "Dial 1 ... Dial 2 ..." heard without a key word; the prompt
    played again 6.3 s after it ended, as a menu re-prompts, so it is a menu. A circular
    transfer's departments hand over without waiting."""
    finals = [heard(21.9, 29.5, REFILLS), heard(35.9, 43.5, REFILLS)]
    pieces = split_prompts([u.text for u in finals], [])
    stop = _stop_on_known_or_repeat(pieces, frozenset())
    assert stop is not None and stop[0] == "repeating"
    assert _waited_for_key(stop[1], pieces, finals, QUIET)
    at_once = [heard(21.9, 29.5, REFILLS), heard(29.7, 37.3, REFILLS)]
    assert not _waited_for_key(stop[1], pieces, at_once, QUIET)
    circle = [_piece("Depot desk. Putting you through.", 0), _piece("Support here.", 1)]
    again = [*circle, _piece("Depot desk. Putting you through.", 2)]
    assert not _waited_for_key(circle, again, [*finals, finals[-1]], QUIET)


def _far_end(*parts: tuple[float, float]) -> CallSession:
    """A session whose far end's last frames are (seconds, dBFS) parts of noise, in order."""
    rng = np.random.default_rng(0)
    frames = []
    for seconds, dbfs in parts:
        amplitude = 32767.0 * 10.0 ** (dbfs / 20.0)
        noise = rng.standard_normal(round(seconds * TELEPHONY_RATE)) * amplitude
        frames.extend(np.array_split(noise.astype(np.int16), max(1, round(seconds / 0.02))))
    session = SimpleNamespace(
        recording=SimpleNamespace(far=frames), samples=lambda s: round(s * TELEPHONY_RATE)
    )
    return cast(CallSession, session)


def test_a_line_that_goes_dead_mid_sentence_is_told_from_a_hang_up_after_a_prompt() -> None:
    """Swiftlane's business line drops 4 s into its sentence: the far end's last 0.1 s was
    speech (15 dB below its loudest in espeak-ng); a goodbye ends in its own fall to quiet
    (25 dB or more below in flite awb and espeak-ng, 22 dB in the Asterisk prompts)."""
    assert _sounding_at_end(_far_end((2.0, -20.0), (0.1, -32.0)))
    assert not _sounding_at_end(_far_end((2.0, -20.0), (0.1, -46.0)))
    assert not _sounding_at_end(_far_end((1.7, -20.0), (0.35, -70.0)))
    assert not _sounding_at_end(_far_end((2.0, -70.0))), "a quiet line dropping is silence"


def test_a_key_named_on_hold_is_explored_whatever_the_words_around_it() -> None:
    """Meadowvale's vaccination hold: "Prefer not to hang on? Key in 5 now, and a coordinator
    will ring you back later today." is no offer to the classifier; it names a key on hold,
    so the crawl explores the key."""
    offer = heard(34.9, 40.0, "Prefer not to hang on. Key in 5 now, and the coordinator will.")
    music = heard(20.0, 21.0, "Thank you for waiting.")
    session = _listening(45.0, [music, offer])
    hold = SimpleNamespace(callback_offers=[], periods=[SimpleNamespace(start=0, end=None)])
    on_hold = cast(CallSession, SimpleNamespace(**vars(session), hold=hold))
    until = round(45.0 * TELEPHONY_RATE)
    assert _offers(on_hold, 0, until) == [], "the classifier heard no offer"
    assert _keys_offered_on_hold(on_hold, 0, until) == [offer]
    hold.periods = [SimpleNamespace(start=0, end=round(30.0 * TELEPHONY_RATE))]
    assert _keys_offered_on_hold(on_hold, 0, until) == [], "not said on hold"


def test_a_hang_up_after_a_prompt_and_a_notice_ends_on_the_notice() -> None:
    """Swiftlane: the menu gave up with "Since we did not receive a choice, this call will
    now end.", a sentence the classifier takes for a notice, after the unworded notice heard
    as a prompt: the call ended on it, not on the prompt before."""
    still = HeardPrompt("I'm still waiting for your choice.", 71.7, 73.9, None)
    finals = [
        heard(71.7, 73.9, still.text),
        heard(74.3, 78.0, "Since we did not receive a choice, this call will now end."),
    ]
    ended = _with_last_notice([still], finals)
    assert [p.text for p in ended] == [still.text, finals[1].text]
    assert _with_last_notice([still], finals[:1]) == [still]
