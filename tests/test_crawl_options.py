"""Menu options parsed from prompts as written and as Moonshine heard the shipped menus."""

import pytest

from shopper.crawl.options import HeardOption, may_name_unread_key, names_unread_key, parse_options


@pytest.mark.parametrize(
    "text,expected",
    [
        ("Press 1 for billing.", [("1", "billing")]),
        ("For billing press 1.", [("1", "billing")]),
        ("For billing, press one.", [("1", "billing")]),
        ("To speak with a representative press 0", [("0", "speak with a representative")]),
        ("Press star to go back. Press pound to finish.", [("*", "go back"), ("#", "finish")]),
        ("Press hash to finish", [("#", "finish")]),
        ("To return to the main menu, press 9.", [("9", "return to main menu")]),
        ("Say or press 2 for sales.", [("2", "sales")]),
        ("Dial 3 for the operator.", [("3", "operator")]),
        ("Press 1 for billing, press 2 for support.", [("1", "billing"), ("2", "support")]),
        ("For billing press 1, for support press 2.", [("1", "billing"), ("2", "support")]),
        ("For loans press", [(None, "loans")]),
        ("Our offices are closed. Goodbye.", []),
        # Moonshine on the Globex main menu: "two" as "to", "three" as "free".
        (
            "Thank you for calling Globe's utilities. Forbillion, press one. For technical "
            "support, press to to report an outage, press free to repeat these auctions, "
            "press zero.",
            [
                ("1", "forbillion"),
                ("2", "technical support"),
                ("3", "report an outage"),
                ("0", "repeat these auctions"),
            ],
        ),
        # Moonshine on the Globex support menu: "press" as "dress".
        (
            "support Pour into met problems, dress one, Fourth-phone service, press two to "
            "return to the main menu, press nine.",
            [
                ("1", "support pour into met problems"),
                ("2", "fourth phone service"),
                ("9", "return to main menu"),
            ],
        ),
        (
            "Our offices are closed. We are open Monday through Friday from 8am to 8pm. To "
            "leave the message, press one.",
            [("1", "leave message")],
        ),
    ],
)
def test_options_are_parsed(text: str, expected: list[tuple[str | None, str]]) -> None:
    assert parse_options(text) == [HeardOption(key, label) for key, label in expected]


def test_the_article_before_a_key_may_be_heard_as_a() -> None:
    """flite awb's "press the pound key", as Moonshine heard it, after a sentence the
    recogniser ended too late: the words left over after key 8 are the pound key's label."""
    heard = "For all other questions, press eight to hear these options again. press a pound key."
    assert parse_options(heard) == [
        HeardOption("8", "all other questions"),
        HeardOption("#", "hear these options again"),
    ]
    assert not names_unread_key("To hear these options again, press a pound key.")


def test_words_left_over_are_no_label_for_a_key_with_words_of_its_own() -> None:
    heard = "For billing press 1 or say billing. Press 2 for claims."
    assert parse_options(heard) == [HeardOption("1", "billing"), HeardOption("2", "claims")]


def test_a_key_offered_twice_is_kept_once() -> None:
    assert [o.key for o in parse_options("Press 1 for sales. Again, press 1 for sales.")] == ["1"]


def test_a_number_to_dial_is_no_key() -> None:
    heard = "If this is an emergency, hang up and dial 911. For appointments, press 1."
    assert [(o.key, o.label) for o in parse_options(heard)] == [("1", "appointments")]
    assert [o.key for o in parse_options("Dial nine one one. For sales press two")] == ["2"]
    assert [o.key for o in parse_options("Press one four billing, press two for sales")] == [
        "1",
        "2",
    ]


def test_key_in_and_touch_introduce_keys() -> None:
    """Verbs the development IVRs never used (scripts/verdicts/fresh): "key in 5" on a hold's
    callback offer, "touch 2"; "choose" stays out ("choose one of the options listed")."""
    offer = "Prefer not to hang on. Key in 5 now, and the coordinator will ring you back."
    assert [o.key for o in parse_options(offer)] == ["5"]
    assert [o.key for o in parse_options("Touch 2 for sales.")] == ["2"]
    assert parse_options("Please choose one of the options listed.") == []


def test_a_key_verb_before_a_garbled_key_names_an_unread_key() -> None:
    """espeak-ng Meadowvale: "press star" heard "press tar", "Select 9" heard "Select ign": the
    prompt is a menu whose key the audio must read, not a message."""
    assert names_unread_key('To go back to the Choices, press "tar".')
    assert names_unread_key('Select "ign to hear the first menu again".')
    assert names_unread_key("To talk to a pharmacist, enter")
    assert not names_unread_key("For billing, press 1. To go back, press the star key.")
    assert not names_unread_key("If this is an emergency, hang up and dial 9 1 1.")
    assert not names_unread_key("Please choose one of the options listed. Goodbye.")


@pytest.mark.parametrize(
    "text,expected",
    [
        (
            "For new reservations, select option one. For rewards, option three.",
            [("1", "new reservations"), ("3", "rewards")],
        ),
        ("Select option 2 for billing.", [("2", "billing")]),
        ("Option four, billing questions.", [("4", "billing questions")]),
        # "to" and "for" after "option" are the option's words, not keys misheard
        ("You have the option to pay online. Goodbye.", []),
        ("There is an option for families. Press 1 for sales.", [("1", "sales")]),
    ],
)
def test_a_key_named_by_its_option_number(
    text: str, expected: list[tuple[str | None, str]]
) -> None:
    assert [(o.key, o.label) for o in parse_options(text)] == expected


def test_an_option_number_is_a_read_key_not_a_garbled_one() -> None:
    assert not names_unread_key("For new reservations, select option one.")


@pytest.mark.parametrize(
    "text,expected",
    [
        (
            "Enter the number of your choice. 1, check a balance. 2, a lost card. "
            "9, return to the main menu.",
            [("1", "check a balance"), ("2", "a lost card"), ("9", "return to main menu")],
        ),
        (
            "One: undergraduate admissions. Two: financial aid.",
            [("1", "undergraduate admissions"), ("2", "financial aid")],
        ),
        # Moonshine on flite awb: "Four" as "Poor", a number heard as a sentence of its own.
        (
            "Please enter the number of the office you need. One undergraduate admissions. "
            "Two. Financial, Aden's color shifts, Three, the office of the Registrar. Poor! "
            "Housing and residence life. Five. The campus police, non-emergency. Press zero, "
            "or simply wait.",
            [
                ("0", "simply wait"),
                ("1", "undergraduate admissions"),
                ("2", "financial"),
                ("3", "office of registrar"),
                ("5", "campus police"),
            ],
        ),
    ],
)
def test_a_numbered_list_offers_its_numbers(
    text: str, expected: list[tuple[str | None, str]]
) -> None:
    assert parse_options(text) == [HeardOption(k, label) for k, label in expected]


@pytest.mark.parametrize(
    "text",
    [
        "One moment, please, while I transfer you. Your call is important to us.",
        "Call us at one eight hundred, five five five, one two one two.",
        "Our hours are eight to five, Monday to Friday. Three locations serve you.",
        "Two things to know. One, the office moved.",
    ],
)
def test_a_sentence_that_begins_with_a_number_is_no_list(text: str) -> None:
    assert parse_options(text) == []


@pytest.mark.parametrize(
    "heard",
    [
        # Moonshine on flite awb: "For timetables" heard "four-time tables".
        "Lay excited, transit. For lost property, press one, four-time tables, press two.",
        "Four billing press one. Five sales press two.",
    ],
)
def test_for_heard_as_four_is_no_list_item(heard: str) -> None:
    assert [option.key for option in parse_options(heard)] == ["1", "2"]


def test_a_list_after_a_key_verb_gives_the_keys_the_verb_did_not_name() -> None:
    heard = "Press one for billing, two for sales, three for support."
    assert [option.key for option in parse_options(heard)] == ["1", "2", "3"]


def test_a_label_clause_before_the_next_key_is_that_keys() -> None:
    heard = (
        "Press zero to talk with an agent, For the main-man-yard, press star, To replete his "
        "choicest, press pound,"
    )
    assert parse_options(heard) == [
        HeardOption("0", "talk with an agent"),
        HeardOption("*", "main man yard"),
        HeardOption("#", "replete his choicest"),
    ]


def test_a_label_in_clauses_keeps_them_when_none_begins_another_label() -> None:
    heard = "Press 1 for billing, payments, and refunds, press 2 for support."
    assert parse_options(heard) == [
        HeardOption("1", "billing payments refunds"),
        HeardOption("2", "support"),
    ]


def test_a_word_no_ivr_says_that_begins_like_press_may_name_an_unread_key() -> None:
    """flite slt says "press two" so the model writes "peress you" or "pressed you": no key
    verb the parser knows, so the menu's key 2 was never tried. Such a word may name an unread
    key (the crawler tries the key after the menu's run too), but is no reason to take a
    prompt for a menu; words IVRs say ("please", "pressed" at a sentence's end, "presently")
    are none."""
    assert may_name_unread_key("For your balance, press one. To pay by phone, peress you.")
    assert may_name_unread_key("To cancel an appointment you already have pressed you.")
    assert not names_unread_key("To pay by phone, peress you.")
    assert not may_name_unread_key("Please hold. For billing, press one.")
    assert not may_name_unread_key("It seems no key was pressed.")
    assert not may_name_unread_key("Presently, say the prescription number.")
