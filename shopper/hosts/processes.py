"""What every process placing calls for shopper does so that stopping stays shopper's own
decision: the crawl's lines (shopper.crawl.lines) and the call hosts of a run
(shopper.hosts.pool).

Such a process ignores Ctrl-C and SIGTERM (a terminal sends Ctrl-C to every process of the
group, a service manager may SIGTERM them all) and hangs up its calls only when shopper tells
it to; it ends with shopper even when shopper is killed outright, and its speech workers end
with it (they end with their parent).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing import resource_tracker
from types import FrameType

_PR_SET_PDEATHSIG = 1
"""prctl option: the signal a process gets when its parent thread ends (linux/prctl.h)."""
LEFT_TO_SHOPPER = (signal.SIGINT, signal.SIGTERM)


def leave_stopping_to_shopper(shopper_pid: int) -> None:
    """First thing in a worker process: end with shopper, ignore Ctrl-C and SIGTERM, then
    take the signals `signals_held` held while it was started."""
    end_with_shopper(shopper_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _left_to_shopper)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, LEFT_TO_SHOPPER)


def _left_to_shopper(number: int, frame: FrameType | None) -> None:
    """SIGTERM's handler in a worker process: nothing. Ctrl-C is ignored outright, and so it
    is in the speech workers the process starts from their first instant (they ignore it
    anyway, but only once their imports are done). SIGTERM cannot be: an ignored signal stays
    ignored across exec, and the speech workers end by SIGTERM when their parent ends
    (PR_SET_PDEATHSIG); a handler is reset to the default in them."""


def end_with_shopper(shopper_pid: int) -> None:
    """Ask Linux for SIGKILL when shopper ends (prctl PR_SET_PDEATHSIG; the process ignores
    SIGTERM); if shopper already ended before the request, end now. Elsewhere the closed
    pipes end the process when it next asks for work."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != shopper_pid:
        os._exit(1)


@contextmanager
def signals_held() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM while a worker process may be started: it inherits the held
    signals and takes them only once its own handlers are in place. A terminal's Ctrl-C
    reaches every process of the group, and a process still importing would die of it
    (KeyboardInterrupt, and a broken pool for shopper). Held, not ignored: shopper takes a
    signal sent meanwhile as soon as this ends. The resource tracker is started first:
    starting it unblocks both signals (bpo-33613)."""
    resource_tracker.ensure_running()
    held = signal.pthread_sigmask(signal.SIG_BLOCK, LEFT_TO_SHOPPER)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
