"""The crawl: breadth first over key paths, one call per path, until nothing new is left.

Every call re-dials, passes the menus already known by pressing their keys as soon as they
are recognised, presses one key not yet tried and listens. What it hears becomes nodes and
edges of the map: prompts never heard before are new nodes, a prompt already known is an
edge back to its node, and how the listening stopped says what kind of place the path ends
in. Keys offered by a menu are all tried, and so are the probe keys (0, * and # by default)
a menu did not offer, because zero-out and invalid-key handling are what callers suffer from.
"""

from __future__ import annotations

import re
import time
from collections import deque
from collections.abc import Callable, Collection
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from shopper.asr.selection import EngineChoice
from shopper.crawl.audio_identity import WORTH_HEARING_SIMILARITY, same_recording
from shopper.crawl.identity import same_prompt, similarity
from shopper.crawl.lines import Lines
from shopper.crawl.map import CrawlMap, Evidence, MapNode, NodeKind, Option, Unexplored
from shopper.crawl.options import KEY_WORDS, PRESS_WORDS, parse_options
from shopper.crawl.pathcall import NO_INPUT, HeardPrompt, PathJob, PathResult, RouteStep

CLOSED_LANGUAGE = re.compile(
    r"\b(closed|office hours|business hours|we are open|our hours|open monday)\b", re.I
)
ROOT = "main"
CALLBACK_LABEL = "call back"
NO_INPUT_LABEL = "no input"
SENTENCE_END = re.compile(r"[.!?,;]")
TITLE_WORDS = 4
NAME_WORDS = 4
NAME_LEAD_WORDS = frozenset(
    {"a", "an", "the", "to", "for", "four", "fore", "please", "speak", "talk", "with", "your"}
)
"""Words dropped from the start of an id: "for" (and how it is misheard), "to speak with a"."""
KEY_RESIDUE = PRESS_WORDS | KEY_WORDS.keys() | {"pressed", "hash", *"0123456789"}
"""Words a pressed key leaves at the start of the next prompt: the end of the cut one
("...press one" heard as "pressed,"); a title made only of them names nothing."""


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
    engine: EngineChoice = "auto"
    vosk_model: Path | None = None
    seed: int = 0
    now: datetime | None = None


@dataclass(frozen=True, slots=True)
class Attempt:
    """A key to try at a node (None for the first call, which only listens)."""

    node: str | None
    key: str


Progress = Callable[[Attempt, PathResult, list[str]], None]
"""Told after each call: what was tried, what was heard, and the ids of new nodes."""


@dataclass(slots=True)
class _Crawl:
    settings: CrawlSettings
    map: CrawlMap
    routes: dict[str, tuple[RouteStep, ...]] = field(default_factory=dict)
    """Keys to press (and menus to recognise on the way) to reach each node."""
    pending: deque[Attempt] = field(default_factory=deque)
    waited_at: set[str] = field(default_factory=set)
    """Menus whose no-input path is planned: it has no option until it is known to go on."""

    def job(self, attempt: Attempt) -> PathJob:
        route: tuple[RouteStep, ...] = ()
        if attempt.node is not None:
            node = self.map.node(attempt.node)
            route = (*self.routes[node.id], _step(node, attempt.key))
        known = tuple((n.id, n.prompt) for n in self.map.nodes if n.prompt)
        budgets = self.settings.budgets
        return PathJob(
            target=self.settings.target,
            route=route,
            known=known,
            out_dir=self.settings.out_dir,
            seed=self.settings.seed,
            now=self.settings.now,
            max_call_s=budgets.max_call_s,
            max_hold_s=budgets.max_hold_s,
        )


def crawl(settings: CrawlSettings, progress: Progress | None = None) -> CrawlMap:
    """Explore the target within the budgets and return its map (without findings)."""
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
    running: dict[Future[PathResult], Attempt] = {}
    budgets = settings.budgets
    with Lines(settings.lines, settings.engine, settings.vosk_model) as lines:
        while state.pending or running:
            while state.pending and len(running) < settings.lines:
                reason = _over_budget(state.map, budgets, len(running))
                if reason is not None:
                    _give_up(state, reason)
                    break
                attempt = state.pending.popleft()
                running[lines.place(state.job(attempt))] = attempt
            if not running:
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                attempt = running.pop(future)
                result = future.result()
                before = {node.id for node in state.map.nodes}
                _learn(state, attempt, result)
                if progress is not None:
                    new = [n.id for n in state.map.nodes if n.id not in before]
                    progress(attempt, result, new)
    state.map.lower_bound_s = round(_lower_bound(state.map), 3)
    state.map.wall_s = round(time.monotonic() - began, 3)
    return state.map


def _over_budget(crawl_map: CrawlMap, budgets: Budgets, running: int) -> str | None:
    if crawl_map.calls + running >= budgets.max_calls:
        return f"max calls ({budgets.max_calls}) reached"
    if crawl_map.call_seconds >= budgets.max_call_seconds:
        return f"max call seconds ({budgets.max_call_seconds:g} s) reached"
    return None


def _give_up(state: _Crawl, reason: str) -> None:
    while state.pending:
        attempt = state.pending.popleft()
        if attempt.node is not None:
            state.map.unexplored.append(Unexplored(attempt.node, attempt.key, reason))


def _learn(state: _Crawl, attempt: Attempt, result: PathResult) -> None:
    crawl_map = state.map
    crawl_map.calls += 1
    crawl_map.call_seconds += result.duration_s
    crawl_map.engine = crawl_map.engine or result.engine
    if result.ending == "lost":
        crawl_map.unexplored.append(
            Unexplored(attempt.node or ROOT, attempt.key, f"route not reproduced: {result.detail}")
        )
        return
    parent = crawl_map.node(attempt.node) if attempt.node is not None else None
    path = [*parent.path, attempt.key] if parent is not None else []
    if parent is not None and attempt.key == NO_INPUT:
        path = list(parent.path)
        if not _moves_on(parent, result):
            return
    route = state.routes[parent.id] if parent is not None else ()
    if parent is not None:
        route = (*route, _step(parent, attempt.key))
    label = _option_label(parent, attempt.key)
    previous, key = parent, attempt.key
    chain: list[MapNode] = []
    for heard in result.prompts:
        node = _node_for(state, heard, result, label if previous is parent else None, path, route)
        _link(previous, key, node.id)
        chain.append(node)
        previous, key = node, ""
    last = chain[-1] if chain else None
    for node in chain[:-1]:
        if node.kind == "limit":
            node.kind = "message"
    end = _ending(state, parent, attempt, result, last, path, route, label)
    if end is not None:
        _link(previous, key, end.id)
    if result.ending == "repeating" and last is not None and result.repeat_of is not None:
        target = chain[result.repeat_of]
        _link(last, "", target.id)
    if last is not None and last.kind == "menu" and result.ending == "menu":
        _offer(state, last)


def _ending(
    state: _Crawl,
    parent: MapNode | None,
    attempt: Attempt,
    result: PathResult,
    last: MapNode | None,
    path: list[str],
    route: tuple[RouteStep, ...],
    label: str | None,
) -> MapNode | None:
    """Classify where the path ended; returns a node the last prompt leads on to, if any."""
    ending = result.ending
    if last is not None and last.kind not in ("limit", "message"):
        return None
    here = parent.id if parent is not None else ROOT
    stem = last.id if last is not None else f"{here}-{attempt.key or 'call'}"
    if ending in ("known", "repeating"):
        if last is not None:
            last.kind = "message"
        return None
    if ending == "menu" and last is not None:
        last.kind = "menu"
        return None
    if ending in ("human", "hold-dropped", "hold-limit"):
        queue = last or _new_node(state, stem, "", "queue", path, route, result, None)
        queue.kind = "queue"
        queue.hold_s = result.hold_s
        queue.callback_offered = result.callback_offered
        if result.callback_offer is not None:
            _offer_callback(state, queue, result.callback_offer)
        if ending == "human":
            human = _new_node(
                state, f"{queue.id}-agent", result.human or "", "human", path, route, result, None
            )
            answered = result.time_to_human_s or result.duration_s
            human.evidence.append(_evidence(result, answered, result.duration_s))
            human.hold_s = result.hold_s
            human.time_to_human_s = result.time_to_human_s
            return _after(last, queue, human)
        kind: NodeKind = "dropped" if ending == "hold-dropped" else "limit"
        return _after(
            last, queue, _new_node(state, f"{queue.id}-{kind}", "", kind, path, route, result, None)
        )
    kinds: dict[str, NodeKind] = {
        "dead-air": "dropped",
        "tone": "tone",
        "voicemail": "voicemail",
        "ignored": "dead-end",
        "limit": "limit",
        "menu": "dead-end",
    }
    if ending == "hangup":
        if last is None:
            return _new_node(state, f"{stem}-dropped", "", "dropped", path, route, result, label)
        last.kind = "closed" if CLOSED_LANGUAGE.search(last.prompt) else "message"
        return None
    kind = kinds[ending]
    if last is None:
        return _new_node(state, f"{stem}-{kind}", "", kind, path, route, result, label)
    last.kind = kind
    return None


def _after(last: MapNode | None, queue: MapNode, then: MapNode) -> MapNode:
    """The node to link from the path's end: a queue heard without a prompt is new too."""
    if last is None:
        _link(queue, "", then.id)
        return queue
    return then


def _node_for(
    state: _Crawl,
    heard: HeardPrompt,
    result: PathResult,
    label: str | None,
    path: list[str],
    route: tuple[RouteStep, ...],
) -> MapNode:
    crawl_map = state.map
    found = (
        crawl_map.node(heard.known)
        if heard.known is not None
        else next(
            (n for n in crawl_map.nodes if n.prompt and same_prompt(n.prompt, heard.text)), None
        )
    )
    found = found or _same_audio(state, heard, result)
    if found is None:
        stem = ROOT if not crawl_map.nodes else _node_name(heard.text, label)
        found = _new_node(state, stem, heard.text, "limit", path, route, result, None)
    node = found
    node.evidence.append(_evidence(result, heard.start_s, heard.end_s))
    return node


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


def _new_node(
    state: _Crawl,
    stem: str,
    prompt: str,
    kind: NodeKind,
    path: list[str],
    route: tuple[RouteStep, ...],
    result: PathResult,
    label: str | None,
) -> MapNode:
    taken = {node.id for node in state.map.nodes}
    base = _slug(label) if label else stem
    node_id, n = base, 2
    while node_id in taken:
        node_id, n = f"{base}-{n}", n + 1
    node = MapNode(node_id, prompt, kind, list(path))
    if not prompt:
        node.evidence.append(_evidence(result, result.duration_s, result.duration_s))
    state.map.nodes.append(node)
    state.routes[node_id] = route
    return node


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
    keys = list(offered) + [
        k for k in _skipped(offered) + state.settings.try_keys if k not in offered
    ]
    for key in keys:
        if any(option.key == key for option in menu.options):
            continue
        menu.options.append(Option(key, offered.get(key), None, offered=key in offered))
        _try(state, menu, key)
    if menu.id not in state.waited_at:
        state.waited_at.add(menu.id)
        _try(state, menu, NO_INPUT)


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


def _step(node: MapNode, key: str) -> RouteStep:
    """Keys at a queue answer what its hold offered, so they wait for the offer."""
    return RouteStep(node.id, node.prompt, key, on_hold=node.kind == "queue")


def _skipped(offered: Collection[str]) -> str:
    """Digits missing from the run of offered ones ("1, 3, 0" skips 2): the recogniser more
    likely missed a "press two" than the menu left a gap, so the gap is tried too."""
    digits = [int(key) for key in offered if key in "12345678"]
    return "".join(str(d) for d in range(1, max(digits, default=0)) if str(d) not in offered)


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
