"""Cutting a piece of what a call heard at a moment of the call (shopper.crawl.piece_cut):
the utterances are the real Moonshine transcript of a flite awb circle of three departments
whose third hands back with "One moment.", with the media times they were heard at."""

from shopper.asr.types import Utterance
from shopper.audio.frame import TELEPHONY_RATE
from shopper.crawl.piece_cut import cut_at
from shopper.crawl.prompts import Piece


def heard(start_s: float, end_s: float, text: str) -> Utterance:
    return Utterance(
        round(start_s * TELEPHONY_RATE), round(end_s * TELEPHONY_RATE), text, 0.5, True
    )


FINALS = [
    heard(
        64.56,
        69.66,
        "Customer retention, refunds are handled by the refunds department one moment.",
    ),
    heard(70.02, 72.62, "Refunds are issued by our billing review team."),
    heard(73.0, 75.6, "Please hold while I transfer your toll."),
]
PIECE = Piece(" ".join(u.text for u in FINALS), 0, 2)


def test_a_piece_is_cut_at_the_marked_place_near_the_moment() -> None:
    """The first department's recording began again at 69.73 s: the cut is at the end of the
    first utterance, and each part is placed in its own utterances."""
    cut = cut_at(PIECE, FINALS, 69.73)
    assert cut is not None
    head, tail = cut
    assert head.text == FINALS[0].text
    assert (head.first, head.last, head.start_share, head.end_share) == (0, 0, 0.0, 1.0)
    assert tail.text == f"{FINALS[1].text} {FINALS[2].text}"
    assert (tail.first, tail.last, tail.start_share, tail.end_share) == (1, 2, 0.0, 1.0)


def test_far_from_a_marked_place_the_nearest_word_is_taken() -> None:
    """A moment in the middle of the first utterance, more than a second from any marked
    place: the cut is at the word boundary there, inside the utterance (placed by its share
    of the utterance's words)."""
    cut = cut_at(PIECE, FINALS, 67.3)
    assert cut is not None
    head, tail = cut
    assert head.text == "Customer retention, refunds are handled by"
    assert tail.text.startswith("the refunds department one moment. Refunds are issued")
    assert head.last == tail.first == 0
    assert head.end_share == tail.start_share == 6 / 11


def test_a_piece_of_one_word_is_not_cut() -> None:
    one = [heard(1.0, 1.5, "Goodbye.")]
    assert cut_at(Piece("Goodbye.", 0, 0), one, 1.2) is None
