"""What kind of sound is on the line: speech, music, silence or tone, as timed segments.

The engine needs this for every wait in a call: a prompt has ended after a stretch of
trailing silence, hold music is not an announcement, dead air is not ringback. The decision
is made in three steps, each on the evidence that suits it:

1. Every 20 ms frame below -45 dBFS is silence (digital silence, comfort noise, line hiss).
2. A frame whose power sits in one or two spectral peaks that stay put at a steady level is
   tone (DTMF, dial, ringback, busy, reorder, SIT, beeps), provided its run of such frames
   switched on cleanly (out of near-silence, or with its frequency rising sharply) and has
   kept its level since: hold music holds and pulses notes with the same spectrum, but they
   grow out of the music around them (`ToneTracker`).
3. Any other frame is speech or music, judged by a small model trained on real prompts,
   espeak-ng speech and hold music (see
   `shopper.bench.classifier_bench.train_speech_music_model`) over about a second of context
   around the frame.

The frame labels are then smoothed with hysteresis: pauses shorter than 360 ms inside
speech or tone, and shorter than 1 s inside music (or faint but still musical), keep the
surrounding label, so trailing silence is measurable while the gaps between words are not.
Faint means below the silence level but standing out of the line's noise: a peaky spectrum
at least 6 dB above the noise floor, which is learnt from the quiet frames that are flat like
noise (`NoiseFloor`). A second of faint frames after a silence starts music of its own, as
when the music-on-hold a caller is put on starts inside a fade-out.
A change between two sounds is placed at the pause between them when there is one, and a
pause between two different sounds is a silence segment however short.

Decision latency: a frame is labelled 0.5 s after it is fed (the look-ahead of the context
window), and a segment closes once the next kind has persisted: 360 ms of silence after
speech or tone, 1 s after music, 100 ms of sound after silence (60 ms of tone, 1 s of faint
music), at least 200 ms of tone after speech (500 ms after music), 100 ms of sound after a
tone, and at least 500 ms to switch between speech and music (more when the evidence is
mixed). So a prompt's
end is reported about 0.86 s after the voice stops; `current` answers for the newest frame
without that delay.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from shopper.audio.features import (
    CONTEXT_FEATURE_NAMES,
    CONTEXT_RADIUS,
    ENERGY_FLOOR_DB,
    HOP,
    QUIET_DB,
    WINDOW,
    Floats,
    FrameFeatures,
    concatenate,
    context_features,
    frame_features,
    section,
    tail,
    windows_of,
)
from shopper.audio.frame import TELEPHONY_RATE, AudioFrame, Samples, split_frames
from shopper.audio.segments import Segment, SoundKind
from shopper.errors import ShopperError

MODEL_FILE = Path(__file__).with_name("speech_music_model.json")

TONE_SHARE = 0.99
"""Share of power in the two strongest peaks above which a frame may be a tone."""
TONE_DRIFT_BINS = 0.3
"""9 Hz: a generated tone stays put, a voice's harmonics glide with its pitch."""
TONE_LEVEL_STEP_DB = 1.0
"""A tone's level is steady from frame to frame; a musical note swells or decays."""
TONE_ONSET_DB = 15.0
"""A tone switches on: its first steady frame is this much louder than the quietest of the
100 ms before it, or its frequency rose this much within them (straight after other sound)."""
TONE_LEVEL_BAND_DB = 3.0
"""A tone keeps its level; a held note that falls this far below its peak is not one."""
_ONSET_LOOKBACK = 5
_TONE_CHAIN_FRAMES = 2
"""A tone run may follow another within this many frames without a pause (SIT's steps)."""

_LEAD = (WINDOW - HOP) // 2
"""Zeros before the first sample, so that each window is centred on the hop it labels."""
_LOOKAHEAD = CONTEXT_RADIUS
_KEEP_FRAMES = CONTEXT_RADIUS + 2

_BRIDGE_FRAMES: dict[SoundKind, int] = {"speech": 18, "tone": 18, "music": 50, "silence": 0}
"""Frames of silence that end a sound: shorter pauses belong to the sound around them."""


def bridged_pause(kind: SoundKind) -> int:
    """Samples: the longest pause inside a sound of `kind` that smoothing keeps in it."""
    return _BRIDGE_FRAMES[kind] * HOP


_ONSET_FRAMES = 5
"""Frames of sound that end a silence (100 ms: a click or a breath does not)."""
_TONE_ONSET_FRAMES = 3
_SWITCH_FRAMES = 25
"""Net frames of evidence to switch between speech and music: the model's context is 1 s."""
LABEL_LAG_S = CONTEXT_RADIUS * HOP / TELEPHONY_RATE
"""How long after a change between speech and music `current` may still give the old kind:
it is judged on the half second up to its frame, so the new sound shows there at the latest
once it fills that half second."""
SWITCH_S = LABEL_LAG_S + _SWITCH_FRAMES * HOP / TELEPHONY_RATE
"""How long a sound must have been heard as music (or speech) by `current` before the
smoothed segments take it for that kind: the label's lag, then the switch's evidence. A
shorter run of one label inside the other is its flicker on a word or a chord."""
_TO_TONE_FRAMES = 10
_MUSIC_TO_TONE_FRAMES = 25
"""Hold music holds notes: a tone must outlast one before it interrupts music."""
_FROM_TONE_FRAMES = 5
_STRAY_FRAMES = 3
"""A candidate with less evidence than this is forgotten at the next pause."""
_GAP_FRAMES = 2
"""The shortest pause that may serve as the boundary between two sounds."""
_BACKDATE_FRAMES = 15
_LATE_FRAMES = 12
"""How far before and after the evident change of speech/music its real pause may lie."""
_TONE_GAP_SLACK = 3
FAINT_FLATNESS = 0.1
"""Below the silence level, music's spectrum stays peaky while line noise is flat."""
FAINT_ABOVE_FLOOR_DB = 6.0
"""A faint frame stands this far above the line's noise floor: nearer it, even a peaky
spectrum may be the noise's own fluctuation."""
NOISE_FLATNESS = 0.2
"""Quiet frames at least this flat are line noise (white, pink or comfort noise, digital
silence) and tell the noise floor; music and voices, however faint, are peakier."""
CODEC_FLOOR_DB = -76.0
"""The lowest floor there is: G.711 μ-law's smallest steps are about -72 dBFS, so audio this
quiet is a code or two, and its spectrum says nothing. Also the floor assumed until the
line's own noise has been heard, and what digital silence counts as."""
FLOOR_RISE_DB = 0.02
"""Per frame (1 dB/s): the floor follows quieter noise at once and louder noise slowly, so
a burst of flat sound (a fricative's tail) barely moves it."""
_FAINT_ONSET_FRAMES = 50
"""Frames of faint musical sound that start music after a silence: 1 s, the bridge that
keeps music going through quiet."""


class ModelFileError(ShopperError):
    """The speech/music weights are missing or malformed; the message says which file."""


@dataclass(frozen=True)
class SpeechMusicModel:
    """A small feed-forward network giving the probability that a context is music.

    Hidden layers use tanh, the last layer a logistic output; inputs are standardised first.
    """

    mean: Floats
    scale: Floats
    layers: tuple[tuple[Floats, Floats], ...]

    def music_probability(self, features: Floats) -> Floats:
        """Probabilities for each row of `features` (shape (n, len(CONTEXT_FEATURE_NAMES)))."""
        values = (features - self.mean) / self.scale
        for weights, bias in self.layers[:-1]:
            values = np.tanh(values @ weights + bias)
        weights, bias = self.layers[-1]
        logits = (values @ weights + bias)[:, 0]
        result: Floats = 1.0 / (1.0 + np.exp(-np.minimum(np.maximum(logits, -50.0), 50.0)))
        return result

    def to_json(self) -> str:
        return json.dumps(
            {
                "features": list(CONTEXT_FEATURE_NAMES),
                "mean": self.mean.tolist(),
                "scale": self.scale.tolist(),
                "layers": [{"weights": w.tolist(), "bias": b.tolist()} for w, b in self.layers],
            },
            indent=1,
        )

    @classmethod
    def from_json(cls, text: str) -> SpeechMusicModel:
        data = json.loads(text)
        if list(data["features"]) != list(CONTEXT_FEATURE_NAMES):
            raise ValueError("the model was trained on other features")
        return cls(
            mean=np.asarray(data["mean"], dtype=np.float64),
            scale=np.asarray(data["scale"], dtype=np.float64),
            layers=tuple(
                (
                    np.asarray(layer["weights"], dtype=np.float64),
                    np.asarray(layer["bias"], dtype=np.float64),
                )
                for layer in data["layers"]
            ),
        )


@functools.cache
def default_model() -> SpeechMusicModel:
    """The weights shipped with shopper, read once."""
    try:
        return SpeechMusicModel.from_json(MODEL_FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ModelFileError(
            f"{MODEL_FILE}: cannot load the speech/music model ({error})"
        ) from None


def steady_tonal_frames(frames: FrameFeatures) -> NDArray[np.bool_]:
    """Frames that share a stable pair with a neighbour: the spectral signature of a tone.

    A pair is stable when both frames are tonal, loud enough, have the same strongest peak
    and nearly the same level. Held notes in music share this signature, hence `ToneTracker`.
    """
    tonal = (frames.tonality > TONE_SHARE) & (frames.energy_db > QUIET_DB)
    stable = (
        tonal[1:]
        & tonal[:-1]
        & (np.abs(np.diff(frames.peak_position)) < TONE_DRIFT_BINS)
        & (np.abs(np.diff(frames.energy_db)) < TONE_LEVEL_STEP_DB)
    )
    result = np.zeros(len(frames), dtype=np.bool_)
    result[1:] |= stable
    result[:-1] |= stable
    return result


@dataclass
class ToneTracker:
    """Which steady tonal frames are tones: runs that start cleanly and keep their level.

    Generated tones (DTMF, call-progress tones, SIT, beeps) switch on out of silence and hold
    their level to the end; a held note in hold music grows out of the notes around it, or
    swells and decays. A run of steady tonal frames is therefore a tone only if the frames
    just before it are much quieter (or were themselves tone, as in SIT's three steps; the
    line before the stream began counts as quiet) and its level stays within a band of its
    loudest frame so far. The decision is causal, so it needs state that crosses calls: one
    tracker per stream, whose frame indices may be local as long as the start of the stream
    is index 0 and at least three frames before `start` are kept.
    """

    in_run: bool = False
    accepted: bool = False
    run_peak_db: float = ENERGY_FLOOR_DB
    since_tone: int = _TONE_CHAIN_FRAMES + 1

    def follow(self, frames: FrameFeatures, start: int, stop: int) -> NDArray[np.bool_]:
        """Tone flags of frames `start` to `stop` (exclusive), which must follow the last call's.

        Frame `stop`, when present, is consulted as the right neighbour of the last one.
        """
        low = max(0, start - 1)
        # Only frames low..stop matter (each is judged with its two neighbours).
        near = section(frames, low, stop + 1)
        candidates = steady_tonal_frames(near)[start - low : stop - low].tolist()
        energy = frames.energy_db
        result = np.zeros(stop - start, dtype=np.bool_)
        for offset, candidate in enumerate(candidates):
            index = start + offset
            if not candidate:
                self.in_run = False
                self.since_tone += 1
                continue
            level = float(energy[index])
            if not self.in_run:
                self.in_run = True
                self.run_peak_db = level
                before = energy[max(0, index - _ONSET_LOOKBACK) : index]
                rise = frames.peak_rise_db[max(0, index - _ONSET_LOOKBACK + 1) : index + 1]
                clean_onset = (
                    index < _ONSET_LOOKBACK
                    or float(np.min(before)) <= level - TONE_ONSET_DB
                    or float(np.max(rise)) >= TONE_ONSET_DB
                )
                self.accepted = clean_onset or self.since_tone <= _TONE_CHAIN_FRAMES
            else:
                self.run_peak_db = max(self.run_peak_db, level)
                if level < self.run_peak_db - TONE_LEVEL_BAND_DB:
                    self.accepted = False
            if self.accepted:
                result[offset] = True
                self.since_tone = 0
            else:
                self.since_tone += 1
        return result


def _steady_with_previous(frames: FrameFeatures, index: int) -> bool:
    """Whether frame `index` and the one before form a stable pair (`steady_tonal_frames`)."""
    if index < 1:
        return False
    tonality, energy = frames.tonality, frames.energy_db
    before = index - 1
    return bool(
        tonality[index] > TONE_SHARE
        and energy[index] > QUIET_DB
        and tonality[before] > TONE_SHARE
        and energy[before] > QUIET_DB
        and abs(frames.peak_position[index] - frames.peak_position[before]) < TONE_DRIFT_BINS
        and abs(energy[index] - energy[before]) < TONE_LEVEL_STEP_DB
    )


def tone_frames(frames: FrameFeatures) -> NDArray[np.bool_]:
    """Tone flags of a whole buffer of frames, as a stream would judge them."""
    return ToneTracker().follow(frames, 0, len(frames))


@dataclass
class NoiseFloor:
    """The line's noise floor in dB, learnt from the quiet frames that are flat like noise.

    Whether a sound below the silence level is still music is judged against this floor,
    not against an absolute level: a fade-out of hold music on a quiet line stays music well
    below -45 dBFS, and the same spectrum on a hissing line is lost in the hiss.
    """

    level_db: float = CODEC_FLOOR_DB

    def faint(self, energy_db: float, flatness: float) -> bool:
        """Whether a quiet frame has musical structure standing out of the floor; learns
        from it when it is noise."""
        if energy_db > QUIET_DB:
            return False
        if flatness >= NOISE_FLATNESS:
            self.level_db = max(CODEC_FLOOR_DB, min(energy_db, self.level_db + FLOOR_RISE_DB))
            return False
        return flatness < FAINT_FLATNESS and energy_db > self.level_db + FAINT_ABOVE_FLOOR_DB


class _Smoother:
    """Hysteresis over frame labels: a new kind must persist before the segment changes.

    When one sound gives way to another, the boundary is moved back to the pause between
    them if there is one (the frames just after a change are judged on context that still
    holds the old sound), and that pause becomes a silence segment of its own.
    """

    def __init__(self, origin: int) -> None:
        self._origin = origin
        self._kind: SoundKind | None = None
        self._start = 0
        self._silence_run = 0
        self._silence_start = 0
        self._gaps: list[tuple[int, int]] = []
        """Recent pauses inside the current segment, as (first, end) frame indices."""
        self._scores: dict[SoundKind, int] = {}
        self._candidate_starts: dict[SoundKind, int] = {}
        self._onset_start = 0
        self._onset_counts: dict[SoundKind, int] = {}
        self._faint_start = 0
        self._faint_score = 0
        """Evidence of faint music during a silence: faint frames count up, others down."""

    def push(self, index: int, label: SoundKind, faint: bool) -> list[Segment]:
        """Take the label of frame `index`; `faint` marks a quiet frame with musical structure."""
        kind = self._kind
        if kind is None:
            self._kind = label
            return []
        if kind == "silence":
            return self._after_silence(index, label, faint)
        if label == "silence" and not (faint and kind == "music"):
            if self._silence_run == 0:
                self._silence_start = index
            self._silence_run += 1
            if self._silence_run >= _BRIDGE_FRAMES[kind]:
                return self._switch(self._silence_start, "silence")
            return []
        self._close_gap(index)
        if label in (kind, "silence"):
            self._weaken_candidates(None)
            return []
        self._weaken_candidates(label)
        if self._scores.get(label, 0) == 0:
            self._candidate_starts[label] = index
        self._scores[label] = self._scores.get(label, 0) + 1
        if self._scores[label] < _switch_frames(kind, label):
            return []
        start = self._candidate_starts[label]
        gap = self._gap_near(start, {kind, label} == {"speech", "music"})
        if gap is not None:
            return [*self._switch(gap[0], "silence"), *self._switch(gap[1], label)]
        return self._switch(start, label)

    def _gap_near(self, start: int, judged_on_context: bool) -> tuple[int, int] | None:
        """The pause where a change that became evident at frame `start` really happened.

        Tone and silence are judged frame by frame, so only a pause just before `start`
        counts. Speech and music are judged on a second of context, which blurs the change
        by up to a third of a second either way: the longest pause within that reach is the
        likeliest boundary.
        """
        early, late = (
            (_BACKDATE_FRAMES, _LATE_FRAMES) if judged_on_context else (_TONE_GAP_SLACK, 0)
        )
        near = [gap for gap in self._gaps if -late <= start - gap[1] <= early]
        if not near:
            return None
        return max(near, key=lambda gap: (gap[1] - gap[0], gap[1]))

    def _weaken_candidates(self, spared: SoundKind | None) -> None:
        """Evidence for any other kind wears a candidate down, without wiping it out.

        A few odd frames (a vowel that looks like a tone, a note that looks like speech)
        must neither start a change nor cancel one in progress.
        """
        self._scores = {
            kind: score if kind == spared else score - 1
            for kind, score in self._scores.items()
            if kind == spared or score > 1
        }

    def _close_gap(self, index: int) -> None:
        """End a pause; a candidate of a stray frame or two does not outlive it."""
        if self._silence_run >= _GAP_FRAMES:
            self._gaps = [*self._gaps[-7:], (self._silence_start, index)]
            self._scores = {
                kind: score for kind, score in self._scores.items() if score >= _STRAY_FRAMES
            }
        self._silence_run = 0

    def _after_silence(self, index: int, label: SoundKind, faint: bool) -> list[Segment]:
        if label == "silence":
            self._onset_counts = {}
            return self._faint_onset(index, faint)
        if not self._onset_counts:
            self._onset_start = index
        self._onset_counts[label] = self._onset_counts.get(label, 0) + 1
        if self._onset_counts.get("tone", 0) >= _TONE_ONSET_FRAMES:
            return self._switch(self._onset_start, "tone")
        if sum(self._onset_counts.values()) >= _ONSET_FRAMES:
            winner = max(self._onset_counts, key=lambda kind: self._onset_counts[kind])
            return self._switch(self._onset_start, winner)
        return []

    def _faint_onset(self, index: int, faint: bool) -> list[Segment]:
        """Music that begins (or goes on) below the silence level, as in a fade-out on hold:
        a second of faint musical frames, give or take a few flat ones, starts it where its
        first faint frame was."""
        if not faint:
            self._faint_score = max(0, self._faint_score - 1)
            return []
        if self._faint_score == 0:
            self._faint_start = index
        self._faint_score += 1
        if self._faint_score >= _FAINT_ONSET_FRAMES:
            return self._switch(self._faint_start, "music")
        return []

    def _switch(self, index: int, new_kind: SoundKind) -> list[Segment]:
        assert self._kind is not None
        closed = Segment(self._at(self._start), self._at(index), self._kind)
        self._kind = new_kind
        self._start = index
        self._silence_run = 0
        self._gaps = []
        self._scores = {}
        self._onset_counts = {}
        self._faint_score = 0
        return [closed] if closed.end > closed.start else []

    def _at(self, index: int) -> int:
        return self._origin + index * HOP

    def ongoing(self, end_index: int) -> Segment | None:
        """The segment still open, as labelled up to frame `end_index` (not closed yet)."""
        if self._kind is None or end_index <= self._start:
            return None
        return Segment(self._at(self._start), self._at(end_index), self._kind)

    def flush(self, end: int) -> Segment | None:
        if self._kind is None or end <= self._at(self._start):
            return None
        return Segment(self._at(self._start), end, self._kind)


def _switch_frames(current: SoundKind, new: SoundKind) -> int:
    if new == "tone":
        return _MUSIC_TO_TONE_FRAMES if current == "music" else _TO_TONE_FRAMES
    if current == "tone":
        return _FROM_TONE_FRAMES
    return _SWITCH_FRAMES


class SoundClassifier:
    """Streaming sound classifier: feed frames of any length, get closed segments back.

    Segments tile the audio fed, from the first frame's start to the end of the last frame,
    and are identical however the audio is cut into frames.
    """

    def __init__(self, model: SpeechMusicModel | None = None) -> None:
        self._model = model if model is not None else default_model()
        self._origin: int | None = None
        self._fed = 0
        self._pending: Floats = np.zeros(_LEAD)
        self._frames: FrameFeatures | None = None
        self._base = 0
        self._previous_spectra: Floats | None = None
        self._analysed = 0
        self._labelled = 0
        self._smoother: _Smoother | None = None
        self._tones = ToneTracker()
        self._floor = NoiseFloor()
        self._finished = False
        self._current: SoundKind | None = None
        self._current_known = False
        """`current` is asked for several times per frame (the engine's ear, its runs): it is
        worked out once per frame fed."""
        self.known_at: list[int] = []
        """For each segment the last `feed` or `finish` returned, the end of the 20 ms frame
        with which it would have been returned had the audio come frame by frame: a caller
        that feeds longer blocks can still act on each segment where a live call would."""

    @property
    def current(self) -> SoundKind | None:
        """Label of the newest analysed frame, before smoothing (None before any).

        Speech and music are told apart on the second of audio up to that frame, so this
        answers without the look-ahead that the closed segments wait for. None after
        `finish`: no frame is being heard any more (the last half second was padded to be
        labelled, and the tone tracker has already followed every frame).
        """
        if self._finished:
            return None
        if not self._current_known:
            self._current = self._judge_newest()
            self._current_known = True
        return self._current

    @property
    def ongoing(self) -> Segment | None:
        """The segment still open, from its start to the last frame labelled so far (0.5 s
        behind the audio fed): how long the current sound has lasted, before it closes."""
        if self._smoother is None or self._finished:
            return None
        return self._smoother.ongoing(self._labelled)

    def kind_after(self, end: int) -> SoundKind | None:
        """What `current` was when the audio fed ended at sample position `end`, within the
        last block fed: for a caller that feeds blocks but acts frame by frame. Worked out
        when asked (a second of context features), as most frames' callers never ask."""
        frames = self._frames
        if frames is None or self._origin is None:
            return None
        if end == self._origin + self._fed:
            return self.current
        newest = (_LEAD + end - self._origin - WINDOW) // HOP - self._base
        if newest < 0:
            return None
        return self._judged(frames, newest)

    def _judge_newest(self) -> SoundKind | None:
        frames = self._frames
        return self._judged(frames, len(frames) - 1) if frames else None

    def _judged(self, frames: FrameFeatures, newest: int) -> SoundKind:
        """The label of frame `newest` on the evidence up to it (none after it)."""
        kind = self._judged_without_context(frames, newest, self._labelled - self._base)
        if kind is not None:
            return kind
        return self._music_or_speech(
            context_features(frames, np.array([newest]), np.array([newest + 1]))
        )

    def _judged_without_context(
        self, frames: FrameFeatures, newest: int, labelled: int
    ) -> SoundKind | None:
        """The label of frame `newest` on the evidence up to it, when that is silence or tone
        (`labelled`: the first frame the tone tracker has not followed yet); None when it is
        speech or music, which a context must tell."""
        if frames.energy_db[newest] <= QUIET_DB:
            return "silence"
        if _steady_with_previous(frames, newest) and self._tone_ahead(frames, newest, labelled):
            return "tone"
        return None

    def _music_or_speech(self, context: Floats) -> SoundKind:
        """The model's label for one context row (shape (1, features)): rows are given one at
        a time, as the network's matrix products round differently for other numbers of rows,
        and the label must not depend on how the audio was cut into blocks."""
        return "music" if self._model.music_probability(context)[0] >= 0.5 else "speech"

    def _tone_ahead(self, frames: FrameFeatures, index: int, labelled: int) -> bool:
        """Whether the tone tracker, run on from frame `labelled`, takes frame `index` for a
        tone. Only a frame that is steady and tonal with the one before it can be one: most
        frames are not, and then the tracker need not replay the look-ahead frames."""
        ahead = dataclasses.replace(self._tones)
        heard = section(frames, 0, index + 1)
        return bool(ahead.follow(heard, labelled, index + 1)[-1])

    def feed(self, frame: AudioFrame) -> list[Segment]:
        if self._finished:
            raise RuntimeError("SoundClassifier.feed after finish")
        if self._origin is None:
            self._origin = frame.start
            self._smoother = _Smoother(frame.start)
        expected = self._origin + self._fed
        if frame.start != expected:
            raise ValueError(f"frame starts at sample {frame.start}, expected {expected}")
        self._fed += len(frame.samples)
        self._current_known = False
        self.known_at = []
        self._pending = np.concatenate([self._pending, frame.samples.astype(np.float64)])
        self._analyse()
        return self._label(self._analysed - _LOOKAHEAD, judge_newest=True)

    def finish(self) -> list[Segment]:
        """Label the last half second (judged on less context) and close the last segment."""
        if self._finished or self._origin is None or self._smoother is None:
            self._finished = True
            return []
        self._finished = True
        self._current_known = False
        self.known_at = []
        total_frames = -(-self._fed // HOP)
        missing = total_frames - self._analysed
        needed = missing * HOP + WINDOW - HOP
        if needed > len(self._pending):
            self._pending = np.concatenate([self._pending, np.zeros(needed - len(self._pending))])
        self._analyse()
        closed = self._label(total_frames)
        last = self._smoother.flush(self._origin + self._fed)
        if last is None:
            return closed
        self.known_at.append(self._origin + self._fed)
        return [*closed, last]

    def _analyse(self) -> None:
        windows = windows_of(self._pending)
        if len(windows) == 0:
            return
        new, self._previous_spectra = frame_features(windows, self._previous_spectra)
        self._pending = self._pending[len(windows) * HOP :]
        self._frames = new if self._frames is None else concatenate([self._frames, new])
        self._analysed += len(new)

    def _label(self, until: int, judge_newest: bool = False) -> list[Segment]:
        """Label frames up to (not including) `until`, all of whose context has been analysed;
        with `judge_newest`, work out `current` as well, its context with theirs."""
        frames = self._frames
        smoother = self._smoother
        if frames is None or smoother is None or until <= self._labelled:
            return []
        first = self._labelled - self._base
        last = until - self._base
        tones = self._tones.follow(frames, first, last)
        labels: list[SoundKind] = []
        speech_or_music: list[int] = []
        faint = [
            self._floor.faint(energy, flatness)
            for energy, flatness in zip(
                frames.energy_db[first:last].tolist(),
                frames.flatness[first:last].tolist(),
                strict=True,
            )
        ]
        for offset, local in enumerate(range(first, last)):
            if frames.energy_db[local] <= QUIET_DB:
                labels.append("silence")
            elif tones[offset]:
                labels.append("tone")
            else:
                labels.append("speech")
                speech_or_music.append(offset)
        centres = np.array(speech_or_music, dtype=np.intp) + first
        stops = np.full(len(centres), len(frames))
        newest = len(frames) - 1
        current = self._judged_without_context(frames, newest, last) if judge_newest else None
        if judge_newest and current is None:
            centres = np.append(centres, newest)
            stops = np.append(stops, newest + 1)
        if len(centres):
            contexts = context_features(frames, centres, stops)
            if speech_or_music:
                music = self._model.music_probability(contexts[: len(speech_or_music)]) >= 0.5
                for offset, is_music in zip(speech_or_music, music, strict=True):
                    if is_music:
                        labels[offset] = "music"
            if judge_newest and current is None:
                current = self._music_or_speech(contexts[-1:].copy())
        if judge_newest:
            self._current, self._current_known = current, True
        closed: list[Segment] = []
        for offset, label in enumerate(labels):
            ended = smoother.push(self._labelled + offset, label, faint[offset])
            closed.extend(ended)
            self.known_at.extend([self._known_at(self._labelled + offset)] * len(ended))
        self._labelled = until
        self._trim()
        return closed

    def _known_at(self, index: int) -> int:
        """The end of the frame whose audio completes the look-ahead that label `index` needs."""
        assert self._origin is not None
        needed = (index + _LOOKAHEAD) * HOP + WINDOW - _LEAD
        return self._origin + min(-(-needed // HOP) * HOP, self._fed)

    def _trim(self) -> None:
        """Forget frames that no later label can look back to, so long calls use flat memory."""
        frames = self._frames
        if frames is None:
            return
        drop = self._labelled - _KEEP_FRAMES - self._base
        if drop > 4 * _KEEP_FRAMES:
            self._frames = tail(frames, drop)
            self._base += drop


def classify(samples: Samples, start: int = 0) -> list[Segment]:
    """Segments of a whole recording, by the same streaming classifier the engine uses."""
    classifier = SoundClassifier()
    segments: list[Segment] = []
    for frame in split_frames(samples, start, size=max(1, len(samples))):
        segments.extend(classifier.feed(frame))
    segments.extend(classifier.finish())
    return segments
