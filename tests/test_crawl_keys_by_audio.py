"""Keys chosen by the speech model's audio check: where a key phrase may be (from the letters
of the heard words), the 12 candidates written in the model's style, and the choice. The
choice is tested against a stand-in for the recogniser's check whose margins are given; the
real check on real audio is exercised by the crawl of tests/test_crawl_outside.py."""

import asyncio
from collections.abc import Sequence

from shopper.asr.types import Fit, Utterance, VerifyUnavailable
from shopper.crawl.keys_by_audio import KEY_NAMES, KeyPlace, candidates, key_places, read_keys
from shopper.crawl.options import parse_options


def _said(text: str) -> Utterance:
    return Utterance(0, 8000, text, 0.5, True)


def test_key_phrases_are_found_from_letters_not_a_list() -> None:
    text = "For sales, Prestew, for billing, press I. For prescriptions, breast-too."
    places = key_places(text)
    assert places == [KeyPlace(2, 3), KeyPlace(5, 7), KeyPlace(9, 10)], "not 'prescriptions'"
    assert [candidates(text, place)[2] for place in places] == [
        "For sales, Press two, for billing, press I. For prescriptions, breast-too.",
        "For sales, Prestew, for billing, press two. For prescriptions, breast-too.",
        "For sales, Prestew, for billing, press I. For prescriptions, press two.",
    ]
    assert key_places("Dial nine for help") == [KeyPlace(0, 2)]
    assert key_places("Thank you for calling. Goodbye.") == []


def test_twelve_candidates_one_per_key_in_the_models_style() -> None:
    texts = candidates("To hear again, dress star.", KeyPlace(3, 5))
    assert len(texts) == 12 == len(KEY_NAMES)
    assert texts[0] == "To hear again, press zero." and texts[11] == "To hear again, press pound."


class Margins:
    """Stands in for RecognizerStream.verify: a margin per candidate text, -20 otherwise."""

    def __init__(self, margins: dict[str, float]) -> None:
        self.margins = margins
        self.asked: list[int] = []

    async def __call__(self, _utterance: Utterance, texts: Sequence[str]) -> list[Fit]:
        self.asked.append(len(texts))
        return [Fit(text, self.margins.get(text, -20.0)) for text in texts]


def test_the_best_key_is_taken_when_it_fits_and_nothing_is_invented() -> None:
    heard = "Please listen. For sales, Prestew, for billing, press I."
    verify = Margins(
        {
            "Please listen. For sales, Press two, for billing, press I.": -1.5,
            "Please listen. For sales, Press three, for billing, press I.": -2.5,
            "Please listen. For sales, Prestew, for billing, press five.": 1.2,
            "Press one listen. For sales, Prestew, for billing, press I.": -4.0,
        }
    )
    reading = asyncio.run(read_keys(verify, _said(heard)))
    assert reading.text == "Please listen. For sales, Press two, for billing, press five."
    assert [key for key, _ in reading.keys] == ["2", "5"], "'Please' fits no key at -3"
    assert [(c.heard, c.confirmed) for c in reading.changes] == [
        ("Prestew,", "Press two,"),
        ("press I.", "press five."),
    ]
    assert verify.asked == [12, 12, 12]


def test_a_key_the_audio_tells_clearly_apart_is_taken_below_the_accept_margin() -> None:
    """flite rms's "press eight", heard "press it": margins measured on a crawl's recording."""
    heard = "For new service, press it for the operator."
    clear = Margins(
        {
            "For new service, press eight for the operator.": -4.51,
            "For new service, press zero for the operator.": -10.47,
        }
    )
    assert asyncio.run(read_keys(clear, _said(heard))).keys == (("8", -4.51),)
    close = Margins(
        {
            "For new service, press eight for the operator.": -4.5,
            "For new service, press zero for the operator.": -5.5,
        }
    )
    assert asyncio.run(read_keys(close, _said(heard))).text == heard, "two keys fit alike"


def test_without_an_audio_check_the_words_stay_as_heard() -> None:
    async def unavailable(_utterance: Utterance, _texts: Sequence[str]) -> list[Fit]:
        raise VerifyUnavailable("no scoring on this backend")

    reading = asyncio.run(read_keys(unavailable, _said("For sales, Prestew.")))
    assert reading.text == "For sales, Prestew." and reading.keys == ()


def test_a_verb_with_a_short_ending_is_read_both_ways() -> None:
    """ "Pressed to" for "press two": the two letters after the verb may be the key ("Presto")
    or the verb's own ending with the key the next word; the audio decides between all 24."""
    heard = "Pressed to to stop service."
    assert key_places(heard) == [KeyPlace(0, 1, 2)]
    verify = Margins({"Press two to stop service.": -1.0, "Press two to to stop service.": -2.0})
    reading = asyncio.run(read_keys(verify, _said(heard)))
    assert reading.text == "Press two to stop service." and verify.asked == [24]
    assert reading.keys == (("2", -1.0),), "the same key in both readings is no rival"
    assert key_places("Dial nine for help") == [KeyPlace(0, 2)], "no ending, one reading"


def test_every_verb_the_parser_reads_is_checked_and_a_key_heard_as_two_words_too() -> None:
    """espeak-ng Meadowvale: "Select 9" heard 'Select "ign', "enter 0" heard "enter the aero":
    a verb the option parser knows is a place, and a key word that is no key is also read as
    two words replaced (24 candidates), never across a sentence's end."""
    assert key_places('Select "ign to hear the menu".') == [KeyPlace(0, 2, 3, 3)]
    heard = "To talk to a pharmacist, enter the aero."
    assert key_places(heard) == [KeyPlace(5, 7, 8, 8)]
    verify = Margins({"To talk to a pharmacist, enter zero.": -1.0})
    reading = asyncio.run(read_keys(verify, _said(heard)))
    assert verify.asked == [36] and reading.keys == (("0", -1.0),)
    assert reading.text == "To talk to a pharmacist, enter zero."
    assert key_places("For billing, press I. For sales") == [KeyPlace(2, 4)]
    assert key_places("For billing, press two for sales") == [KeyPlace(2, 4)]
    assert key_places("To talk to a pharmacist, enter") == [KeyPlace(5, 6)], "the key swallowed"


def test_a_change_is_made_where_it_was_heard_when_the_words_recur() -> None:
    """awb Hollisford: "press star" heard "press 2." at the end of a prompt that says
    "press 2." once before; the change replaced the first, and the labels swapped keys."""
    heard = (
        "To ask why your aid hasn't shown up, press 2. If you'd like to go back to the "
        "directory, press 2."
    )
    verify = Margins(
        {
            "To ask why your aid hasn't shown up, press 2. If you'd like to go back to the "
            "directory, press star.": 1.5,
        }
    )
    reading = asyncio.run(read_keys(verify, _said(heard)))
    prompt = f"Student Financial Services. {heard}"
    for change in reading.changes:
        prompt = change.apply(prompt)
    assert prompt == (
        "Student Financial Services. To ask why your aid hasn't shown up, press 2. If you'd "
        "like to go back to the directory, press star."
    )
    cut = "directory, press 2."
    assert reading.changes[-1].apply(cut) == "directory, press star.", "a prompt cut inside"


def test_a_key_named_by_its_option_number_is_read_with_the_option_word_misheard() -> None:
    """flite slt Larkspur: "For new reservations, select option one" heard "select auction
    one", so no key of the menu was read. The words after a verb may be "option" and the key:
    that reading is scored too, and the option parser then reads "select option one"."""
    heard = "For new reservations, select auction one. For billing, press two."
    assert key_places(heard)[0] == KeyPlace(3, 5, 6, 6)
    verify = Margins({"For new reservations, select option one. For billing, press two.": -4.6})
    reading = asyncio.run(read_keys(verify, _said(heard)))
    assert verify.asked == [36, 12], "the option reading costs 12 more candidates"
    assert reading.keys == (("1", -4.6),)
    assert reading.text == "For new reservations, select option one. For billing, press two."
    assert [(o.key, o.label) for o in parse_options(reading.text)] == [
        ("1", "new reservations"),
        ("2", "billing"),
    ]
    assert key_places("press the pound key")[0].option_end == 3, "scored, and lost on the audio"
