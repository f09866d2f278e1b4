"""What a carrier's signalling says about the call, each at the media time it happened.

Audio is not the only thing a phone network delivers: it also says when the far end starts
ringing, when early media (audio before any answer: ringback, announcements, SIT) begins,
when it answers, which keys the far end pressed (RFC 4733 events) and when it puts the call
on hold or takes it off (a re-INVITE to sendonly/inactive, then back to sendrecv), and when
its media stream stops altogether (no RTP) and resumes. A carrier
hands these to the session with the 20 ms frame they fall in (`DuplexFrame.signals`), so the
engine hears them in media-time order with the audio. Media time starts when the call is
placed, so ringing before an answer has a time too.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Signal:
    t: int
    """Media time in samples since the call was placed."""


@dataclass(frozen=True, slots=True)
class Ringing(Signal):
    """The far end is being alerted (SIP 180; the simulated phone system's ringback)."""


@dataclass(frozen=True, slots=True)
class EarlyMedia(Signal):
    """Audio from the far end began before any answer (SIP 183 with SDP)."""


@dataclass(frozen=True, slots=True)
class Answered(Signal):
    """The far end answered (SIP 200 OK to the INVITE)."""


@dataclass(frozen=True, slots=True)
class FarEndDigit(Signal):
    """The far end sent a key out of band (an RFC 4733 event), lasting `duration` samples."""

    digit: str
    duration: int


@dataclass(frozen=True, slots=True)
class FarEndHold(Signal):
    """The far end put the call on hold (re-INVITE with sendonly or inactive media)."""


@dataclass(frozen=True, slots=True)
class FarEndResume(Signal):
    """The far end took the call off hold (re-INVITE back to sendrecv)."""


@dataclass(frozen=True, slots=True)
class MediaStopped(Signal):
    """The far end's media stream stopped while the call is up: no RTP packet since `t` (the
    last one's arrival, or the answer when none came). Silence heard from then on is the
    network's, not the far end's: dead air then says "no RTP"."""


@dataclass(frozen=True, slots=True)
class MediaResumed(Signal):
    """Packets arrive again after MediaStopped (`t`: the first one's arrival)."""
