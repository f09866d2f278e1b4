"""Whether moonshine-cpp's own native library runs on this machine's processor.

shopper runs the bundled Moonshine model on onnxruntime; moonshine-cpp's `libmoonshine.so`
(0.1.4) is only compared against it in a few tests. That library was built with AVX-512
instructions (`vpbroadcastq` from a general register) and dies with SIGILL while loading the
model on processors without them (an AMD EPYC with AVX2 only, for one). Loading it once in a
child process tells the tests that need it whether they can run here: a child killed by
SIGILL skips them, with the reason; any other failure is left for the test itself to show.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from functools import cache

import pytest

_LOAD = "from shopper.asr.moonshine_engine import NativeModel; NativeModel()"


@cache
def _load_status() -> int:
    """The exit status of a child that loads the native model (negative: killed by signal)."""
    child = subprocess.run([sys.executable, "-c", _LOAD], capture_output=True, timeout=300)
    return child.returncode


def skip_unless_native_moonshine_runs() -> None:
    """Skip the calling test where the native library cannot execute on this processor."""
    if _load_status() == -signal.SIGILL:
        pytest.skip(
            "moonshine-cpp's native library uses CPU instructions this processor lacks "
            "(SIGILL while loading the model; shopper itself uses onnxruntime)"
        )
