"""Call-progress tones and Special Information Tones: playing them, and hearing them on a call.

Whether a call rang, hit a busy line, failed in the network or reached a dead number is told
by tones, not words, and often before any speech. The simulated phone system plays them with
`call_progress_tone`; `ToneDetector` hears them.

What the network plays is data (`TonePlan`), so that another country's tones are a new plan,
not new code. `NORTH_AMERICA` follows ANSI T1.401 / Telcordia: the precise tone plan's
frequency pairs, the cadence windows of common call-progress receivers, and the seven
three-segment SIT variants.

The receiver measures each frequency of the plan with a sliding single-bin DFT (the
Goertzel filter's maths with its phase kept): 25 ms blocks every 5 ms. 25 ms puts 440 Hz
exactly in the null of 480 Hz, and 5 ms steps place a tone's edges well within the cadence
windows. Speech and music must never read as a tone, so a stretch only counts when

- the plan's frequencies carry nearly all of each block's energy (`DOMINANCE`), in balance
  (`MAX_TWIST_DB`);
- its level stays put (`MAX_LEVEL_SPREAD_DB`) and lies in the plan's level window;
- the phase of each frequency advances at the nominal rate: the mean frequency error over the
  stretch is within the plan's tolerance and it barely wanders (`MAX_FREQUENCY_SPREAD_HZ`).

Stretches (runs) that pass then go through the plan's cadences (busy, reorder, ringback, dial)
or its SIT segment sequences. An event is emitted once, when its pattern is over: a cadenced
tone when no further burst came in time (or another burst broke the cadence), a SIT when its
third segment ends. `ToneDetector.ongoing` tells a caller earlier which cadences are already
confirmed (busy after two bursts, say) while they go on.

Analysis is vectorised over thousands of blocks at a time; only runs reach Python-level logic.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal, get_args

import numpy as np
from numpy.typing import NDArray

from shopper.audio.frame import TELEPHONY_RATE, AudioFrame, Samples, as_pcm16
from shopper.audio.goertzel import Floats
from shopper.audio.segments import Span
from shopper.errors import ShopperError

ToneKind = Literal[
    "dial",
    "ringback",
    "busy",
    "reorder",
    "sit-vacant",
    "sit-intercept",
    "sit-reorder",
    "sit-no-circuit",
    "sit-ineffective",
]
TONE_KINDS: tuple[ToneKind, ...] = get_args(ToneKind)

DBM0_AT_FULL_SCALE = 3.17
"""G.711's digital milliwatt: a full-scale sine is +3.17 dBm0, so dBm0 = dBFS + 3.17."""

FULL_SCALE = 32767.0


class ToneError(ShopperError):
    """A tone that cannot be made or a frame that cannot be heard; the message is one line."""


@dataclass(frozen=True, slots=True)
class ToneEvent(Span):
    """A whole call-progress pattern: [start, end) from its first to its last sample heard.

    For a cadenced tone, end is the end of its last burst (the silence after it is not part
    of what was heard).
    """

    kind: ToneKind
    parts: tuple[Span, ...] = field(default=(), compare=False, repr=False)
    """The bursts (or SIT segments) it was heard in: the tone is off between them."""


@dataclass(frozen=True, slots=True)
class CadencedTone:
    """A tone made of bursts of one set of frequencies, with the receiver's windows for them.

    `on_s`/`off_s` are what a generator plays (`off_s` 0: continuous); the ranges are what
    a receiver accepts. A pattern counts once `confirm_bursts` bursts, each in `on_range_s`
    and separated by gaps in `off_range_s`, were heard.
    """

    kind: ToneKind
    frequencies: tuple[float, ...]
    on_s: float
    off_s: float
    on_range_s: tuple[float, float]
    off_range_s: tuple[float, float]
    confirm_bursts: int


@dataclass(frozen=True, slots=True)
class SitVariant:
    """One SIT: its Telcordia code (e.g. "IC"), what it means, and its (Hz, seconds) segments."""

    code: str
    kind: ToneKind
    segments: tuple[tuple[float, float], ...]


@dataclass(frozen=True, slots=True)
class TonePlan:
    """A country's call-progress tones: what its network plays and what a receiver accepts."""

    name: str
    cadenced: tuple[CadencedTone, ...]
    sit_variants: tuple[SitVariant, ...]
    """The first variant of each kind is the one `call_progress_tone` plays."""
    cadenced_frequency_tolerance: float
    sit_frequency_tolerance: float
    sit_duration_tolerance: float
    sit_max_gap_s: float
    level_range_dbm0: tuple[float, float]
    """Level of all of a tone's frequencies together (dBm0 = dBFS + DBM0_AT_FULL_SCALE)."""

    def cadence(self, kind: str) -> CadencedTone | None:
        return next((tone for tone in self.cadenced if tone.kind == kind), None)

    def sit(self, kind: str) -> SitVariant | None:
        return next((variant for variant in self.sit_variants if variant.kind == kind), None)


_SIT_SHORT_S = 0.274
_SIT_LONG_S = 0.380
_SIT_LOW_1, _SIT_HIGH_1 = 913.8, 985.2
_SIT_LOW_2, _SIT_HIGH_2 = 1370.6, 1428.5
_SIT_3 = 1776.7


def _sit(
    code: str, kind: ToneKind, first: tuple[float, float], second: tuple[float, float]
) -> SitVariant:
    return SitVariant(code, kind, (first, second, (_SIT_3, _SIT_LONG_S)))


NORTH_AMERICA = TonePlan(
    name="North America (ANSI T1.401, Telcordia)",
    cadenced=(
        CadencedTone("dial", (350.0, 440.0), 1.0, 0.0, (1.0, math.inf), (0.0, 0.0), 1),
        CadencedTone("ringback", (440.0, 480.0), 2.0, 4.0, (1.68, 2.32), (3.38, 4.62), 1),
        CadencedTone("busy", (480.0, 620.0), 0.5, 0.5, (0.40, 0.58), (0.40, 0.58), 2),
        CadencedTone("reorder", (480.0, 620.0), 0.25, 0.25, (0.18, 0.30), (0.18, 0.30), 2),
    ),
    sit_variants=(
        _sit("IC", "sit-intercept", (_SIT_LOW_1, _SIT_SHORT_S), (_SIT_LOW_2, _SIT_SHORT_S)),
        _sit("VC", "sit-vacant", (_SIT_HIGH_1, _SIT_LONG_S), (_SIT_LOW_2, _SIT_SHORT_S)),
        _sit("RO", "sit-reorder", (_SIT_LOW_1, _SIT_SHORT_S), (_SIT_HIGH_2, _SIT_LONG_S)),
        _sit("NC", "sit-no-circuit", (_SIT_HIGH_1, _SIT_LONG_S), (_SIT_HIGH_2, _SIT_LONG_S)),
        _sit("IO", "sit-ineffective", (_SIT_LOW_1, _SIT_LONG_S), (_SIT_LOW_2, _SIT_SHORT_S)),
        _sit("RO'", "sit-reorder", (_SIT_HIGH_1, _SIT_SHORT_S), (_SIT_LOW_2, _SIT_LONG_S)),
        _sit("NC'", "sit-no-circuit", (_SIT_LOW_1, _SIT_LONG_S), (_SIT_LOW_2, _SIT_LONG_S)),
    ),
    cadenced_frequency_tolerance=0.015,
    sit_frequency_tolerance=0.002,
    sit_duration_tolerance=0.05,
    sit_max_gap_s=0.004,
    level_range_dbm0=(-40.0, -9.0),
)
"""Dial tone is continuous; a receiver calls it dial tone after a second of it. Ringback counts
after one ring (calls are often answered during the first silence); busy and reorder after
two bursts. ±1.5 % is this receiver's frequency window for the precise tone plan's pairs."""


# --- Generation -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ToneStep:
    """`seconds` of the sum of `frequencies` (none: silence)."""

    frequencies: tuple[float, ...]
    seconds: float


def synthesize(steps: Iterable[ToneStep], level_dbfs: float = -13.0) -> Samples:
    """Play tone steps back to back, each at `level_dbfs` in all (full-scale sine = 0 dBFS).

    The level is split equally between a step's frequencies (-13 dBFS of a pair is two sines
    of -16 dBFS), so that it means the same as the plan's level window whatever the step.
    """
    pieces: list[Floats] = []
    for step in steps:
        if not math.isfinite(step.seconds) or step.seconds < 0:
            raise ToneError(f"tone step of {step.seconds} s: give a duration of 0 s or more")
        count = round(step.seconds * TELEPHONY_RATE)
        piece = np.zeros(count, dtype=np.float64)
        if step.frequencies:
            amplitude = FULL_SCALE * 10.0 ** (level_dbfs / 20.0) / math.sqrt(len(step.frequencies))
            t = np.arange(count) / TELEPHONY_RATE
            for frequency in step.frequencies:
                piece += amplitude * np.sin(2.0 * np.pi * frequency * t)
        pieces.append(piece)
    if not pieces:
        return np.zeros(0, dtype=np.int16)
    return as_pcm16(np.concatenate(pieces))


def call_progress_tone(
    kind: ToneKind, duration_s: float, level_dbfs: float = -13.0, plan: TonePlan = NORTH_AMERICA
) -> Samples:
    """`duration_s` of what the network plays for `kind`, starting with a burst.

    Cadenced tones repeat their on/off cycle and are cut at `duration_s` (as a call would cut
    them). A SIT is played once, its three segments followed by silence up to `duration_s`
    (the network's recorded announcement would come there): `duration_s` must hold it.
    """
    if not math.isfinite(duration_s) or duration_s <= 0:
        raise ToneError(f"tone duration {duration_s} s: give a positive number of seconds")
    total = round(duration_s * TELEPHONY_RATE)
    cadence = plan.cadence(kind)
    variant = plan.sit(kind)
    if cadence is not None:
        if cadence.off_s <= 0:
            steps = [ToneStep(cadence.frequencies, duration_s)]
        else:
            cycles = math.ceil(duration_s / (cadence.on_s + cadence.off_s))
            cycle = [ToneStep(cadence.frequencies, cadence.on_s), ToneStep((), cadence.off_s)]
            steps = cycle * cycles
    elif variant is not None:
        steps = [ToneStep((frequency,), seconds) for frequency, seconds in variant.segments]
        length = sum(seconds for _, seconds in variant.segments)
        if duration_s < length:
            raise ToneError(f"{kind} lasts {length:.3f} s: give a duration of at least that")
        steps.append(ToneStep((), duration_s - length))
    else:
        kinds = [*(tone.kind for tone in plan.cadenced), *(v.kind for v in plan.sit_variants)]
        known = ", ".join(dict.fromkeys(kinds))
        raise ToneError(f"unknown tone kind {kind!r} for {plan.name}: expected one of {known}")
    samples = synthesize(steps, level_dbfs)
    return np.pad(samples[:total], (0, max(0, total - len(samples))))


# --- Detection ---------------------------------------------------------------------------------

BLOCK = 200
"""25 ms: 440 Hz falls in the null of 480 Hz, and every other pair of the plan is resolved."""
HOP = 40
"""5 ms between blocks: the time resolution of edges, bursts and gaps."""
_CHUNKS_PER_BLOCK = BLOCK // HOP
BATCH_CHUNKS = 8192
"""Hops analysed per array operation: bounds memory on long recordings."""

DOMINANCE = 0.70
"""Share of a block's energy the tone's frequencies must carry: speech and music spread theirs.
A tone that fills 70 % of a block passes, which sets where edges are measured."""
MAX_TWIST_DB = 10.0
"""How much weaker one frequency of a pair may be than the other."""
FLOOR_MARGIN_DB = 6.0
"""Blocks this far below the plan's weakest level are not looked at."""
MAX_LEVEL_SPREAD_DB = 2.0
"""Standard deviation of a run's block levels: a tone holds its level, a voice does not."""
MAX_FREQUENCY_SPREAD_HZ = 3.0
"""Standard deviation of a run's 25 ms frequency readings: generators do not wander."""
FREQUENCY_SLACK_HZ = 0.5
"""Measurement error allowed on top of a plan's frequency tolerance."""
TIMING_SLACK_S = 0.020
"""Measurement error allowed on each side of a plan's duration windows. Edges are found within
±3 ms for single tones, but the 40 Hz beat of 440 + 480 Hz moves ringback's by up to ±8 ms."""
MERGE_GAP_S = 0.030
"""Dropouts of a tone this short (noise, a lost packet) do not split it."""

_EDGE_OFFSET = round((1.0 - DOMINANCE) * BLOCK - HOP / 2)
"""A block passes once the tone fills DOMINANCE of it, and blocks come every HOP: the edge is
on average this far inside the first (last) passing block."""
_MERGE_BLOCKS = round(MERGE_GAP_S * TELEPHONY_RATE / HOP)
_TIMING_SLACK = round(TIMING_SLACK_S * TELEPHONY_RATE)


@dataclass(frozen=True, slots=True)
class _Run:
    """A stretch of one signature that passed every steadiness test."""

    signature: int
    start: int
    end: int
    frequencies: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class _Signature:
    """A set of frequencies heard together, and how close to nominal they must stay."""

    columns: tuple[int, ...]
    frequencies: tuple[float, ...]
    tolerance: float
    min_samples: int


@dataclass(slots=True)
class _RunTracker:
    """Gathers one signature's passing blocks into runs, keeping only running sums."""

    signature: _Signature
    index: int
    level_range: tuple[float, float]
    origin: int
    open: bool = False
    first: int = 0
    last: int = 0
    count: int = 0
    level_sum: float = 0.0
    level_squares: float = 0.0
    offset_count: int = 0
    offset_sums: Floats = field(default_factory=lambda: np.zeros(0))
    offset_squares: Floats = field(default_factory=lambda: np.zeros(0))

    def update(
        self,
        present: NDArray[np.bool_],
        levels: Floats,
        offsets: Floats,
        lagged: NDArray[np.bool_],
        base: int,
    ) -> list[_Run]:
        """Add a batch of blocks (global indices from `base`); return the runs that ended.

        `offsets` are each block's frequency errors, valid where `lagged` (the block 25 ms
        earlier passed too).
        """
        hits = np.flatnonzero(present)
        if not len(hits):
            return []
        runs: list[_Run] = []
        previous = self.last - base if self.open else -(10**12)
        starts = np.diff(np.concatenate(([previous], hits))) - 1 > _MERGE_BLOCKS
        ids = np.cumsum(starts)
        groups = int(ids[-1]) + 1
        counts = np.bincount(ids, minlength=groups)
        hit_levels = levels[hits]
        level_sums = np.bincount(ids, hit_levels, groups)
        level_squares = np.bincount(ids, hit_levels**2, groups)
        both = lagged[hits]
        offset_ids = ids[both]
        hit_offsets = offsets[hits][both]
        offset_counts = np.bincount(offset_ids, minlength=groups)
        offset_sums = np.stack(
            [np.bincount(offset_ids, column, groups) for column in hit_offsets.T], axis=1
        )
        offset_squares = np.stack(
            [np.bincount(offset_ids, column**2, groups) for column in hit_offsets.T], axis=1
        )
        first_positions = np.flatnonzero(starts)
        last_positions = np.searchsorted(ids, np.arange(groups), side="right") - 1
        for group in range(groups):
            if counts[group] == 0:
                continue
            if group > 0:
                runs.extend(self.close())
                self._begin(base + int(hits[first_positions[group - 1]]))
            self.last = base + int(hits[last_positions[group]])
            self.count += int(counts[group])
            self.level_sum += float(level_sums[group])
            self.level_squares += float(level_squares[group])
            self.offset_count += int(offset_counts[group])
            self.offset_sums = self.offset_sums + offset_sums[group]
            self.offset_squares = self.offset_squares + offset_squares[group]
        return runs

    def _begin(self, first: int) -> None:
        width = len(self.signature.columns)
        self.open = True
        self.first = self.last = first
        self.count = self.offset_count = 0
        self.level_sum = self.level_squares = 0.0
        self.offset_sums = np.zeros(width)
        self.offset_squares = np.zeros(width)

    @property
    def open_start(self) -> int | None:
        """Where the run still being heard began (its edge estimate), if one is."""
        return self.origin + self.first * HOP + _EDGE_OFFSET if self.open else None

    def close_if_over(self, now_block: int) -> list[_Run]:
        """End the open run if no passing block came for longer than a dropout."""
        if self.open and now_block - self.last - 1 > _MERGE_BLOCKS:
            return self.close()
        return []

    def close(self) -> list[_Run]:
        """End the open run; it is returned only if it passes the steadiness tests."""
        if not self.open:
            return []
        self.open = False
        start = self.origin + self.first * HOP + _EDGE_OFFSET
        end = self.origin + self.last * HOP + BLOCK - _EDGE_OFFSET
        signature = self.signature
        if end - start < signature.min_samples or self.offset_count < 2:
            return []
        level = self.level_sum / self.count
        level_spread = math.sqrt(max(0.0, self.level_squares / self.count - level**2))
        low, high = self.level_range
        if not low <= level <= high or level_spread > MAX_LEVEL_SPREAD_DB:
            return []
        offsets = self.offset_sums / self.offset_count
        spreads = np.sqrt(np.maximum(0.0, self.offset_squares / self.offset_count - offsets**2))
        nominal = np.asarray(signature.frequencies)
        allowed = signature.tolerance * nominal + FREQUENCY_SLACK_HZ
        if np.any(np.abs(offsets) > allowed) or np.any(spreads > MAX_FREQUENCY_SPREAD_HZ):
            return []
        measured = tuple(float(frequency) for frequency in nominal + offsets)
        return [_Run(self.index, start, end, measured)]


def _parts(runs: list[_Run]) -> tuple[Span, ...]:
    return tuple(Span(run.start, run.end) for run in runs)


def _within(value: int, window: tuple[float, float]) -> bool:
    low, high = window
    return low * TELEPHONY_RATE - _TIMING_SLACK <= value <= high * TELEPHONY_RATE + _TIMING_SLACK


@dataclass(slots=True)
class _CadenceMatcher:
    """Follows one cadenced tone through the runs of its frequencies.

    A burst that came too soon after the previous one breaks the cadence both ways: the
    previous burst is dropped from its pattern and the early one starts none.
    """

    tone: CadencedTone
    bursts: list[_Run] = field(default_factory=list)
    last_end: int | None = None

    def hear(self, run: _Run) -> list[ToneEvent]:
        gap = None if self.last_end is None else run.start - self.last_end
        self.last_end = run.end
        off_range = self.tone.off_range_s
        too_soon = gap is not None and gap < off_range[0] * TELEPHONY_RATE - _TIMING_SLACK
        if too_soon and self.bursts:
            self.bursts.pop()
        if not _within(run.end - run.start, self.tone.on_range_s):
            return self.close()
        if self.bursts and gap is not None and _within(gap, off_range):
            self.bursts.append(run)
            return []
        events = self.close()
        if not too_soon:
            self.bursts = [run]
        return events

    def close_if_over(self, horizon: int) -> list[ToneEvent]:
        """Close the pattern if nothing can continue it any more: `horizon` is where the
        audio still undecided begins (the end of the analysis, or an open run's start)."""
        if self.bursts:
            latest = self.tone.off_range_s[1] * TELEPHONY_RATE + _TIMING_SLACK
            if horizon - self.bursts[-1].end > latest:
                return self.close()
        return []

    @property
    def confirmed(self) -> ToneEvent | None:
        if len(self.bursts) < self.tone.confirm_bursts:
            return None
        return ToneEvent(
            self.bursts[0].start, self.bursts[-1].end, self.tone.kind, _parts(self.bursts)
        )

    def close(self) -> list[ToneEvent]:
        event = self.confirmed
        self.bursts = []
        return [] if event is None else [event]


@dataclass(slots=True)
class _SitMatcher:
    """Finds the plan's three-segment sequences among single-frequency runs, in time order."""

    plan: TonePlan
    recent: list[_Run] = field(default_factory=list)

    def hear(self, run: _Run) -> list[ToneEvent]:
        self.recent = [*self.recent, run][-3:]
        if len(self.recent) < 3:
            return []
        kind = self._classify(self.recent)
        if kind is None:
            return []
        event = ToneEvent(self.recent[0].start, self.recent[-1].end, kind, _parts(self.recent))
        self.recent = []
        return [event]

    def pending_start(self, now: int) -> int | None:
        """Where a SIT that the next runs may complete would begin: the earliest of the recent
        runs joined to `now` (where a run still being heard began, or the end of the audio
        analysed) by gaps no longer than a SIT's."""
        max_gap = self.plan.sit_max_gap_s * TELEPHONY_RATE + 2 * _TIMING_SLACK
        start, edge = None, now
        for run in reversed(self.recent):
            if edge - run.end > max_gap:
                break
            start, edge = run.start, run.start
        return start

    def _classify(self, runs: list[_Run]) -> ToneKind | None:
        plan = self.plan
        max_gap = plan.sit_max_gap_s * TELEPHONY_RATE + 2 * _TIMING_SLACK
        if any(later.start - earlier.end > max_gap for earlier, later in itertools.pairwise(runs)):
            return None
        bounds = [runs[0].start]
        bounds += [(earlier.end + later.start) // 2 for earlier, later in itertools.pairwise(runs)]
        bounds.append(runs[-1].end)
        durations = [end - start for start, end in itertools.pairwise(bounds)]
        for variant in plan.sit_variants:
            if all(
                abs(run.frequencies[0] - frequency)
                <= plan.sit_frequency_tolerance * frequency + FREQUENCY_SLACK_HZ
                and _within(
                    duration,
                    (
                        seconds * (1 - plan.sit_duration_tolerance),
                        seconds * (1 + plan.sit_duration_tolerance),
                    ),
                )
                for run, duration, (frequency, seconds) in zip(
                    runs, durations, variant.segments, strict=True
                )
            ):
                return variant.kind
        return None


def _signatures(plan: TonePlan) -> tuple[list[float], list[_Signature], dict[int, list[int]]]:
    """The plan's frequency sets, the frequencies they need, and which cadences use each set."""
    frequencies: list[float] = []

    def columns(members: tuple[float, ...]) -> tuple[int, ...]:
        for frequency in members:
            if frequency not in frequencies:
                frequencies.append(frequency)
        return tuple(frequencies.index(frequency) for frequency in members)

    signatures: list[_Signature] = []
    users: dict[int, list[int]] = {}
    for number, tone in enumerate(plan.cadenced):
        shortest = round(tone.on_range_s[0] * TELEPHONY_RATE) - _TIMING_SLACK
        found = next(
            (i for i, s in enumerate(signatures) if s.frequencies == tone.frequencies), None
        )
        if found is None:
            signature = _Signature(
                columns(tone.frequencies),
                tone.frequencies,
                plan.cadenced_frequency_tolerance,
                shortest,
            )
            signatures.append(signature)
            found = len(signatures) - 1
        else:
            old = signatures[found]
            signatures[found] = _Signature(
                old.columns, old.frequencies, old.tolerance, min(old.min_samples, shortest)
            )
        users.setdefault(found, []).append(number)
    shortest_segment = round(
        min(seconds for v in plan.sit_variants for _, seconds in v.segments)
        * (1 - plan.sit_duration_tolerance)
        * TELEPHONY_RATE
    )
    for frequency in dict.fromkeys(f for v in plan.sit_variants for f, _ in v.segments):
        signatures.append(
            _Signature(
                columns((frequency,)),
                (frequency,),
                plan.sit_frequency_tolerance,
                shortest_segment - _TIMING_SLACK,
            )
        )
    return frequencies, signatures, users


class ToneDetector:
    """Streaming call-progress and SIT receiver for one call's audio.

    Frames may have any length but must follow each other without gaps. Each pattern is
    reported once, when it is over (see the module's docstring), so `feed` returns events in
    the order they ended; `ongoing` tells earlier about cadences already confirmed.
    """

    def __init__(self, plan: TonePlan = NORTH_AMERICA) -> None:
        self._plan = plan
        frequencies, self._signatures, self._users = _signatures(plan)
        self._frequencies = np.asarray(frequencies, dtype=np.float64)
        phase = 2.0 * np.pi * np.outer(np.arange(HOP), self._frequencies) / TELEPHONY_RATE
        self._kernel = np.concatenate((np.cos(phase), np.sin(phase)), axis=1)
        # A block's DFT is the sum of its chunks' DFTs, each turned by its place in the block;
        # comparing a block with the one BLOCK samples earlier turns by a whole block.
        offsets = np.arange(_CHUNKS_PER_BLOCK)[:, None] * HOP
        self._chunk_turns = np.exp(-2j * np.pi * offsets * self._frequencies / TELEPHONY_RATE)
        self._block_turn = np.exp(-2j * np.pi * BLOCK * self._frequencies / TELEPHONY_RATE)
        self._floor_dbm0 = plan.level_range_dbm0[0] - FLOOR_MARGIN_DB
        # Each signature's frequencies as a row of power-matrix columns, padded with an extra
        # column of zeros, so that one array operation tests every signature.
        width = max(len(signature.columns) for signature in self._signatures)
        self._columns = np.array(
            [
                [*signature.columns, *[len(frequencies)] * (width - len(signature.columns))]
                for signature in self._signatures
            ]
        )
        self._members = self._columns < len(frequencies)
        self._cadences = [_CadenceMatcher(tone) for tone in plan.cadenced]
        self._sit = _SitMatcher(plan)
        self._trackers: list[_RunTracker] = []
        self._started = False
        self._origin = 0
        self._next: int = 0
        self._pending = np.zeros(0, dtype=np.int16)
        self._chunks = 0
        self._tail_sums = np.zeros((0, len(frequencies)), dtype=np.complex128)
        self._tail_energy = np.zeros(0, dtype=np.float64)
        self._lag_blocks = np.zeros((0, len(frequencies)), dtype=np.complex128)
        self._lag_present = np.zeros((0, len(self._signatures)), dtype=np.bool_)

    def feed(self, frame: AudioFrame) -> list[ToneEvent]:
        if frame.rate != TELEPHONY_RATE:
            raise ToneError(f"tone detection needs {TELEPHONY_RATE} Hz audio, got {frame.rate} Hz")
        if not self._started:
            self._started = True
            self._origin = self._next = frame.start
            self._trackers = [
                _RunTracker(signature, number, self._plan.level_range_dbm0, frame.start)
                for number, signature in enumerate(self._signatures)
            ]
        if frame.start != self._next:
            raise ToneError(
                f"audio frame starts at sample {frame.start}, expected {self._next}: "
                "frames must follow each other without gaps"
            )
        self._next = frame.end
        samples = np.concatenate((self._pending, frame.samples))
        usable = len(samples) - len(samples) % HOP
        self._pending = samples[usable:]
        events: list[ToneEvent] = []
        for offset in range(0, usable, BATCH_CHUNKS * HOP):
            events += self._analyse(samples[offset : min(usable, offset + BATCH_CHUNKS * HOP)])
        return sorted(events, key=lambda event: event.start)

    def finish(self) -> list[ToneEvent]:
        """End of the call's audio: report what was still being heard."""
        runs = [run for tracker in self._trackers for run in tracker.close()]
        events = self._hear(runs)
        for matcher in self._cadences:
            events += matcher.close()
        return sorted(events, key=lambda event: event.start)

    @property
    def ongoing(self) -> list[ToneEvent]:
        """Cadenced patterns already confirmed and not yet over, as heard so far."""
        return [event for m in self._cadences if (event := m.confirmed) is not None]

    @property
    def undecided_from(self) -> int | None:
        """The earliest sample a pattern not yet confirmed may still claim: the start of a run
        still being heard, of the bursts of a cadence not yet confirmed, or of the segments a
        SIT may still grow from. None when no tone is in the making."""
        starts = [t.open_start for t in self._trackers if t.open_start is not None]
        starts += [m.bursts[0].start for m in self._cadences if m.bursts and m.confirmed is None]
        sit_start = self._sit.pending_start(min(starts, default=self._origin + self._chunks * HOP))
        if sit_start is not None:
            starts.append(sit_start)
        return min(starts) if starts else None

    def _analyse(self, samples: Samples) -> list[ToneEvent]:
        chunks = samples.astype(np.float64).reshape(-1, HOP)
        first_chunk = self._chunks
        self._chunks += len(chunks)
        # einsum rather than BLAS: the same sums whatever the batch size (streaming gives the
        # whole buffer's figures bit for bit), and no thread pool to fight on a busy machine.
        projected = np.einsum("ij,jk->ik", chunks, self._kernel)
        real, imag = np.split(projected, 2, axis=1)
        sums = real - 1j * imag
        energy = np.einsum("ij,ij->i", chunks, chunks)
        sums = np.concatenate((self._tail_sums, sums))
        energy = np.concatenate((self._tail_energy, energy))
        tail = _CHUNKS_PER_BLOCK - 1
        self._tail_sums, self._tail_energy = sums[-tail:], energy[-tail:]
        count = len(sums) - tail
        if count <= 0:
            return []
        base = first_chunk - (len(sums) - len(chunks))
        blocks = sums[:count] * self._chunk_turns[0]
        block_energy = energy[:count].copy()
        for k in range(1, _CHUNKS_PER_BLOCK):
            blocks += sums[k : k + count] * self._chunk_turns[k]
            block_energy += energy[k : k + count]
        block_energy /= BLOCK
        return self._judge(blocks, block_energy, base)

    def _judge(self, blocks: NDArray[np.complex128], energy: Floats, base: int) -> list[ToneEvent]:
        # Streaming calls this every 20 ms frame: every signature is tested at once, and the
        # per-signature bookkeeping runs only for those present or with a run open.
        power = np.abs(blocks) ** 2 * (4.0 / BLOCK**2)
        lag = _CHUNKS_PER_BLOCK
        history = np.concatenate((self._lag_blocks, blocks))
        partners = np.arange(len(blocks)) + len(self._lag_blocks) - lag
        comparable = partners >= 0
        partners = np.maximum(partners, 0)
        padded = np.concatenate((power, np.zeros((len(power), 1))), axis=1)
        tone_power = padded[:, self._columns]
        total = tone_power.sum(axis=2)
        level = 10.0 * np.log10(np.maximum(total, 1e-12) / FULL_SCALE**2) + DBM0_AT_FULL_SCALE
        presence = (total >= 2.0 * DOMINANCE * energy[:, None]) & (level >= self._floor_dbm0)
        weakest = np.where(self._members, tone_power, np.inf).min(axis=2)
        presence &= weakest * 10.0 ** (MAX_TWIST_DB / 10.0) >= tone_power.max(axis=2)
        busy = np.flatnonzero(presence.any(axis=0) | self._open_trackers())
        runs: list[_Run] = []
        if len(busy):
            turn = blocks * np.conj(history[partners]) * self._block_turn
            offsets = np.angle(turn) * TELEPHONY_RATE / (2.0 * np.pi * BLOCK)
            was_present = np.concatenate((self._lag_present, presence))[partners]
            lagged = presence & comparable[:, None] & was_present
            for number in busy.tolist():
                columns = list(self._signatures[number].columns)
                tracker = self._trackers[number]
                runs += tracker.update(
                    presence[:, number],
                    level[:, number],
                    offsets[:, columns],
                    lagged[:, number],
                    base,
                )
                runs += tracker.close_if_over(base + len(blocks))
        self._lag_blocks = history[-lag:]
        self._lag_present = np.concatenate((self._lag_present, presence))[-lag:]
        events = self._hear(runs)
        for signature_number, users in self._users.items():
            horizon = self._trackers[signature_number].open_start
            if horizon is None:
                horizon = self._origin + (base + len(blocks)) * HOP
            for user in users:
                events += self._cadences[user].close_if_over(horizon)
        return events

    def _open_trackers(self) -> NDArray[np.bool_]:
        return np.array([tracker.open for tracker in self._trackers], dtype=np.bool_)

    def _hear(self, runs: list[_Run]) -> list[ToneEvent]:
        events: list[ToneEvent] = []
        for run in sorted(runs, key=lambda run: run.start):
            users = self._users.get(run.signature)
            if users is None:
                events += self._sit.hear(run)
            else:
                for user in users:
                    events += self._cadences[user].hear(run)
        return events


def detect_tones(
    samples: Samples, start: int = 0, plan: TonePlan = NORTH_AMERICA
) -> list[ToneEvent]:
    """Every call-progress pattern in a recording whose first sample is at `start`, by start."""
    detector = ToneDetector(plan)
    events = detector.feed(AudioFrame(samples, start))
    events += detector.finish()
    return sorted(events, key=lambda event: event.start)
