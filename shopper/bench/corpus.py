"""Real telephony material installed from Debian: Asterisk's recorded prompts and hold music.

The prompts are professionally recorded IVR speech at 8 kHz with published transcripts, the
music-on-hold files are what callers really hear on hold: together they are the honest test
and benchmark material for shopper's ear.
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path

from shopper.sandbox.sounds import MOH_DIR, PROMPTS_DIR

TRANSCRIPTS_FILE = Path("/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz")

_NON_SPEECH = re.compile(r"^\s*\[.*\]\s*$")


class CorpusMissing(Exception):
    """The Debian sound packages are not installed; the message says which one."""


def _require(path: Path, package: str) -> Path:
    if not path.exists():
        raise CorpusMissing(f"{path} not found: install {package} (apt-get install {package})")
    return path


def prompt_files() -> list[Path]:
    """Every recorded prompt (all sub-folders), sorted by name."""
    root = _require(PROMPTS_DIR, "asterisk-core-sounds-en-wav")
    return sorted(root.rglob("*.wav"))


def moh_files() -> list[Path]:
    root = _require(MOH_DIR, "asterisk-moh-opsound-wav")
    return sorted(root.glob("*.wav"))


def prompt_transcripts() -> dict[Path, str]:
    """Transcript of every prompt that is speech (bracketed descriptions like '[beep]' are not)."""
    source = _require(TRANSCRIPTS_FILE, "asterisk-core-sounds-en")
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
