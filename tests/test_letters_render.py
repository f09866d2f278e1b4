import pytest

from shopper.text.decide import (
    ACCEPT_MARGIN_NATS,
    LETTER_GATE,
    Phrase,
    find_letters,
    phrases,
)
from shopper.text.letters import heard_words, letter_window, phrase_letters
from shopper.text.match import any_of, contains, fuzzy, regex
from shopper.text.render import renderings, swapped

GREETING = "Thank you for calling North Wind Traders. For billing, press 1."


def _window(phrase: str, heard: str) -> tuple[list[str], float]:
    words = heard_words(heard)
    window = letter_window(phrase_letters(phrase), words)
    assert window is not None
    return [w.raw for w in words[window.start : window.end]], window.similarity


def test_letters_absorb_a_word_split_and_keep_the_written_words() -> None:
    assert _window("northwind traders", GREETING) == (["North", "Wind", "Traders."], 1.0)
    assert _window("Northwind", "Welcome to northwind.") == (["northwind."], 1.0)


def test_letters_absorb_a_word_join() -> None:
    assert _window("voice mail box", "Leave a message in the voicemailbox now.") == (
        ["voicemailbox"],
        1.0,
    )


def test_letters_compare_numbers_as_spoken() -> None:
    assert _window("press two", "Or press 2 for sales.") == (["press", "2"], 1.0)


def test_a_consonant_said_once_for_two_words_may_be_written_once_or_twice() -> None:
    assert _window("arrived damaged", "Press 1 if your parcel arrive damaged.") == (
        ["arrive", "damaged."],
        1.0,
    )
    assert _window("arrive damaged", "if it arrived damaged") == (["arrived", "damaged"], 1.0)
    assert _window("bus stop", "Wait at the bustop.") == (["bustop."], 1.0)


def test_a_letter_said_once_is_only_borrowed_inside_the_window() -> None:
    """The heard copy that may go is the next word's first letter, so a phrase cannot end on
    a word that only matches by taking a letter from the word after it."""
    assert _window("arrive", "it arrived damaged")[1] < 1.0
    assert _window("amaged", "it arrived damaged")[1] < 1.0


def test_letters_whose_sound_depends_on_the_next_are_never_said_once() -> None:
    assert _window("magic city", "the magi city")[1] < 1.0
    assert _window("big giant", "a bi giant")[1] < 1.0


def test_letter_window_is_whole_words() -> None:
    words, similarity = _window("bill", "For billing press 1")
    assert words == ["billing"]
    assert similarity == pytest.approx(0.25)


def test_letters_score_a_garbled_phrase_by_its_letter_slips() -> None:
    words, similarity = _window("press two", "Prestew for billing.")
    assert words == ["Prestew"]
    assert similarity == pytest.approx(1 - 3 / 8)


def test_nothing_heard_has_no_window() -> None:
    assert letter_window(phrase_letters("acme"), heard_words("")) is None
    assert letter_window(phrase_letters("acme"), heard_words("um")) is None


def _grouped(phrase: str, heard: str, word_breaks: bool = False) -> tuple[tuple[str, ...], ...]:
    window = letter_window(phrase_letters(phrase), heard_words(heard))
    assert window is not None
    return renderings(heard, phrase, window, word_breaks=word_breaks)


def _rendered(phrase: str, heard: str, word_breaks: bool = False) -> tuple[str, ...]:
    """The renderings of a phrase that differs from the heard words in one stretch."""
    (texts,) = _grouped(phrase, heard, word_breaks)
    return texts


def test_rendering_keeps_the_recognisers_style_outside_and_where_words_agree() -> None:
    texts = _rendered("thank you for calling northwind", GREETING, word_breaks=True)
    assert texts[0] == "Thank you for calling Northwind Traders. For billing, press 1."


def test_rendering_takes_the_case_of_the_words_it_replaces_or_the_scripts() -> None:
    assert _rendered("Northwind", "calling north wind.", True)[0] == "calling Northwind."
    assert _rendered("northwind", "calling north wind.", True)[0] == "calling northwind."
    assert _rendered("press two", "Prestew for billing.")[0] == "Press two for billing."


def test_differences_in_word_breaks_only_are_left_as_heard() -> None:
    heard = "Thank you for calling Lake Shore Bank for sails."
    (texts,) = _grouped("thank you for calling lakeshore bank for sales", heard)
    assert texts[0] == "Thank you for calling Lake Shore Bank for sales."
    assert _grouped("thank you for calling lakeshore bank", heard) == ()


def test_rendering_splits_a_name_where_the_recogniser_split_it() -> None:
    texts = _rendered("CareBridge Health is closed", "Claire Bridge Health is closed.")
    assert "Care Bridge Health is closed." in texts
    texts = _rendered("welcome to FirstHarbor Bank", "Welcome to first, Arbor Bank.")
    assert "Welcome to first, Harbor Bank." in texts
    texts = _rendered("calling brightwave energy", "calling right away energy.")
    assert "calling bright wave energy." in texts


def test_rendering_offers_a_name_in_the_recognisers_case_too() -> None:
    texts = _rendered("choosing SkyLark Airways", "choosing Spylark Airways.")
    assert texts[:2] == ("choosing SkyLark Airways.", "choosing Skylark Airways.")


def test_a_heard_break_at_or_next_to_the_phrases_own_adds_no_split() -> None:
    assert _rendered("press two", "Press to.") == ("Press two.", "Press 2.")
    texts = _rendered("civiclink department", "a clinked apartment of")
    assert not any("epartment" in text.replace("department", "") for text in texts)


def test_rendering_writes_a_contraction_as_the_script_does() -> None:
    """Normalising spells `we'll` 'well' and `you've` 'you have'; the model writes what it
    hears as "we'll", so the rendering says it the script's way (the plain words too)."""
    texts = _rendered("we'll return your call", "Press one and reel return your call.")
    assert texts[0] == "Press one and we'll return your call."
    assert "Press one and well return your call." in texts
    texts = _rendered("we\u2019ll return your call", "Press one and reel return your call.")
    assert texts[0] == "Press one and we'll return your call.", "typographic apostrophe"


def test_a_heard_word_is_not_kept_as_part_of_a_contraction() -> None:
    """A heard "You" for `you've`: it does not agree with half of 'you have', so the stretch
    that replaces it can say "You've"."""
    (texts, _) = _grouped("you've reached TelNova", "You reached tell Nova today.")
    assert texts[0] == "You've reached tell Nova today."
    assert _rendered("I didn't get that", "I did and get that.")[:2] == (
        "I didn't get that.",
        "I did not get that.",
    )


def test_a_web_address_is_rendered_as_the_recogniser_wrote_the_one_it_heard() -> None:
    """ "skylark.com" and `skylark dot com` are the same words; over an address written as
    one word, the phrase is written as one too."""
    assert find_letters(Phrase("skylark dot com", "contains", ()), "at skylark.com.") is not None
    assert _window("skylark dot com", "Visit skylark.com today.") == (["skylark.com"], 1.0)
    texts = _rendered("civiclink dot gov", "online at civecling.gov.")
    assert texts[0] == "online at civiclink.gov."


def test_rendering_offers_numbers_as_words_and_numerals() -> None:
    texts = _rendered("press two", "Prestew for billing.")
    assert "Press two for billing." in texts
    assert "Press 2 for billing." in texts
    assert "Dial 24 now." in _rendered("dial twenty four", "Dial twenty-fore now.")


def test_rendering_widens_the_window_to_replace_a_misheard_neighbour() -> None:
    texts = _rendered("press two", "For sales, press 3.")
    assert texts[0] == "For sales, press two 3."
    assert "For sales, press 2." in texts
    assert len(texts) == len(set(texts))


def test_each_difference_is_rendered_on_its_own() -> None:
    groups = _grouped("thank you for calling pinecrest airlines", "And you for calling Pine Cres.")
    assert [group[0] for group in groups] == [
        "Thank you for calling Pine Cres.",
        "And you for calling Pinecrest Airlines.",
    ]


def test_a_deleted_word_leaves_its_punctuation_behind() -> None:
    texts = _rendered("press two", "For sales, press 3.")
    assert "For sales, press two." in texts


def test_rendering_moves_punctuation_of_replaced_words_to_the_phrase() -> None:
    assert _rendered("acme bank", "Welcome to Ack Me Bank.")[0] == "Welcome to Acme Bank."


def test_phrases_of_each_matcher_kind() -> None:
    matcher = any_of([contains("billing"), fuzzy("acme bank", 0.7), regex("press (one|two)")])
    assert [(p.text, p.kind) for p in phrases(matcher)] == [
        ("billing", "contains"),
        ("acme bank", "fuzzy"),
    ]
    assert phrases(regex("press one")) == ()


def test_exact_letters_decide_alone_and_others_ask_the_audio() -> None:
    split = find_letters(Phrase("northwind traders", "contains", ()), GREETING)
    assert split is not None and split.exact and not split.worth_asking
    decided = split.by_letters()
    assert decided.matched and decided.method == "letters"
    assert decided.span == "North Wind Traders."

    garbled = find_letters(Phrase("press two", "contains", ()), "Prestew for billing.")
    assert garbled is not None and garbled.worth_asking
    assert not garbled.by_letters().matched


def test_a_consonant_said_once_decides_by_letters() -> None:
    """The rms voice's "if your parcel arrived damaged", heard "arrive damaged": the audio
    check scored the script's phrase 7.7 nats below the model's reading, as it would any
    spelling the sound cannot tell apart."""
    heard = "Press 1 if your parcel arrive damaged. Press 2 if it never arrived."
    found = find_letters(Phrase("arrived damaged", "contains", ()), heard)
    assert found is not None and found.exact
    assert found.by_letters().matched and found.by_letters().method == "letters"


def test_a_phrase_far_from_every_window_costs_no_audio_check() -> None:
    other = find_letters(Phrase("billing and payments", "contains", ()), "For sales press 2.")
    assert other is not None
    assert other.window.similarity < LETTER_GATE
    assert not other.worth_asking


def test_audio_decides_on_the_best_margin_against_the_threshold() -> None:
    found = find_letters(Phrase("press two", "contains", ()), "Prestew for billing.")
    assert found is not None
    accepted = found.by_audio([[-9.0, ACCEPT_MARGIN_NATS + 0.5]])
    assert accepted.matched and accepted.method == "audio"
    assert accepted.margin == ACCEPT_MARGIN_NATS + 0.5
    rejected = found.by_audio([[ACCEPT_MARGIN_NATS - 0.1, -12.0]])
    assert not rejected.matched and rejected.margin == ACCEPT_MARGIN_NATS - 0.1


def test_a_wrong_difference_is_not_outweighed_by_right_ones() -> None:
    found = find_letters(Phrase("thank you for calling pinecroft", "contains", ()), "And you Pine.")
    assert found is not None
    decided = found.by_audio([[+6.0], [ACCEPT_MARGIN_NATS - 1.0, -20.0]])
    assert not decided.matched and decided.margin == ACCEPT_MARGIN_NATS - 1.0


def test_words_that_line_up_one_to_one_are_judged_one_by_one() -> None:
    groups = _grouped("press two for billing", "Press to four billing, press free.")
    assert [group[0] for group in groups] == [
        "Press two four billing, press free.",
        "Press to for billing, press free.",
    ]
    assert all("Press two for billing, press free." in group for group in groups)


def test_words_whose_letters_line_up_across_a_break_stay_one_difference() -> None:
    (texts,) = _grouped("civiclink department", "a clinked apartment of")
    assert texts[0] == "a civiclink department of"


def test_a_rival_key_is_rendered_where_the_phrases_key_is() -> None:
    heard = "Press to four billing."
    finding = find_letters(Phrase("press two for billing", "contains", ()), heard)
    assert finding is not None
    rivals = swapped(heard, "press two for billing", finding.window, 1, "four")
    assert rivals is not None
    assert rivals[:4] == (
        "Press four four billing.",
        "Press 4 four billing.",
        "Press four for billing.",
        "Press 4 for billing.",
    ), "the rival's four takes the heard 'to', not the heard 'four'"
    assert "Press four billing." not in rivals
    kept = find_letters(Phrase("press 2 for billing", "contains", ()), "Press 2 for billing.")
    assert kept is not None
    assert swapped("Press 2 for billing.", "press 2", kept.window, 1, "star") == (
        "Press star for billing.",
    )
