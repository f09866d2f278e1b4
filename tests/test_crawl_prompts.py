"""Cutting heard speech into node prompts and recognising known prompts."""

from collections.abc import Sequence

from shopper.crawl import prompts
from shopper.crawl.identity import cut_words, find_opening, same_prompt, words
from shopper.crawl.prompts import split_prompts

MAIN = "Thank you for calling Acme bank. For billing and payments, press one. For cards press two."


def test_transfer_sentences_end_a_node() -> None:
    pieces = split_prompts(
        [
            "All billing representatives are busy transferring you to customer service",
            "Customer service cannot help with billing questions. Transferring you to billing. "
            "All billing representatives are busy. Transferring you to customer service.",
        ],
        [],
    )
    assert [p.text for p in pieces] == [
        "All billing representatives are busy transferring you to customer service",
        "Customer service cannot help with billing questions. Transferring you to billing.",
        "All billing representatives are busy. Transferring you to customer service.",
    ]
    assert [(p.first, p.last) for p in pieces] == [(0, 0), (1, 1), (1, 1)]
    assert same_prompt(pieces[0].text, pieces[2].text)
    assert not same_prompt(pieces[0].text, pieces[1].text)


def test_a_known_prompt_starts_its_node_and_retry_notices_are_dropped() -> None:
    pieces = split_prompts(
        ["Sorry, that is not a valid choice.", MAIN], [("main", MAIN), ("other", "Goodbye now.")]
    )
    assert [(p.text, p.known) for p in pieces] == [(MAIN, "main")]
    pieces = split_prompts(["To make a payment, visit our web site.", MAIN], [("main", MAIN)])
    assert [p.known for p in pieces] == [None, "main"]


def test_opening_words_tell_menus_with_a_common_greeting_apart() -> None:
    night = "Thank you for calling Acme bank. Our offices are closed. To leave a message press 1."
    assert find_opening(MAIN, words("sorry " + MAIN)) == 1
    assert find_opening(MAIN, words(night)) is None


def test_cut_words_of_the_interrupted_prompt_are_found() -> None:
    heard = words("For technical support, press, all billing representatives are busy")
    globex = "Forbillion, press one. For technical support, press to to report an outage."
    assert cut_words(heard, globex, 6) == 4
    assert cut_words(words("all billing representatives are busy"), globex, 3) == 0


def test_a_known_menu_keeps_its_title_heard_as_a_sentence_of_its_own() -> None:
    """Moonshine's reading of a replayed flite menu: the short title came as an utterance of its
    own, and the menu's opening is recognised from its third word on (two skipped words are
    allowed for cut residue). The title is the menu's, not a message in front of it."""
    menu = (
        "Pine-clinite, For appointments, dress one. For prescriptions, press to. "
        "Forbilling questions, dress free."
    )
    heard = ["Pine-clinite,", "For appointments, dress one. For prescriptions, press to."]
    pieces = split_prompts(heard, [("main", menu)])
    assert [(p.text, p.known, p.first) for p in pieces] == [
        ("Pine-clinite, For appointments, dress one. For prescriptions, press to.", "main", 0)
    ]


def test_a_message_before_a_known_menu_stays_a_prompt_of_its_own() -> None:
    pieces = split_prompts(["Your balance is ten dollars.", MAIN], [("main", MAIN)])
    assert [(p.text, p.known) for p in pieces] == [
        ("Your balance is ten dollars.", None),
        (MAIN, "main"),
    ]


def test_a_circle_without_transfer_words_is_cut_where_it_comes_round_again() -> None:
    """Three departments passing the caller on in words no transfer rule knows: the circle is
    one piece, then the same again, so the path can stop as repeating (not grow to the call's
    length limit as one prompt)."""
    circle = [
        "Billing is closed today. Accounts will take your call.",
        "Accounts cannot answer billing questions. Collections will help you.",
        "All collections agents are busy. The billing office will call you.",
    ]
    pieces = split_prompts([*circle, *circle[:2]], [])
    assert [(p.first, p.last) for p in pieces] == [(0, 2), (3, 4)]
    assert same_prompt(pieces[0].text, " ".join(circle))


def test_a_sentence_that_ends_two_prompts_begins_no_piece() -> None:
    heard = [
        "Claims are handled online. Thank you for calling Kestrel. Transferring you to billing.",
        "Billing is handled online too. Thank you for calling Kestrel.",
    ]
    assert [(p.first, p.last) for p in split_prompts(heard, [])] == [(0, 0), (1, 1)]


def test_a_notice_run_into_a_known_prompt_keeps_the_prompt() -> None:
    menu = "For your balance and due date, press one. To pay by phone, press two."
    heard = [
        "We didn't receive your selection, billing for your balance, and due date, press one.",
        "To pay by phone, press two.",
    ]
    pieces = split_prompts(heard, [("billing", menu)])
    assert [(p.known, p.text.split(",")[0]) for p in pieces] == [("billing", "for your balance")]
    assert split_prompts(["Sorry, that entry wasn't recognized."], [("billing", menu)]) == []


def test_a_message_run_into_a_known_menu_in_one_sentence_stays_apart() -> None:
    """Kestrel kal: the balance message and the billing menu played after it, heard as one
    sentence; the known menu took the whole sentence, and the message was lost (an invented
    loop: key 1 seemed to replay the menu)."""
    menu = "For your balance and due date, press one. To pay by phone, press two."
    heard = [
        "Your balance and your next due date are printed at the top of your latest "
        "statement, and shown in the app, billing for your balance and due date, press one.",
        "To pay by phone, press two.",
    ]
    pieces = split_prompts(heard, [("billing", menu)])
    assert [(p.known, p.text.split(",")[0]) for p in pieces] == [
        (
            None,
            "Your balance and your next due date are printed at the top of your latest statement",
        ),
        ("billing", "for your balance and due date"),
    ]
    assert 0.5 < pieces[0].end_share < 1.0 and pieces[1].start_share == pieces[0].end_share


def test_sentences_that_differ_in_their_subject_are_not_a_repeat() -> None:
    circle = [
        "The billing office is closed today. Accounts will take your call.",
        "Accounts cannot answer billing questions. Collections will help you.",
        "All collections agents are busy. The billing office will help you.",
    ]
    pieces = split_prompts(circle, [])
    assert len(pieces) == 1, [p.text for p in pieces]


def test_a_long_circle_is_split_as_when_every_start_was_tried() -> None:
    """split_prompts looks back only as far as a new opening can reach; the pieces must be
    those of trying every start, and a five-minute circle of transfers must finish."""

    def every_start(
        sentences: list[str], known: Sequence[tuple[str, str]]
    ) -> tuple[int, str] | None:
        for start in range(len(sentences) - 1, -1, -1):
            heard = words(" ".join(sentences[start:]))
            for node, prompt in known:
                if find_opening(prompt, heard) is not None:
                    return prompts._with_title(sentences, start, prompt), node
        return None

    known = [
        ("billing", "You have reached billing. Our team will help you with your account today."),
        ("sales", "Welcome to sales. We can help you choose the right plan for your home."),
    ]
    circle = [
        "Please wait while I find someone for you.",
        "All of our people are helping other callers right now.",
        "Let me send you to the department that can help.",
        "You have reached billing.",
        "Our team will help you with your account today.",
        "Hmm, that question belongs with another team.",
        "Welcome to sales.",
        "We can help you choose the right plan for your home.",
    ]
    utterances = circle * 20
    bounded = prompts.split_prompts(utterances, known)
    original = prompts._known_opening
    try:
        prompts._known_opening = every_start  # type: ignore[assignment]
        reference = prompts.split_prompts(utterances[:48], known)
    finally:
        prompts._known_opening = original
    assert prompts.split_prompts(utterances[:48], known) == reference
    assert bounded[-1].last == len(utterances) - 1


def test_a_known_notice_does_not_take_in_the_menu_played_after_it() -> None:
    """TelNova awb: a wrong key's notice the classifier does not know ("Please choose one of
    the auctions listed.") is a known node once heard; the next time, the menu replayed after
    it was taken in sentence by sentence as more of the notice, became a menu, and the crawl
    explored keys at it. A known prompt heard in full takes in no more sentences."""
    notice = "Please choose one of the auctions listed."
    heard = [notice, MAIN]
    pieces = split_prompts(heard, [("main", MAIN), ("notice", notice)])
    assert [(p.text, p.known) for p in pieces] == [(notice, "notice"), (MAIN, "main")]
    longer = "Please choose one of the auctions listed. Or press 0 for an agent."
    pieces = split_prompts([notice, "Or press zero for an agent."], [("notice", longer)])
    assert [p.known for p in pieces] == ["notice"], "the rest of a known prompt stays in it"
