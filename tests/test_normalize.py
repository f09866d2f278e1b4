import random

import pytest

from shopper.bench.corpus import prompt_transcripts
from shopper.text.normalize import DEFAULT_MISHEARINGS, MishearingTableError, normalize


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("Press 1.", "press one"),
        ("PRESS ONE!", "press one"),
        ("press #", "press pound"),
        ("press hash", "press pound"),
        ("the hash key", "the pound key"),
        ("the # key", "the pound key"),
        ("press *", "press star"),
        ("press asterisk", "press star"),
        ("Sales & Billing", "sales and billing"),
        ("50%", "fifty percent"),
        ("Hello,   world...  (really?)", "hello world really"),
        ("e-mail", "email"),
        ("E mail", "email"),
        ("voice mail", "voicemail"),
        ("Voice-Mail", "voicemail"),
        ("log in", "login"),
        ("Okay", "OK"),
        ("O.K.", "ok"),
        ("you\u2019re", "you're"),
        ("you're", "youre"),
        ("one hundred and five", "105"),
        ("um, press zero", "press 0"),
        ("Visit skylark.com.", "visit skylark dot com"),
        ("www.Example.co.uk/help", "www dot example dot co dot uk help"),
        ("(800) 555-1212", "800-555-1212"),
        ("800.555.1212", "8 0 0 5 5 5 1 2 1 2"),
        ("Call 1 800 555 1212.", "call 1-800-555-1212"),
    ],
)
def test_equivalent_spellings_normalise_alike(first: str, second: str) -> None:
    assert normalize(first) == normalize(second)


@pytest.mark.parametrize(
    ("different", "other"),
    [
        ("billing", "bill in"),
        ("representative", "rep"),
        ("press one", "press two"),
        ("zero", "oh"),
        ("pound", "star"),
        ("parties", "party's"),
        ("U.S. Bank", "u dot s bank"),
        ("e.g.", "e dot g"),
        ("civiclink.gov", "civiclink dot com"),
        ("press 1, 2 or 3", "press 123"),
    ],
)
def test_different_words_stay_different(different: str, other: str) -> None:
    assert normalize(different) != normalize(other)


@pytest.mark.parametrize(
    ("digits", "words"),
    [
        ("0", "zero"),
        ("7", "seven"),
        ("10", "ten"),
        ("13", "thirteen"),
        ("20", "twenty"),
        ("24", "twenty four"),
        ("99", "ninety nine"),
        ("100", "one hundred"),
        ("101", "one hundred one"),
        ("110", "one hundred ten"),
        ("1000", "one thousand"),
        ("1001", "one thousand one"),
        ("1234", "one thousand two hundred thirty four"),
        ("4242", "four thousand two hundred forty two"),
        ("20000", "twenty thousand"),
        ("999999", "nine hundred ninety nine thousand nine hundred ninety nine"),
        ("1,000,000", "one million"),
        ("28.8", "twenty eight point eight"),
        ("007", "zero zero seven"),
        ("5551212", "five five five one two one two"),
        ("1-800-555-1212", "one eight zero zero five five five one two one two"),
    ],
)
def test_numbers_become_words(digits: str, words: str) -> None:
    assert normalize(digits) == words


@pytest.mark.parametrize(
    ("digits", "words"),
    [
        ("1st", "first"),
        ("2nd", "second"),
        ("3rd", "third"),
        ("4th", "fourth"),
        ("5th", "fifth"),
        ("8th", "eighth"),
        ("9th", "ninth"),
        ("12th", "twelfth"),
        ("20th", "twentieth"),
        ("21st", "twenty first"),
        ("100th", "one hundredth"),
        ("1000th", "one thousandth"),
    ],
)
def test_ordinals_become_words(digits: str, words: str) -> None:
    assert normalize(f"the {digits} option") == f"the {words} option"


def test_digits_glued_to_letters_are_separated_not_lost() -> None:
    assert normalize("3D audio") == "three d audio"


def test_and_inside_other_phrases_is_kept() -> None:
    assert normalize("hundreds and thousands") == "hundreds and thousands"
    assert normalize("one hundred and more") == "one hundred and more"


def test_normalise_is_idempotent_on_every_asterisk_transcript() -> None:
    transcripts = list(prompt_transcripts().values())
    assert len(transcripts) > 500
    for text in transcripts:
        once = normalize(text)
        assert normalize(once) == once, text


def test_asterisk_menu_transcripts_agree_in_digits_and_words() -> None:
    texts = {path.stem: text for path, text in prompt_transcripts().items()}
    assert "press zero" in normalize(texts["basic-pbx-ivr-main"])
    assert "press one to mute" in normalize(texts["conf-usermenu"])
    assert "pound key" in normalize(texts["agent-pass"])


def test_output_is_lower_case_words_with_single_spaces() -> None:
    text = normalize("  Thank you for calling Super Awesome Company, Waldo's premier provider!  ")
    assert text == "thank you for calling super awesome company waldos premier provider"


def test_user_table_is_applied_over_the_default() -> None:
    table = {"acne": "acme", "oh": "0", "rep": "representative"}
    heard = "Acne Bank: press oh for a rep"
    assert normalize(heard, table) == "acme bank press zero for a representative"
    assert normalize(heard) == "acne bank press oh for a rep"


def test_user_table_keys_are_normalised_like_text() -> None:
    assert normalize("press #9", {"#9": "operator"}) == "press operator"
    assert normalize("press pound nine", {"#9": "operator"}) == "press operator"


def test_user_table_can_switch_a_default_off() -> None:
    assert normalize("okay", {"okay": "okay"}) == "okay"
    assert "okay" in DEFAULT_MISHEARINGS


def test_user_table_phrase_replacement_respects_word_boundaries() -> None:
    assert normalize("billing", {"bill": "invoice"}) == "billing"
    assert normalize("pay a bill", {"bill": "invoice"}) == "pay a invoice"


def test_idempotent_with_a_user_table_whose_replacement_completes_a_phrase() -> None:
    table = {"lawg": "log"}
    once = normalize("lawg in now", table)
    assert once == "login now"
    assert normalize(once, table) == once


def test_chained_user_table_is_rejected() -> None:
    with pytest.raises(MishearingTableError, match="'acne' -> 'acmy'"):
        normalize("x", {"acne": "acmy", "acmy": "acme"})


def test_reversing_a_default_without_switching_it_off_names_the_default() -> None:
    with pytest.raises(MishearingTableError, match="default mishearings entry 'okay' -> 'ok'"):
        normalize("x", {"ok": "okay"})


def test_non_text_table_entry_is_rejected_with_a_message() -> None:
    with pytest.raises(MishearingTableError, match="quote numbers"):
        normalize("x", {"oh": 0})  # type: ignore[dict-item]


def test_empty_table_key_is_rejected() -> None:
    with pytest.raises(MishearingTableError, match="no words"):
        normalize("x", {"...": "dots"})


def test_normalise_is_idempotent_on_random_mixtures_of_tricky_pieces() -> None:
    pieces = [
        *("1", "0", "12", "3rd", "1,000", "2.5", "007", "-", "'", "\u2019", ".", ",", "#", "*"),
        *("&", "%", " ", "a", "and", "hundred", "log", "in", "voice", "mail", "e", "o", "k"),
        *("uh", "re", "enter", "st", "th", "\u00dc", "hash", " one ", " and ", "twenty"),
        *("com", "dot", "www", "gov", "/"),
    ]
    generator = random.Random(0)
    for _ in range(3000):
        text = "".join(generator.choice(pieces) for _ in range(generator.randint(1, 12)))
        once = normalize(text)
        assert normalize(once) == once, text
