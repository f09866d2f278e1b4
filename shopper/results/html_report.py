"""The page a QA engineer opens from a call's folder to see what happened and why.

It is rendered from the result document alone, so it can be rebuilt from any result.json,
and it is one self-contained file: inline CSS, an inline SVG timeline and a few lines of
inline script (click to play from a moment), no network. Everything the far end said is
untrusted text: this module only decides what the page shows (rows, labels, times as text,
where each mark sits on the timeline), and templates/report.html.j2 writes the markup with
Jinja2's autoescaping, so every value is escaped wherever it appears.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from shopper.engine.timeline import (
    Answered,
    CallbackOffered,
    DeadAir,
    Ended,
    ExpectMatched,
    HoldEnded,
    HoldStarted,
    HumanDetected,
    HumanEvidenceWeighed,
    KeyAcknowledged,
    KeySent,
    Said,
    SoundRun,
    ToneHeard,
    UtteranceHeard,
    VoicemailReached,
)
from shopper.html_templates import load_template

SOUND_COLOURS = {
    "speech": "#3b82f6",
    "music": "#a855f7",
    "silence": "#d1d5db",
    "tone": "#f59e0b",
}
STEP_COLOURS = {"passed": "#86efac", "failed": "#fca5a5", "skipped": "#e5e7eb"}
OUTCOME_COLOURS = {"passed": "#15803d", "failed": "#b91c1c", "error": "#c2410c"}
PROMPT_COLOUR = "#0d9488"
SAID_COLOUR = "#db2777"
KEY_COLOUR = "#111827"
HUMAN_COLOUR = "#16a34a"
VOICEMAIL_COLOUR = "#7c3aed"
DEAD_AIR_COLOUR = "#dc2626"
HOLD_COLOUR = "#fde68a"
CALLBACK_COLOUR = "#d97706"
ENDED_COLOUR = "#111827"

NICE_STEPS_S = (0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1200, 1800)
MAX_TICKS = 12

WIDTH = 1200
GUTTER = 78
"""Room left of the plot for lane names."""
RIGHT_PAD = 16
PLOT_WIDTH = WIDTH - GUTTER - RIGHT_PAD
LABEL_ROWS = 3
LABEL_ROW_HEIGHT = 14
LANE_HEIGHT = 22
LANE_GAP = 6
LANES = ("steps", "far end", "tones", "heard", "tester")
MIN_MARK_WIDTH = 0.8
"""Narrowest drawn segment: a 20 ms blip on a one-hour call must still show."""
LABEL_CHAR_WIDTH = 6.2

TEMPLATE = "report.html.j2"


# --- what the page shows ------------------------------------------------------------------
# Plain values only: the template escapes every one of them. Coordinates on the timeline are
# kept as the text of their SVG attributes, so the precision of each is decided here.


@dataclass(frozen=True, slots=True)
class Failure:
    kind: str
    where: str
    """' at step N', or empty when no step failed."""
    message: str


@dataclass(frozen=True, slots=True)
class Fact:
    name: str
    value: str
    code: bool = False
    """Shown as code (an identifier a person may copy)."""


@dataclass(frozen=True, slots=True)
class Header:
    name: str
    outcome: str
    colour: str
    failure: Failure | None
    facts: list[Fact]


@dataclass(frozen=True, slots=True)
class Card:
    label: str
    value: str


@dataclass(frozen=True, slots=True)
class Chip:
    """One piece of human evidence; `state` is its CSS class: yes, no or na (not tested)."""

    name: str
    answer: str
    state: str


@dataclass(frozen=True, slots=True)
class Metrics:
    cards: list[Card]
    evidence: list[Chip]


@dataclass(frozen=True, slots=True)
class Link:
    href: str
    name: str


@dataclass(frozen=True, slots=True)
class Player:
    recording: str
    links: list[Link]


@dataclass(frozen=True, slots=True)
class TimeCell:
    """A moment in a table that plays the recording from there when clicked."""

    seek_s: str
    text: str


@dataclass(frozen=True, slots=True)
class AssertionRow:
    name: str
    limit: str
    actual: str
    verdict: str


@dataclass(frozen=True, slots=True)
class StepRow:
    index: str
    step: str
    outcome: str
    start: TimeCell | None
    end: TimeCell | None
    detail: str
    decided_by: str
    """How an expectation was decided: text, letters, or audio with its margin."""


@dataclass(frozen=True, slots=True)
class TranscriptRow:
    start: TimeCell | None
    end: TimeCell | None
    text: str
    confidence: str


@dataclass(frozen=True, slots=True)
class EventRow:
    at: TimeCell | None
    kind: str
    details: str


@dataclass(frozen=True, slots=True)
class Lane:
    name: str
    y: str
    label_y: str


@dataclass(frozen=True, slots=True)
class Tick:
    x: str
    label: str


@dataclass(frozen=True, slots=True)
class Grid:
    axis_y: str
    axis_x1: str
    axis_x2: str
    line_y1: str
    line_y2: str
    label_y: str
    ticks: list[Tick]
    unit: str
    unit_x: str


@dataclass(frozen=True, slots=True)
class Band:
    """A stretch shaded across every lane: on hold, or dead air."""

    shape: ClassVar[str] = "band"
    css_class: str
    x: str
    y: str
    width: str
    height: str
    title: str


@dataclass(frozen=True, slots=True)
class Segment:
    """Something with a start and an end on one lane; clicking it plays from its start."""

    shape: ClassVar[str] = "segment"
    css_class: str
    seek_s: str
    x: str
    y: str
    width: str
    height: str
    fill: str
    title: str


@dataclass(frozen=True, slots=True)
class StepNumber:
    shape: ClassVar[str] = "step-number"
    x: str
    y: str
    text: str


@dataclass(frozen=True, slots=True)
class KeyMark:
    """A diamond where keys were pressed; `label` is empty when the next press leaves no room."""

    shape: ClassVar[str] = "key"
    seek_s: str
    points: str
    fill: str
    label: str
    label_x: str
    label_y: str
    title: str


@dataclass(frozen=True, slots=True)
class AckLine:
    shape: ClassVar[str] = "ack"
    x: str
    y1: str
    y2: str
    title: str


@dataclass(frozen=True, slots=True)
class Dot:
    shape: ClassVar[str] = "dot"
    css_class: str
    cx: str
    cy: str
    r: str
    title: str


@dataclass(frozen=True, slots=True)
class FlagLine:
    shape: ClassVar[str] = "flag"
    x: str
    y1: str
    y2: str
    colour: str
    dashed: bool
    title: str


@dataclass(frozen=True, slots=True)
class FlagLabel:
    shape: ClassVar[str] = "flag-label"
    x: str
    y: str
    anchor: str
    colour: str
    text: str
    title: str


Mark = Band | Segment | StepNumber | KeyMark | AckLine | Dot | FlagLine | FlagLabel
"""One drawn item of the timeline; the template draws each `shape` its own way."""


@dataclass(frozen=True, slots=True)
class Timeline:
    width: int
    height: int
    x0: int
    plot_width: int
    lane_height: int
    duration_s: str
    lane_name_x: str
    lanes: list[Lane]
    grid: Grid
    marks: list[Mark]
    """In drawing order: later marks are painted over earlier ones."""
    playhead_y1: str
    playhead_y2: str


@dataclass(frozen=True, slots=True)
class LegendEntry:
    colour: str
    name: str


@dataclass(frozen=True, slots=True)
class Report:
    title: str
    header: Header
    metrics: Metrics
    timeline: Timeline
    legend: list[LegendEntry]
    player: Player
    assertions: list[AssertionRow]
    steps: list[StepRow]
    transcript: list[TranscriptRow]
    events: list[EventRow]


def render_report(result: dict[str, Any], truth_file: str | None = None) -> str:
    """The whole page; `truth_file` adds a link to the simulator's answer key when written."""
    return load_template("shopper.results", TEMPLATE).render(report=_report(result, truth_file))


def _report(result: dict[str, Any], truth_file: str | None) -> Report:
    script = _dict(result.get("script"))
    return Report(
        title=f"{_text(script.get('name')) or 'call'} — {_text(result.get('outcome'))}",
        header=_header(result),
        metrics=_metrics(result),
        timeline=_timeline(result),
        legend=_legend(),
        player=_player(result, truth_file),
        assertions=_assertions(result),
        steps=_steps(result),
        transcript=_transcript(result),
        events=_events(result),
    )


# --- header and figures -------------------------------------------------------------------


def _header(result: dict[str, Any]) -> Header:
    script = _dict(result.get("script"))
    outcome = _text(result.get("outcome")) or "unknown"
    failure = _dict(result.get("failure"))
    shown_failure = None
    if failure:
        step = failure.get("step")
        where = f" at step {_text(step)}" if step is not None else ""
        shown_failure = Failure(_text(failure.get("kind")), where, _text(failure.get("message")))
    ended = _text(result.get("ended_by"))
    cause = _text(result.get("end_cause"))
    facts = [
        Fact("Target", _text(result.get("target"))),
        Fact("Script file", _text(script.get("file") or "—")),
        Fact("Engine", _text(result.get("engine"))),
        Fact("Carrier", _text(result.get("carrier"))),
        Fact("Ended", f"by {ended or '—'} ({cause or '—'})"),
        Fact("Started (UTC)", _text(result.get("started_at"))),
        Fact("Call id", _text(result.get("call_id")), code=True),
        Fact("shopper", _text(result.get("shopper_version"))),
    ]
    return Header(
        name=_text(script.get("name") or "call"),
        outcome=outcome,
        colour=OUTCOME_COLOURS.get(outcome, "#374151"),
        failure=shown_failure,
        facts=facts,
    )


def _metrics(result: dict[str, Any]) -> Metrics:
    metrics = _dict(result.get("metrics"))
    human = _dict(result.get("human"))
    if human.get("detected"):
        confidence = _number(human.get("confidence"))
        at = _seconds(human.get("at_s"))
        person = f"yes, at {at}" + (f" ({confidence:.2f})" if confidence is not None else "")
    else:
        person = "no"
    voicemail = _dict(result.get("voicemail"))
    if voicemail:
        person += f"; voicemail, beep at {_seconds(voicemail.get('beep_at_s'))}"
    cards = [
        Card("Person reached", person),
        Card("Answered after", _seconds(metrics.get("answer_s"))),
        Card("First prompt", _seconds(metrics.get("first_prompt_s"))),
        Card("Time to human", _seconds(metrics.get("time_to_human_s"))),
        Card("On hold", _seconds(metrics.get("hold_s"))),
        Card("Dead air", _seconds(metrics.get("dead_air_s"))),
        Card("Duration", _seconds(metrics.get("duration_s"))),
        Card("Keys sent", _text(metrics.get("dtmf_sent", "—"))),
        Card("Menus", _text(metrics.get("menus", "—"))),
        Card("Callback offered", "yes" if result.get("callback_offered") else "no"),
    ]
    evidence = [
        Chip(
            name.replace("_", " "),
            _yes_no(value),
            "yes" if value else "no" if value is False else "na",
        )
        for name, value in _dict(human.get("evidence")).items()
    ]
    return Metrics(cards, evidence)


def _player(result: dict[str, Any], truth_file: str | None) -> Player:
    recording = _text(result.get("recording")) or "recording.wav"
    links = [
        Link("result.json", "result.json"),
        Link("transcript.vtt", "transcript.vtt"),
        Link("transcript.json", "transcript.json"),
        Link(recording, "recording (WAV, far end left, tester right)"),
    ]
    if truth_file is not None:
        links.append(Link(truth_file, "sandbox truth"))
    return Player(recording, links)


def _assertions(result: dict[str, Any]) -> list[AssertionRow]:
    rows = []
    for item in _list(result.get("assertions")):
        entry = _dict(item)
        rows.append(
            AssertionRow(
                name=_text(entry.get("name")),
                limit=_seconds(entry.get("limit")),
                actual=_seconds(entry.get("actual")),
                verdict="passed" if entry.get("passed") else "failed",
            )
        )
    return rows


def _steps(result: dict[str, Any]) -> list[StepRow]:
    rows = []
    for item in _list(result.get("steps")):
        step = _dict(item)
        rows.append(
            StepRow(
                index=_text(step.get("index")),
                step=_text(step.get("step")),
                outcome=_text(step.get("outcome")),
                start=_time_cell(step.get("start_s")),
                end=_time_cell(step.get("end_s")),
                detail=_text(step.get("detail") or ""),
                decided_by=_decided_by(step.get("decision")),
            )
        )
    return rows


def _decided_by(value: object) -> str:
    """'text', 'letters', 'audio, -1.4 nats' or 'contrast, -4.4 nats, lead +7.1': how a step's
    expectation was decided."""
    decision = _dict(value)
    method = _text(decision.get("method"))
    margin = _number(decision.get("margin"))
    contrast = _number(decision.get("contrast"))
    if margin is None or not method:
        return method
    key = f", lead {contrast:+.1f}" if contrast is not None else ""
    return f"{method}, {margin:+.1f} nats{key}"


def _transcript(result: dict[str, Any]) -> list[TranscriptRow]:
    rows = []
    for item in _list(result.get("transcript")):
        utterance = _dict(item)
        confidence = _number(utterance.get("confidence"))
        rows.append(
            TranscriptRow(
                start=_time_cell(utterance.get("start_s")),
                end=_time_cell(utterance.get("end_s")),
                text=_text(utterance.get("text")),
                confidence="" if confidence is None else f"{confidence:.2f}",
            )
        )
    return rows


def _events(result: dict[str, Any]) -> list[EventRow]:
    rows = []
    for item in _list(result.get("events")):
        event = _dict(item)
        details = ", ".join(
            f"{key}={_display(value)}" for key, value in event.items() if key not in ("t_s", "type")
        )
        rows.append(EventRow(_time_cell(event.get("t_s")), _text(event.get("type")), details))
    return rows


# --- the timeline picture -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Scale:
    duration_s: float

    def x(self, t_s: float) -> float:
        clamped = min(max(t_s, 0.0), self.duration_s)
        return GUTTER + PLOT_WIDTH * clamped / self.duration_s


def _lane_top(lane: str) -> float:
    return LABEL_ROWS * LABEL_ROW_HEIGHT + 8 + LANES.index(lane) * (LANE_HEIGHT + LANE_GAP)


LANES_BOTTOM = _lane_top(LANES[-1]) + LANE_HEIGHT
AXIS_Y = LANES_BOTTOM + 6
HEIGHT = AXIS_Y + 22


def _timeline(result: dict[str, Any]) -> Timeline:
    events = [_dict(item) for item in _list(result.get("events"))]
    scale = _Scale(_call_length_s(result, events))
    lanes = [
        Lane(lane, f"{_lane_top(lane)}", f"{_lane_top(lane) + LANE_HEIGHT / 2 + 4}")
        for lane in LANES
    ]
    marks: list[Mark] = []
    marks.extend(_holds(result, scale))
    marks.extend(_step_marks(result, scale))
    marks.extend(_event_marks(events, scale))
    marks.extend(_flags(events, result, scale))
    return Timeline(
        width=WIDTH,
        height=int(HEIGHT),
        x0=GUTTER,
        plot_width=PLOT_WIDTH,
        lane_height=LANE_HEIGHT,
        duration_s=f"{scale.duration_s:.3f}",
        lane_name_x=f"{GUTTER - 6}",
        lanes=lanes,
        grid=_grid(scale),
        marks=marks,
        playhead_y1=f"{_lane_top(LANES[0]) - 4}",
        playhead_y2=f"{LANES_BOTTOM + 4}",
    )


def _call_length_s(result: dict[str, Any], events: list[dict[str, Any]]) -> float:
    """The axis spans the whole call, or anything reported past its stated end."""
    metrics = _dict(result.get("metrics"))
    ends = [_number(metrics.get("duration_s")) or 0.0]
    for event in events:
        ends.append(_number(event.get("t_s")) or 0.0)
        ends.append(_number(event.get("end_s")) or 0.0)
    return max(*ends, 1.0)


def _tick_step(duration_s: float) -> float:
    for step in NICE_STEPS_S:
        if duration_s / step <= MAX_TICKS:
            return step
    return 3600.0


def _tick_label(t_s: float, duration_s: float) -> str:
    if duration_s < 120:
        return f"{t_s:g} s"
    whole = round(t_s)
    hours, rest = divmod(whole, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{seconds:02d}"
    return f"{minutes}:{seconds:02d}"


def _grid(scale: _Scale) -> Grid:
    step = _tick_step(scale.duration_s)
    count = int(scale.duration_s / step + 1e-9)
    ticks = [
        Tick(f"{scale.x(index * step):.1f}", _tick_label(index * step, scale.duration_s))
        for index in range(count + 1)
    ]
    return Grid(
        axis_y=f"{AXIS_Y}",
        axis_x1=f"{GUTTER}",
        axis_x2=f"{GUTTER + PLOT_WIDTH}",
        line_y1=f"{_lane_top(LANES[0])}",
        line_y2=f"{AXIS_Y + 4}",
        label_y=f"{AXIS_Y + 16}",
        ticks=ticks,
        unit="seconds" if scale.duration_s < 120 else "min:s",
        unit_x=f"{GUTTER - 18}",
    )


def _holds(result: dict[str, Any], scale: _Scale) -> list[Band]:
    bands = []
    for item in _list(result.get("holds")):
        hold = _dict(item)
        start = _number(hold.get("start_s"))
        if start is None:
            continue
        end = _number(hold.get("end_s"))
        until = scale.duration_s if end is None else end
        x0, x1 = scale.x(start), scale.x(until)
        ended = "until the end of the call" if end is None else f"to {end:.1f} s"
        band_height = LANES_BOTTOM - _lane_top(LANES[0]) + 8
        bands.append(
            Band(
                css_class="hold",
                x=f"{x0:.1f}",
                y=f"{_lane_top(LANES[0]) - 4}",
                width=f"{max(x1 - x0, MIN_MARK_WIDTH):.1f}",
                height=f"{band_height}",
                title=f"on hold from {start:.1f} s {ended}",
            )
        )
    return bands


@dataclass(frozen=True, slots=True)
class _Span:
    """An item drawn as a bar in its lane: from and to (seconds), its colour, its tooltip."""

    start: float
    end: float
    colour: str
    title: str


def _segment(
    lane: str, scale: _Scale, span: _Span, *, inset: float = 2, outlined: bool = False
) -> Segment:
    """`outlined` keeps back-to-back items (steps, prompts) apart; sound runs need no edges."""
    x0, x1 = scale.x(span.start), scale.x(span.end)
    return Segment(
        css_class="seg outlined" if outlined else "seg",
        seek_s=f"{span.start:.3f}",
        x=f"{x0:.2f}",
        y=f"{_lane_top(lane) + inset}",
        width=f"{max(x1 - x0, MIN_MARK_WIDTH):.2f}",
        height=f"{LANE_HEIGHT - 2 * inset}",
        fill=span.colour,
        title=span.title,
    )


def _step_marks(result: dict[str, Any], scale: _Scale) -> list[Mark]:
    marks: list[Mark] = []
    for item in _list(result.get("steps")):
        step = _dict(item)
        start, end = _number(step.get("start_s")), _number(step.get("end_s"))
        if start is None:
            continue
        outcome = _text(step.get("outcome"))
        label = f"{_text(step.get('index'))}. {_text(step.get('step'))} — {outcome}"
        detail = _text(step.get("detail"))
        title = f"{label}\n{detail}" if detail else label
        colour = STEP_COLOURS.get(outcome, "#e5e7eb")
        until = end if end is not None else start
        marks.append(_segment("steps", scale, _Span(start, until, colour, title), outlined=True))
        x0, x1 = scale.x(start), scale.x(until)
        number = _text(step.get("index"))
        if x1 - x0 >= LABEL_CHAR_WIDTH * len(number) + 6:
            y = f"{_lane_top('steps') + LANE_HEIGHT / 2 + 4}"
            marks.append(StepNumber(f"{(x0 + x1) / 2:.2f}", y, number))
    return marks


def _event_marks(events: Iterable[dict[str, Any]], scale: _Scale) -> list[Mark]:
    """The report draws a result document, not a live Timeline: any result.json (older, or
    edited by hand) must render, so events are told apart by their `type` (the timeline event
    classes' TYPE) and every field is read defensively."""
    events = list(events)
    key_xs = sorted(
        scale.x(t_s)
        for event in events
        if event.get("type") == KeySent.TYPE and (t_s := _number(event.get("t_s"))) is not None
    )
    marks: list[Mark] = []
    for event in events:
        kind = _text(event.get("type"))
        t_s = _number(event.get("t_s"))
        if t_s is None:
            continue
        end_s = _number(event.get("end_s"))
        if kind == SoundRun.TYPE and end_s is not None:
            sound = _text(event.get("kind"))
            colour = SOUND_COLOURS.get(sound, "#9ca3af")
            title = f"{sound} {t_s:.2f}-{end_s:.2f} s"
            marks.append(_segment("far end", scale, _Span(t_s, end_s, colour, title)))
        elif kind == ToneHeard.TYPE and end_s is not None:
            tone = _text(event.get("kind"))
            title = f"{tone} tone {t_s:.2f}-{end_s:.2f} s"
            span = _Span(t_s, end_s, _tone_colour(tone), title)
            marks.append(_segment("tones", scale, span))
        elif kind == UtteranceHeard.TYPE and end_s is not None:
            title = f"{t_s:.2f}-{end_s:.2f} s: {_text(event.get('text'))}"
            span = _Span(t_s, end_s, PROMPT_COLOUR, title)
            marks.append(_segment("heard", scale, span, outlined=True))
        elif kind == Said.TYPE:
            duration = _number(event.get("duration_s")) or 0.0
            title = f"said at {t_s:.2f} s: {_text(event.get('text'))}"
            span = _Span(t_s, t_s + duration, SAID_COLOUR, title)
            marks.append(_segment("tester", scale, span, inset=5))
        elif kind == KeySent.TYPE:
            x = scale.x(t_s)
            room = min((other - x for other in key_xs if other > x), default=float("inf"))
            marks.append(_key_mark(x, t_s, _text(event.get("digits")), room))
        elif kind == KeyAcknowledged.TYPE:
            x = scale.x(t_s)
            top = _lane_top("tester")
            title = f"keys {_text(event.get('digits'))} acknowledged at {t_s:.2f} s"
            marks.append(AckLine(f"{x:.2f}", f"{top + 2}", f"{top + LANE_HEIGHT - 2}", title))
        elif kind == ExpectMatched.TYPE:
            x = scale.x(t_s)
            cy = f"{_lane_top('steps') + LANE_HEIGHT / 2}"
            title = (
                f"expectation met at {t_s:.2f} s by {_text(event.get('method')) or 'text'}: "
                f"heard “{_text(event.get('heard'))}”"
            )
            marks.append(Dot("matched", f"{x:.2f}", cy, "3.5", title))
        elif kind == HumanEvidenceWeighed.TYPE:
            x = scale.x(t_s)
            cy = f"{_lane_top('heard') + 3}"
            title = "human evidence: " + ", ".join(
                f"{key}={_display(value)}"
                for key, value in event.items()
                if key not in ("t_s", "type")
            )
            marks.append(Dot("evidence-dot", f"{x:.2f}", cy, "3", title))
    return marks


def _key_mark(x: float, t_s: float, digits: str, room: float) -> KeyMark:
    """The digits are written beside the mark only if the next press leaves room for them."""
    middle = _lane_top("tester") + LANE_HEIGHT / 2
    diamond = f"{x:.2f},{middle - 6} {x + 5:.2f},{middle} {x:.2f},{middle + 6} {x - 5:.2f},{middle}"
    fits = room >= LABEL_CHAR_WIDTH * len(digits) + 14
    return KeyMark(
        seek_s=f"{t_s:.3f}",
        points=diamond,
        fill=KEY_COLOUR,
        label=digits if fits else "",
        label_x=f"{x + 7:.2f}",
        label_y=f"{middle + 4}",
        title=f"pressed {digits} at {t_s:.2f} s",
    )


def _tone_colour(tone: str) -> str:
    if tone.startswith("sit-"):
        return "#dc2626"
    if tone in ("busy", "reorder"):
        return "#ea580c"
    return "#9ca3af"


@dataclass(frozen=True, slots=True)
class _Flag:
    t_s: float
    text: str
    colour: str
    title: str
    dashed: bool = False
    until_s: float | None = None
    """For dead air: the stretch the flag stands for, drawn as a band."""


def _flags(events: Iterable[dict[str, Any]], result: dict[str, Any], scale: _Scale) -> list[Mark]:
    """Moments that concern the whole call: a line across every lane and a label above."""
    flags = sorted(_collect_flags(events, result), key=lambda flag: flag.t_s)
    marks: list[Mark] = []
    row_ends = [float("-inf")] * LABEL_ROWS
    top, bottom = _lane_top(LANES[0]) - 4, LANES_BOTTOM + 4
    for flag in flags:
        x = scale.x(flag.t_s)
        if flag.until_s is not None:
            x1 = scale.x(flag.until_s)
            width = f"{max(x1 - x, MIN_MARK_WIDTH):.2f}"
            marks.append(
                Band("dead-air", f"{x:.2f}", f"{top}", width, f"{bottom - top}", flag.title)
            )
        marks.append(
            FlagLine(f"{x:.2f}", f"{top - 2}", f"{bottom}", flag.colour, flag.dashed, flag.title)
        )
        label_width = LABEL_CHAR_WIDTH * len(flag.text) + 8
        anchor_end = x + label_width > WIDTH
        left = x - label_width if anchor_end else x
        row = next((i for i, end in enumerate(row_ends) if end < left), None)
        if row is None:
            continue
        row_ends[row] = left + label_width
        nudge = -3 if anchor_end else 3
        marks.append(
            FlagLabel(
                x=f"{x + nudge:.2f}",
                y=f"{(row + 1) * LABEL_ROW_HEIGHT - 2}",
                anchor="end" if anchor_end else "start",
                colour=flag.colour,
                text=flag.text,
                title=flag.title,
            )
        )
    return marks


def _collect_flags(events: Iterable[dict[str, Any]], result: dict[str, Any]) -> list[_Flag]:
    flags = []
    for event in events:
        kind = _text(event.get("type"))
        t_s = _number(event.get("t_s"))
        if t_s is None:
            continue
        at = f"{t_s:.2f} s"
        if kind == Answered.TYPE:
            flags.append(_Flag(t_s, "answered", "#4b5563", f"answered at {at}"))
        elif kind == HoldStarted.TYPE:
            flags.append(_Flag(t_s, "hold", "#b45309", f"hold started at {at}", dashed=True))
        elif kind == HoldEnded.TYPE:
            flags.append(_Flag(t_s, "off hold", "#b45309", f"hold ended at {at}", dashed=True))
        elif kind == CallbackOffered.TYPE:
            text = f"callback offered at {at}: {_text(event.get('text'))}"
            flags.append(_Flag(t_s, "callback offer", CALLBACK_COLOUR, text, dashed=True))
        elif kind == HumanDetected.TYPE:
            confidence = _number(event.get("confidence"))
            shown = "" if confidence is None else f" ({confidence:.2f})"
            text = f"person detected at {at}{shown}: {_text(event.get('text'))}"
            flags.append(_Flag(t_s, f"human{shown}", HUMAN_COLOUR, text))
        elif kind == VoicemailReached.TYPE:
            hz = _number(event.get("beep_hz")) or 0.0
            text = f"voicemail: {hz:.0f} Hz beep at {at} after {_text(event.get('greeting'))}"
            flags.append(_Flag(t_s, "voicemail", VOICEMAIL_COLOUR, text))
        elif kind == DeadAir.TYPE:
            limit = _number(event.get("limit_s")) or 0.0
            after_hold = ", after the hold" if event.get("after_hold") else ""
            text = f"dead air from {at}{after_hold} (limit {limit:g} s)"
            flags.append(_Flag(t_s, "dead air", DEAD_AIR_COLOUR, text, until_s=t_s + limit))
        elif kind == Ended.TYPE:
            by = _text(event.get("by")) or _text(result.get("ended_by")) or "?"
            cause = _text(event.get("cause")) or _text(result.get("end_cause")) or "?"
            flags.append(_Flag(t_s, f"ended by {by}", ENDED_COLOUR, f"{cause} by {by} at {at}"))
    return flags


def _legend() -> list[LegendEntry]:
    entries = [LegendEntry(colour, kind) for kind, colour in SOUND_COLOURS.items()]
    entries += [
        LegendEntry(PROMPT_COLOUR, "prompt heard"),
        LegendEntry(SAID_COLOUR, "tester spoke"),
        LegendEntry(KEY_COLOUR, "key press"),
        LegendEntry(HOLD_COLOUR, "on hold"),
        LegendEntry(HUMAN_COLOUR, "person"),
        LegendEntry(DEAD_AIR_COLOUR, "dead air / SIT"),
    ]
    return entries


# --- small helpers ------------------------------------------------------------------------


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _seconds(value: Any) -> str:
    number = _number(value)
    if number is None:
        return "—"
    if number >= 120:
        minutes, seconds = divmod(number, 60)
        return f"{number:.1f} s ({int(minutes)}:{int(seconds):02d})"
    return f"{number:.1f} s"


def _time_cell(value: Any) -> TimeCell | None:
    number = _number(value)
    if number is None:
        return None
    return TimeCell(f"{number:.3f}", f"{number:.2f}")


def _yes_no(value: Any) -> str:
    return "not tested" if value is None else "yes" if value else "no"


def _display(value: Any) -> str:
    if value is None:
        return "null"
    return str(value).lower() if isinstance(value, bool) else str(value)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
