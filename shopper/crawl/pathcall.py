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

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from shopper.asr.types import SpeechEngine, Utterance
from shopper.audio.callprogress import FULL_SCALE
from shopper.audio.common_stretch import (
    EDGE_FRAMES,
    MIN_SHARE,
    MIN_STRETCH_CORRELATION,
    align,
    shares_recording,
)
from shopper.audio.features import QUIET_DB
from shopper.audio.fingerprint import HOP_SAMPLES, MIN_FRAMES, Envelope, envelope
from shopper.audio.frame import TELEPHONY_RATE
from shopper.carriers.options import DialOptions, SandboxOptions, SipOptions, TwilioGiven
from shopper.crawl.identity import (
    CUT_RESIDUE_WORDS,
    MIN_COMPARED_WORDS,
    SENTENCE,
    cut_words,
    find_opening,
    find_opening_by_letters,
    same_prompt,
    split_words,
    tail_start,
    word_similarity,
    words,
)
from shopper.crawl.keys_by_audio import read_keys
from shopper.crawl.options import KEY_WORDS, names_unread_key, parse_options
from shopper.crawl.piece_cut import cut_at
from shopper.crawl.prompts import Piece, notice_removed, split_prompts
from shopper.engine.caller import Caller
from shopper.engine.failures import KeyIgnored, StepFailure
from shopper.engine.session import CallSession, ListenSettings
from shopper.engine.timeline import KeySent
from shopper.results.writer import write_call
from shopper.scripts.metrics import call_metrics
from shopper.scripts.runner import CallContext, Failure, OnPlaced, open_call
from shopper.text.phrasebook import is_callback_offer, is_retry_notice, is_voicemail_greeting

if TYPE_CHECKING:
    from shopper.sandbox.model import Voice  # passed through to the dialler, never read here

Ending = Literal[
    "menu",
    "known",
    "repeating",
    "human",
    "hold-dropped",
    "hold-limit",
    "hold-voicemail",
    "hangup",
    "cut-off",
    "dead-air",
    "tone",
    "voicemail",
    "ignored",
    "lost",
    "limit",
]
PLEA = re.compile(r"\bplease\b", re.IGNORECASE)
"""Where a request starts when the recogniser gave no sentence ends: grammar, not topic."""
CUT_OFF_S = 0.1
CUT_OFF_CONTEXT_S = 2.0
CUT_OFF_DROP_DB = 20.0
"""A far end's last 0.1 s before it hung up, at most this far below the loudest 0.1 s of the
2 s before, was speech cut off (see _sounding_at_end). Measured: the last 0.1 s of 303
recorded Asterisk prompts of a second or more is 22-65 dB below their loudest (median 38);
flite awb and espeak-ng sentences ending a sandbox call, 25-56 dB; two sentences cut by a
sandbox drop, 2.7 and 15.2 dB (docs/crawl.md, Limits)."""
STEP_LIMIT_S = 60.0
"""Longest a route step may wait for its known menu before the call is given up as lost."""
QUIET_BEFORE_LOST_S = 8.0
CUT_TAIL_S = 0.45
"""An utterance this short, begun before the far end can have reacted to the key, is the cut
prompt's last syllable on its own ("...press 9" heard as "Dis,"), not a prompt."""
REACTION_S = 0.6
RESIDUE_SLACK_WORDS = 3
PAUSE_WAIT_S = 4.0
NO_INPUT = ""
"""The key of a route step that presses nothing: the menu is left to time out."""
MAX_REPROMPTS = 3
"""Re-prompts of a menu listened through without input before it counts as only repeating."""
IGNORED_KEY_TOLERANCE_S = 1.5
"""How much longer or shorter than its first hearing a prompt may last when a key pressed in
it was ignored (the recogniser's edges move by a few hundred milliseconds)."""
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
    after_prompt: bool = False
    """The menu ignored a key pressed while its prompt played: press once it has ended."""
    heard_s: float = 0.0
    """How long the prompt lasted when it was first heard."""


@dataclass(frozen=True, slots=True)
class MenuHeard:
    """Where a route's menu was recognised: the start of the utterance its opening words were
    heard in, and how many words of that utterance came before them (the end of the previous
    prompt, joined to the menu's opening by the recogniser)."""

    start: int
    skipped_words: int


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
    menus: frozenset[str] = frozenset()
    """Ids of the known prompts that are menus: the call stops when one is heard. Any other
    known prompt is listened through, because one recording may open two places ("please
    hold while I try to connect you" before two different queues)."""
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
    voice: Voice | None = None
    """Sandbox only: the voice the phone system speaks in instead of its file's (SandboxOptions)."""
    carrier: str = "sandbox"
    """The carrier that places the call (shopper.carriers.dial): "sandbox" for an IVR file;
    "sip" for a SIP URI and "twilio" for a phone number, both called in real time (the call's
    media time is then the wall clock's, and there is no answer key)."""
    sip: SipOptions = field(default_factory=SipOptions)
    """SIP only: the carrier's per-run options (a trace file)."""
    twilio: TwilioGiven = field(default_factory=TwilioGiven)
    """Twilio only: the settings given on the command line."""


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
    after_hold: list[HeardPrompt] = field(default_factory=list)
    """What a "hold-voicemail" hold ended in: the voicemail greeting, after any message
    before it ("I'm sorry, the person you are calling is not available")."""
    tone: str | None = None
    detail: str = ""
    key_ignored: bool = False
    """The key under test, pressed while its menu's prompt played, was ignored: the prompt
    went on to its end as if nothing had been pressed (see _ignored)."""
    menu_at_s: float | None = None
    """When the utterance the last route menu was recognised in began: with the last press,
    what the explorer compares with the menu's first hearing to tell an ignored key by its
    audio (shopper.crawl.audio_identity.played_on)."""
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


async def run_path(
    job: PathJob, engine: SpeechEngine, on_placed: OnPlaced | None = None
) -> CallResult:
    """The path's call; `on_placed` sees it as soon as it is placed (a line reports its
    carrier leg from there, so that shopper can hang it up should the line die)."""
    settings = ListenSettings(dead_air_s=job.dead_air_s)
    options = DialOptions(
        max_duration_s=job.max_call_s,
        sandbox=SandboxOptions(seed=job.seed, at=job.now, voice=job.voice),
        sip=job.sip,
        twilio=job.twilio,
    )
    context = open_call(
        job.target,
        engine,
        name="crawl",
        carrier=job.carrier,
        options=options,
        settings=settings,
        folder=lambda call_id, _: job.out_dir / "calls" / call_id,
        on_placed=on_placed,
    )
    served: _Served
    folder = Path("calls") / context.call_id
    try:
        async with context as caller:
            served = await _serve(job, caller)
    except asyncio.CancelledError as cancelled:
        _keep_hung_up(context, job.out_dir / folder, cancelled)
        raise
    record = context.record()
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


def _keep_hung_up(context: CallContext, folder: Path, cancelled: asyncio.CancelledError) -> None:
    """A call the crawl hung up before it ended (it was stopped) keeps its evidence, with
    outcome `error` and why, although the map learns nothing from it."""
    reason = str(cancelled.args[0]) if cancelled.args else "hung up"
    context.failure = Failure("error", None, reason)
    write_call(context.record(), folder)


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
    ("Sorry, I did not hear your choice"), or the leg's key was pressed at `menu` and was not
    one it offered. Whatever was heard before the menu came back may be its retry notice in
    words the classifier did not know or the recogniser garbled (espeak-ng's "Hmm, that
    doesn't match any of our options" heard "The term at none and much any on my eruption"):
    a call that went on with another key not offered there ended on the menu's last retry."""
    assert leg.outcome is not None
    if any(is_retry_notice(u.text) for u in session.finals_since(leg.start)):
        return True
    return bool(leg.route) and leg.route[-1].node == menu and not leg.offered_key


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
    offers = _offers(session, leg.start, end)
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
        callback_offer=_offer_text(
            outcome, session, _keys_offered_on_hold(session, leg.start, end)
        ),
        after_hold=outcome.after_hold,
        tone=outcome.tone,
        detail=outcome.detail,
        key_ignored=outcome.key_ignored,
        menu_at_s=outcome.menu_at_s,
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
    key_ignored: bool = False
    after_hold: list[HeardPrompt] = field(default_factory=list)
    tone: str | None = None
    detail: str = ""
    menu_at_s: float | None = None
    offer_read: str | None = None
    """The hold's first callback offer as the audio check read it (see _offer_read)."""


@dataclass(slots=True)
class _Passing:
    """Where a call is on its route: how its next key counts for the cost model (see Press),
    since when it has waited for the next menu, how long it may wait, and where it recognised
    the last menu."""

    kind: PressKind
    waiting_since: int
    within_s: float = STEP_LIMIT_S
    menu_heard: MenuHeard | None = None
    ignored_in_prompt: bool = False
    """The last key was ignored while the menu's prompt played and taken when the engine
    pressed it again after the prompt (shopper.engine.failures.KeyIgnored)."""
    listen_from: int | None = None
    """When the engine waited past the last key's moment (no reaction it could tell, see
    _press), where listening to what followed the key begins: the key itself."""

    def pressed(self, presses: list[Press], step: RouteStep, at: int) -> None:
        presses.append(Press(step.node, step.key, self.kind, _s(self.waiting_since), _s(at)))
        self.kind, self.waiting_since = "after-key", at


async def _follow(
    job: PathJob, caller: Caller, presses: list[Press], heard_from: int | None = None
) -> _Outcome:
    """Pass the route's menus, pressing their keys (listed in `presses`), then observe. A call
    continuing from a known menu gives `heard_from`, where that menu's prompt began."""
    passing = _Passing("dial" if heard_from is None else "continue", caller.session.now)
    for index, step in enumerate(job.route):
        lost = await _pass(job, caller, step, passing, presses, heard_from if index == 0 else None)
        if lost is not None:
            return lost
    menu_heard = passing.menu_heard
    outcome = await _observe(caller, job, menu_heard or MenuHeard(0, 0), passing.listen_from)
    if job.route and menu_heard is not None:
        outcome.key_ignored = passing.ignored_in_prompt or _ignored(
            job.route[-1], menu_heard.start, outcome.prompts
        )
        outcome.menu_at_s = _s(menu_heard.start)
    return outcome


async def _pass(
    job: PathJob,
    caller: Caller,
    step: RouteStep,
    passing: _Passing,
    presses: list[Press],
    heard_from: int | None,
) -> _Outcome | None:
    """Recognise the step's menu (a queue without a prompt is passed by its offer alone) and
    press its key, or press nothing and let the menu time out: None when done, else why the
    route was not followed."""
    session = caller.session
    if step.prompt or not step.on_hold:
        passing.menu_heard = await _reach(session, step, passing.within_s, heard_from)
        if passing.menu_heard is None:
            return _Outcome("lost", detail=f"did not hear {step.node} to press {step.key!r}")
    if step.key == NO_INPUT:
        passing.within_s = NO_INPUT_STEP_LIMIT_S
        passing.pressed(presses, step, session.now)
        return None
    passing.within_s = STEP_LIMIT_S
    return await _press(job, caller, step, passing, presses)


async def _press(
    job: PathJob, caller: Caller, step: RouteStep, passing: _Passing, presses: list[Press]
) -> _Outcome | None:
    """Press the step's key; at a queue, once its callback offer was heard (taking the offer
    ends the hold). A route key that fails ends the path as a route not reproduced. The key
    under test is a dead end only when the far end did not react to it at all: a hang-up or
    a tone right after it is its reaction, and is observed like any other. So is a far end
    that talked or played on with no reaction the engine could tell and was not pressed
    again: a voice that runs the next prompt straight on (espeak-ng) gives no pause at the
    key. What followed is heard from the key, and whether the key was ignored is judged
    from it, by its words (_ignored) and its audio (explorer._key_ignored)."""
    session = caller.session
    if step.on_hold and not await _offer_heard(session, step.key, job.max_hold_s):
        return _Outcome("lost", detail=f"no offer at {step.node} to press {step.key!r}")
    under_test = step is job.route[-1]
    waited = False
    try:
        await caller.press(step.key, at_once=True)
    except KeyIgnored as ignored:
        waited = under_test and ignored.taken_after_prompt is None
        if not ignored.taken_after_prompt and not waited:
            return _not_taken(job, step, ignored)
        passing.ignored_in_prompt = under_test and not waited
    except StepFailure as failure:
        if (outcome := _not_taken(job, step, failure)) is not None:
            return outcome
        waited = True
    pressed_at = _last_key_at(session)
    if waited:
        passing.listen_from = pressed_at
    passing.pressed(presses, step, pressed_at)
    if step.on_hold:
        session.hold.end_hold(pressed_at)
    return None


def _not_taken(job: PathJob, step: RouteStep, failure: StepFailure) -> _Outcome | None:
    """A route key that failed loses the route; the key under test that got no reaction is a
    dead end (other failures of it are observed like any reaction). A callback key pressed
    on hold is observed too: the engine tells a reaction from music by a change of sound,
    which its smoothed sound runs give late when the answer is speech right after the music
    (SkyLark's "Great. Expect our call shortly." once the offer's "press 5" was taken)."""
    if step is not job.route[-1]:
        return _Outcome("lost", detail=failure.message)
    if failure.kind == "dtmf-not-acknowledged" and not step.on_hold:
        return _Outcome("ignored", detail=failure.message)
    return None


def _last_key_at(session: CallSession) -> int:
    """When the engine actually sent the last key: press() waits for a moment at which a
    reaction can be told from the prompt's pauses, and may press again after the prompt."""
    keys = session.timeline.of_type(KeySent)
    return keys[-1].t if keys else session.now


def _ignored(step: RouteStep, menu_heard: int, heard: list[HeardPrompt]) -> bool:
    """Whether a key pressed while the menu's prompt played was ignored: what came next is the
    rest of that prompt, and the whole lasted as long as when it was first heard. (A menu that
    restarts on the key, its opening lost in the cut prompt's utterance, sounds the same but
    takes longer.) A caller learns so that a greeting will not be interrupted; the crawl
    presses again after the prompt."""
    if step.key == NO_INPUT or step.on_hold or step.after_prompt or not heard:
        return False
    first = heard[0]
    tail = tail_start(step.prompt, first.text) if first.known is None else None
    if tail is None or tail[1] > CUT_RESIDUE_WORDS:
        return False
    lasted = first.end_s - menu_heard / TELEPHONY_RATE
    return abs(lasted - step.heard_s) <= IGNORED_KEY_TOLERANCE_S


def _s(samples: int) -> float:
    return round(samples / TELEPHONY_RATE, 3)


async def _offer_heard(session: CallSession, key: str, within_s: float) -> bool:
    """Wait through the hold until a callback offer has been heard in full, or speech on hold
    that names the offer's key ("Press one and we'll return your call", the offer's first
    words heard as an utterance of their own that the classifier did not take for an offer).
    Taking it ends the hold (see _follow): what follows is the phone system's answer, not
    hold speech."""
    start = session.now
    while not session.ended and session.now - start < session.samples(within_s):
        offer = next((o for o in session.hold.callback_offers if o.end > start), None)
        if offer is not None and _offer_words(session, offer, final=False) is not None:
            return True
        if any(_names_key(u.text, key) for u in session.finals_since(start)):
            return True
        await session.advance()
    return False


def _offers(session: CallSession, since: int, until: int) -> list[Utterance]:
    """Callback offers heard on hold between `since` and `until`: the engine's (its
    classifier asked of each utterance), else an utterance that with the next one (begun
    within a prompt's end of quiet) is an offer: the recogniser cut the offer before its key
    ("... as soon as a specialist is free." then "Press 1 to choose that option"), and the
    classifier needs both the wish to call back and the key to hear an offer."""
    found = [offer for offer in session.hold.callback_offers if since <= offer.end <= until]
    if found:
        return found
    quiet = session.samples(session.settings.prompt_end_silence_s)
    said = [u for u in session.transcript if since <= u.end <= until]
    paired = [
        first
        for first, then in pairwise(said)
        if then.start - first.end < quiet
        and _on_hold(session, first)
        and is_callback_offer(f"{first.text} {then.text}")
    ][:1]
    return paired


def _keys_offered_on_hold(session: CallSession, since: int, until: int) -> list[Utterance]:
    """The callback offers (_offers), else the first utterance on hold that names a key: a
    hold that says a key offers a way out of it, whatever the words around the key ("Prefer
    not to hang on? Key in 5 now, and a coordinator will ring you back" is no phrasing the
    classifier learned), and the crawl explores that key like a menu's. Only the classifier's
    offers make `callback_offered` (a hold may name a key for something else)."""
    offers = _offers(session, since, until)
    if offers:
        return offers
    said = [u for u in session.transcript if since <= u.end <= until and _on_hold(session, u)]
    return [u for u in said if any(option.key for option in parse_options(u.text))][:1]


def _on_hold(session: CallSession, said: Utterance) -> bool:
    return any(
        period.start <= said.start and (period.end is None or said.end <= period.end)
        for period in session.hold.periods
    )


def _names_key(text: str, key: str) -> bool:
    return any(option.key == key for option in parse_options(text))


def _offer_text(outcome: _Outcome, session: CallSession, offers: list[Utterance]) -> str | None:
    """The leg's first callback offer with its key: as the audio check read it, else heard."""
    if not outcome.held or not offers:
        return None
    return outcome.offer_read or _offer_words(session, offers[0])


async def _offer_read(session: CallSession, since: int) -> str | None:
    """The first callback offer heard since `since` (with the utterance holding its key, see
    _offer_words), its key phrases read by the audio (shopper.crawl.keys_by_audio): the key
    after "press" is the word a recogniser gets wrong most ("Just press five" heard "Just
    press I'm"), and a queue's offer is explored like a menu's key."""
    offer = next(iter(_keys_offered_on_hold(session, since, session.now)), None)
    if offer is None:
        return None
    said = [offer]
    if _offer_words(session, offer) != offer.text:
        said += [u for u in session.transcript if u.start >= offer.end][:1]
    return " ".join([(await read_keys(session.verify, u)).text for u in said])


def _offer_words(session: CallSession, offer: Utterance, final: bool = True) -> str | None:
    """A callback offer's words up to its key: the recogniser may end the offer's utterance
    at a pause before the key phrase ("... you keep your place in line." then "Just press
    five."), which is then the next utterance, begun within a prompt's end of quiet. Until
    that utterance may still come, None, unless `final` (the call is over: the offer as
    heard)."""
    if any(option.key for option in parse_options(offer.text)):
        return offer.text
    quiet = session.samples(session.settings.prompt_end_silence_s)
    after = next((u for u in session.transcript if u.start >= offer.end), None)
    if after is not None:
        return f"{offer.text} {after.text}" if after.start - offer.end < quiet else offer.text
    if final or (session.now - offer.end >= quiet and not session.speech_unfinished):
        return offer.text
    return None


async def _reach(
    session: CallSession, step: RouteStep, within_s: float, heard_from: int | None = None
) -> MenuHeard | None:
    """Listen until the step's menu is recognised by its opening words (in what was heard since
    `heard_from`, when the menu is known to have begun already); returns when the utterance
    they were heard in began, once it is time to press (None if it never was). A queue's
    step is reached as well when a hold begins: its key answers the hold's callback offer,
    which it waits for anyway, and the queue's intro may be heard in other words on every
    call (espeak-ng's "all the malware customer care agents", then "All our customer care
    agents")."""
    start = session.now
    listen_from = start if heard_from is None else heard_from
    seen = ""
    while not session.ended and session.now - start < session.samples(within_s):
        if step.on_hold and _holding_since(session, listen_from):
            return MenuHeard(session.hold.periods[-1].start, 0)
        finals = session.finals_since(listen_from)
        heard = " ".join(u.text for u in finals)
        if heard != seen:
            seen = heard
            said = words(heard)
            at = find_opening(step.prompt, said)
            at = find_opening_by_letters(step.prompt, said) if at is None else at
            if at is not None:
                heard_at = _menu_heard(finals, at)
                ready = await (
                    _ended(session, within_s, heard_at.start + session.samples(step.heard_s))
                    if step.after_prompt
                    else _pause(session)
                )
                return heard_at if ready else None
        if heard and session.silent_for_s >= QUIET_BEFORE_LOST_S:
            return None
        await session.advance()
    return None


def _holding_since(session: CallSession, since: int) -> bool:
    periods = session.hold.periods
    return session.hold.state == "hold" and bool(periods) and periods[-1].start >= since


def _menu_heard(finals: list[Utterance], word: int) -> MenuHeard:
    """Where the `word`-th normalised word of the utterances' joined text was heard."""
    counted = 0
    for utterance in finals:
        size = len(words(utterance.text))
        if counted + size > word:
            return MenuHeard(utterance.start, word - counted)
        counted += size
    return MenuHeard(finals[-1].start, 0)


async def _ended(session: CallSession, within_s: float, not_before: int) -> bool:
    """Wait for the prompt to end: as much silence as ends a prompt (see ListenSettings), once
    the prompt has played as long as it did when first heard (`not_before`, media time): a
    pause inside a prompt can be as long as the quiet after it."""
    start = session.now
    while not session.ended and session.now - start < session.samples(within_s):
        quiet = session.silent_for_s >= session.settings.prompt_end_silence_s
        if quiet and session.now >= not_before:
            return True
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


@dataclass(slots=True)
class _Listening:
    """What _observe has made of the call since the last key: the prompts heard so far, and a
    tone if one was detected."""

    start: int
    """When the listening began (samples): right after the key."""
    menu_heard: MenuHeard
    cut_prompt: str
    """The prompt the key interrupted (its leftover words begin what is heard next)."""
    waiting_at: str | None
    """The menu left to time out (no key pressed), whose re-prompts are not new prompts."""
    key_at: int = 0
    """When the last key was sent (0 before any): nothing heard after it began before it."""
    seen: int = -1
    """Utterances cut into prompts so far."""
    pieces: list[Piece] = field(default_factory=list)
    tone: str | None = None


async def _observe(
    caller: Caller, job: PathJob, menu_heard: MenuHeard, since: int | None = None
) -> _Outcome:
    """Hear what follows the last key until the phone system waits, repeats, ends or holds
    (from `since`, else from now)."""
    session = caller.session
    last = job.route[-1] if job.route else None
    listening = _Listening(
        session.now if since is None else since,
        menu_heard,
        last.prompt if last is not None else "",
        last.node if last is not None and last.key == NO_INPUT else None,
        _last_key_at(session) if session.timeline.of_type(KeySent) else 0,
    )
    while True:
        finals = session.finals_since(listening.start)
        if len(finals) != listening.seen:
            stopped = _prompts_so_far(session, job, listening, finals)
            if stopped is not None:
                if stopped.ending == "menu":
                    await _keys_by_audio(session, stopped, listening.pieces, finals)
                return stopped
        listening.tone = listening.tone or _tone(session)
        heard = _heard(listening.pieces, finals, listening.key_at)
        if session.ended:
            return _ended_by_far_end(session, listening, heard)
        if _intercepted(listening.tone) and not session.speech_unfinished:
            return _Outcome("tone", heard, tone=listening.tone, detail="intercepted")
        if session.hold.state == "hold":
            return await _hold(caller, job, heard)
        stopped = _stopped(session, job, listening, finals, heard)
        if stopped is not None:
            if stopped.ending == "menu":
                await _keys_by_audio(session, stopped, listening.pieces, finals)
            return stopped
        await session.advance()


async def _keys_by_audio(
    session: CallSession, outcome: _Outcome, pieces: list[Piece], finals: list[Utterance]
) -> None:
    """A new menu's key phrases as the audio says them (shopper.crawl.keys_by_audio): the
    explorer reads its options, title and labels from this text, so an option whose key the
    transcript garbled ("Prestew") is still offered and tried."""
    menu = pieces[-1]
    if menu.known is not None or not outcome.prompts:
        return
    text = outcome.prompts[-1].text
    for utterance in finals[menu.first : menu.last + 1]:
        reading = await read_keys(session.verify, utterance)
        for change in reading.changes:
            text = change.apply(text)
    outcome.prompts[-1] = replace(outcome.prompts[-1], text=text)


def _prompts_so_far(
    session: CallSession, job: PathJob, listening: _Listening, finals: list[Utterance]
) -> _Outcome | None:
    """Cut what was heard into prompts (without what is left of the interrupted prompt, or of
    a menu re-prompting while nothing is pressed); stops at a known menu, a prompt heard again,
    or a menu that only re-prompts."""
    listening.seen = len(finals)
    quiet = session.samples(session.settings.prompt_end_silence_s)
    waiting_at = listening.waiting_at
    reprompts = 0
    if waiting_at is None:
        said_before = _said_before(session, listening.menu_heard, listening.start)
        texts = _without_cut(finals, listening.start, listening.cut_prompt, said_before)
    else:
        texts, reprompts = _without_rest(finals, listening.start, quiet, listening.cut_prompt)
    pieces = split_prompts(texts, job.known)
    if waiting_at is not None:
        playing, replays = _reprompts(pieces, waiting_at)
        pieces, reprompts = pieces[playing:], reprompts + replays
        if reprompts > MAX_REPROMPTS and not pieces:
            return _Outcome("repeating", detail=f"{waiting_at} only re-prompts")
    listening.pieces = pieces
    audio = _PieceAudio(_same_audio_in(session, finals), _round_again_in(session, finals))
    stop = _stop_on_known_or_repeat(pieces, job.menus, audio)
    if stop is None:
        return None
    ending, kept, repeat_of = stop
    if ending == "repeating" and _waited_for_key(kept, pieces, finals, quiet):
        listening.pieces = kept
        return _Outcome("menu", _heard(kept, finals, listening.key_at), tone=listening.tone)
    return _Outcome(ending, _heard(kept, finals, listening.key_at), repeat_of, tone=listening.tone)


def _waited_for_key(
    kept: list[Piece], pieces: list[Piece], finals: list[Utterance], quiet: int
) -> bool:
    """Whether a prompt heard again right after itself, with nothing pressed and a prompt's
    end of quiet between, was a menu waiting for a key that timed out and re-prompted: a
    menu whose every key the recogniser garbled past reading ("Dial 1" heard "I'll want")
    is still a menu, by what it does. Departments of a circular transfer hand over to the
    next without waiting for the caller, and a prompt repeated after others is a circle."""
    position = next((i for i, piece in enumerate(pieces) if kept and piece is kept[-1]), None)
    if position is None or position + 1 >= len(pieces):
        return False
    last, again = pieces[position], pieces[position + 1]
    if not same_prompt(last.text, again.text):
        return False
    heard = finals[last.first : again.first + 1]
    return any(later.start - earlier.end >= quiet for earlier, later in pairwise(heard))


def _ended_by_far_end(
    session: CallSession, listening: _Listening, heard: list[HeardPrompt]
) -> _Outcome:
    tone = listening.tone
    detail = f"ended by {session.call.ended_by}"
    if not tone:
        heard = _with_last_notice(heard, session.finals_since(listening.start))
    if heard and not tone and session.call.ended_by == "remote" and _sounding_at_end(session):
        return _Outcome("cut-off", heard, detail=f"{detail} while it still spoke")
    return _Outcome("tone" if tone else "hangup", heard, tone=tone, detail=detail)


def _sounding_at_end(session: CallSession) -> bool:
    """Whether the far end still spoke in its last CUT_OFF_S before the line went dead: its
    level above the silence floor and within CUT_OFF_DROP_DB of the loudest CUT_OFF_S of the
    CUT_OFF_CONTEXT_S before. A phone system that ends a call hangs up after its last
    prompt's own fall to quiet (a recording's or a synthesised sentence's last syllable
    fading out), while a line that drops cuts the speech off mid-word."""
    recent = session.recording.far
    window = session.samples(CUT_OFF_S)
    if not recent:
        return False
    context = np.concatenate(list(recent))[-session.samples(CUT_OFF_CONTEXT_S) :]
    if len(context) < 2 * window:
        return False
    tail = _level_db(context[-window:])
    step = window // 2
    loudest = max(_level_db(context[i : i + window]) for i in range(0, len(context) - window, step))
    return tail >= QUIET_DB and tail >= loudest - CUT_OFF_DROP_DB


def _level_db(samples: np.ndarray) -> float:
    level = float(np.sqrt(np.mean((samples.astype(np.float64) / FULL_SCALE) ** 2)))
    return 20.0 * float(np.log10(max(level, 1e-9)))


def _with_last_notice(heard: list[HeardPrompt], finals: list[Utterance]) -> list[HeardPrompt]:
    """What a call the far end hung up heard, with the notice sentences it ended on after
    the last prompt (see _last_notice): Swiftlane's "Since we did not receive a choice, this
    call will now end", which the classifier takes for a notice, is the message the menu gave
    up with, heard after "I'm still waiting for your choice."."""
    notice = _last_notice(finals)
    if notice and (not heard or notice[0].start_s >= heard[-1].end_s):
        return [*heard, *notice]
    return heard


def _last_notice(finals: list[Utterance]) -> list[HeardPrompt]:
    """The retry notice a hang-up came right after, as the prompt the call ended on: notices
    are set aside as the menu's rather than nodes (split_prompts), because the menu usually
    plays again; a menu that hangs up after "That is not a valid entry." ended the call with
    a message, not in silence. Only the notice sentences after the last other speech count
    (a menu that re-prompted, then hung up in silence, ended in silence)."""
    said = [(u, s.strip()) for u in finals for s in SENTENCE.findall(u.text) if words(s)]
    trailing = 0
    while trailing < len(said) and is_retry_notice(said[len(said) - 1 - trailing][1]):
        trailing += 1
    if not trailing:
        return []
    notice = said[len(said) - trailing :]
    text = " ".join(sentence for _, sentence in notice)
    return [HeardPrompt(text, _s(notice[0][0].start), _s(notice[-1][0].end), None)]


def _stopped(
    session: CallSession,
    job: PathJob,
    listening: _Listening,
    finals: list[Utterance],
    heard: list[HeardPrompt],
) -> _Outcome | None:
    """How the listening stops while the call is up and not on hold: a beep after a request
    for a message, a menu waiting for a key, dead air, or the call's length budget. What was
    said is judged (a box, a menu) only once all of it is recognised: the recogniser returns
    an utterance a while after it ends (on a virtual clock it holds speech until the pause
    after it is longer than the pauses inside sentences; in real time a loaded recogniser
    runs seconds behind), so until then the last sentence, a menu's last key or the rest of
    a box's greeting, is not heard yet. Quiet is media time from the end of the speech,
    however late its text came; dead air counts from when the text was in (`silent_for_s`)."""
    tone = listening.tone
    said_all = not session.speech_unfinished
    if said_all and (
        _beep_after_message(session, listening.start, heard)
        or (heard and _recording_box(session, listening.start))
    ):
        return _Outcome("voicemail", _greeting_apart(heard), tone=tone)
    if said_all and _menu_waits(session, finals, listening.pieces):
        return _Outcome("menu", heard, tone=tone)
    if session.silent_for_s >= job.dead_air_s:
        detail = f"{job.dead_air_s:g} s of silence"
        return _Outcome("tone" if tone else "dead-air", heard, tone=tone, detail=detail)
    if session.now - listening.start >= session.samples(job.max_call_s):
        return _Outcome("limit", heard, tone=tone, detail="call length budget")
    return None


def _menu_waits(session: CallSession, finals: list[Utterance], pieces: list[Piece]) -> bool:
    """A prompt that offers keys was followed by as much quiet as ends a prompt (asked once
    all that was said is recognised: the sound runs can fall quiet inside the last sentence
    while its text is still to come)."""
    run = session.runs.run
    if not finals or not pieces or run is None or run.kind != "silence":
        return False
    quiet = session.samples(session.settings.prompt_end_silence_s)
    if session.now - max(run.since, finals[-1].end) < quiet:
        return False
    text = pieces[-1].text
    return any(option.key for option in parse_options(text)) or names_unread_key(text)


def _reprompts(pieces: list[Piece], menu: str) -> tuple[int, int]:
    """How many leading pieces are the menu re-prompting while it waits for a key (the one
    still being heard, whose turn is not over), and how many of those are the menu itself.
    A new piece before a hearing of the menu is its no-input notice, whatever its words: a
    phone system that comes back to the menu the caller is silent in has only re-prompted
    ("I'm still waiting for your choice." is no wording the classifier knows; taken for a
    place, it ended the call's listening at the menu heard again, before the menu gave up)."""
    playing = replays = 0
    for index, piece in enumerate(pieces):
        if piece.known == menu:
            playing, replays = index + 1, replays + 1
        elif piece.known is not None:
            break
    return playing, replays


def _said_before(session: CallSession, menu_heard: MenuHeard, pressed: int) -> int:
    """Words of the menu's prompt recognised in utterances over before the key was pressed
    (asked again as late utterances come in: the recogniser lags the audio), without the words
    before its opening in the first of them."""
    heard = sum(
        len(words(u.text))
        for u in session.transcript
        if u.start >= menu_heard.start and u.end <= pressed
    )
    return max(0, heard - menu_heard.skipped_words)


def _without_cut(finals: list[Utterance], pressed: int, prompt: str, said_before: int) -> list[str]:
    """Utterance texts, minus the words of the interrupted prompt heard before the key (a
    lone key left over, "2." of "press 2.", goes too). They are looked for where the prompt
    was when the key was pressed: after the `said_before` words heard in earlier utterances,
    give or take the recogniser's slack. (A menu that restarts on the key says its first
    words again right after the cut, and a menu may name its own title again later.)"""
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
    most = round(len(heard) * before) + 2
    said = words(prompt)[
        max(0, said_before - RESIDUE_SLACK_WORDS) : said_before + most + RESIDUE_SLACK_WORDS
    ]
    where = " ".join(said)
    cut = cut_words(heard, where, most)
    if 0 < cut < len(heard) and _truncated_word(heard[cut - 1], heard[cut], where):
        cut += 1
    kept = split_words(first.text, cut)[1]
    if words(kept) != heard[cut:]:
        kept = " ".join(heard[cut:])
    sentences = SENTENCE.findall(kept)
    if sentences and words(sentences[0]) in ([key] for key in KEY_WORDS):
        kept = "".join(sentences[1:]).strip()
    texts[0] = kept
    return texts


def _truncated_word(last: str, word: str, prompt: str) -> bool:
    """Whether `word`, heard after the cut prompt's `last` word, is the prompt's next word
    cut in the middle by the key ("To hear these options" cut after "To he-", heard as
    "To him"): the recogniser hears its beginning and completes it as some other word."""
    said = words(prompt)
    return any(
        said[j] == last and said[j + 1][:1] == word[:1] and len(word) <= len(said[j + 1])
        for j in range(len(said) - 1)
    )


def _without_rest(
    finals: list[Utterance], since: int, quiet: int, prompt: str
) -> tuple[list[str], int]:
    """Utterance texts, minus the rest of the menu's prompt and its re-prompts, with how many
    re-prompts there were: a call that presses nothing hears the prompt to its end, then the
    menu times out and says it again, perhaps after a notice ("Sorry, I did not hear your
    choice"), before it moves on. Turns are told apart by pauses as long as a prompt's end:
    the rest is the turn before the first such pause, a re-prompt a turn that is the prompt."""
    texts = [u.text for u in finals]
    turns: list[list[int]] = []
    previous_end = since
    for index, utterance in enumerate(finals):
        if index == 0 or utterance.start - previous_end >= quiet:
            turns.append([])
        turns[-1].append(index)
        previous_end = utterance.end
    rest = bool(finals) and finals[0].start - since < quiet
    reprompts = 0
    # The re-prompt heard so far while it is incomplete: a prompt with a pause as long as a
    # prompt's end inside it (a greeting, a pause, the menu) comes back in several turns.
    so_far = ""
    for number, turn in enumerate(turns):
        said = " ".join(
            kept
            for i in turn
            for s in SENTENCE.findall(texts[i])
            if (kept := notice_removed(s, [prompt]).strip())
        )
        if number == 0 and rest:
            heard = ""
        elif so_far and _prompt_so_far(f"{so_far} {said}", prompt):
            heard = f"{so_far} {said}"
        elif _prompt_so_far(said, prompt):
            heard = said
            reprompts += 1
        else:
            break
        so_far = "" if not heard or same_prompt(heard, prompt) else heard
        for index in turn:
            texts[index] = ""
    return texts, reprompts


def _prompt_so_far(said: str, prompt: str) -> bool:
    """Whether `said` is the prompt, or its beginning: the recogniser delivers a re-prompt an
    utterance at a time, and its last one may come after the pause that ends the turn."""
    heard = words(said)
    if len(heard) < MIN_COMPARED_WORDS:
        return False
    said_words = words(prompt)
    return same_prompt(said, prompt) or any(
        same_prompt(said, " ".join(said_words[:size]))
        for size in range(len(heard) - RESIDUE_SLACK_WORDS, len(heard) + RESIDUE_SLACK_WORDS + 1)
    )


SameAudio = Callable[[Piece, Piece], bool]
RoundAgain = Callable[[Piece, Piece], "tuple[Piece, Piece] | None"]
SAME_PIECE_LENGTH = 0.75
"""Two pieces that are one recording last about as long (their spans are shared out of
utterances by words, so not exactly): a piece holding that recording and the next
department's too (SkyLark's central office, then baggage again, one piece) shares a
stretch with it but is not the same prompt."""
OWN_PROMPT_S = MIN_FRAMES * HOP_SAMPLES / TELEPHONY_RATE
"""Far-end audio a piece must hold before a recording heard earlier on the call for that
audio to count as a prompt of its own: the shortest stretch taken as one recording (2 s)."""


@dataclass(frozen=True, slots=True)
class _PieceAudio:
    """What the call's audio says of its pieces: whether two are one recording played twice
    (`same`), and a piece cut where an earlier piece's recording begins again inside it,
    after a prompt of its own (`round_again`: (that prompt, the recording again), or None)."""

    same: SameAudio
    round_again: RoundAgain


def _stop_on_known_or_repeat(
    pieces: list[Piece], menus: frozenset[str], audio: _PieceAudio | None = None
) -> tuple[Ending, list[Piece], int | None] | None:
    for index, piece in enumerate(pieces):
        if piece.known in menus:
            return "known", pieces[: index + 1], None
        for earlier in range(index):
            if same_prompt(pieces[earlier].text, piece.text):
                if audio is not None:
                    pieces, earlier, index = _rotated(pieces, earlier, index, audio)
                way_in = _before_first_round(pieces[:earlier], pieces[earlier:index])
                return "repeating", [*way_in, *pieces[earlier:index]], len(way_in)
    return None


def _rotated(
    pieces: list[Piece], earlier: int, index: int, audio: _PieceAudio
) -> tuple[list[Piece], int, int]:
    """Where a cycle found by a repeated piece really begins: a piece that comes round again
    in other words (a voice the recogniser garbles differently each round, "The quality team
    is away today" heard "But while it is even away today") is found as a repeat only by the
    pieces after it, and would be taken for the way in; the audio of the piece just before
    the first hearing and of the piece just before the repeat tells it. (Repeats are found by
    words; the audio only moves the cycle's start back, one piece at a time.)

    The piece just before the repeat may also hold the last department of the circle and
    then the first one's recording again, run together because the last hands back in words
    no classifier takes for a transfer ("Customer retention. ... One moment." then "Refunds
    are issued by our billing review team..."): taken whole for the first department heard
    again, the last department was lost, and a circle of three became one of two. That piece
    is cut where the recording begins again (_round_again_in): the part before it is the
    circle's last department, the rest its first one come round. Asked before `same`, which
    says yes to such a piece when the first hearing's span is long enough."""
    pieces = list(pieces)
    while earlier > 0:
        cut = audio.round_again(pieces[earlier - 1], pieces[index - 1])
        if cut is not None:
            pieces[index - 1 : index] = cut
            earlier -= 1
        elif audio.same(pieces[earlier - 1], pieces[index - 1]):
            earlier, index = earlier - 1, index - 1
        else:
            break
    return pieces, earlier, index


def _same_audio_in(session: CallSession, finals: list[Utterance]) -> SameAudio:
    """Whether two pieces heard on this call are one recording played twice, by the far
    end's audio over their spans (shopper.audio.common_stretch); overlapping spans say
    nothing."""

    def same(a: Piece, b: Piece) -> bool:
        first, second = _heard([a, b], finals)
        if first.start_s < second.end_s and second.start_s < first.end_s:
            return False
        lengths = sorted((first.end_s - first.start_s, second.end_s - second.start_s))
        if lengths[0] < SAME_PIECE_LENGTH * lengths[1]:
            return False
        return shares_recording(_far_envelope(session, first), _far_envelope(session, second))

    return same


def _round_again_in(session: CallSession, finals: list[Utterance]) -> RoundAgain:
    """`piece` cut in two where the recording of `earlier` (heard before it on this call)
    begins inside it after at least OWN_PROMPT_S of other far-end audio: (the part before,
    the recording again; shopper.crawl.piece_cut), else None. The rest of the piece and
    `earlier` must hold the same recording by the rule two spans are judged by
    (shopper.audio.common_stretch: a stretch of 2 s or more, most of the shorter of the two,
    correlating at 0.95 or more); it begins where the stretch begins, less the edge a run of
    agreeing windows leaves out (EDGE_FRAMES)."""

    def round_again(earlier: Piece, piece: Piece) -> tuple[Piece, Piece] | None:
        if piece.known is not None:
            return None
        first, heard = _heard([earlier, piece], finals)
        if first.end_s > heard.start_s:
            return None
        found = align(_far_envelope(session, heard), _far_envelope(session, first))
        hop_s = HOP_SAMPLES / TELEPHONY_RATE
        again_s = heard.start_s + (found.start - EDGE_FRAMES) * hop_s
        rest_s = min(heard.end_s - again_s, first.end_s - first.start_s)
        shared = found.frames >= MIN_FRAMES and found.frames * hop_s >= MIN_SHARE * rest_s
        if not shared or found.score < MIN_STRETCH_CORRELATION:
            return None
        if again_s - heard.start_s < OWN_PROMPT_S:
            return None
        return cut_at(piece, finals, again_s)

    return round_again


def _far_envelope(session: CallSession, heard: HeardPrompt) -> Envelope:
    start, end = round(heard.start_s * TELEPHONY_RATE), round(heard.end_s * TELEPHONY_RATE)
    return envelope(session.recording.far_between(start, end))


def _before_first_round(way_in: list[Piece], cycle: list[Piece]) -> list[Piece]:
    """The pieces heard before a repeating cycle, without the cycle's first round when
    language did not cut that round as it cut the second (a transfer sentence the
    recogniser garbled the first time, "We are fending you to account services"): the
    sentences from which the rest of the way in is the cycle over again are dropped, so the
    key leads to the cycle's first node rather than to a node of the whole round's words.
    Where the round begins is the cut whose rest is most like the cycle word for word (not
    letting a title or a greeting before it count as cut residue, as same_prompt does)."""
    cycle_text = " ".join(piece.text for piece in cycle)
    best: tuple[float, int, int] | None = None
    for index, piece in enumerate(way_in):
        sentences = SENTENCE.findall(piece.text)
        for cut in range(len(sentences)):
            rest = " ".join([*sentences[cut:], *(p.text for p in way_in[index + 1 :])])
            if same_prompt(rest, cycle_text):
                exact = word_similarity(words(rest), words(cycle_text))
                if best is None or exact > best[0]:
                    best = (exact, index, cut)
    if best is None:
        return way_in
    _, index, cut = best
    head = "".join(SENTENCE.findall(way_in[index].text)[:cut]).strip()
    kept = [replace(way_in[index], text=head)] if words(head) else []
    return [*way_in[:index], *kept]


def _heard(pieces: list[Piece], finals: list[Utterance], since: int = 0) -> list[HeardPrompt]:
    """The pieces as prompts with their spans: a piece that begins or ends inside an
    utterance is placed there by its share of the utterance's words, so that its evidence
    (audio identity, where it was heard) is its own recording and not its neighbour's. None
    begins before `since`, the key the listening followed: the recogniser may run the
    interrupted prompt's last words and the next prompt into one utterance, and whatever
    words of it were left over, what the key led to played after the key."""
    prompts = []
    for piece in pieces:
        first, last = finals[piece.first], finals[piece.last]
        start = first.start + piece.start_share * (first.end - first.start)
        end = last.start + piece.end_share * (last.end - last.start)
        start = min(max(start, since), end)
        prompts.append(
            HeardPrompt(
                piece.text,
                round(start / TELEPHONY_RATE, 3),
                round(end / TELEPHONY_RATE, 3),
                piece.known,
            )
        )
    return prompts


def _tone(session: CallSession) -> str | None:
    for event in session.tones:
        if event.kind.startswith("sit-") or event.kind in ("busy", "reorder"):
            return event.kind
    return None


def _intercepted(tone: str | None) -> bool:
    """Whether a special information tone was heard: the network, not the phone system,
    answers from here on ("Your call cannot be completed as dialed", tone and recording
    again until the caller hangs up). The path ends at the tone, with the words before it;
    listening on would hear the intercept's recording repeat and take it for a circle."""
    return tone is not None and tone.startswith("sit-")


def _beep_after_message(session: CallSession, start: int, heard: list[HeardPrompt]) -> bool:
    if not heard or not _asks_for_message(heard[-1].text):
        return False
    spoken_end = round(heard[-1].end_s * TELEPHONY_RATE)
    return any(
        s.kind == "tone" and s.start >= max(start, spoken_end - TELEPHONY_RATE)
        for s in session.segments
    )


def _recording_box(session: CallSession, since: int) -> bool:
    """Whether the engine heard a voicemail box since `since`: a single-tone beep after
    speech, then the quiet of a recording (shopper.engine.voicemail). That is physical
    evidence and needs no wording: a greeting the classifier does not take for a request for
    a message ("say the prescription number ... after the tone") is still a box."""
    box = session.voicemail.box
    return box is not None and box.beep.start >= since


def _box_greeting(session: CallSession, since: int) -> list[Utterance]:
    """The utterance heard last before the beep of a box the engine recognised since `since`
    (none without a box): its greeting, which hold words ("our nurses are with patients")
    can make the hold tracker take for an announcement."""
    box = session.voicemail.box
    if box is None or box.beep.start < since:
        return []
    before = [
        u for u in session.finals_since(since) if u.end <= box.beep.start + TELEPHONY_RATE // 2
    ]
    return before[-1:]


def _voicemail_after_hold(session: CallSession, began: int) -> list[HeardPrompt]:
    """What a hold ended in when it was a voicemail ("I'm sorry, ... please leave your message
    after the tone", then a beep): the hold's failure (the silence of the recording afterwards)
    is then a voicemail, not a drop. The speech after the last hold announcement, without the
    cut announcement's leftover words, cut before the greeting; empty when there was no beep.
    The greeting of a box the engine recognised is no announcement, whatever its words."""
    greeting = _box_greeting(session, began)
    announcements = [a for a in session.hold.announcements if a not in greeting]
    said = [u for u in session.finals_since(began) if u not in announcements]
    if not said:
        return []
    text = " ".join(u.text for u in said)
    for announcement in announcements:
        text = split_words(text, cut_words(words(text), announcement.text, len(words(text))))[1]
    spoken = HeardPrompt(
        text,
        round(said[0].start / TELEPHONY_RATE, 3),
        round(said[-1].end / TELEPHONY_RATE, 3),
        None,
    )
    if not words(text):
        return []
    if not _beep_after_message(session, began, [spoken]) and not _recording_box(session, began):
        return []
    return _greeting_apart([spoken])[-2:]


def _greeting_apart(heard: list[HeardPrompt]) -> list[HeardPrompt]:
    """The voicemail greeting as its own prompt: an announcement played just before it ("our
    mortgage team is away") is another recording, often with no pause in between. The split
    is where the request for a message begins (its sentence, or its "please" when the
    recogniser gave no punctuation); its time is shared out by words."""
    last = heard[-1]
    at = _greeting_start(last.text)
    before, after = last.text[:at].strip(), last.text[at:].strip()
    if not words(before):
        return heard
    share = len(words(before)) / max(1, len(words(last.text)))
    middle = round(last.start_s + share * (last.end_s - last.start_s), 3)
    return [
        *heard[:-1],
        HeardPrompt(before, last.start_s, middle, last.known),
        HeardPrompt(after, middle, last.end_s, None),
    ]


def _greeting_start(text: str) -> int:
    """The latest sentence from which the rest still asks for a message, and in it the
    latest "please" from which it still does (0 when no part of `text` asks for one)."""
    sentence = max(
        (m.start() for m in SENTENCE.finditer(text) if is_voicemail_greeting(text[m.start() :])),
        default=0,
    )
    pleas = [
        m.start() for m in PLEA.finditer(text, sentence) if is_voicemail_greeting(text[m.start() :])
    ]
    return pleas[-1] if pleas else sentence


def _asks_for_message(text: str) -> bool:
    return is_voicemail_greeting(text)


async def _hold(caller: Caller, job: PathJob, heard: list[HeardPrompt]) -> _Outcome:
    session = caller.session
    began = session.now
    try:
        await caller.human(within_s=job.max_hold_s, probe=True, courtesy=True)
    except StepFailure as failure:
        greeting = _voicemail_after_hold(session, began)
        offer = await _offer_read(session, began)
        if greeting:
            return _Outcome(
                "hold-voicemail",
                heard,
                held=True,
                after_hold=greeting,
                detail=failure.message,
                offer_read=offer,
            )
        ending: Ending = (
            "hold-limit" if failure.kind in ("no-human", "hold-too-long") else ("hold-dropped")
        )
        return _Outcome(ending, heard, held=True, detail=failure.message, offer_read=offer)
    return _Outcome("human", heard, held=True, offer_read=await _offer_read(session, began))
