"""Hold tracking from sound runs and utterances: start, announcements, callback offers, end."""

from shopper.asr.types import Utterance
from shopper.audio.segments import Segment
from shopper.engine.hold import HoldTracker
from shopper.engine.runs import Run
from shopper.engine.timeline import HoldEnded, HoldStarted

S = 8000


def said(text: str, start_s: float, end_s: float) -> Utterance:
    return Utterance(round(start_s * S), round(end_s * S), text, 0.5, True)


def feed_runs(
    tracker: HoldTracker, runs: list[tuple[str, float, float]], speaking: bool = False
) -> list[tuple[str, float]]:
    """Play confirmed runs frame by frame (20 ms) and collect the changes with their times;
    `speaking`: the classifier hears speech going on all the while."""
    changes = []
    for kind, start_s, end_s in runs:
        run = Run(kind, round(start_s * S))  # type: ignore[arg-type]
        for now in range(round(start_s * S), round(end_s * S), 160):
            change = tracker.observe_run(run, now, speaking=speaking)
            if change is not None:
                period = tracker.periods[-1]
                at = period.end if isinstance(change, HoldEnded) else period.start
                assert change.t == at, "the event is stamped where the hold period says"
                changes.append((change.TYPE, change.t / S))
    return changes


def test_music_for_two_seconds_starts_a_hold_at_its_beginning() -> None:
    tracker = HoldTracker()
    changes = feed_runs(tracker, [("speech", 0, 5), ("music", 5, 6.5)])
    assert changes == [] and tracker.state == "ivr"
    changes = feed_runs(tracker, [("music", 6.5, 9)])
    assert changes == [("hold-start", 6.5)]


def test_announcements_and_callback_offers_stay_on_hold_and_a_person_ends_it() -> None:
    tracker = HoldTracker()
    feed_runs(tracker, [("music", 10, 30)])
    assert (
        tracker.observe_utterance(
            said("Your call is important to us, please stay on the line.", 30, 34)
        )
        is False
    )
    tracker.observe_segment(Segment(10 * S, 30 * S, "music"))
    feed_runs(tracker, [("speech", 30, 34), ("music", 34, 50)])
    assert tracker.observe_utterance(said("To receive a call back, press 1.", 50, 53)) is True
    tracker.observe_segment(Segment(34 * S, 50 * S, "music"))
    feed_runs(tracker, [("speech", 50, 53), ("music", 53, 60)])
    tracker.observe_segment(Segment(53 * S, 60 * S, "music"))
    assert tracker.state == "hold"
    assert tracker.observe_utterance(said("Hi, this is Sam, how can I help?", 60.8, 63)) is False
    changes = feed_runs(tracker, [("speech", 60.8, 63), ("silence", 63, 66)])
    assert changes == [("hold-end", 60.0)]
    assert [u.text[:4] for u in tracker.announcements] == ["Your", "To r"]
    assert len(tracker.callback_offers) == 1
    assert tracker.held_samples(70 * S) == 50 * S


def test_speech_followed_by_music_is_an_announcement_not_the_end() -> None:
    tracker = HoldTracker()
    feed_runs(tracker, [("music", 0, 10)])
    tracker.observe_utterance(said("We appreciate your business.", 10, 12))
    changes = feed_runs(tracker, [("speech", 10, 12), ("silence", 12, 12.5), ("music", 12.5, 20)])
    assert changes == [] and tracker.state == "hold"
    assert [u.text for u in tracker.announcements] == ["We appreciate your business."]


def test_a_confirmed_callback_is_not_an_offer_and_ends_the_hold_at_the_call_end() -> None:
    tracker = HoldTracker()
    feed_runs(tracker, [("music", 0, 20)])
    tracker.observe_segment(Segment(0, 20 * S, "music"))
    assert (
        tracker.observe_utterance(said("We will call you back within the hour.", 20.5, 24)) is False
    )
    tracker.finish(25 * S, far_end_hung_up=True)
    assert tracker.periods[0].end == 20 * S


def test_a_drop_in_the_music_ends_the_hold_at_the_drop() -> None:
    tracker = HoldTracker()
    feed_runs(tracker, [("music", 0, 20)])
    tracker.finish(20 * S, far_end_hung_up=True)
    assert tracker.periods[0].end == 20 * S


def test_an_announcement_to_hold_starts_the_wait_and_the_hold_counts_from_its_end() -> None:
    tracker = HoldTracker()
    tracker.observe_utterance(said("For billing, press 1.", 0, 2))
    assert not tracker.waiting
    tracker.observe_utterance(said("Please hold for the next available agent.", 2.5, 5))
    assert tracker.waiting and tracker.state == "ivr"
    # The music starts inside a fade: it is heard as music only 9 s later.
    changes = feed_runs(tracker, [("silence", 5, 14), ("music", 14, 17)])
    assert changes == [("hold-start", 5.0)]
    assert tracker.announced_at is None


def test_other_speech_after_the_announcement_ends_the_wait() -> None:
    tracker = HoldTracker()
    tracker.observe_utterance(said("Transferring your call.", 0, 2))
    assert tracker.waiting
    tracker.observe_utterance(said("For sales, press 1. For support, press 2.", 3, 7))
    assert not tracker.waiting
    changes = feed_runs(tracker, [("music", 8, 11)])
    assert changes == [("hold-start", 8.0)], "the hold starts with its music, not before"


def test_a_music_segment_too_faint_for_the_runs_starts_the_hold_and_places_its_end() -> None:
    tracker = HoldTracker()
    feed_runs(tracker, [("speech", 0, 3), ("silence", 3, 5)])
    assert tracker.observe_music(Segment(3 * S, round(4.5 * S), "music")) is None, "too short"
    assert isinstance(tracker.observe_segment(Segment(3 * S, 9 * S, "music")), HoldStarted)
    assert tracker.periods[-1].start == 3 * S
    tracker.observe_utterance(said("Hello, this is Sam.", 10, 11.5))
    changes = feed_runs(tracker, [("speech", 10, 11.5), ("silence", 11.5, 13.5)])
    assert changes == [("hold-end", 9.0)], "a second of quiet before the person is the pick-up"


def on_hold_until(end_s: float) -> HoldTracker:
    """A tracker on hold since 0 s with music heard until `end_s`."""
    tracker = HoldTracker()
    feed_runs(tracker, [("music", 0, end_s)])
    tracker.observe_segment(Segment(0, round(end_s * S), "music"))
    return tracker


def test_a_long_quiet_before_the_person_is_a_pause_the_caller_waited_through() -> None:
    """Music fading below the line's noise after a callback offer: the caller hears silence
    and still waits; the hold ends where the person began, not where the music faded."""
    tracker = on_hold_until(20)
    assert tracker.observe_utterance(said("To be called back instead, press 1.", 20, 24))
    tracker.observe_utterance(said("Hello, this is Sam, how can I help?", 35, 37))
    changes = feed_runs(tracker, [("silence", 24, 35), ("speech", 35, 37), ("silence", 37, 39)])
    assert changes == [("hold-end", 35.0)]


def test_an_offer_split_by_a_pause_is_one_announcement_and_the_hold_goes_on() -> None:
    tracker = on_hold_until(20)
    first = said("Rather than wait, we can phone you back as soon as a specialist is free.", 20, 25)
    assert tracker.observe_utterance(first) is False, "half an offer is no offer"
    assert tracker.observe_utterance(said("Press 1 to choose that option.", 25.4, 27)) is True
    assert tracker.pending == [] and len(tracker.announcements) == 2
    changes = feed_runs(tracker, [("speech", 25.4, 27), ("silence", 27, 30)])
    assert changes == [] and tracker.state == "hold"


def test_a_voicemail_greeting_that_also_speaks_of_the_wait_ends_the_hold() -> None:
    tracker = on_hold_until(45)
    greeting = said("All of our nurses are with patients. Leave a message after the tone.", 45, 51)
    assert tracker.observe_utterance(greeting) is False
    assert tracker.announcements == [] and tracker.pending == [greeting]
    changes = feed_runs(tracker, [("speech", 45, 51), ("silence", 51, 53)])
    assert changes == [("hold-end", 45.0)]


def test_a_voicemail_box_ends_the_hold_before_its_greeting_whatever_the_words() -> None:
    tracker = on_hold_until(45)
    tracker.observe_utterance(said("All of our agents are busy.", 45, 47))
    assert tracker.state == "hold", "taken for a hold announcement"
    assert tracker.end_at_voicemail() == 45 * S
    assert tracker.state == "ivr"


def test_a_message_the_far_end_hangs_up_after_is_no_part_of_the_hold() -> None:
    tracker = on_hold_until(30)
    tracker.observe_utterance(said("All agents are still busy. Please call again later.", 30, 36))
    assert tracker.state == "hold"
    tracker.finish(37 * S, far_end_hung_up=True)
    assert tracker.periods[0].end == 30 * S


def test_the_caller_hanging_up_during_an_announcement_was_still_on_hold() -> None:
    tracker = on_hold_until(30)
    tracker.observe_utterance(said("Please continue to hold.", 30, 32))
    tracker.finish(32 * S, far_end_hung_up=False)
    assert tracker.periods[0].end == 32 * S


def test_dead_air_after_the_music_ends_the_hold_where_the_music_ended() -> None:
    tracker = on_hold_until(25)
    feed_runs(tracker, [("silence", 25, 55)])
    assert tracker.state == "hold", "a pause in the music is still hold"
    assert tracker.end_in_dead_air() == 25 * S
    assert tracker.held_samples(60 * S) == 25 * S


def test_the_rest_of_an_offer_after_a_pause_is_the_same_offer() -> None:
    tracker = on_hold_until(20)
    assert tracker.observe_utterance(said("We can ring you back when an adviser is free.", 20, 23))
    assert tracker.observe_utterance(said("Press 1 for that option.", 23.4, 25)) is False
    assert len(tracker.callback_offers) == 1 and len(tracker.announcements) == 2


def test_a_person_right_after_an_announcement_is_not_its_continuation() -> None:
    tracker = on_hold_until(20)
    tracker.observe_utterance(said("Thanks for waiting, someone will be with you shortly.", 20, 23))
    assert tracker.pending == [], "an announcement"
    tracker.observe_utterance(said("Hello?", 23.5, 24))
    assert [u.text for u in tracker.pending] == ["Hello?"]


def test_a_tone_after_the_announcement_to_hold_ends_the_wait_for_music() -> None:
    tracker = HoldTracker()
    tracker.observe_utterance(said("Please hold while we transfer your call.", 0, 3))
    tracker.observe_segment(Segment(4 * S, 8 * S, "tone"))
    assert not tracker.waiting
    changes = feed_runs(tracker, [("music", 8.5, 11)])
    assert changes == [("hold-start", 8.5)], "the hold starts with its music"


def test_music_back_after_the_speech_that_ended_a_hold_makes_it_an_announcement() -> None:
    """The frame runs heard the first seconds of the returning music as quiet, so the hold
    ended at the speech; the classifier's music segment then starts the next hold from that
    speech, once (not a new empty hold every frame)."""
    tracker = on_hold_until(20)
    tracker.observe_utterance(said("Sky lark values your business.", 20.2, 21.8))
    changes = feed_runs(tracker, [("speech", 20.2, 21.8), ("silence", 21.8, 24)])
    assert changes == [("hold-end", 20.0)]
    assert isinstance(tracker.observe_segment(Segment(22 * S, 27 * S, "music")), HoldStarted)
    changes = feed_runs(tracker, [("silence", 24, 27)])
    assert changes == [] and len(tracker.periods) == 2
    assert tracker.periods[1].start == round(20.2 * S)
    assert [u.text[:3] for u in tracker.announcements] == ["Sky"]


def test_music_back_before_the_end_was_judged_keeps_late_recognised_speech_in_the_hold() -> None:
    """The second half of an announcement is recognised only after the quiet that judged
    the hold over, while the music had already come back (heard by the classifier only)."""
    tracker = on_hold_until(20)
    tracker.observe_utterance(said("Sky lark values your business.", 20.2, 21.8))
    changes = feed_runs(tracker, [("speech", 20.2, 23.4), ("silence", 23.4, 25)])
    assert changes == [("hold-end", 20.0)]
    assert isinstance(
        tracker.observe_segment(Segment(round(23.6 * S), 28 * S, "music")), HoldStarted
    )
    assert tracker.periods[1].start == round(20.2 * S)
    tracker.observe_utterance(said("Please continue to hope.", 22.2, 23.4))
    assert tracker.state == "hold"


def test_music_long_after_the_speech_that_ended_a_hold_is_a_new_hold() -> None:
    tracker = on_hold_until(20)
    tracker.observe_utterance(said("Hi, this is Sam. Let me check that for you.", 21, 24))
    feed_runs(tracker, [("speech", 21, 24), ("silence", 24, 30)])
    assert isinstance(tracker.observe_segment(Segment(30 * S, 35 * S, "music")), HoldStarted)
    assert tracker.periods[1].start == 30 * S


def test_music_back_briefly_after_an_offer_the_words_missed_keeps_it_in_the_hold() -> None:
    """A callback offer whose key sentence the recogniser garbled ("Press 1 to choose that
    option" heard "Perez wanted to use that option") reads as no offer; the hold music comes
    back after it, and the caller takes the offer by its key 0.7 s into the music (shorter
    than `resume_s`). The music coming back says the speech was the queue's: the hold goes
    on to the music's end, not back to where the offer began."""
    tracker = on_hold_until(20)
    offer = said(
        "Rather than wait, we can phone you back as soon as this specialist is free.", 20, 25
    )
    tracker.observe_utterance(offer)
    tracker.observe_utterance(said("Perez wanted to use that option.", 25.4, 27))
    feed_runs(tracker, [("speech", 20, 27), ("silence", 27, 27.2), ("music", 27.2, 27.9)])
    tracker.observe_segment(Segment(round(27.2 * S), round(27.9 * S), "music"))
    tracker.observe_utterance(said("Thank you, we will phone you back within the hour.", 28.2, 31))
    tracker.finish(31 * S, far_end_hung_up=True)
    assert tracker.periods[0].end == round(27.9 * S)
    assert [u.text[:4] for u in tracker.announcements] == ["Rath", "Pere"]


def test_a_person_with_no_music_after_still_ends_the_hold_at_the_pick_up() -> None:
    """The other side of the rule: a person answers and the music does not come back (a
    music label shorter than the classifier's switching evidence in their pause is no
    return of the music), so the hold ends where the music ended."""
    tracker = on_hold_until(20)
    tracker.observe_utterance(said("Card services, you are speaking with Luis.", 20.3, 23))
    tracker.observe_segment(Segment(round(23.2 * S), round(23.5 * S), "music"))
    changes = feed_runs(tracker, [("speech", 20.3, 23), ("silence", 23, 25)])
    assert [kind for kind, _ in changes] == ["hold-end"]
    assert changes[0][1] <= 20.3, "no later than the person's first word"
    assert tracker.announcements == []


def test_music_back_before_the_text_of_the_speech_before_it_came_in_still_counts() -> None:
    """The classifier closes the returning music's segment before the recogniser's final for
    the speech before it is in (a slow final): the speech is an announcement all the same."""
    tracker = on_hold_until(20)
    tracker.observe_utterance(said("Ranner, none wait. We can phone you back and soon.", 20, 24))
    tracker.observe_segment(Segment(round(26.3 * S), 27 * S, "music"))
    assert len(tracker.pending) == 1, "the music follows speech not yet recognised"
    tracker.observe_utterance(said("Dress one to tune that option.", 24.4, 26))
    assert tracker.pending == [] and len(tracker.announcements) == 2
    tracker.observe_utterance(said("Thank you, goodbye.", 27.3, 29))
    tracker.finish(29 * S, far_end_hung_up=True)
    assert tracker.periods[0].end == 27 * S


def test_music_long_after_a_person_spoke_does_not_make_them_an_announcement() -> None:
    """Music that starts well after the speech (more than `resume_s` of quiet) is no return
    of the hold music after it: the speech still ended the hold."""
    tracker = on_hold_until(20)
    tracker.observe_utterance(said("Hello, this is Sam.", 20.3, 22))
    tracker.observe_segment(Segment(24 * S, 26 * S, "music"))
    assert tracker.announcements == [] and len(tracker.pending) == 1


def test_the_hold_does_not_end_while_the_next_sentence_is_being_said() -> None:
    """A short first sentence of an offer ("Rather not wait?", its words misheard as no
    offer), then the next sentence, whose first words with short gaps between them the runs
    do not confirm as speech for a second and more: the classifier hears speech going on,
    so the quiet after the first sentence is not over, and the music after the second keeps
    both in the hold."""
    tracker = on_hold_until(20)
    tracker.observe_utterance(said("Rather or not wait.", 20, 21.3))
    changes = feed_runs(tracker, [("speech", 20, 21.3), ("silence", 21.3, 21.7)])
    changes += feed_runs(tracker, [("silence", 21.7, 23.4)], speaking=True)
    assert changes == [] and tracker.state == "hold"
    tracker.observe_utterance(said("Select option 1 and we will call you back.", 21.7, 26))
    tracker.observe_segment(Segment(round(26.2 * S), 30 * S, "music"))
    feed_runs(tracker, [("speech", 23.4, 26), ("silence", 26, 26.2), ("music", 26.2, 30)])
    assert tracker.state == "hold" and tracker.pending == []
    assert [u.text[:4] for u in tracker.announcements] == ["Rath", "Sele"]


def test_a_quiet_that_lasts_after_the_speech_still_ends_the_hold() -> None:
    """The other side: once the classifier hears no more speech, the quiet after a person's
    words ends the hold as before."""
    tracker = on_hold_until(20)
    tracker.observe_utterance(said("Hello, this is Dana at the front desk.", 20.3, 22))
    changes = feed_runs(tracker, [("speech", 20.3, 22)], speaking=True)
    changes += feed_runs(tracker, [("silence", 22, 24)])
    assert [kind for kind, _ in changes] == ["hold-end"]
