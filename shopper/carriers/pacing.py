"""How fast and how many at once shopper calls one target, whatever a run or a test asks.

`shopper run --parallel N` and concurrent calls from Python could otherwise dial a staging
IVR, a PBX or a carrier trunk as fast as the event loop allows. Trunks and telephony APIs limit
both: Twilio queues calls above 1 call per second per account (and per SIP trunk), and a small
PBX or a trial account carries only a handful of calls at once. So every call waits for its
target's turn before it is dialled: at most `at_once` calls to one target are in progress,
and dials to one target are at least 1 / `per_second` seconds apart. Defaults come from the
config file's `[safety]` table (beside the numbers shopper refuses to dial,
shopper.carriers.safety) or `DialOptions.caps`.

The caps hold within one shopper process (every event loop of it: the pytest plugin runs each
test on a loop of its own, and the spacing carries over from one test to the next); separate
processes (crawl lines, pytest-xdist workers, two shells) each keep their own.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from dataclasses import dataclass, field

from shopper.carriers.safety import ALLOW_TABLE, looks_like_phone_number
from shopper.config import ConfigError, config_table

SAFETY_TABLE = ALLOW_TABLE
"""The config table the caps are read from, the one of the dialling safety rules."""
CALLS_PER_SECOND_KEY = "calls_per_second"
CALLS_AT_ONCE_KEY = "calls_at_once"
DEFAULT_CALLS_PER_SECOND = 1.0
"""Twilio's default for API calls and for each Elastic SIP trunk; calls above it are queued,
so a faster run gains nothing there and may be throttled or flagged elsewhere."""
DEFAULT_CALLS_AT_ONCE = 5
"""A Twilio trial account's concurrency: a default meant not to fill a staging system's lines
by accident (a PBX's own limit may be lower; set it in the config then)."""


@dataclass(frozen=True, slots=True)
class TargetCaps:
    """Limits on the calls to any one target (a number, a SIP address, a sandbox IVR file)."""

    at_once: int = DEFAULT_CALLS_AT_ONCE
    """Calls to the target in progress at the same time, dialling included."""
    per_second: float = DEFAULT_CALLS_PER_SECOND
    """Dials to the target per second (math.inf: no spacing)."""

    @property
    def spacing_s(self) -> float:
        """Shortest time between two dials to the same target."""
        return 0.0 if math.isinf(self.per_second) else 1.0 / self.per_second


def configured_caps() -> TargetCaps:
    """The config file's `[safety] calls_per_second` and `calls_at_once`, else the defaults."""
    path, table = config_table(SAFETY_TABLE)
    per_second = table.get(CALLS_PER_SECOND_KEY, DEFAULT_CALLS_PER_SECOND)
    at_once = table.get(CALLS_AT_ONCE_KEY, DEFAULT_CALLS_AT_ONCE)
    if isinstance(per_second, bool) or not isinstance(per_second, int | float) or per_second <= 0:
        raise ConfigError(
            f"{path}: [{SAFETY_TABLE}] {CALLS_PER_SECOND_KEY} = {per_second!r} must be a number "
            f"above 0, like {CALLS_PER_SECOND_KEY} = 0.5 (one dial every 2 s per target)"
        )
    if isinstance(at_once, bool) or not isinstance(at_once, int) or at_once < 1:
        raise ConfigError(
            f"{path}: [{SAFETY_TABLE}] {CALLS_AT_ONCE_KEY} = {at_once!r} must be a whole number "
            f"of 1 or more, like {CALLS_AT_ONCE_KEY} = 2"
        )
    return TargetCaps(at_once=at_once, per_second=float(per_second))


def target_key(carrier: str, target: str) -> str:
    """One target however it is written: numbers by their digits (`+1 555 010-0000` and
    `+15550100000` are one line), anything else (a SIP address, an IVR file) as written."""
    if looks_like_phone_number(target):
        digits = "".join(char for char in target if char.isdigit())
        return f"{carrier}:+{digits}"
    return f"{carrier}:{target}"


class Slot:
    """A call's place among its target's calls in progress, held until `release`."""

    def __init__(
        self, line: _TargetLine, spacing_s: float, undialled: asyncio.Event | None = None
    ) -> None:
        self._line: _TargetLine | None = line
        self._spacing_s = spacing_s
        self._undialled = undialled

    def dialled(self) -> None:
        """A turn taken `until_dialled`: the call has been dialled now (elsewhere, later than
        its turn); the target's next dial may follow, spaced from now."""
        if self._line is not None and self._undialled is not None:
            self._line.dialled(self._undialled, self._spacing_s)
            self._undialled = None

    def release(self) -> None:
        """The call has ended (hung up or never placed); releasing twice is harmless."""
        if self._line is not None:
            if self._undialled is not None:  # never dialled: the next need not wait for it
                self._line.dialled(self._undialled, 0.0)
            self._line.leave()
            self._line = None


@dataclass(slots=True)
class _TargetLine:
    """One target's calls: how many are in progress, when the next may be dialled, and the
    calls waiting, first come first served."""

    in_progress: int = 0
    next_dial_at: float = -math.inf
    """time.monotonic() reading, so the spacing holds across event loops."""
    waiting: deque[asyncio.Future[None]] = field(default_factory=deque)
    at_once: int = DEFAULT_CALLS_AT_ONCE
    undialled: asyncio.Event | None = None
    """Set when the last turn was taken `until_dialled` and its call is not dialled yet."""

    async def enter(self, caps: TargetCaps, until_dialled: bool) -> Slot:
        self.at_once = caps.at_once
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiting.append(turn)
        try:
            if self.waiting[0] is not turn or self.in_progress >= self.at_once:
                await turn  # set by `_wake` once it is first in line and a call may start
            while self.undialled is not None:
                await self.undialled.wait()
            while (delay := self.next_dial_at - time.monotonic()) > 0:
                await asyncio.sleep(delay)
        except BaseException:
            self.waiting.remove(turn)
            self._wake()
            raise
        self.waiting.popleft()
        self.in_progress += 1
        self.next_dial_at = time.monotonic() + caps.spacing_s
        self.undialled = asyncio.Event() if until_dialled else None
        self._wake()
        return Slot(self, caps.spacing_s, self.undialled)

    def dialled(self, undialled: asyncio.Event, spacing_s: float) -> None:
        self.next_dial_at = max(self.next_dial_at, time.monotonic() + spacing_s)
        undialled.set()
        if self.undialled is undialled:
            self.undialled = None

    def leave(self) -> None:
        self.in_progress -= 1
        self._wake()

    def _wake(self) -> None:
        if self.waiting and self.in_progress < self.at_once and not self.waiting[0].done():
            self.waiting[0].set_result(None)


_LINES: dict[str, _TargetLine] = {}


async def wait_for_turn(
    carrier: str, target: str, caps: TargetCaps, *, until_dialled: bool = False
) -> Slot:
    """Wait until a call to `target` may be dialled under `caps`; the Slot is released when
    the call ends. Cancelling the wait leaves the line as if the call had never asked.

    `until_dialled`: the call is dialled elsewhere, a moment after its turn (a call host,
    shopper.hosts.pool); the target's next turn waits for `Slot.dialled` (or `release`) and
    is spaced from it, so the spacing holds where the dials happen."""
    line = _LINES.setdefault(target_key(carrier, target), _TargetLine())
    return await line.enter(caps, until_dialled)
