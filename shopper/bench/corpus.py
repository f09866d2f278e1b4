"""Real telephony material installed from Debian: Asterisk's recorded prompts and their
transcripts (the hold music, which the sandbox plays, is `shopper.sandbox.sounds.moh_files`).

The prompts are professionally recorded IVR speech at 8 kHz with published transcripts, the
music-on-hold files are what callers really hear on hold: together they are the honest test
and benchmark material for shopper's ear.
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path

from shopper.sandbox.sounds import PROMPTS_DIR, require_installed

TRANSCRIPTS_FILE = Path("/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz")

_NON_SPEECH = re.compile(r"^\s*\[.*\]\s*$")


def prompt_files() -> list[Path]:
    """Every recorded prompt (all sub-folders), sorted by name."""
    root = require_installed(PROMPTS_DIR, "asterisk-core-sounds-en-wav")
    return sorted(root.rglob("*.wav"))


def prompt_transcripts() -> dict[Path, str]:
    """Transcript of every prompt that is speech (bracketed descriptions like '[beep]' are not)."""
    source = require_installed(TRANSCRIPTS_FILE, "asterisk-core-sounds-en")
    result: dict[Path, str] = {}
    with gzip.open(source, "rt", encoding="utf-8", errors="replace") as lines:
        for line in lines:
            name, sep, text = line.partition(":")
            if not sep or line.startswith(";") or _NON_SPEECH.match(text):
                continue
            path = PROMPTS_DIR / f"{name.strip()}.wav"
            if path.exists() and text.strip():
                result[path] = text.strip()
    return result
