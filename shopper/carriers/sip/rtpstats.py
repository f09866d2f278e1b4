"""Per-call RTP reception figures (RFC 3550 appendix A): packets, loss, jitter, longest gap.

Loss is counted from sequence numbers (extended to 32 bits, A.1), per source: a new SSRC
starts a new count and the totals add up. Jitter is the running interarrival estimate of
A.8, in timestamp units (samples) until reported. The longest gap is the longest silence of
the network between two packets, including the stretch after the last one up to the end of
the call (`close`), so a stream that stops shows as a gap.
"""

from __future__ import annotations

from dataclasses import dataclass

from shopper.audio.frame import TELEPHONY_RATE
from shopper.carriers.base import MediaStats

SEQ_MOD = 1 << 16
MAX_DROPOUT = 3000
"""A jump forward by more than this many sequence numbers is a restart, not a loss (A.1)."""


@dataclass(slots=True)
class _Source:
    base: int
    highest: int
    """Extended highest sequence number seen."""
    received: int = 0
    transit: float | None = None


class RtpStats:
    def __init__(self) -> None:
        self._sources: dict[int, _Source] = {}
        self._expected_done = 0
        self._received_done = 0
        self._late = 0
        self._jitter = 0.0
        self._last_arrival: float | None = None
        self._longest_gap = 0.0

    def received(self, ssrc: int, sequence: int, timestamp: int, arrival_s: float) -> None:
        """Count a packet (not a duplicate) that arrived at `arrival_s` (seconds, any epoch)."""
        source = self._sources.get(ssrc)
        if source is None:
            source = self._sources[ssrc] = _Source(base=sequence, highest=sequence)
        else:
            extended = _extend(source.highest, sequence)
            if extended > source.highest + MAX_DROPOUT:  # the sender restarted: resync (A.1)
                source.base += extended - source.highest - 1
            source.highest = max(source.highest, extended)
        source.received += 1
        transit = arrival_s * TELEPHONY_RATE - timestamp
        if source.transit is not None:
            delta = abs(transit - source.transit)
            if delta < 10 * TELEPHONY_RATE:  # a timestamp jump is not jitter
                self._jitter += (delta - self._jitter) / 16
        source.transit = transit
        self._gap_until(arrival_s)

    def late(self) -> None:
        """A packet that arrived after its audio was played: counted as lost, as heard."""
        self._late += 1

    def close(self, end_s: float) -> None:
        """The call's audio ended at `end_s`: the time since the last packet is a gap too."""
        if self._last_arrival is not None:
            self._longest_gap = max(self._longest_gap, end_s - self._last_arrival)

    def _gap_until(self, arrival_s: float) -> None:
        if self._last_arrival is not None:
            self._longest_gap = max(self._longest_gap, arrival_s - self._last_arrival)
        self._last_arrival = max(arrival_s, self._last_arrival or arrival_s)

    def snapshot(self) -> MediaStats:
        expected = sum(s.highest - s.base + 1 for s in self._sources.values())
        received = sum(s.received for s in self._sources.values())
        lost = max(0, expected - received) + self._late
        return MediaStats(
            packets=received - self._late,
            lost=lost,
            jitter_ms=self._jitter / TELEPHONY_RATE * 1000,
            longest_gap_s=self._longest_gap,
        )


def _extend(highest: int, sequence: int) -> int:
    """The extended sequence number of `sequence` near `highest` (wrap-around, A.1)."""
    candidate = (highest & ~(SEQ_MOD - 1)) | sequence
    if candidate < highest - SEQ_MOD // 2:
        candidate += SEQ_MOD
    elif candidate > highest + SEQ_MOD // 2:
        candidate -= SEQ_MOD
    return candidate
