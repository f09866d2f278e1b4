"""Recognising a known prompt in what Moonshine heard on Acme Bank calls (real transcripts)."""

from pathlib import Path

from shopper.crawl.explorer import CrawlSettings, _apart, _Crawl
from shopper.crawl.identity import (
    cut_words,
    find_opening,
    find_opening_by_letters,
    replay_start,
    same_prompt,
    split_words,
    tail_start,
    words,
)
from shopper.crawl.map import CrawlMap, MapNode
from shopper.crawl.options import parse_options
from shopper.crawl.pathcall import HeardPrompt, PathResult

BILLING_FIRST = (
    "For the billing and payment. To heal your balance, dress one. To make a payment, press to."
)
BILLING_AGAIN = (
    "Billing and payments, To heal your balance, dress one. To make a payment, press to. "
    "To speak with a billing specialist, press zero to return to the main-man-year, press nine."
)
MAIN = (
    "Thank you for calling Acme bank. Four billion in payments, press one. Fore-card services, "
    "breast-tooth, For loans and mortgages, press free to speak with a representative, press "
    "zero."
)


def test_a_menu_heard_again_after_a_message_is_found_despite_cut_residue() -> None:
    heard = words(
        "To secure current balance is one hundred twenty four dollars and fifty cents. "
        + BILLING_AGAIN
    )
    start = find_opening(BILLING_FIRST, heard)
    assert start is not None and heard[start : start + 2] == ["billing", "and"]


def test_the_queue_intro_after_different_cut_words_is_one_prompt() -> None:
    assert same_prompt(
        "For please vote for the next available representative.",
        "Dis, please hold for the next available representative.",
    )
    assert not same_prompt(
        "Please hold for the next available representative.",
        "Your card has been activated. Thank you for choosing Acme Bank.",
    )


def test_the_closed_menu_is_not_the_open_one() -> None:
    closed = (
        "Thank you for calling Acme Bank. Our offices are closed. We are open Monday through "
        "Friday from eight A M to eight P M. To leave a message, press one."
    )
    assert find_opening(MAIN, words(closed)) is None
    assert not same_prompt(MAIN, closed)


def test_press_two_heard_as_breast_tooth_is_an_option() -> None:
    keys = {o.key: o.label for o in parse_options(MAIN)}
    assert keys == {
        "1": "four billion in payments",
        "2": "fore card services",
        "3": "loans mortgages",
        "0": "speak with a representative",
    }


NORTHWIND_FIRST = (
    "Thank you for calling North Wind Insurance. This call may be recorded for quality and "
    "training purposes. For faster service, visit Northwyn dot com. Please listen carefully, as "
    "her options have changed. Fourth lanes, press one. For roadside assistance, breast-hoo! Put "
    "all other questions, press for. To hear these options again, press star, four policies and "
    "billing, press free."
)
"""The welcome and the main menu as first heard: one prompt, two recordings (real transcript)."""


def test_a_menu_heard_alone_after_a_message_is_the_tail_of_its_first_hearing() -> None:
    heard = (
        "To report a new claim, visit Northwyn dot com. Fourth lanes, press one. For roadside "
        "assistance, breast-hoo! Put all other questions, press for. To hear these options "
        "again, press star, four policies and billing, press free."
    )
    said_at, heard_at = tail_start(NORTHWIND_FIRST, heard) or (0, 0)
    head, menu = split_words(NORTHWIND_FIRST, said_at)
    assert head.endswith("as her options have changed.") and menu.startswith("Fourth lanes")
    assert split_words(heard, heard_at) == (
        "To report a new claim, visit Northwyn dot com.",
        heard[len("To report a new claim, visit Northwyn dot com. ") :],
    ), "the message ends with the same words as the welcome, but is not part of the menu"


def test_the_whole_prompt_or_another_one_is_no_tail() -> None:
    assert tail_start(NORTHWIND_FIRST, NORTHWIND_FIRST) is None
    assert tail_start(NORTHWIND_FIRST, MAIN) is None
    assert tail_start(MAIN, "breast-tooth") is None, "too short to tell"


def test_cut_residue_ends_on_a_word_of_the_prompt() -> None:
    prompt = "For your policy, document, press for. To return to the main menu, press nine."
    assert cut_words(words("documents, press, billing and payments."), prompt, 3) == 2
    assert cut_words(words("All of our represent, I'm sorry"), "all of our representatives", 6) == 4


def test_cut_residue_heard_in_other_words_is_found_letter_for_letter() -> None:
    """Kestrel awb: the main menu was first heard "If you're calling about an acclaim", and on
    the call that pressed 4 its cut sentence came back "If you are calling about a new claim",
    run into the billing menu's title: 3 of 7 words differ, 2 of 32 letters. Everything up to
    the title goes, not the title, though "billing" is a word of the main menu too."""
    prompt = (
        "quality assurance, If you're calling about an acclaim, press one. If you're calling "
        "about an existing claim, press two. For roadside assistance, press three."
    )
    heard = words("If you are calling about a new claim, press one. If you're billing,")
    assert cut_words(heard, prompt, 13) == len(heard) - 1
    assert cut_words(words("Billing. For your balance, press one."), prompt, 6) == 0


def test_cut_residue_reads_a_key_word_either_way() -> None:
    """The menu's key words are as the audio check wrote them ("press two"), the cut words as
    the recogniser heard them again ("press to"): the same key, so the same word."""
    prompt = "Press one to report an outage. Press two for billing. Press three for service."
    heard = words("Press to four, billing, press, start, stop or move service.")
    assert cut_words(heard, prompt, 8) == 5
    assert cut_words(words("Press to stop service"), "press nine for help", 4) == 1, "not 'nine'"


PHARMACY_FIRST = (
    "Foot, prescription, reef hills, Press one to refill out prescription. Press two to "
    "check on the refill you already requested. Press nine to return to the main menu."
)
PHARMACY_LATER = (
    "Port prescription refills. Press one to refill out prescription. Press two to check "
    "on the refill you already requested. Press nine to return to the main menu."
)


def test_a_title_heard_in_other_words_is_no_missing_greeting() -> None:
    """CareBridge awb: the pharmacy menu's title was heard "Foot, prescription, reef hills"
    the first time and "Port prescription refills" later; word for word the later hearing
    lacked the head, and the menu was split into a greeting and a menu. Letter for letter the
    head is there: the recogniser cut the same sounds into other words."""
    assert tail_start(PHARMACY_FIRST, PHARMACY_LATER) is None
    message = "To pay a bill, visit our web site. " + PHARMACY_LATER.split(". ", 1)[1]
    assert tail_start(PHARMACY_FIRST, message) is not None, "another message before the rest"


def test_a_menu_replayed_whole_after_a_message_begins_at_its_head() -> None:
    """CareBridge awb: a message, then the pharmacy menu from its title, heard in other words:
    the menu begins at the title (word 10), it is not a menu without its head."""
    heard = "Refills are usually ready within two business days. Thank you. " + PHARMACY_LATER
    assert tail_start(PHARMACY_FIRST, heard) is None
    assert replay_start(PHARMACY_FIRST, heard) == 10
    assert replay_start(PHARMACY_FIRST, PHARMACY_LATER) is None, "the menu alone is just known"


def test_the_explorer_keeps_a_replayed_menu_whole() -> None:
    state = _Crawl(CrawlSettings("ivr.yaml", Path(".")), CrawlMap("ivr.yaml", "2026-12-06T00:00Z"))
    state.map.nodes.append(MapNode("pharmacy", PHARMACY_FIRST, "menu", ["2"]))
    message = "Refills are usually ready within two business days. Thank you."
    heard = HeardPrompt(f"{message} {PHARMACY_LATER}", 22.0, 36.0, None)
    result = PathResult("call", "moonshine", "calls/call", 38.0, "known", [heard])
    prompts, _ = _apart(state, result)
    assert [(p.text, p.known) for p in prompts] == [(message, None), (PHARMACY_LATER, "pharmacy")]
    assert [n.prompt for n in state.map.nodes] == [PHARMACY_FIRST], "the menu is not split"


ALDER_MAIN = (
    "You have reached Hulberfold's town-hole Our offices are open, Monday through Friday, from "
    "eight thirty until four thirty. For trash, recycling, and bulk pick-up, press one for "
    "water and sewer-billing, press two for parking permits and tickets, press three. For "
    "building permits and inspections, press for, For the town clerk, including birth "
    "certificates and dog licenses, press five. To report a Papolo or a street like that is "
    "out, press six to speak with the operator, press zero or stay on the line."
)


def test_a_message_before_a_long_menu_replayed_whole_is_kept() -> None:
    """Alder Falls kal: a message of 23 words, then the long main menu replayed whole: the two
    together are 0.76 alike to the menu alone, so the whole was taken for the menu by its
    words and the message was lost. The menu begins again at its head; the message before is
    a prompt of its own."""
    state = _Crawl(CrawlSettings("ivr.yaml", Path(".")), CrawlMap("ivr.yaml", "2026-12-06T00:00Z"))
    state.map.nodes.append(MapNode("main", ALDER_MAIN, "menu", []))
    message = (
        "Final meter addings need five business days, notice. Please fill in the Movingform on "
        "the Town website, returning you to the main menu."
    )
    again = ALDER_MAIN.replace("Hulberfold's town-hole", "Holder Falls Town Hall.")
    heard = HeardPrompt(f"{message} {again}", 29.5, 71.0, None)
    result = PathResult("call", "moonshine", "calls/call", 72.0, "menu", [heard])
    prompts, _ = _apart(state, result)
    assert [(p.text, p.known) for p in prompts] == [(message, None), (again, "main")]
    assert [n.prompt for n in state.map.nodes] == [ALDER_MAIN], "the menu is not split"


CIVIC_WELCOME = "You have reached a savvy, clinked apartment of motor vehicles."
CIVIC_MENU = (
    "For driver licenses, say licenses or press one. For vehicle registration, say "
    "registration or press two for all other matters, please stay on the line."
)


def test_a_menu_heard_alone_and_alike_to_its_first_hearing_splits_off_the_greeting() -> None:
    """CivicLink awb: a greeting of 10 words before a menu of 25. The menu heard alone (9 at
    the license menu goes back to it) is 0.76 alike to the first hearing, so it was known by
    its words as the whole, and the greeting never became a place of its own."""
    first = f"{CIVIC_WELCOME} {CIVIC_MENU}"
    assert same_prompt(first, CIVIC_MENU), "the case: alike enough to be known by words"
    state = _Crawl(CrawlSettings("ivr.yaml", Path(".")), CrawlMap("ivr.yaml", "2026-12-06T00:00Z"))
    state.map.nodes.append(MapNode("main", first, "menu", []))
    state.routes["main"] = ()
    heard = HeardPrompt(CIVIC_MENU, 40.0, 52.0, None)
    result = PathResult("call", "moonshine", "calls/call", 55.0, "menu", [heard])
    prompts, _ = _apart(state, result)
    assert [(p.text, p.known) for p in prompts] == [(CIVIC_MENU, "main")]
    greeting, menu = state.map.nodes
    assert (greeting.kind, greeting.prompt) == ("message", CIVIC_WELCOME)
    assert (menu.id, menu.kind, menu.prompt) == ("main", "menu", CIVIC_MENU)
    assert [(o.key, o.to) for o in greeting.options] == [("", "main")]
    again, _ = _apart(state, result)
    assert [p.text for p in again] == [CIVIC_MENU], "now simply the menu, known by its words"
    assert len(state.map.nodes) == 2, "asked again, the menu is not split twice"


def test_a_route_s_menu_is_found_by_its_letters_where_its_key_phrase_was_read_by_the_audio() -> (
    None
):
    """flite kal Larkspur: the menu was learned as the audio check read it ("Press one"), and
    every later call heard "Breslon": two word edits in the eight opening words, no match word
    by word, so the menu's keys were never pressed. Its letters are within the opening's
    similarity; a menu whose words differ is still not found."""
    known = (
        "reservations, To cancel the reservation, Press one, To change the dates of your stay, "
        "press two."
    )
    heard = words("Existing reservations, To cancel the reservation, Breslon, To change the dates")
    assert find_opening(known, heard) is None, "word by word"
    assert find_opening_by_letters(known, heard) == 1
    other = words("Existing reservations, To extend the booking, press one, To change the dates")
    assert find_opening_by_letters(known, other) is None
