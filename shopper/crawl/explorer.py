"""The crawl: breadth first over key paths, until nothing new is left.

Each path passes the menus already known by pressing their keys as soon as they are
recognised, presses one key not yet tried and listens. A path is a new call, or the next leg
of a call that already waits in a known menu, when going on from there is cheaper than
dialling (shopper/crawl/planning.py). What a path hears becomes nodes and edges of the map:
prompts never heard before are new nodes, a prompt already known is an edge back to its node,
and how the listening stopped says what kind of place the path ends in. Keys offered by a
menu are all tried, and so are the probe keys (0, * and # by default) a menu did not offer,
because zero-out and invalid-key handling are what callers suffer from.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import deque
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from shopper.asr.selection import EngineChoice
from shopper.carriers.options import SipOptions, TwilioGiven
from shopper.crawl.audio_identity import (
    PLAYED_ON_S,
    WORTH_HEARING_SIMILARITY,
    played_on,
    same_recording,
    shared_ending,
)
from shopper.crawl.identity import (
    MIN_COMPARED_WORDS,
    replay_start,
    same_prompt,
    similarity,
    split_words,
    tail_start,
    word_at,
    words,
)
from shopper.crawl.lines import LINE_ENDED, Lines, line_ended
from shopper.crawl.map import CrawlMap, Evidence, MapNode, NodeKind, Option, Unexplored
from shopper.crawl.options import (
    KEY_WORDS,
    PRESS_WORDS,
    may_name_unread_key,
    names_unread_key,
    parse_options,
)
from shopper.crawl.pathcall import (
    NO_INPUT,
    CallResult,
    FollowUp,
    HeardPrompt,
    PathJob,
    PathResult,
    RouteStep,
)
from shopper.crawl.planning import CostModel, claim, entries, share_of
from shopper.crawl.shared_lines import SharedLines
from shopper.text.phrasebook import is_closed_message, is_transfer

if TYPE_CHECKING:
    from shopper.sandbox.model import Voice  # passed through to the dialler, never read here

ROOT = "main"
CALLBACK_LABEL = "call back"
NO_INPUT_LABEL = "no input"
SENTENCE_END = re.compile(r"[.!?,;]")
FULL_STOP = re.compile(r"[.!?;]+")
TITLE_WORDS = 4
NAME_WORDS = 4
NAME_LEAD_WORDS = frozenset(
    {"a", "an", "the", "to", "for", "four", "fore", "please", "speak", "talk", "with", "your"}
)
"""Words dropped from the start of an id: "for" (and how it is misheard), "to speak with a"."""
KEY_RESIDUE = PRESS_WORDS | KEY_WORDS.keys() | {"pressed", "hash", *"0123456789"}
"""Words a pressed key leaves at the start of the next prompt: the end of the cut one
("...press one" heard as "pressed,"); a title made only of them names nothing."""
AFTER_KEY_S = PLAYED_ON_S + 0.5
"""Audio after a key compared with the menu's first hearing: enough to show the prompt played
on (PLAYED_ON_S), too little for a replay of the menu from its start, at another lag, to be
the longer stretch the two share."""
HEAD_S = 1.0
"""Audio before the recording two spans end with that is a prompt of its own (a greeting, a
message; a short sentence): less is where the shared stretch's start may fall anyway
(shopper.audio.common_stretch leaves a quarter second off a stretch's edge)."""
HOLD_ENDS: dict[str, NodeKind] = {
    "human": "human",
    "hold-dropped": "dropped",
    "hold-voicemail": "voicemail",
    "hold-limit": "limit",
}
"""What a queue leads to, by how its hold ended."""
CALL_ENDS: dict[str, frozenset[NodeKind]] = {
    "hangup": frozenset({"closed", "message"}),
    "cut-off": frozenset({"dropped"}),
    "dead-air": frozenset({"dropped"}),
    "tone": frozenset({"tone"}),
    "voicemail": frozenset({"voicemail"}),
    "ignored": frozenset({"dead-end"}),
}
"""What the last prompt of a path is, by how the call ended after it."""


@dataclass(frozen=True, slots=True)
class Budgets:
    max_depth: int = 6
    max_calls: int = 200
    max_call_seconds: float = 7200.0
    max_call_s: float = 300.0
    """Longest single call (media seconds): a path still going then ends in a `limit` node."""
    max_hold_s: float = 240.0


@dataclass(frozen=True, slots=True)
class CrawlSettings:
    target: str
    out_dir: Path
    budgets: Budgets = Budgets()
    lines: int = 2
    try_keys: str = "0*#"
    redial: bool = False
    """Dial every path afresh: no call goes on from a known menu to serve another path."""
    engine: EngineChoice = "auto"
    vosk_model: Path | None = None
    seed: int = 0
    now: datetime | None = None
    voice: Voice | None = None
    """Sandbox only: the voice the phone system speaks in instead of its file's (SandboxOptions)."""
    carrier: str = "sandbox"
    """The carrier that places the calls (see PathJob.carrier)."""
    sip: SipOptions = field(default_factory=SipOptions)
    """SIP only: the carrier's per-run options (a trace file)."""
    twilio: TwilioGiven = field(default_factory=TwilioGiven)
    """Twilio only: the settings given on the command line (the rest: environment, config)."""


@dataclass(frozen=True, slots=True)
class Attempt:
    """A key to try at a node (None for the first call, which only listens)."""

    node: str | None
    key: str


Progress = Callable[[Attempt, PathResult, list[str]], None]
"""Told after each path (a call or a leg of one): what was tried, what was heard, and the ids
of new nodes."""


@dataclass(slots=True)
class _Crawl:
    settings: CrawlSettings
    map: CrawlMap
    routes: dict[str, tuple[RouteStep, ...]] = field(default_factory=dict)
    """Keys to press (and menus to recognise on the way) to reach each node."""
    pending: deque[Attempt] = field(default_factory=deque)
    waited_at: set[str] = field(default_factory=set)
    """Menus whose no-input path is planned: it has no option until it is known to go on."""
    late: set[str] = field(default_factory=set)
    """Menus that ignored a key pressed while their prompt played: keys wait for its end."""
    costs: CostModel = field(default_factory=CostModel)
    dial_only: set[Attempt] = field(default_factory=set)
    """Paths a continuing call began but could not serve: they are dialled afresh."""

    def route(self, attempt: Attempt) -> tuple[RouteStep, ...]:
        if attempt.node is None:
            return ()
        node = self.map.node(attempt.node)
        return (*self.routes[node.id], _step(self, node, attempt.key))

    def follow_up(self, attempt: Attempt) -> FollowUp | None:
        if attempt.node is None:
            return None
        ways_in = entries(self.route(attempt), self.map, self.costs, partial(_step, self))
        return FollowUp(ways_in, self.offered(attempt)) if ways_in else None

    def offered(self, attempt: Attempt) -> bool:
        if attempt.node is None:
            return False
        node = self.map.node(attempt.node)
        return any(o.key == attempt.key and o.offered for o in node.options)

    def job(self, attempt: Attempt, follow_ups: list[tuple[Attempt, FollowUp]]) -> PathJob:
        known = tuple((n.id, n.prompt) for n in self.map.nodes if n.prompt)
        budgets = self.settings.budgets
        left_s = budgets.max_call_seconds - self.map.call_seconds
        return PathJob(
            target=self.settings.target,
            route=self.route(attempt),
            known=known,
            menus=frozenset(n.id for n in self.map.nodes if n.kind == "menu"),
            out_dir=self.settings.out_dir,
            seed=self.settings.seed,
            now=self.settings.now,
            max_call_s=budgets.max_call_s,
            max_hold_s=budgets.max_hold_s,
            offered_key=self.offered(attempt),
            follow_ups=tuple(plan for _, plan in follow_ups),
            continue_until_s=max(0.0, min(budgets.max_call_s, left_s)),
            voice=self.settings.voice,
            carrier=self.settings.carrier,
            sip=self.settings.sip,
            twilio=self.settings.twilio,
        )


def crawl(settings: CrawlSettings, progress: Progress | None = None) -> CrawlMap:
    """Explore the target within the budgets and return its map (without findings)."""
    return asyncio.run(explore(settings, progress))


async def explore(settings: CrawlSettings, progress: Progress | None = None) -> CrawlMap:
    """`crawl` as a task that can be stopped: cancelling it (the CLI does on Ctrl-C and
    SIGTERM) places no further call, hangs up the calls in progress, learns the calls that
    finished meanwhile and returns the map so far, marked stopped with the cancel's message
    as the reason; what it did not reach is listed unexplored with that reason. A line's
    process that dies stops the crawl the same way (reason `LINE_ENDED`)."""
    began = time.monotonic()
    state = _Crawl(
        settings,
        CrawlMap(
            target=settings.target,
            started_at=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            lines=settings.lines,
            at=None if settings.now is None else settings.now.isoformat(timespec="seconds"),
        ),
    )
    state.pending.append(Attempt(None, ""))
    running: _Running = {}
    with _lines(settings) as lines:
        try:
            await _explore_all(state, lines, running, progress)
        except asyncio.CancelledError as cancelled:
            _uncancel()
            reason = str(cancelled.args[0]) if cancelled.args else "interrupted"
            await _stop(state, lines, running, progress, reason)
        except _LineEnded:
            await _stop(state, lines, running, progress, LINE_ENDED)
            if isinstance(lines, Lines):
                state.map.stopped = "; ".join([LINE_ENDED, *await lines.hang_up_left()])
    state.map.lower_bound_s = round(_lower_bound(state.map), 3)
    state.map.wall_s = round(time.monotonic() - began, 3)
    return state.map


def _lines(settings: CrawlSettings) -> Lines | SharedLines:
    """Where the calls run: Twilio calls all in shopper's own process, behind its one server
    and public URL (shopper.crawl.shared_lines); the others each in a process of its own."""
    if settings.carrier == "twilio":
        return SharedLines(settings.engine, settings.vosk_model)
    return Lines(settings.lines, settings.engine, settings.vosk_model)


async def _explore_all(
    state: _Crawl, lines: Lines | SharedLines, running: _Running, progress: Progress | None
) -> None:
    """Keep every line busy until nothing is left to try or a budget is spent."""
    settings, budgets = state.settings, state.settings.budgets
    while state.pending or running:
        while state.pending and len(running) < settings.lines:
            reason = _over_budget(state.map, budgets, len(running))
            if reason is not None:
                _give_up(state, reason)
                break
            attempt = state.pending.popleft()
            free = settings.lines - len(running)
            share = 0 if settings.redial else share_of(len(state.pending), free)
            follow_ups = claim(state.pending, share, state.follow_up, state.dial_only)
            placed = _Placed(attempt, [item for item, _ in follow_ups])
            running[asyncio.wrap_future(lines.place(state.job(attempt, follow_ups)))] = placed
        if not running:
            break
        done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
        for future in done:
            if line_ended(future):
                raise _LineEnded  # its call stays in `running`: `_stop` lists it unexplored
            placed = running.pop(future)
            call = future.result()
            assert call is not None, "only a stopping crawl hangs calls up"
            _learn_call(state, placed, call, progress)


class _LineEnded(Exception):
    """A line's process died: the crawl stops as for a signal, with the map so far."""


async def _stop(
    state: _Crawl,
    lines: Lines | SharedLines,
    running: _Running,
    progress: Progress | None,
    reason: str,
) -> None:
    """Hang up the calls in progress and wait for each line to let go of its call: a call
    that ended meanwhile is learned, one hung up (or whose line failed: the map of the calls
    that finished matters more now) leaves its paths unexplored. A further signal meanwhile
    changes nothing: the lines are already hanging up."""
    lines.hang_up()
    state.map.stopped = reason
    while running:
        try:
            done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            _uncancel()
            continue
        for future in done:
            placed = running.pop(future)
            call = future.result() if future.exception() is None else None
            if call is not None:
                _learn_call(state, placed, call, progress)
            else:
                state.pending.extendleft(reversed([placed.attempt, *placed.follow_ups]))
    _give_up(state, reason)


def _uncancel() -> None:
    """The cancel was a request to stop, handled here: the task goes on to return the map."""
    task = asyncio.current_task()
    if task is not None:
        task.uncancel()


@dataclass(frozen=True, slots=True)
class _Placed:
    """A call on a line: the path it was dialled for and the follow-ups handed to it."""

    attempt: Attempt
    follow_ups: list[Attempt]


_Running = dict[asyncio.Future[CallResult | None], _Placed]
"""The calls on the lines, by the future of their result."""


def _learn_call(
    state: _Crawl, placed: _Placed, call: CallResult, progress: Progress | None
) -> None:
    """Learn every path the call served, in order, as if each had been its own call; the
    call's cost counts once. Follow-ups it did not serve go back to the front of the queue."""
    crawl_map = state.map
    crawl_map.calls += 1
    crawl_map.call_seconds += call.duration_s
    crawl_map.paths += len(call.legs)
    crawl_map.engine = crawl_map.engine or call.legs[0].engine
    state.costs.record(call)
    for leg in call.legs:
        attempt = placed.attempt if leg.follow_up is None else placed.follow_ups[leg.follow_up]
        before = {node.id for node in crawl_map.nodes}
        _learn(state, attempt, leg)
        if progress is not None:
            progress(attempt, leg, [n.id for n in crawl_map.nodes if n.id not in before])
    state.dial_only.update(placed.follow_ups[index] for index in call.redial)
    back = sorted([*call.redial, *call.unserved])
    state.pending.extendleft(reversed([placed.follow_ups[index] for index in back]))


def _over_budget(crawl_map: CrawlMap, budgets: Budgets, running: int) -> str | None:
    if crawl_map.calls + running >= budgets.max_calls:
        return f"max calls ({budgets.max_calls}) reached"
    if crawl_map.call_seconds >= budgets.max_call_seconds:
        return f"max call seconds ({budgets.max_call_seconds:g} s) reached"
    return None


def _give_up(state: _Crawl, reason: str) -> None:
    """Every path still to try is unexplored for `reason` (the first call too, when a stop
    hung it up: then the start itself is)."""
    while state.pending:
        attempt = state.pending.popleft()
        state.map.unexplored.append(Unexplored(attempt.node or ROOT, attempt.key, reason))


@dataclass(frozen=True, slots=True)
class _Place:
    """Where a path's nodes hang in the map: the menu it left (None for the first call), the
    key pressed there, the keys from the start, the route that reproduces them, and what the
    menu said the key is for."""

    parent: MapNode | None
    key: str
    path: list[str]
    route: tuple[RouteStep, ...]
    label: str | None

    @property
    def stem(self) -> str:
        """An id for a node heard without a prompt (a drop, a tone): where the key was pressed."""
        here = self.parent.id if self.parent is not None else ROOT
        return f"{here}-{self.key or 'call'}"


def _learn(state: _Crawl, attempt: Attempt, result: PathResult) -> None:
    """What one path heard becomes nodes and edges: the prompts in order (known ones are
    edges back, new ones new nodes), then how the listening stopped says what the last one is."""
    if result.ending == "lost":
        _not_reproduced(state, attempt, result)
        return
    parent = state.map.node(attempt.node) if attempt.node is not None else None
    if parent is not None and _key_ignored(state, parent, attempt, result):
        _again_after_prompt(state, parent, attempt)
        return
    if parent is not None and attempt.key == NO_INPUT and not _moves_on(parent, result):
        return
    menu_again = _probe_retried(state, parent, attempt.key, result) if parent else None
    if menu_again is not None:
        result = replace(result, prompts=menu_again)
    place = _place(state, parent, attempt.key)
    chain, origins = _chain(state, place, result)
    last = chain[-1] if chain else None
    end = _ending(state, place, result, last)
    if end is not None:
        _link(last or parent, "" if last is not None else attempt.key, end.id)
    _close_repeat(result, chain, origins)
    if last is not None and last.kind == "menu" and result.ending == "menu":
        _offer(state, last)
    if parent is not None and chain and chain[0] is not parent:
        _missed_offer(parent, attempt.key)
        _next_unheard(state, parent, attempt.key)
        _unread_way_back(parent, attempt.key, chain[0])


def _probe_retried(
    state: _Crawl, menu: MapNode, key: str, result: PathResult
) -> list[HeardPrompt] | None:
    """The menu heard again, when a probe key the menu did not offer (--try-keys, or a digit
    tried at a menu with no readable key, or the digit after the run where a key was not
    read, _after_run) brought new words and then the menu: those words
    are the menu's wrong-key notice, whatever they say ("Hmm, that
    number does not belong to any of the choices", heard "Hmm, at number 10, let me launch
    any unnotices", is no wording the classifier knows), not a place of their own. Digits
    missing from a run of offered ones are not probes: a "press two" the recogniser missed
    may well lead to a message and back."""
    offered = any(option.key == key and option.offered for option in menu.options)
    guessed = may_name_unread_key(menu.prompt) and key in _after_run(
        [option.key for option in menu.options if option.offered]
    )
    probe = (
        key in list(state.settings.try_keys) or _unreadable(menu) or guessed
    )  # "" is in every string
    prompts, _ = _apart(state, result)
    if offered or not probe or key == NO_INPUT or len(prompts) < 2:
        return None
    *before, last = prompts
    if any(_known_by_words(state, heard) is not None for heard in before):
        return None
    return [last] if _known_node(state, last, result) is menu else None


def _unreadable(menu: MapNode) -> bool:
    """A menu none of whose keys could be read (see _next_unheard)."""
    return menu.kind == "menu" and not any(heard.key for heard in parse_options(menu.prompt))


def _not_reproduced(state: _Crawl, attempt: Attempt, result: PathResult) -> None:
    reason = f"route not reproduced: {result.detail}"
    state.map.unexplored.append(Unexplored(attempt.node or ROOT, attempt.key, reason))


def _key_ignored(state: _Crawl, menu: MapNode, attempt: Attempt, result: PathResult) -> bool:
    """Whether the menu ignored the key pressed while its prompt played: by its words and
    timing (the call saw the rest of the prompt, lasting as long as the first time), or by
    its audio, which does not depend on how the recogniser cut the prompt or how long its
    pauses are: the recording of the menu's first hearing went on unbroken across the key.
    Asked also of a menu already known to ignore keys: a path planned before that was known
    pressed its key while the prompt played, whichever call finished first."""
    if result.key_ignored:
        return True
    if menu.kind == "queue" or attempt.key == NO_INPUT or not menu.evidence:
        return False
    if result.menu_at_s is None:
        return False
    key_s = result.presses[-1].at_s if result.presses else None
    if key_s is None or not result.prompts:
        return False
    heard = _evidence(result, result.menu_at_s, min(result.duration_s, key_s + AFTER_KEY_S))
    return played_on(state.settings.out_dir, menu.evidence[0], heard, key_s)


def _again_after_prompt(state: _Crawl, menu: MapNode, attempt: Attempt) -> None:
    """The menu ignored the key while its prompt played: from now on its keys wait for the
    prompt's end, and this one is tried again first."""
    state.late.add(menu.id)
    state.pending.appendleft(attempt)


def _place(state: _Crawl, parent: MapNode | None, key: str) -> _Place:
    if parent is None:
        return _Place(None, key, [], (), None)
    path = list(parent.path) if key == NO_INPUT else [*parent.path, key]
    route = (*state.routes[parent.id], _step(state, parent, key))
    return _Place(parent, key, path, route, _option_label(parent, key))


def _chain(state: _Crawl, place: _Place, result: PathResult) -> tuple[list[MapNode], list[int]]:
    """The nodes of the prompts heard, in order, each linked to the next (the first from the
    key pressed); for each, the index of the heard prompt it comes from (see _apart). A prompt
    is its known node unless that recording leads elsewhere this time (_goes_elsewhere)."""
    prompts, origins = _apart(state, result)
    found = [_known_node(state, heard, result) for heard in prompts]
    chain: list[MapNode] = []
    previous, key = place.parent, place.key
    for index, heard in enumerate(prompts):
        node = found[index]
        if node is not None and _goes_elsewhere(state, node, found[index + 1 :], result):
            node = None
        if node is None:
            named = place.label if previous is place.parent else None
            node = _learned_node(state, heard, result, named, place.path, place.route)
            found[index] = node
        node.evidence.append(_evidence(result, heard.start_s, heard.end_s))
        _link(previous, key, node.id)
        chain.append(node)
        previous, key = node, ""
    for node in chain[:-1]:
        if node.kind == "limit":
            node.kind = "message"
    return chain, origins


def _close_repeat(result: PathResult, chain: list[MapNode], origins: list[int]) -> None:
    """A prompt heard again without input (a circular transfer): the last node leads back to
    the first hearing's node."""
    if result.ending == "repeating" and chain and result.repeat_of is not None:
        _link(chain[-1], "", chain[origins.index(result.repeat_of)].id)


LAST_KINDS: dict[str, NodeKind] = {
    "known": "message",
    "repeating": "message",
    "menu": "menu",
    "cut-off": "dropped",
    "dead-air": "dropped",
    "tone": "tone",
    "voicemail": "voicemail",
    "ignored": "dead-end",
    "limit": "limit",
}
"""What the last prompt heard is, by how the listening stopped after it (a hang-up: see
_last_kind). A known menu or a repeat heard next makes it a message leading there."""
SILENT_ENDS: dict[str, NodeKind] = {
    "hangup": "dropped",
    "dead-air": "dropped",
    "tone": "tone",
    "voicemail": "voicemail",
    "ignored": "dead-end",
    "limit": "limit",
    "menu": "dead-end",
}
"""What a path that heard no new prompt ends in, by how it stopped (a node of its own)."""


def _ending(
    state: _Crawl, place: _Place, result: PathResult, last: MapNode | None
) -> MapNode | None:
    """Classify where the path ended; returns a node the last prompt leads on to, if any."""
    if last is not None and last.kind not in ("limit", "message"):
        return None
    if result.ending in HOLD_ENDS:
        return _hold_ending(state, place, result, last)
    if last is None:
        return _silent_ending(state, place, result)
    last.kind = _last_kind(last, result.ending)
    return _dropped_after_transfer(state, last, place, result)


def _dropped_after_transfer(
    state: _Crawl, last: MapNode, place: _Place, result: PathResult
) -> MapNode | None:
    """A line that hangs up right after saying it passes the call on ("Please hold while we
    connect you to your account manager") dropped the caller: the prompt is a message and a
    `dropped` node follows it (the one an earlier path found, if any). The transfer is asked
    of the prompt's last sentence only: a closing message that mentions a transfer earlier
    ("... we can transfer you during office hours. Goodbye.") is no drop."""
    if result.ending != "hangup" or not _ends_on_transfer(last.prompt):
        return None
    known = next((o.to for o in last.options if o.key == NO_INPUT and o.to), None)
    found = next((node for node in state.map.nodes if node.id == known), None)
    if found is not None:
        return found
    spec = _NodeSpec(f"{last.id}-dropped", "", "dropped", place.path, place.route)
    return _new_node(state, spec, result)


def _ends_on_transfer(prompt: str) -> bool:
    """Whether the prompt's last sentence passes the call on now."""
    sentences = [s for s in FULL_STOP.split(prompt) if s.strip()]
    return bool(sentences) and is_transfer(sentences[-1])


def _last_kind(last: MapNode, ending: str) -> NodeKind:
    if ending == "hangup":
        return "closed" if is_closed_message(last.prompt) else "message"
    return LAST_KINDS[ending]


def _silent_ending(state: _Crawl, place: _Place, result: PathResult) -> MapNode | None:
    kind = SILENT_ENDS.get(result.ending)
    if kind is None:
        return None
    stem = f"{place.stem}-{kind}"
    node = _NodeSpec(stem, "", kind, place.path, place.route, place.label)
    return _new_node(state, node, result)


def _hold_ending(state: _Crawl, place: _Place, result: PathResult, last: MapNode | None) -> MapNode:
    """The last prompt is a queue (a new one when the hold began without a prompt), leading to
    how its hold ended: a person, a voicemail, a drop or the hold budget."""
    queue = last or _new_node(
        state, _NodeSpec(place.stem, "", "queue", place.path, place.route), result
    )
    queue.kind = "queue"
    queue.hold_s = result.hold_s
    queue.callback_offered = result.callback_offered
    if result.callback_offer is not None:
        _offer_callback(state, queue, result.callback_offer)
    return _after(last, queue, _hold_end(state, queue, place, result))


def _hold_end(state: _Crawl, queue: MapNode, place: _Place, result: PathResult) -> MapNode:
    if result.ending == "human":
        return _person(state, queue, place, result)
    if result.after_hold:
        return _after_hold(state, queue, result, place.path, place.route)
    kind = HOLD_ENDS[result.ending]
    stem = f"{queue.id}-{kind}"
    return _new_node(state, _NodeSpec(stem, "", kind, place.path, place.route), result)


def _person(state: _Crawl, queue: MapNode, place: _Place, result: PathResult) -> MapNode:
    greeting = result.human or ""
    agent = _NodeSpec(f"{queue.id}-agent", greeting, "human", place.path, place.route)
    human = _new_node(state, agent, result)
    answered = result.human_at_s or result.duration_s
    human.evidence.append(_evidence(result, answered, result.duration_s))
    human.hold_s = result.hold_s
    human.callback_offered = result.callback_offered
    human.time_to_human_s = result.time_to_human_s
    return human


def _after_hold(
    state: _Crawl,
    queue: MapNode,
    result: PathResult,
    path: list[str],
    route: tuple[RouteStep, ...],
) -> MapNode:
    """The nodes a hold ended in before a voicemail beep: any message, then the greeting (one
    voicemail greeting often serves several places). Returns the first of them."""
    nodes: list[MapNode] = []
    for heard in result.after_hold:
        last = heard is result.after_hold[-1]
        stem = f"{queue.id}-voicemail" if last else _node_name(heard.text, None)
        node = _known_node(state, heard, result) or _new_node(
            state, _NodeSpec(stem, heard.text, "message", path, route), result
        )
        node.evidence.append(_evidence(result, heard.start_s, heard.end_s))
        if nodes:
            _link(nodes[-1], "", node.id)
        nodes.append(node)
    nodes[-1].kind = "voicemail"
    return nodes[0]


def _after(last: MapNode | None, queue: MapNode, then: MapNode) -> MapNode:
    """The node to link from the path's end: a queue heard without a prompt is new too."""
    if last is None:
        _link(queue, "", then.id)
        return queue
    return then


def _known_node(state: _Crawl, heard: HeardPrompt, result: PathResult) -> MapNode | None:
    """The known node a heard prompt is: by its words, else by its audio (_same_audio)."""
    return _known_by_words(state, heard) or _same_audio(state, heard, result)


def _known_by_words(state: _Crawl, heard: HeardPrompt) -> MapNode | None:
    if heard.known is not None:
        return state.map.node(heard.known)
    return next(
        (n for n in state.map.nodes if n.prompt and same_prompt(n.prompt, heard.text)), None
    )


def _apart(state: _Crawl, result: PathResult) -> tuple[list[HeardPrompt], list[int]]:
    """The result's heard prompts, with each that ends with the rest of a known menu (see
    identity.tail_start) cut into what came before it and that menu; and for each, the index
    of the heard prompt it comes from. Asked before _same_audio, which would find the menu
    inside the first hearing's span and keep the greeting and the menu one node."""
    kept: list[HeardPrompt] = []
    origins: list[int] = []
    for index, heard in enumerate(result.prompts):
        known = _known_by_words(state, heard)
        if known is None:
            begins = _menu_by_audio(state, heard, result) or _menu_in(state, heard)
        else:
            begins = _replay_after_speech(known, heard) or _rest_alone(state, known, heard)
        pieces = [heard] if begins is None else _cut_before(heard, *begins)
        kept += pieces
        origins += [index] * len(pieces)
    return kept, origins


def _menu_by_audio(state: _Crawl, heard: HeardPrompt, result: PathResult) -> tuple[int, str] | None:
    """(word of `heard` where a known menu begins, the menu) when `heard` and the menu's first
    hearing end with the same recording (audio_identity.shared_ending). What played before it
    in `heard` is a message of its own; what played before it on the menu's first hearing was
    a greeting, split off the menu (_split_menu). Asked before the words (_menu_in), which
    find the rest of a menu only where the recogniser heard its sentences alike on both calls:
    in a voice it reads badly (espeak-ng's CivicLink: "Primer licenses. Terino licenses..."
    and "Rhymer licenses to renew a license...") a sentence late, or not at all."""
    span = _evidence(result, heard.start_s, heard.end_s)
    for menu in state.map.nodes:
        if menu.kind != "menu" or not menu.prompt or not menu.evidence:
            continue
        first = menu.evidence[0]
        ending = shared_ending(state.settings.out_dir, first, span)
        if ending is None:
            continue
        if ending.first_head_s >= HEAD_S:
            greeting = word_at(menu.prompt, first.start_s, first.end_s, ending.first_from_s)
            if greeting:
                _split_menu(state, menu, greeting)
        if ending.heard_head_s < HEAD_S:
            return 0, menu.id
        return word_at(heard.text, heard.start_s, heard.end_s, ending.heard_from_s), menu.id
    return None


def _menu_in(state: _Crawl, heard: HeardPrompt) -> tuple[int, str] | None:
    """(word of `heard` where a known menu begins, the menu) when `heard` ends with it: the
    rest of a menu without its first sentences (which are then a greeting of their own: the
    menu node is split), or the whole menu again after other speech."""
    tail = _split_at_tail(state, state.map.nodes, heard)
    if tail is not None:
        return tail
    replay = _menu_replay(state, heard)
    return None if replay is None else (replay[1], replay[0].id)


def _replay_after_speech(menu: MapNode, heard: HeardPrompt) -> tuple[int, str] | None:
    """(word where `menu` begins again, its id) when a prompt known by its words as that
    menu is in fact a message of some sentences, then the whole menu from its start: a long
    menu and a short message before it are "the same prompt" by word edit distance over the
    longer of the two (Alder Falls kal: "Final meter readings need five business days'
    notice. ... Returning you to the main menu." then the main menu, 0.76 alike to the menu
    alone), and the message was lost. Leftover words of a cut prompt are too few to count."""
    if menu.kind != "menu" or heard.known is not None:
        return None
    start = replay_start(menu.prompt, heard.text)
    return None if start is None or start < MIN_COMPARED_WORDS else (start, menu.id)


def _rest_alone(state: _Crawl, menu: MapNode, heard: HeardPrompt) -> tuple[int, str] | None:
    """(word where `menu` begins, its id) when a prompt known by its words as that menu is
    only its rest, without its first sentences: the phone system came back to the menu alone
    and its first hearing was a greeting, then the menu, which is split (as _menu_in splits
    a menu heard alone whose words are further from the whole). A short greeting before a
    long menu leaves the two 0.75 alike or more by word edit distance (CivicLink slt: "You
    have reached the CivicLink Department of Motor Vehicles." before a menu of 25 words),
    so the menu heard again alone was taken for the whole and the greeting was never a place."""
    return None if heard.known is not None else _split_at_tail(state, [menu], heard)


def _cut_before(heard: HeardPrompt, at: int, menu: str) -> list[HeardPrompt]:
    """`heard` cut before its word `at`, where the known menu begins; time shared by words."""
    before, rest = split_words(heard.text, at)
    if not words(before):
        return [replace(heard, known=menu)]
    share = at / len(words(heard.text))
    middle = round(heard.start_s + share * (heard.end_s - heard.start_s), 3)
    return [
        HeardPrompt(before, heard.start_s, middle, None),
        HeardPrompt(rest, middle, heard.end_s, menu),
    ]


def _split_at_tail(
    state: _Crawl, nodes: list[MapNode], heard: HeardPrompt
) -> tuple[int, str] | None:
    """(word of `heard` where the menu begins, its id) for the first menu of `nodes` whose
    rest, without its first sentences, `heard` ends with (identity.tail_start); that menu is
    split in two (_split_menu)."""
    for menu in nodes:
        tail = tail_start(menu.prompt, heard.text) if menu.kind == "menu" else None
        if tail is not None:
            said_at, heard_at = tail
            _split_menu(state, menu, said_at)
            return heard_at, menu.id
    return None


def _menu_replay(state: _Crawl, heard: HeardPrompt) -> tuple[MapNode, int] | None:
    """A known menu played again from its start after other speech, its first sentences in
    other words (identity.replay_start): the speech before is a prompt of its own, the rest
    the menu, which stays whole (CareBridge awb: "Refills are usually ready ... Thank you."
    then the pharmacy menu, its title heard in other words, split the menu in two)."""
    for menu in state.map.nodes:
        start = replay_start(menu.prompt, heard.text) if menu.kind == "menu" else None
        if start is not None:
            return menu, start
    return None


def _split_menu(state: _Crawl, menu: MapNode, at: int) -> None:
    """A menu heard without its first `at` words is two recordings: what it opened with the
    first time (a greeting) and the menu itself, which the phone system came back to alone.
    The menu keeps its id and options; the greeting becomes a node of its own in front of
    it, and what led to the whole (the call's start included) leads to the greeting."""
    head_text, menu.prompt = split_words(menu.prompt, at)
    head_id = _unique_id(state, _node_name(head_text, None))
    head = MapNode(head_id, head_text, "message", list(menu.path), [Option("", None, menu.id)])
    share = at / (at + len(words(menu.prompt)))
    for index, evidence in enumerate(menu.evidence):
        middle = round(evidence.start_s + share * (evidence.end_s - evidence.start_s), 3)
        head.evidence.append(replace(evidence, end_s=middle))
        menu.evidence[index] = replace(evidence, start_s=middle)
    for node in state.map.nodes:
        for option in node.options:
            if option.to == menu.id:
                option.to = head.id
    state.map.nodes.insert(state.map.nodes.index(menu), head)
    state.routes[head.id] = state.routes[menu.id]
    state.late.discard(menu.id)


def _learned_node(
    state: _Crawl,
    heard: HeardPrompt,
    result: PathResult,
    label: str | None,
    path: list[str],
    route: tuple[RouteStep, ...],
) -> MapNode:
    """A node for a prompt heard for the first time (or a recording heard again in another
    place, see _goes_elsewhere): classified once the path's ending is known."""
    stem = ROOT if not state.map.nodes else _node_name(heard.text, label)
    return _new_node(state, _NodeSpec(stem, heard.text, "limit", path, route), result)


def _goes_elsewhere(
    state: _Crawl, node: MapNode, after: list[MapNode | None], result: PathResult
) -> bool:
    """Whether a known recording that is not a menu leads somewhere else this time than where
    it led before: then it is another place that plays the same recording (one "please hold"
    before two queues), and becomes a node of its own. A menu is the same menu wherever it is
    heard; an ending that proves nothing (a budget, a repeat) keeps the node it was."""
    if node.kind in ("menu", "limit"):
        return False
    before = next((o.to for o in node.options if o.key == ""), None)
    if after:
        following = after[0]
        return following is None or following.id != before
    if result.ending in HOLD_ENDS:
        ended_in = state.map.node(before).kind if before is not None else None
        return node.kind != "queue" or ended_in != HOLD_ENDS[result.ending]
    ends_as = CALL_ENDS.get(result.ending)
    return ends_as is not None and (before is not None or node.kind not in ends_as)


def _same_audio(state: _Crawl, heard: HeardPrompt, result: PathResult) -> MapNode | None:
    """A known prompt whose words are only near the ones heard, and whose first evidence is
    the same recording: transcripts of one recording differ from call to call, its audio not."""
    span = _evidence(result, heard.start_s, heard.end_s)
    return next(
        (
            node
            for node in state.map.nodes
            if node.prompt
            and node.evidence
            and similarity(node.prompt, heard.text) >= WORTH_HEARING_SIMILARITY
            and same_recording(state.settings.out_dir, node.evidence[0], span)
        ),
        None,
    )


@dataclass(frozen=True, slots=True)
class _NodeSpec:
    """A node about to be added: its id's stem (the slug of `label`, what the menu said its
    key is for, when there is one), its prompt and kind, its keys from the start and the route
    that reproduces them."""

    stem: str
    prompt: str
    kind: NodeKind
    path: list[str]
    route: tuple[RouteStep, ...]
    label: str | None = None


def _new_node(state: _Crawl, spec: _NodeSpec, result: PathResult) -> MapNode:
    node_id = _unique_id(state, _slug(spec.label) if spec.label else spec.stem)
    node = MapNode(node_id, spec.prompt, spec.kind, list(spec.path))
    if not spec.prompt:
        node.evidence.append(_evidence(result, result.duration_s, result.duration_s))
    state.map.nodes.append(node)
    state.routes[node_id] = spec.route
    return node


def _unique_id(state: _Crawl, base: str) -> str:
    """`base`, or `base-2`, `base-3`... when a node already has it."""
    taken = {node.id for node in state.map.nodes}
    node_id, n = base, 2
    while node_id in taken:
        node_id, n = f"{base}-{n}", n + 1
    return node_id


def _moves_on(menu: MapNode, result: PathResult) -> bool:
    """Whether a menu left without input went somewhere else: only then is it an option (a
    menu that re-prompts until the call ends its listening leads nowhere new)."""
    first = result.prompts[0] if result.prompts else None
    if first is not None:
        return first.known != menu.id and not same_prompt(first.text, menu.prompt)
    return result.ending not in ("repeating", "known", "limit")


def _link(source: MapNode | None, key: str, to: str) -> None:
    if source is None:
        return
    for option in source.options:
        if option.key == key:
            option.to = option.to or to
            return
    label = NO_INPUT_LABEL if key == NO_INPUT and source.kind == "menu" else None
    source.options.append(Option(key, label, to, offered=False))


def _offer(state: _Crawl, menu: MapNode) -> None:
    """Queue every key of a newly heard menu: those it offered, then the probe keys."""
    offered = {o.key: o.label for o in parse_options(menu.prompt) if o.key is not None}
    for cut in (o for o in parse_options(menu.prompt) if o.key is None):
        state.map.unexplored.append(
            Unexplored(menu.id, "", f"option {cut.label!r} heard without its key")
        )
    unread = _after_run(offered) if may_name_unread_key(menu.prompt) else []
    keys = list(offered) + [
        k for k in [*_skipped(offered), *unread, *state.settings.try_keys] if k not in offered
    ]
    if not offered:
        keys.insert(0, _RUN_DIGITS[0])
    for key in keys:
        if any(option.key == key for option in menu.options):
            continue
        menu.options.append(Option(key, offered.get(key), None, offered=key in offered))
        _try(state, menu, key)
    if menu.id not in state.waited_at:
        state.waited_at.add(menu.id)
        _try(state, menu, NO_INPUT)


def _missed_offer(menu: MapNode, key: str) -> None:
    """A digit missing from the run of offered ones that leads somewhere else than the menu
    itself was offered: the recogniser missed its "press two" (see _skipped), so it is not an
    invalid key (for the findings)."""
    offered = [o.key for o in menu.options if o.offered]
    missed = _skipped(offered)
    if may_name_unread_key(menu.prompt):
        missed += _after_run(offered)
    for option in menu.options:
        if option.key == key and key in missed:
            option.offered = True


def _unread_way_back(menu: MapNode, key: str, reached: MapNode) -> None:
    """A probe key that took the caller to another menu was offered, when the menu named a key
    nobody could read (options.names_unread_key: "press star to go back" heard "press hard to
    go back", "To return to the main menu, press her"; the audio check did not confirm
    "press star" either): a wrong key replays the menu or ends the call, a key a menu
    offers leads on. Only another menu counts: a wrong key may also put the caller through
    to an operator (a menu whose retries are used up at once), which no key said."""
    if reached.kind != "menu" or not names_unread_key(menu.prompt):
        return
    for option in menu.options:
        if option.key == key:
            option.offered = True


def _next_unheard(state: _Crawl, menu: MapNode, key: str) -> None:
    """At a menu none of whose keys could be read (a menu by what it does: it waited and
    re-prompted, or named a key the audio could not confirm), keys are tried as menus number
    them: 1 first (see _offer), then each next digit while the one before led somewhere other
    than the menu itself, which makes it an offered key. espeak-ng's "Dial 1 ... Dial 2" was
    heard "I'll want ... I'll do": no word of either key was left."""
    if not _unreadable(menu) or key not in _RUN_DIGITS:
        return  # a queue's keys are what its hold offers
    for option in menu.options:
        if option.key == key:
            option.offered = True
    following = str(int(key) + 1)
    if following in _RUN_DIGITS and all(option.key != following for option in menu.options):
        menu.options.append(Option(following, None, None, offered=False))
        _try(state, menu, following)


def _offer_callback(state: _Crawl, queue: MapNode, offer: str) -> None:
    """Queue the key a hold's callback offer names ("to receive a call back, press 1"): where
    it leads is a branch of the map like any menu key, pressed on hold after the offer."""
    for heard in parse_options(offer):
        if heard.key is None or any(option.key == heard.key for option in queue.options):
            continue
        queue.options.append(Option(heard.key, heard.label or CALLBACK_LABEL, None, offered=True))
        _try(state, queue, heard.key)


def _try(state: _Crawl, node: MapNode, key: str) -> None:
    """Plan a call pressing `key` at `node`, unless the path would be too deep."""
    max_depth = state.settings.budgets.max_depth
    if len(node.path) < max_depth:
        state.pending.append(Attempt(node.id, key))
    else:
        state.map.unexplored.append(Unexplored(node.id, key, f"max depth ({max_depth})"))


def _step(state: _Crawl, node: MapNode, key: str) -> RouteStep:
    """Keys at a queue answer what its hold offered, so they wait for the offer."""
    first = node.evidence[0] if node.evidence else None
    return RouteStep(
        node.id,
        node.prompt,
        key,
        on_hold=node.kind == "queue",
        after_prompt=node.id in state.late,
        heard_s=first.end_s - first.start_s if first is not None else 0.0,
    )


_RUN_DIGITS = tuple("12345678")
"""Keys that can stand in a run of offered digits (0 and 9 are usually operator and back)."""


def _skipped(offered: Collection[str]) -> list[str]:
    """Digits missing from the run of offered ones ("1, 3, 0" skips 2): the recogniser more
    likely missed a "press two" than the menu left a gap, so the gap is tried too. Only whole
    one-digit keys count: the no-input option's key "" is no digit (a substring test once
    took it for one and crashed the crawl, depending on which call finished first)."""
    digits = [int(key) for key in offered if key in _RUN_DIGITS]
    return [str(d) for d in range(1, max(digits, default=0)) if str(d) not in offered]


def _after_run(offered: Collection[str]) -> list[str]:
    """The digit after the last of the offered run, for a menu that names a key nobody could
    read (options.may_name_unread_key: "To request a bulk pickup, press do"): menus number
    their options in order, so the unread key is likeliest the next one. Like a gap in the
    run (_skipped), it counts as offered when it leads somewhere else than the menu itself.
    After an eight it is nine ("For more options, press 9"), though nine is no digit of a run
    whose gaps are guessed."""
    digits = [int(key) for key in offered if key in _RUN_DIGITS]
    following = str(max(digits) + 1) if digits else None
    return [following] if following in (*_RUN_DIGITS, "9") and following not in offered else []


def _option_label(parent: MapNode | None, key: str) -> str | None:
    if parent is None:
        return None
    if key == NO_INPUT:
        return NO_INPUT_LABEL
    return next((o.label for o in parent.options if o.key == key and o.label), None)


def _evidence(result: PathResult, start_s: float, end_s: float) -> Evidence:
    return Evidence(result.call_id, start_s, end_s, f"{result.folder}/recording.wav")


def _node_name(prompt: str, label: str | None) -> str:
    """A readable id: the prompt's own title ("Card services."), else the label of the option
    that led to it ("to speak with a representative": "representative"), else its first
    content words."""
    sentences = SENTENCE_END.split(prompt.strip())
    first_sentence = next(
        (part for part in sentences if not set(_content_words(part)) <= KEY_RESIDUE), ""
    )
    title = _content_words(first_sentence)
    if title and len(title) <= TITLE_WORDS and not parse_options(first_sentence):
        return _slug(" ".join(title))
    named = _content_words(label or "")
    return _slug(" ".join(named or _content_words(prompt)))


def _content_words(text: str) -> list[str]:
    found = re.sub(r"[^a-z0-9]+", " ", text.lower()).split()
    while found and found[0] in NAME_LEAD_WORDS:
        found = found[1:]
    return found


def _slug(text: str) -> str:
    slug = "-".join(re.sub(r"[^a-z0-9]+", " ", text.lower()).split()[:NAME_WORDS])
    return slug or "node"


def _lower_bound(crawl_map: CrawlMap) -> float:
    """Each distinct prompt heard once, plus each hold sat through once."""
    total = 0.0
    for node in crawl_map.nodes:
        if node.prompt and node.evidence:
            first = node.evidence[0]
            total += first.end_s - first.start_s
        if node.kind == "queue" and node.hold_s:
            total += node.hold_s
    return total
