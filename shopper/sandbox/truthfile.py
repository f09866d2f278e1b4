"""A served call's truth on disk: `DIR/NNNN-<call id>.json`, complete or not at all.

Shared by the servers that put the simulated phone system on a network (SIP, the Twilio
emulator): NNNN counts the server's calls from 0001, and the file is written beside and
renamed, so whatever watches the folder never reads half a file.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from shopper.sandbox.truth import SandboxTruth

logger = logging.getLogger(__name__)


def write_truth(folder: Path, number: int, call_id: str, truth: SandboxTruth) -> Path | None:
    """Write the truth; None (and an error in the log) when the folder refuses it."""
    safe_id = re.sub(r"[^A-Za-z0-9._-]", "_", call_id)[:80]
    path = folder / f"{number:04d}-{safe_id}.json"
    partial = path.with_name(path.name + ".part")
    try:
        partial.write_text(truth.to_json(), encoding="utf-8")
        partial.replace(path)
    except OSError as error:
        logger.error("call %d: cannot write its truth to %s (%s)", number, path, error.strerror)
        return None
    return path
