"""One crawl call: follow a known route of keys, press the key under test, report what follows.

Known menus are recognised from their opening words and their key is pressed at once, as a
caller who knows the menu would, so each call pays only for what is new. What the phone system
does after the last key is reported as heard — the prompts, in order, and how the listening
stopped — and the explorer alone decides what that means for the map.

A call that comes to wait in a menu the crawl knows (a message then its menu again, a "return
to the main menu" key, an invalid key repeating the menu) need not hang up: if one of the
job's follow-up paths can be entered from that menu, the call goes on with it, as a new leg,
with no ringing, greeting or earlier menus to sit through again. Each leg is reported like a
call of its own; the explorer chose the follow-ups and the ways into them (see Entry).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Literal

from shopper.asr.types import SpeechEngine, Utterance
from shopper.audio.frame import TELEPHONY_RATE
from shopper.carriers.dial import DialOptions
from shopper.crawl.identity import cut_words, find_opening, same_prompt, words
from shopper.crawl.options import KEY_WORDS, parse_options
from shopper.crawl.prompts import RETRY_NOTICE, SENTENCE, Piece, split_prompts
from shopper.engine.caller import Caller
from shopper.engine.failures import StepFailure
from shopper.engine.session import CallSession, ListenSettings
from shopper.results.writer import write_call
from shopper.scripts.metrics import call_metrics
from shopper.scripts.runner import CallContext, open_call

Ending = Literal[
    "menu",
    "known",
    "repeating",
    "human",
    "hold-dropped",
    "hold-limit",
    "hangup",
    "dead-air",
    "tone",
    "voicemail",
    "ignored",
    "lost",
    "limit",
]
MESSAGE_WORDS = ("leave a message", "leave your message", "after the tone", "after the beep")
STEP_LIMIT_S = 60.0
"""Longest a route step may wait for its known menu before the call is given up as lost."""
QUIET_BEFORE_LOST_S = 8.0
CUT_TAIL_S = 0.45
"""An utterance this short, begun before the far end can have reacted to the key, is the cut
prompt's last syllable on its own ("...press 9" heard as "Dis,"), not a prompt."""
REACTION_S = 0.6
PAUSE_WAIT_S = 4.0
NO_INPUT = ""
"""The key of a route step that presses nothing: the menu is left to time out."""
MAX_REPROMPTS = 3
"""Re-prompts of a menu listened through without input before it counts as only repeating."""
NO_INPUT_STEP_LIMIT_S = 180.0
"""Longest a route step after a no-input step may wait: the menu re-prompts before it moves on."""
CONTINUE_MIN_S = 90.0
"""Call time a leg needs left before it is begun (a few prompts and a short hold): a leg the
call's budget cuts short is not reported but dialled again, so starting one late only wastes."""
LIMIT_MARGIN_S = 1.0
"""A call that ended this close to its length limit is taken as ended by the limit."""
PressKind = Literal["dial", "after-key", "continue"]


@dataclass(frozen=True, slots=True)
class RouteStep:
    node: str
    prompt: str
    key: str
    on_hold: bool = False
    """The key answers an offer made during the node's hold (a callback): it is pressed once
    the offer has been heard, not when the prompt is (a queue without a prompt is passed by its
    offer alone)."""


@dataclass(frozen=True, slots=True)
class Entry:
    """A way into a follow-up path for a call waiting in the known menu `menu` (whose opening
    was just heard, so it is recognised from what was already heard)."""

    menu: str
    route: tuple[RouteStep, ...]
    """Steps from `menu` on: `route[0]` is at `menu`; the last key is the one under test."""
    rejoin: int
    """Index in `route` of the first step of the path's own route: 0 when the path passes
    through `menu`, 1 when a key of `menu` (a "return to the main menu") leads to a menu on it."""
    fresh_s: float
    """Estimated seconds from answer to the key of `route[rejoin]` on a freshly dialled call:
    where the path's time to a person is counted from, as a caller dialling it would wait."""
    offered_key: bool
    """`route[0]`'s key is one the menu offered. Only such keys are pressed at a menu that has
    just replayed after a key of its own: an invalid or missing key may have used up one of its
    retries, and another one could end the call where a fresh call would not."""


@dataclass(frozen=True, slots=True)
class FollowUp:
    """A path the call may serve after its own, from any of the menus of `entries`."""

    entries: tuple[Entry, ...]
    offered_key: bool = False
    """The key under test is one its menu offered (see PathJob.offered_key)."""


@dataclass(frozen=True, slots=True)
class PathJob:
    target: str
    route: tuple[RouteStep, ...]
    """Known menus to pass and the key to press at each; the last key is the one under test."""
    known: tuple[tuple[str, str], ...]
    """(node id, prompt) of every prompt known when the call was placed."""
    out_dir: Path
    seed: int = 0
    now: datetime | None = None
    max_call_s: float = 300.0
    max_hold_s: float = 240.0
    dead_air_s: float = 12.0
    offered_key: bool = False
    """The key under test is one its menu offered: a menu heard again after such a key was
    entered afresh (offered keys are taken), not replayed after a retry."""
    follow_ups: tuple[FollowUp, ...] = ()
    """Paths to serve after this one, in this order of preference, from wherever the call
    waits in a known menu (see Entry)."""
    continue_until_s: float = 0.0
    """Media time (seconds) by which follow-up legs must be done: the call's and the crawl's
    remaining budgets when the call was placed; 0 serves none."""


@dataclass(frozen=True, slots=True)
class HeardPrompt:
    text: str
    start_s: float
    end_s: float
    known: str | None


@dataclass(frozen=True, slots=True)
class Press:
    """A route key as pressed, for the explorer's cost estimates (media seconds since the call
    was placed). `since_s` is when the call began waiting for the menu: the call's start for the
    first menu of a dialled call ("dial"), the previous key ("after-key"), or the moment a
    continuing call recognised the menu it waits in ("continue"). A step pressing nothing
    (key "") is listed at the moment the menu was left to time out."""

    node: str
    key: str
    kind: PressKind
    since_s: float
    at_s: float


@dataclass(slots=True)
class PathResult:
    """What one path (a call, or a leg of one) heard after its last key; plain data, so it
    crosses process boundaries. Times are media times of the call."""

    call_id: str
    engine: str
    folder: str
    """The call's evidence folder, relative to the crawl's output folder."""
    duration_s: float
    ending: Ending
    prompts: list[HeardPrompt] = field(default_factory=list)
    repeat_of: int | None = None
    """For "repeating": index in `prompts` of the prompt heard again."""
    hold_s: float | None = None
    time_to_human_s: float | None = None
    human: str | None = None
    """What the person said first."""
    human_at_s: float | None = None
    """When the person started speaking (media time of the call, for evidence)."""
    callback_offered: bool | None = None
    callback_offer: str | None = None
    """What the first callback offer of the hold said, for its key."""
    tone: str | None = None
    detail: str = ""
    presses: list[Press] = field(default_factory=list)
    leg: int = 0
    """0 for the path the call was dialled for; n for the n-th follow-up served on the call."""
    follow_up: int | None = None
    """Index in the job's `follow_ups` of the path a later leg served."""
    entered_at: str | None = None
    """The known menu a later leg began in."""
    via: str | None = None
    """The key pressed there to reach the path's own route (a "return to the main menu"),
    None when the path passes through that menu."""
    started_s: float = 0.0
    """When the leg began: 0 for a dialled path."""


@dataclass(slots=True)
class CallResult:
    """One dialled call: the paths it served, in order, and the follow-ups it left."""

    call_id: str
    duration_s: float
    answer_s: float | None
    legs: list[PathResult]
    unserved: list[int] = field(default_factory=list)
    """Follow-ups (indices in the job's) the call never began: the explorer plans them again."""
    redial: list[int] = field(default_factory=list)
    """Follow-ups begun but not reproduced from where the call was, or cut short by the call's
    budget: nothing is learned from them, and they are dialled afresh."""


async def run_path(job: PathJob, engine: SpeechEngine) -> CallResult:
    settings = ListenSettings(dead_air_s=job.dead_air_s)
    options = DialOptions(seed=job.seed, now=job.now, max_duration_s=job.max_call_s)
    context = open_call(job.target, engine, name="crawl", options=options, settings=settings)
    served: _Served
    async with context as caller:
        served = await _serve(job, caller)
    record = context.record()
    folder = Path("calls") / context.call_id
    write_call(record, job.out_dir / folder)
    session = context.session
    legs = [_leg_result(leg, context, folder.as_posix()) for leg in served.legs]
    for index, result in enumerate(legs):
        result.leg = index
    return CallResult(
        call_id=context.call_id,
        duration_s=round(session.now / TELEPHONY_RATE, 3),
        answer_s=call_metrics(session, caller)["answer_s"],
        legs=legs,
        unserved=served.unserved,
        redial=served.redial,
    )


@dataclass(slots=True)
class _Leg:
    """One path served on the call, as it was heard; made into a PathResult after the call."""

    route: tuple[RouteStep, ...]
    offered_key: bool
    start: int
    """Media time (samples) the leg began."""
    held_before: int
    outcome: _Outcome | None = None
    presses: list[Press] = field(default_factory=list)
    follow_up: int | None = None
    entry: Entry | None = None
    end: int | None = None
    """When the leg ended (samples), and the call's hold time then; None for the leg the call
    ended on, measured after the call, as the hold tracker closes its last hold then."""
    held_after: int = 0


@dataclass(slots=True)
class _Served:
    legs: list[_Leg]
    unserved: list[int]
    redial: list[int]


async def _serve(job: PathJob, caller: Caller) -> _Served:
    """The job's own path, then follow-ups for as long as the call waits in a known menu one
    of them can be entered from, within the budget: each from where the last one left off."""
    session = caller.session
    first = _Leg(job.route, job.offered_key, 0, 0)
    first.outcome = await _follow(job, caller, first.presses)
    served = _Served([first], list(range(len(job.follow_ups))), [])
    limit = session.samples(job.continue_until_s)
    while served.unserved:
        last = served.legs[-1]
        assert last.outcome is not None
        place = _waiting_in(last.outcome, session)
        if place is None or session.now + session.samples(CONTINUE_MIN_S) > limit:
            break
        menu, heard_from = place
        chosen = _next_entry(job.follow_ups, served.unserved, menu, _replayed(last, menu, session))
        if chosen is None:
            break
        index, entry = chosen
        served.unserved.remove(index)
        last.end, last.held_after = session.now, session.hold.held_samples(session.now)
        offered = job.follow_ups[index].offered_key
        leg = _Leg(entry.route, offered, session.now, last.held_after, follow_up=index, entry=entry)
        remaining_s = (limit - session.now) / TELEPHONY_RATE
        leg_job = replace(job, route=entry.route, max_call_s=remaining_s)
        leg.outcome = await _follow(leg_job, caller, leg.presses, heard_from)
        if _cut_short(leg.outcome, session, job.max_call_s):
            served.redial.append(index)
            break
        served.legs.append(leg)
    return served


def _waiting_in(outcome: _Outcome, session: CallSession) -> tuple[str, int] | None:
    """The known menu the call waits in (its prompt playing) and when its prompt began."""
    if session.ended or outcome.ending != "known" or not outcome.prompts:
        return None
    last = outcome.prompts[-1]
    if last.known is None:
        return None
    return last.known, round(last.start_s * TELEPHONY_RATE)


def _replayed(leg: _Leg, menu: str, session: CallSession) -> bool:
    """Whether `menu` may be replaying after a retry: a retry notice was heard during the leg
    ("Sorry, I did not hear your choice"), or the leg's key was pressed at `menu`, was not one
    it offered, and only `menu` was heard again (no message leading back to it)."""
    assert leg.outcome is not None
    if any(RETRY_NOTICE.search(u.text) for u in session.finals_since(leg.start)):
        return True
    return (
        bool(leg.route)
        and leg.route[-1].node == menu
        and not leg.offered_key
        and all(prompt.known == menu for prompt in leg.outcome.prompts)
    )


def _next_entry(
    follow_ups: tuple[FollowUp, ...], unserved: list[int], menu: str, replayed: bool
) -> tuple[int, Entry] | None:
    for index in unserved:
        for entry in follow_ups[index].entries:
            if entry.menu == menu and (entry.offered_key or not replayed):
                return index, entry
    return None


def _cut_short(outcome: _Outcome, session: CallSession, max_call_s: float) -> bool:
    """A follow-up leg that did not play out as a fresh call would: its route was not
    reproduced from the menu it began in, or the call's budget ended it (its own listening
    limit, or the carrier's call-length limit hanging up on the tester's behalf)."""
    at_limit = session.now >= session.samples(max_call_s - LIMIT_MARGIN_S)
    return outcome.ending in ("lost", "limit") or (session.ended and at_limit)


def _leg_result(leg: _Leg, context: CallContext, folder: str) -> PathResult:
    session, caller = context.session, context.caller
    outcome = leg.outcome
    assert outcome is not None
    end = session.now if leg.end is None else leg.end
    held_after = session.hold.held_samples(session.now) if leg.end is None else leg.held_after
    offers = [offer for offer in session.hold.callback_offers if leg.start <= offer.end <= end]
    verdict = caller.human_verdict
    human = verdict if verdict is not None and leg.start <= verdict.at <= end else None
    entry = leg.entry
    return PathResult(
        call_id=context.call_id,
        engine=session.engine_name,
        folder=folder,
        duration_s=round(end / TELEPHONY_RATE, 3),
        ending=outcome.ending,
        prompts=outcome.prompts,
        repeat_of=outcome.repeat_of,
        hold_s=round((held_after - leg.held_before) / TELEPHONY_RATE, 3) if outcome.held else None,
        time_to_human_s=None if human is None else _time_to_human(leg, human.at, session),
        human=None if human is None else human.greeting,
        human_at_s=None if human is None else round(human.at / TELEPHONY_RATE, 3),
        callback_offered=bool(offers) if outcome.held else None,
        callback_offer=offers[0].text if outcome.held and offers else None,
        tone=outcome.tone,
        detail=outcome.detail,
        presses=leg.presses,
        follow_up=leg.follow_up,
        entered_at=None if entry is None else entry.menu,
        via=None if entry is None or entry.rejoin == 0 else entry.route[0].key,
        started_s=round(leg.start / TELEPHONY_RATE, 3),
    )


def _time_to_human(leg: _Leg, human_at: int, session: CallSession) -> float | None:
    """Seconds from answer to the person. A follow-up leg did not start from answer: its time
    is measured from its first key on the path's own route, plus the estimated time a fresh
    call takes to that key (Entry.fresh_s)."""
    entry = leg.entry
    if entry is None:
        answered = session.answered_at
        return None if answered is None else round((human_at - answered) / TELEPHONY_RATE, 3)
    rejoined = leg.presses[entry.rejoin].at_s
    return round(entry.fresh_s + human_at / TELEPHONY_RATE - rejoined, 3)


@dataclass(slots=True)
class _Outcome:
    ending: Ending
    prompts: list[HeardPrompt] = field(default_factory=list)
    repeat_of: int | None = None
    held: bool = False
    tone: str | None = None
    detail: str = ""


async def _follow(
    job: PathJob, caller: Caller, presses: list[Press], heard_from: int | None = None
) -> _Outcome:
    """Pass the route's menus, pressing their keys (listed in `presses`), then observe. A call
    continuing from a known menu gives `heard_from`, where that menu's prompt began."""
    session = caller.session
    within_s = STEP_LIMIT_S
    kind: PressKind = "dial" if heard_from is None else "continue"
    waiting_since = session.now
    for index, step in enumerate(job.route):
        listen_from = heard_from if index == 0 else None
        if (step.prompt or not step.on_hold) and not await _reach(
            session, step, within_s, listen_from
        ):
            return _Outcome("lost", detail=f"did not hear {step.node} to press {step.key!r}")
        within_s = STEP_LIMIT_S
        if step.key == NO_INPUT:
            within_s = NO_INPUT_STEP_LIMIT_S
            presses.append(Press(step.node, step.key, kind, _s(waiting_since), _s(session.now)))
            kind, waiting_since = "after-key", session.now
            continue
        if step.on_hold and not await _offer_heard(session, job.max_hold_s):
            return _Outcome("lost", detail=f"no offer at {step.node} to press {step.key!r}")
        pressed_at = session.now
        try:
            await caller.press(step.key)
        except StepFailure as failure:
            if step is job.route[-1]:
                return _Outcome("ignored", detail=failure.message)
            return _Outcome("lost", detail=failure.message)
        presses.append(Press(step.node, step.key, kind, _s(waiting_since), _s(pressed_at)))
        kind, waiting_since = "after-key", pressed_at
        if step.on_hold:
            session.hold.end_hold(pressed_at)
    return await _observe(caller, job)


def _s(samples: int) -> float:
    return round(samples / TELEPHONY_RATE, 3)


async def _offer_heard(session: CallSession, within_s: float) -> bool:
    """Wait through the hold until a callback offer has been heard in full. Taking it ends the
    hold (see _follow): what follows is the phone system's answer, not hold speech."""
    start = session.now
    while not session.ended and session.now - start < session.samples(within_s):
        if any(offer.end > start for offer in session.hold.callback_offers):
            return True
        await session.advance()
    return False


async def _reach(
    session: CallSession, step: RouteStep, within_s: float, heard_from: int | None = None
) -> bool:
    """Listen until the step's menu is recognised by its opening words (in what was heard since
    `heard_from`, when the menu is known to have begun already)."""
    start = session.now
    listen_from = start if heard_from is None else heard_from
    seen = ""
    while not session.ended and session.now - start < session.samples(within_s):
        heard = " ".join(u.text for u in session.finals_since(listen_from))
        if heard != seen:
            seen = heard
            if find_opening(step.prompt, words(heard)) is not None:
                return await _pause(session)
        if heard and session.silent_for_s >= QUIET_BEFORE_LOST_S:
            return False
        await session.advance()
    return False


async def _pause(session: CallSession) -> bool:
    """Wait for a pause in the prompt (at most a few seconds), so a key cuts it between
    sentences rather than inside a word."""
    start = session.now
    while not session.ended and session.now - start < session.samples(PAUSE_WAIT_S):
        run = session.runs.run
        if run is not None and run.kind != "speech":
            return True
        await session.advance()
    return not session.ended


async def _observe(caller: Caller, job: PathJob) -> _Outcome:
    """Hear what follows the last key until the phone system waits, repeats, ends or holds."""
    session = caller.session
    start = session.now
    quiet = session.samples(session.settings.prompt_end_silence_s)
    limit = session.samples(job.max_call_s)
    tone: str | None = None
    seen = -1
    pieces: list[Piece] = []
    cut_prompt = job.route[-1].prompt if job.route else ""
    waiting_at = job.route[-1].node if job.route and job.route[-1].key == NO_INPUT else None
    while True:
        finals = session.finals_since(start)
        if len(finals) != seen:
            seen = len(finals)
            texts = (
                _without_cut(finals, start, cut_prompt)
                if waiting_at is None
                else _without_rest(finals, cut_prompt)
            )
            pieces = split_prompts(texts, job.known)
            if waiting_at is not None:
                reprompts = _reprompts(pieces, waiting_at)
                pieces = pieces[reprompts:]
                if reprompts > MAX_REPROMPTS and not pieces:
                    return _Outcome("repeating", detail=f"{waiting_at} only re-prompts")
            stop = _stop_on_known_or_repeat(pieces)
            if stop is not None:
                ending, kept, repeat_of = stop
                return _Outcome(ending, _heard(kept, finals), repeat_of, tone=tone)
        tone = tone or _tone(session)
        heard = _heard(pieces, finals)
        if session.ended:
            return _Outcome(
                "tone" if tone else "hangup",
                heard,
                tone=tone,
                detail=f"ended by {session.call.ended_by}",
            )
        if session.hold.state == "hold":
            return await _hold(caller, job, heard)
        if _beep_after_message(session, start, heard):
            return _Outcome("voicemail", _greeting_apart(heard), tone=tone)
        run = session.runs.run
        if (
            finals
            and run is not None
            and run.kind == "silence"
            and session.now - max(run.since, finals[-1].end) >= quiet
            and pieces
            and any(option.key for option in parse_options(pieces[-1].text))
        ):
            return _Outcome("menu", heard, tone=tone)
        if session.silent_for_s >= job.dead_air_s:
            return _Outcome(
                "tone" if tone else "dead-air",
                heard,
                tone=tone,
                detail=f"{job.dead_air_s:g} s of silence",
            )
        if session.now - start >= limit:
            return _Outcome("limit", heard, tone=tone, detail="call length budget")
        await session.advance()


def _reprompts(pieces: list[Piece], menu: str) -> int:
    """How many leading pieces are the menu re-prompting while it waits for a key."""
    count = 0
    while count < len(pieces) and pieces[count].known == menu:
        count += 1
    return count


def _without_cut(finals: list[Utterance], pressed: int, prompt: str) -> list[str]:
    """Utterance texts, minus the words of the interrupted prompt heard before the key (a
    lone key left over, "2." of "press 2.", goes too)."""
    texts = [u.text for u in finals]
    if not finals:
        return texts
    first = finals[0]
    if first.end - first.start <= CUT_TAIL_S * TELEPHONY_RATE and first.start < pressed + (
        REACTION_S * TELEPHONY_RATE
    ):
        return ["", *texts[1:]]
    if not prompt or first.start >= pressed:
        return texts
    heard = words(first.text)
    before = (pressed - first.start) / max(1, first.end - first.start)
    cut = cut_words(heard, prompt, round(len(heard) * before) + 2)
    kept = _drop_words(first.text, cut)
    if words(kept) != heard[cut:]:
        kept = " ".join(heard[cut:])
    sentences = SENTENCE.findall(kept)
    if sentences and words(sentences[0]) in ([key] for key in KEY_WORDS):
        kept = "".join(sentences[1:]).strip()
    texts[0] = kept
    return texts


def _without_rest(finals: list[Utterance], prompt: str) -> list[str]:
    """Utterance texts, minus the rest of the menu's prompt: a call that presses nothing hears
    it to the end (perhaps over several utterances) before the menu times out."""
    texts = [u.text for u in finals]
    for index, text in enumerate(texts):
        heard = words(text)
        cut = cut_words(heard, prompt, len(heard))
        texts[index] = "" if cut == len(heard) else _drop_words(text, cut)
        if cut < len(heard):
            break
    return texts


def _drop_words(text: str, count: int) -> str:
    """`text` without its first `count` normalised words, keeping its punctuation, which is
    what later cuts it into sentences (used only when its words are exactly those kept)."""
    tokens = text.split()
    dropped = 0
    while tokens and dropped < count:
        dropped += len(words(tokens.pop(0)))
    return " ".join(tokens)


def _stop_on_known_or_repeat(pieces: list[Piece]) -> tuple[Ending, list[Piece], int | None] | None:
    for index, piece in enumerate(pieces):
        if piece.known is not None:
            return "known", pieces[: index + 1], None
        for earlier in range(index):
            if same_prompt(pieces[earlier].text, piece.text):
                return "repeating", pieces[:index], earlier
    return None


def _heard(pieces: list[Piece], finals: list[Utterance]) -> list[HeardPrompt]:
    prompts = []
    for piece in pieces:
        first, last = finals[piece.first], finals[piece.last]
        prompts.append(
            HeardPrompt(
                piece.text,
                round(first.start / TELEPHONY_RATE, 3),
                round(last.end / TELEPHONY_RATE, 3),
                piece.known,
            )
        )
    return prompts


def _tone(session: CallSession) -> str | None:
    for event in session.tones:
        if event.kind.startswith("sit-") or event.kind in ("busy", "reorder"):
            return event.kind
    return None


def _beep_after_message(session: CallSession, start: int, heard: list[HeardPrompt]) -> bool:
    if not heard or not _asks_for_message(heard[-1].text):
        return False
    spoken_end = round(heard[-1].end_s * TELEPHONY_RATE)
    return any(
        s.kind == "tone" and s.start >= max(start, spoken_end - TELEPHONY_RATE)
        for s in session.segments
    )


def _greeting_apart(heard: list[HeardPrompt]) -> list[HeardPrompt]:
    """The voicemail greeting as its own prompt: an announcement played just before it ("our
    mortgage team is away") is another recording, often with no pause in between. The split
    is at the first sentence asking for a message; its time is shared out by words."""
    last = heard[-1]
    sentences = [s.strip() for s in SENTENCE.findall(last.text) if s.strip()]
    at = next(i for i, s in enumerate(sentences) if _asks_for_message(s) or i == len(sentences) - 1)
    if at == 0:
        return heard
    before, after = " ".join(sentences[:at]), " ".join(sentences[at:])
    share = len(words(before)) / max(1, len(words(last.text)))
    middle = round(last.start_s + share * (last.end_s - last.start_s), 3)
    return [
        *heard[:-1],
        HeardPrompt(before, last.start_s, middle, last.known),
        HeardPrompt(after, middle, last.end_s, None),
    ]


def _asks_for_message(text: str) -> bool:
    return any(phrase in text.lower() for phrase in MESSAGE_WORDS)


async def _hold(caller: Caller, job: PathJob, heard: list[HeardPrompt]) -> _Outcome:
    try:
        await caller.human(within_s=job.max_hold_s, probe=True, courtesy=True)
    except StepFailure as failure:
        ending: Ending = (
            "hold-limit" if failure.kind in ("no-human", "hold-too-long") else ("hold-dropped")
        )
        return _Outcome(ending, heard, held=True, detail=failure.message)
    return _Outcome("human", heard, held=True)
