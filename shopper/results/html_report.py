"""The page a QA engineer opens from a call's folder to see what happened and why.

It is rendered from the result document alone, so it can be rebuilt from any result.json,
and it is one self-contained file: inline CSS, an inline SVG timeline and a few lines of
inline script (click to play from a moment), no network. Everything the far end said is
untrusted text and is escaped wherever it appears.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

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


def render_report(result: dict[str, Any], truth_file: str | None = None) -> str:
    """The whole page; `truth_file` adds a link to the simulator's answer key when written."""
    script = _dict(result.get("script"))
    title = f"{_text(script.get('name')) or 'call'} — {_text(result.get('outcome'))}"
    body = "\n".join(
        [
            _header(result),
            _metrics(result),
            _section("Timeline", _timeline(result) + _legend()),
            _section("Recording", _player(result, truth_file)),
            _assertions(result),
            _steps(result),
            _transcript(result),
            _events(result),
        ]
    )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_esc(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        f"{body}\n<script>{SCRIPT}</script>\n</body>\n</html>\n"
    )


# --- header and figures -------------------------------------------------------------------


def _header(result: dict[str, Any]) -> str:
    script = _dict(result.get("script"))
    outcome = _text(result.get("outcome")) or "unknown"
    colour = OUTCOME_COLOURS.get(outcome, "#374151")
    failure = _dict(result.get("failure"))
    failure_html = ""
    if failure:
        step = failure.get("step")
        where = f" at step {_esc(step)}" if step is not None else ""
        failure_html = (
            f'<p class="failure"><span class="kind">{_esc(failure.get("kind"))}</span>{where}: '
            f"{_esc(failure.get('message'))}</p>"
        )
    ended = _text(result.get("ended_by"))
    cause = _text(result.get("end_cause"))
    facts = [
        ("Target", _esc(result.get("target"))),
        ("Script file", _esc(script.get("file") or "—")),
        ("Engine", _esc(result.get("engine"))),
        ("Carrier", _esc(result.get("carrier"))),
        ("Ended", _esc(f"by {ended or '—'} ({cause or '—'})")),
        ("Started (UTC)", _esc(result.get("started_at"))),
        ("Call id", f"<code>{_esc(result.get('call_id'))}</code>"),
        ("shopper", _esc(result.get("shopper_version"))),
    ]
    items = "".join(f"<div><dt>{name}</dt><dd>{value}</dd></div>" for name, value in facts)
    return (
        f"<header><h1>{_esc(script.get('name') or 'call')} "
        f'<span class="outcome" style="background:{colour}">{_esc(outcome)}</span></h1>'
        f'{failure_html}<dl class="facts">{items}</dl></header>'
    )


def _metrics(result: dict[str, Any]) -> str:
    metrics = _dict(result.get("metrics"))
    human = _dict(result.get("human"))
    cards = [
        ("Answered after", _seconds(metrics.get("answer_s"))),
        ("First prompt", _seconds(metrics.get("first_prompt_s"))),
        ("Time to human", _seconds(metrics.get("time_to_human_s"))),
        ("On hold", _seconds(metrics.get("hold_s"))),
        ("Dead air", _seconds(metrics.get("dead_air_s"))),
        ("Duration", _seconds(metrics.get("duration_s"))),
        ("Keys sent", _esc(metrics.get("dtmf_sent", "—"))),
        ("Menus", _esc(metrics.get("menus", "—"))),
        ("Callback offered", "yes" if result.get("callback_offered") else "no"),
    ]
    if human.get("detected"):
        confidence = _number(human.get("confidence"))
        at = _seconds(human.get("at_s"))
        person = f"yes, at {at}" + (f" ({confidence:.2f})" if confidence is not None else "")
    else:
        person = "no"
    voicemail = _dict(result.get("voicemail"))
    if voicemail:
        person += f"; voicemail, beep at {_seconds(voicemail.get('beep_at_s'))}"
    cards.insert(0, ("Person reached", person))
    evidence = _dict(human.get("evidence"))
    chips = "".join(
        f'<span class="chip {"yes" if value else "no" if value is False else "na"}">'
        f"{_esc(name.replace('_', ' '))}: {_esc(_yes_no(value))}</span>"
        for name, value in evidence.items()
    )
    boxes = "".join(
        f'<div class="card"><div class="label">{name}</div><div class="value">{value}</div></div>'
        for name, value in cards
    )
    evidence_html = f'<p class="evidence">Human evidence: {chips}</p>' if chips else ""
    return f'<section class="metrics">{boxes}</section>{evidence_html}'


def _player(result: dict[str, Any], truth_file: str | None) -> str:
    recording = _text(result.get("recording")) or "recording.wav"
    links = [
        ("result.json", "result.json"),
        ("transcript.vtt", "transcript.vtt"),
        ("transcript.json", "transcript.json"),
        (recording, "recording (WAV, far end left, tester right)"),
    ]
    if truth_file is not None:
        links.append((truth_file, "sandbox truth"))
    anchors = " · ".join(f'<a href="{_esc(href)}">{_esc(name)}</a>' for href, name in links)
    return (
        f'<audio id="player" controls preload="metadata" src="{_esc(recording)}"></audio>'
        f'<p class="links">{anchors}</p>'
        '<p class="hint">Click the timeline or any time in the tables to play from there.</p>'
    )


def _assertions(result: dict[str, Any]) -> str:
    rows = []
    for item in _list(result.get("assertions")):
        entry = _dict(item)
        verdict = "passed" if entry.get("passed") else "failed"
        rows.append(
            f'<tr class="{verdict}"><td>{_esc(entry.get("name"))}</td>'
            f"<td>{_seconds(entry.get('limit'))}</td><td>{_seconds(entry.get('actual'))}</td>"
            f"<td>{verdict}</td></tr>"
        )
    if not rows:
        return ""
    head = "<tr><th>Limit on</th><th>Limit</th><th>Measured</th><th>Result</th></tr>"
    return _section("Assertions", f"<table>{head}{''.join(rows)}</table>")


def _steps(result: dict[str, Any]) -> str:
    rows = []
    for item in _list(result.get("steps")):
        step = _dict(item)
        outcome = _text(step.get("outcome"))
        rows.append(
            f'<tr class="{_esc(outcome)}"><td>{_esc(step.get("index"))}</td>'
            f"<td>{_esc(step.get('step'))}</td><td>{_esc(outcome)}</td>"
            f"<td>{_time_cell(step.get('start_s'))}</td><td>{_time_cell(step.get('end_s'))}</td>"
            f"<td>{_esc(step.get('detail') or '')}</td>"
            f"<td>{_esc(_decided_by(step.get('decision')))}</td></tr>"
        )
    head = (
        "<tr><th>#</th><th>Step</th><th>Result</th><th>Start</th><th>End</th><th>Detail</th>"
        "<th>Decided by</th></tr>"
    )
    content = f"<table>{head}{''.join(rows)}</table>" if rows else "<p>No steps ran.</p>"
    return _section("Steps", content)


def _decided_by(value: object) -> str:
    """'text', 'letters', or 'audio, -1.4 nats': how a step's expectation was decided."""
    decision = _dict(value)
    method = _text(decision.get("method"))
    margin = _number(decision.get("margin"))
    return f"{method}, {margin:+.1f} nats" if margin is not None and method else method


def _transcript(result: dict[str, Any]) -> str:
    rows = []
    for item in _list(result.get("transcript")):
        utterance = _dict(item)
        confidence = _number(utterance.get("confidence"))
        rows.append(
            f"<tr><td>{_time_cell(utterance.get('start_s'))}</td>"
            f"<td>{_time_cell(utterance.get('end_s'))}</td>"
            f'<td class="text">{_esc(utterance.get("text"))}</td>'
            f"<td>{'' if confidence is None else f'{confidence:.2f}'}</td></tr>"
        )
    head = "<tr><th>Start</th><th>End</th><th>Heard</th><th>Confidence</th></tr>"
    content = f"<table>{head}{''.join(rows)}</table>" if rows else "<p>Nothing recognised.</p>"
    return _section("Transcript (far end)", content)


def _events(result: dict[str, Any]) -> str:
    rows = []
    for item in _list(result.get("events")):
        event = _dict(item)
        details = ", ".join(
            f"{_esc(key)}={_esc(_display(value))}"
            for key, value in event.items()
            if key not in ("t_s", "type")
        )
        rows.append(
            f"<tr><td>{_time_cell(event.get('t_s'))}</td><td>{_esc(event.get('type'))}</td>"
            f"<td>{details}</td></tr>"
        )
    head = "<tr><th>Time</th><th>Event</th><th>Details</th></tr>"
    return (
        f"<details><summary>All events ({len(rows)})</summary>"
        f"<table>{head}{''.join(rows)}</table></details>"
    )


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


def _timeline(result: dict[str, Any]) -> str:
    events = [_dict(item) for item in _list(result.get("events"))]
    scale = _Scale(_call_length_s(result, events))
    parts: list[str] = []
    for lane in LANES:
        top = _lane_top(lane)
        parts.append(
            f'<rect class="lane" x="{GUTTER}" y="{top}" width="{PLOT_WIDTH}" '
            f'height="{LANE_HEIGHT}"/><text class="lane-name" x="{GUTTER - 6}" '
            f'y="{top + LANE_HEIGHT / 2 + 4}">{lane}</text>'
        )
    parts.extend(_grid(scale))
    parts.extend(_holds(result, scale))
    parts.extend(_step_marks(result, scale))
    parts.extend(_event_marks(events, scale))
    parts.extend(_flags(events, result, scale))
    parts.append(
        f'<line id="playhead" x1="{GUTTER}" x2="{GUTTER}" y1="{_lane_top(LANES[0]) - 4}" '
        f'y2="{LANES_BOTTOM + 4}" style="display:none"/>'
    )
    return (
        f'<svg id="timeline" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" '
        f'aria-label="call timeline" data-x0="{GUTTER}" data-width="{PLOT_WIDTH}" '
        f'data-duration="{scale.duration_s:.3f}" xmlns="http://www.w3.org/2000/svg">'
        f"{''.join(parts)}</svg>"
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


def _grid(scale: _Scale) -> list[str]:
    step = _tick_step(scale.duration_s)
    parts = [
        f'<line class="axis" x1="{GUTTER}" x2="{GUTTER + PLOT_WIDTH}" y1="{AXIS_Y}" y2="{AXIS_Y}"/>'
    ]
    count = int(scale.duration_s / step + 1e-9)
    for index in range(count + 1):
        t_s = index * step
        x = scale.x(t_s)
        parts.append(
            f'<line class="grid" x1="{x:.1f}" x2="{x:.1f}" y1="{_lane_top(LANES[0])}" '
            f'y2="{AXIS_Y + 4}"/><text class="tick" x="{x:.1f}" y="{AXIS_Y + 16}">'
            f"{_tick_label(t_s, scale.duration_s)}</text>"
        )
    unit = "seconds" if scale.duration_s < 120 else "min:s"
    parts.append(f'<text class="unit" x="{GUTTER - 18}" y="{AXIS_Y + 16}">{unit}</text>')
    return parts


def _holds(result: dict[str, Any], scale: _Scale) -> list[str]:
    parts = []
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
        parts.append(
            f'<rect class="hold" x="{x0:.1f}" y="{_lane_top(LANES[0]) - 4}" '
            f'width="{max(x1 - x0, MIN_MARK_WIDTH):.1f}" height="{band_height}">'
            f"<title>on hold from {start:.1f} s {ended}</title></rect>"
        )
    return parts


def _segment(
    lane: str,
    scale: _Scale,
    start: float,
    end: float,
    colour: str,
    title: str,
    inset: float = 2,
    outlined: bool = False,
) -> str:
    """`outlined` keeps back-to-back items (steps, prompts) apart; sound runs need no edges."""
    x0, x1 = scale.x(start), scale.x(end)
    top = _lane_top(lane) + inset
    kind = "seg outlined" if outlined else "seg"
    return (
        f'<rect class="{kind}" data-t="{start:.3f}" x="{x0:.2f}" y="{top}" '
        f'width="{max(x1 - x0, MIN_MARK_WIDTH):.2f}" height="{LANE_HEIGHT - 2 * inset}" '
        f'fill="{colour}"><title>{_esc(title)}</title></rect>'
    )


def _step_marks(result: dict[str, Any], scale: _Scale) -> list[str]:
    parts = []
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
        parts.append(_segment("steps", scale, start, until, colour, title, outlined=True))
        x0, x1 = scale.x(start), scale.x(until)
        number = _esc(step.get("index"))
        if x1 - x0 >= LABEL_CHAR_WIDTH * len(number) + 6:
            parts.append(
                f'<text class="step-number" x="{(x0 + x1) / 2:.2f}" '
                f'y="{_lane_top("steps") + LANE_HEIGHT / 2 + 4}">{number}</text>'
            )
    return parts


def _event_marks(events: Iterable[dict[str, Any]], scale: _Scale) -> list[str]:
    events = list(events)
    key_xs = sorted(
        scale.x(t_s)
        for event in events
        if event.get("type") == "key" and (t_s := _number(event.get("t_s"))) is not None
    )
    parts = []
    for event in events:
        kind = _text(event.get("type"))
        t_s = _number(event.get("t_s"))
        if t_s is None:
            continue
        end_s = _number(event.get("end_s"))
        if kind == "sound" and end_s is not None:
            sound = _text(event.get("kind"))
            colour = SOUND_COLOURS.get(sound, "#9ca3af")
            title = f"{sound} {t_s:.2f}-{end_s:.2f} s"
            parts.append(_segment("far end", scale, t_s, end_s, colour, title))
        elif kind == "tone" and end_s is not None:
            tone = _text(event.get("kind"))
            title = f"{tone} tone {t_s:.2f}-{end_s:.2f} s"
            parts.append(_segment("tones", scale, t_s, end_s, _tone_colour(tone), title))
        elif kind == "utterance" and end_s is not None:
            title = f"{t_s:.2f}-{end_s:.2f} s: {_text(event.get('text'))}"
            parts.append(_segment("heard", scale, t_s, end_s, PROMPT_COLOUR, title, outlined=True))
        elif kind == "said":
            duration = _number(event.get("duration_s")) or 0.0
            title = f"said at {t_s:.2f} s: {_text(event.get('text'))}"
            parts.append(_segment("tester", scale, t_s, t_s + duration, SAID_COLOUR, title, 5))
        elif kind == "key":
            x = scale.x(t_s)
            room = min((other - x for other in key_xs if other > x), default=float("inf"))
            parts.append(_key_mark(x, t_s, _text(event.get("digits")), room))
        elif kind == "key-acknowledged":
            x = scale.x(t_s)
            top = _lane_top("tester")
            title = f"keys {_text(event.get('digits'))} acknowledged at {t_s:.2f} s"
            parts.append(
                f'<line class="ack" x1="{x:.2f}" x2="{x:.2f}" y1="{top + 2}" '
                f'y2="{top + LANE_HEIGHT - 2}"><title>{_esc(title)}</title></line>'
            )
        elif kind == "expect-matched":
            x = scale.x(t_s)
            top = _lane_top("steps")
            title = (
                f"expectation met at {t_s:.2f} s by {_text(event.get('method')) or 'text'}: "
                f"heard “{_text(event.get('heard'))}”"
            )
            parts.append(
                f'<circle class="matched" cx="{x:.2f}" cy="{top + LANE_HEIGHT / 2}" r="3.5">'
                f"<title>{_esc(title)}</title></circle>"
            )
        elif kind == "human-evidence":
            x = scale.x(t_s)
            top = _lane_top("heard")
            title = "human evidence: " + ", ".join(
                f"{key}={_display(value)}"
                for key, value in event.items()
                if key not in ("t_s", "type")
            )
            parts.append(
                f'<circle class="evidence-dot" cx="{x:.2f}" cy="{top + 3}" r="3">'
                f"<title>{_esc(title)}</title></circle>"
            )
    return parts


def _key_mark(x: float, t_s: float, digits: str, room: float) -> str:
    """The digits are written beside the mark only if the next press leaves room for them."""
    middle = _lane_top("tester") + LANE_HEIGHT / 2
    diamond = f"{x:.2f},{middle - 6} {x + 5:.2f},{middle} {x:.2f},{middle + 6} {x - 5:.2f},{middle}"
    label = ""
    if room >= LABEL_CHAR_WIDTH * len(digits) + 14:
        label = f'<text x="{x + 7:.2f}" y="{middle + 4}">{_esc(digits)}</text>'
    return (
        f'<g class="key" data-t="{t_s:.3f}"><polygon points="{diamond}" fill="{KEY_COLOUR}"/>'
        f"{label}<title>pressed {_esc(digits)} at {t_s:.2f} s</title></g>"
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


def _flags(events: Iterable[dict[str, Any]], result: dict[str, Any], scale: _Scale) -> list[str]:
    """Moments that concern the whole call: a line across every lane and a label above."""
    flags = sorted(_collect_flags(events, result), key=lambda flag: flag.t_s)
    parts = []
    row_ends = [float("-inf")] * LABEL_ROWS
    top, bottom = _lane_top(LANES[0]) - 4, LANES_BOTTOM + 4
    for flag in flags:
        x = scale.x(flag.t_s)
        if flag.until_s is not None:
            x1 = scale.x(flag.until_s)
            parts.append(
                f'<rect class="dead-air" x="{x:.2f}" y="{top}" '
                f'width="{max(x1 - x, MIN_MARK_WIDTH):.2f}" height="{bottom - top}">'
                f"<title>{_esc(flag.title)}</title></rect>"
            )
        dash = ' stroke-dasharray="4 3"' if flag.dashed else ""
        parts.append(
            f'<line class="flag" x1="{x:.2f}" x2="{x:.2f}" y1="{top - 2}" y2="{bottom}" '
            f'stroke="{flag.colour}"{dash}><title>{_esc(flag.title)}</title></line>'
        )
        width = LABEL_CHAR_WIDTH * len(flag.text) + 8
        anchor_end = x + width > WIDTH
        left = x - width if anchor_end else x
        row = next((i for i, end in enumerate(row_ends) if end < left), None)
        if row is None:
            continue
        row_ends[row] = left + width
        y = (row + 1) * LABEL_ROW_HEIGHT - 2
        anchor = "end" if anchor_end else "start"
        nudge = -3 if anchor_end else 3
        parts.append(
            f'<text class="flag-label" x="{x + nudge:.2f}" y="{y}" text-anchor="{anchor}" '
            f'fill="{flag.colour}">{_esc(flag.text)}<title>{_esc(flag.title)}</title></text>'
        )
    return parts


def _collect_flags(events: Iterable[dict[str, Any]], result: dict[str, Any]) -> list[_Flag]:
    flags = []
    for event in events:
        kind = _text(event.get("type"))
        t_s = _number(event.get("t_s"))
        if t_s is None:
            continue
        at = f"{t_s:.2f} s"
        if kind == "answered":
            flags.append(_Flag(t_s, "answered", "#4b5563", f"answered at {at}"))
        elif kind == "hold-start":
            flags.append(_Flag(t_s, "hold", "#b45309", f"hold started at {at}", dashed=True))
        elif kind == "hold-end":
            flags.append(_Flag(t_s, "off hold", "#b45309", f"hold ended at {at}", dashed=True))
        elif kind == "callback-offer":
            text = f"callback offered at {at}: {_text(event.get('text'))}"
            flags.append(_Flag(t_s, "callback offer", CALLBACK_COLOUR, text, dashed=True))
        elif kind == "human":
            confidence = _number(event.get("confidence"))
            shown = "" if confidence is None else f" ({confidence:.2f})"
            text = f"person detected at {at}{shown}: {_text(event.get('text'))}"
            flags.append(_Flag(t_s, f"human{shown}", HUMAN_COLOUR, text))
        elif kind == "voicemail":
            hz = _number(event.get("beep_hz")) or 0.0
            text = f"voicemail: {hz:.0f} Hz beep at {at} after {_text(event.get('greeting'))}"
            flags.append(_Flag(t_s, "voicemail", VOICEMAIL_COLOUR, text))
        elif kind == "dead-air":
            limit = _number(event.get("limit_s")) or 0.0
            text = f"dead air from {at} (limit {limit:g} s)"
            flags.append(_Flag(t_s, "dead air", DEAD_AIR_COLOUR, text, until_s=t_s + limit))
        elif kind == "ended":
            by = _text(event.get("by")) or _text(result.get("ended_by")) or "?"
            cause = _text(event.get("cause")) or _text(result.get("end_cause")) or "?"
            flags.append(_Flag(t_s, f"ended by {by}", ENDED_COLOUR, f"{cause} by {by} at {at}"))
    return flags


def _legend() -> str:
    entries = [(colour, kind) for kind, colour in SOUND_COLOURS.items()]
    entries += [
        (PROMPT_COLOUR, "prompt heard"),
        (SAID_COLOUR, "tester spoke"),
        (KEY_COLOUR, "key press"),
        (HOLD_COLOUR, "on hold"),
        (HUMAN_COLOUR, "person"),
        (DEAD_AIR_COLOUR, "dead air / SIT"),
    ]
    items = "".join(
        f'<span><i style="background:{colour}"></i>{_esc(name)}</span>' for colour, name in entries
    )
    return f'<p class="legend">{items}</p>'


# --- small helpers ------------------------------------------------------------------------


def _section(title: str, content: str) -> str:
    return f"<section><h2>{_esc(title)}</h2>{content}</section>"


def _esc(value: Any) -> str:
    return html.escape(_text(value), quote=True)


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


def _time_cell(value: Any) -> str:
    number = _number(value)
    if number is None:
        return "—"
    return f'<a class="t" href="#player" data-t="{number:.3f}">{number:.2f}</a>'


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


CSS = """
:root{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#111827}
body{margin:0 auto;padding:16px 24px 48px;max-width:1280px;background:#f9fafb}
h1{font-size:22px;margin:4px 0 6px;display:flex;align-items:center;gap:12px;flex-wrap:wrap}
h2{font-size:16px;margin:22px 0 8px}
.outcome{color:#fff;border-radius:4px;padding:2px 10px;font-size:14px;text-transform:uppercase;
letter-spacing:.04em}
.failure{background:#fef2f2;border-left:4px solid #b91c1c;padding:8px 12px;margin:6px 0}
.failure .kind{font-weight:600;font-family:ui-monospace,monospace}
.facts{display:flex;flex-wrap:wrap;gap:4px 22px;margin:8px 0}
.facts div{display:flex;gap:6px}.facts dt{color:#6b7280}.facts dd{margin:0}
.metrics{display:grid;grid-template-columns:repeat(auto-fill,minmax(130px,1fr));gap:8px;
margin-top:12px}
.card{background:#fff;border:1px solid #e5e7eb;border-radius:6px;padding:8px 10px}
.card .label{color:#6b7280;font-size:12px}
.card .value{font-size:16px;font-weight:600;margin-top:2px}
.evidence{margin:8px 0;font-size:13px}
.chip{display:inline-block;border-radius:10px;padding:1px 8px;margin:0 3px;border:1px solid #d1d5db}
.chip.yes{background:#dcfce7}.chip.no{background:#fee2e2}.chip.na{background:#f3f4f6}
section{margin-bottom:6px}
svg{background:#fff;border:1px solid #e5e7eb;border-radius:6px;display:block;cursor:pointer}
svg text{font-size:11px;font-family:inherit}
svg .lane{fill:#f3f4f6}
svg .lane-name{text-anchor:end;fill:#374151;font-size:12px}
svg .grid{stroke:#e5e7eb}
svg .axis{stroke:#9ca3af}
svg .tick{text-anchor:middle;fill:#4b5563}
svg .unit{text-anchor:end;fill:#6b7280}
svg .hold{fill:#fde68a;opacity:.55}
svg .dead-air{fill:#dc2626;opacity:.12}
svg .flag{stroke-width:1.6}
svg .flag-label{font-weight:600}
svg .key text{font-weight:600;fill:#111827}
svg .ack{stroke:#16a34a;stroke-width:2}
svg .matched{fill:#15803d;stroke:#fff}
svg .evidence-dot{fill:#f59e0b;stroke:#fff}
svg .outlined{stroke:#fff;stroke-width:1.5}
svg .step-number{text-anchor:middle;fill:#14532d;pointer-events:none}
svg .seg:hover,svg .key:hover{opacity:.75}
#playhead{stroke:#ef4444;stroke-width:2}
.legend{display:flex;flex-wrap:wrap;gap:4px 16px;font-size:12px;color:#374151;margin:6px 0}
.legend i{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:5px;
vertical-align:-2px}
audio{width:100%;max-width:640px}
.links,.hint{font-size:13px;margin:6px 0}.hint{color:#6b7280}
table{border-collapse:collapse;width:100%;background:#fff;font-size:13px}
th,td{border:1px solid #e5e7eb;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f3f4f6;font-weight:600}
td.text{white-space:pre-wrap}
tr.failed td{background:#fef2f2}tr.skipped td{color:#9ca3af}
a.t{font-variant-numeric:tabular-nums;text-decoration:none;color:#1d4ed8}
details{margin-top:22px}summary{cursor:pointer;font-weight:600}
"""

SCRIPT = """
(function(){
var audio=document.getElementById('player'),svg=document.getElementById('timeline'),
head=document.getElementById('playhead');
if(!audio||!svg)return;
var x0=parseFloat(svg.dataset.x0),w=parseFloat(svg.dataset.width),
d=parseFloat(svg.dataset.duration);
function seek(t){audio.currentTime=Math.max(0,t);audio.play();}
audio.addEventListener('timeupdate',function(){
var x=x0+w*Math.min(audio.currentTime/d,1);
head.setAttribute('x1',x);head.setAttribute('x2',x);head.style.display='';});
svg.addEventListener('click',function(e){
var p=svg.createSVGPoint();p.x=e.clientX;p.y=e.clientY;
var q=p.matrixTransform(svg.getScreenCTM().inverse());
var t=(q.x-x0)/w*d;if(t>=0&&t<=d)seek(t);});
document.querySelectorAll('a.t').forEach(function(a){
a.addEventListener('click',function(e){e.preventDefault();seek(parseFloat(a.dataset.t));});});
})();
"""
