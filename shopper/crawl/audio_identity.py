"""Are two places where the crawl heard a prompt the same recording? Judged on the audio.

Transcripts of one recording differ from call to call (the recogniser hears "For claims,
press 1" as "Fourth lanes, press one" once), most of all where a key cut the previous prompt
and its tail was joined to the next one in one utterance. The audio does not change: the
phone system plays the same file. So where the words leave doubt, the explorer asks here
whether the spans it kept as evidence hold the same recording
(shopper.audio.common_stretch).

Only the phone system's side is compared: a call's recording.wav holds the far end in its
left channel and the tester's own audio (DTMF keys, spoken probes) in its right one, and keys
pressed over a prompt would otherwise change its envelope on one call and not on the other.
The tester's channel is still read, for one thing: a key pressed inside a span. A span begins
where the recogniser's utterance began, which can be seconds before the key that led to the
prompt (the crawl presses at a pause in a prompt, where an utterance need not end); what was
played before that key is the prompt it interrupted, the same on every call that took the
same route, and would make two different prompts after two different keys look alike. So a
span is compared from the end of the last key pressed in it.

A crawl compares the spans of a few dozen prompts among calls of up to several minutes, so
decoded recordings (the last few) and span envelopes (many, a few kB each) are kept.
Call folders are written once and never rewritten, so a cache entry never goes stale.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from shopper.audio.common_stretch import MIN_STRETCH_CORRELATION, align, is_shared, shares_recording
from shopper.audio.dtmf import detect_dtmf
from shopper.audio.files import read_channel
from shopper.audio.fingerprint import HOP_SAMPLES, Envelope, envelope
from shopper.audio.frame import TELEPHONY_RATE, Samples
from shopper.crawl.map import Evidence

WORTH_HEARING_SIMILARITY = 0.4
"""Word similarity (shopper.crawl.identity.similarity) from which a prompt that is not the
same by its words is compared by its audio. Spans of one recording measured 0.41-0.71 on
the shipped IVRs; a prompt sharing fewer words is taken as another prompt without listening,
because a short piece of a longer utterance has that whole utterance as its evidence."""
FAR_END_CHANNEL = 0
TESTER_CHANNEL = 1
"""Left the phone system, right shopper (shopper.engine.session.Recording.stereo)."""
PLAYED_ON_S = 2.0
"""Far-end audio after a key that must go on as the same recording, at the lag it had before
the key, for the key to count as ignored: as long as the shortest stretch taken as one
recording (shopper.audio.common_stretch), well past the 0.1-0.6 s a phone system takes to
stop a prompt it obeys."""
BEFORE_KEY_S = 0.5
"""...and the shared stretch must begin this much before the key: it runs across it."""
ENDS_TOGETHER_S = 0.5
"""How near the end of a span the stretch it shares with another must reach for both to end
with that recording: one compared window (shopper.audio.common_stretch), the resolution at
which a stretch ends."""
RECORDINGS_KEPT = 8
SPANS_KEPT = 4096


def same_recording(out_dir: Path, a: Evidence, b: Evidence) -> bool:
    """Whether spans `a` and `b` (recordings relative to the crawl's `out_dir`) hold the same
    recording: a long stretch of far-end audio, most of the shorter span, in common.

    Overlapping spans of one call say nothing: prompts cut from one utterance share its span."""
    if _overlap(a, b):
        return False
    return shares_recording(span_envelope(out_dir, a), span_envelope(out_dir, b))


def _overlap(a: Evidence, b: Evidence) -> bool:
    """Two spans of one call overlap: prompts cut from one utterance share its span."""
    return a.recording == b.recording and a.start_s < b.end_s and b.start_s < a.end_s


def span_envelope(out_dir: Path, evidence: Evidence) -> Envelope:
    return _compared(out_dir, evidence).envelope


@dataclass(frozen=True, slots=True)
class _Compared:
    """The far end's envelope over a span from the end of the last key pressed in it."""

    from_s: float
    """Where the envelope begins (media seconds of the call)."""
    envelope: Envelope


def _compared(out_dir: Path, evidence: Evidence) -> _Compared:
    recording = (out_dir / evidence.recording).resolve()
    return _after_keys(recording, evidence.start_s, evidence.end_s)


@functools.lru_cache(maxsize=SPANS_KEPT)
def _after_keys(recording: Path, start_s: float, end_s: float) -> _Compared:
    far_end, tester = _channels(recording)
    start, end = round(start_s * TELEPHONY_RATE), round(end_s * TELEPHONY_RATE)
    keys = detect_dtmf(tester[start:end], start)
    if keys:
        start = max(start, keys[-1].end)
    return _Compared(start / TELEPHONY_RATE, envelope(far_end[start:end]))


@dataclass(frozen=True, slots=True)
class SharedEnding:
    """Where the recording two spans end with begins in each (media seconds of its call), and
    how much was played before it in each since the last key pressed in the span (what a key
    interrupted is no prompt of the span's own)."""

    first_from_s: float
    first_head_s: float
    heard_from_s: float
    heard_head_s: float


def shared_ending(out_dir: Path, first: Evidence, heard: Evidence) -> SharedEnding | None:
    """Where spans `first` and `heard` begin to play the recording both end with, when they
    hold the same recording (as same_recording judges) and their shared stretch runs to the
    end of both: whatever comes before it in either is another prompt, played on that call
    only (a greeting before a menu on its first hearing; a message the phone system played
    before coming back to the menu). The words cannot say where: the recogniser hears the
    same recording in other words on each call, most of all in a voice it reads badly."""
    if _overlap(first, heard):
        return None
    a, b = _compared(out_dir, first), _compared(out_dir, heard)
    found = align(a.envelope, b.envelope)
    if not is_shared(found, a.envelope, b.envelope):
        return None
    hop_s = HOP_SAMPLES / TELEPHONY_RATE
    first_from_s = a.from_s + found.start * hop_s
    heard_from_s = b.from_s + (found.start - found.offset) * hop_s
    shared_s = found.frames * hop_s
    if first.end_s - (first_from_s + shared_s) > ENDS_TOGETHER_S:
        return None
    if heard.end_s - (heard_from_s + shared_s) > ENDS_TOGETHER_S:
        return None
    return SharedEnding(
        round(first_from_s, 3),
        round(first_from_s - a.from_s, 3),
        round(heard_from_s, 3),
        round(heard_from_s - b.from_s, 3),
    )


@functools.lru_cache(maxsize=RECORDINGS_KEPT)
def _channels(recording: Path) -> tuple[Samples, Samples]:
    return read_channel(recording, FAR_END_CHANNEL), read_channel(recording, TESTER_CHANNEL)


def played_on(out_dir: Path, first: Evidence, heard: Evidence, key_s: float) -> bool:
    """Whether a prompt a key was pressed into (`heard`: from where its utterance began on this
    call, through what was heard after the key at `key_s`) played on as if the key had not
    been pressed: its far-end audio is the recording of its first hearing `first`, one
    unbroken stretch at one lag from before the key to well after it. A prompt the phone
    system stopped, or restarted from its beginning, breaks the stretch at the key, whatever
    the recogniser made of the words."""
    if heard.end_s - key_s < PLAYED_ON_S or key_s - heard.start_s < BEFORE_KEY_S:
        return False
    found = align(_far_end(out_dir, first), _far_end(out_dir, heard))
    if found.frames == 0 or found.score < MIN_STRETCH_CORRELATION:
        return False
    hop_s = HOP_SAMPLES / TELEPHONY_RATE
    shared_from_s = heard.start_s + (found.start - found.offset) * hop_s
    shared_until_s = shared_from_s + found.frames * hop_s
    return shared_from_s <= key_s - BEFORE_KEY_S and shared_until_s >= key_s + PLAYED_ON_S


def _far_end(out_dir: Path, evidence: Evidence) -> Envelope:
    """The far end's envelope over the whole span, keys pressed inside it included (they are
    on the tester's channel only)."""
    far_end, _ = _channels((out_dir / evidence.recording).resolve())
    start, end = round(evidence.start_s * TELEPHONY_RATE), round(evidence.end_s * TELEPHONY_RATE)
    return envelope(far_end[start:end])
