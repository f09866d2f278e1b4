"""The labelled phrasings the classifier learns from and is scored on.

Three sources, all package data beside this module:
- phrasings.tsv: how companies word each kind, written for this corpus (training);
- asterisk.tsv: the kinds of every Asterisk core prompt, whose texts are read from the
  installed Debian package (training; most are "other": real IVR language of no kind);
- heldout.tsv: phrasings written apart, scored only by `shopper bench phrases`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from shopper.errors import ShopperError
from shopper.text.phrasebook.kinds import OTHER, PromptKind

HERE = Path(__file__).parent
PHRASINGS_FILE = HERE / "phrasings.tsv"
HELDOUT_FILE = HERE / "heldout.tsv"
ASTERISK_FILE = HERE / "asterisk.tsv"

_NOTES = re.compile(r"\([^)]*\)|\[[^\]]*\]|<[^>]*>")
"""Notes in the Asterisk transcripts that are not spoken: "(simple tone sound plays)"."""


class PhrasebookError(ShopperError):
    """A corpus line is malformed; names the file, the line and the fix."""


@dataclass(frozen=True, slots=True)
class Phrasing:
    text: str
    kinds: frozenset[PromptKind]
    where: str
    """file:line it was read from, for messages and error lists."""


def parse_kinds(field: str, where: str) -> frozenset[PromptKind]:
    names = [name.strip() for name in field.split(",")]
    if names == [OTHER]:
        return frozenset()
    known = {kind.value for kind in PromptKind}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise PhrasebookError(
            f"{where}: unknown kind {unknown[0]!r}; use {OTHER!r} or one of {sorted(known)}"
        )
    return frozenset(PromptKind(name) for name in names)


def _rows(path: Path) -> list[tuple[str, str, str]]:
    """(first field, second field, file:line) of every line that is not a comment."""
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        where = f"{path.name}:{number}"
        first, tab, second = line.partition("\t")
        if not tab or not second.strip():
            raise PhrasebookError(f"{where}: expected two fields separated by a tab, got {line!r}")
        rows.append((first.strip(), second.strip(), where))
    return rows


def read_phrasings(path: Path) -> list[Phrasing]:
    """A file of "kinds<TAB>text" lines."""
    return [Phrasing(text, parse_kinds(kinds, where), where) for kinds, text, where in _rows(path)]


def asterisk_phrasings() -> list[Phrasing]:
    """The Asterisk prompts with their kinds; needs asterisk-core-sounds-en installed."""
    from shopper.bench.corpus import prompt_transcripts
    from shopper.sandbox.sounds import PROMPTS_DIR

    texts = {
        str(path.relative_to(PROMPTS_DIR)).removesuffix(".wav"): text
        for path, text in prompt_transcripts().items()
    }
    found = []
    for name, kinds, where in _rows(ASTERISK_FILE):
        if name not in texts:
            raise PhrasebookError(
                f"{where}: no transcript for prompt {name!r} in the installed "
                "asterisk-core-sounds-en; remove the line or update the package"
            )
        spoken = " ".join(_NOTES.sub(" ", texts[name]).split())
        if spoken:
            found.append(Phrasing(spoken, parse_kinds(kinds, where), where))
    return found


def training_phrasings() -> list[Phrasing]:
    return read_phrasings(PHRASINGS_FILE) + asterisk_phrasings()


def heldout_phrasings() -> list[Phrasing]:
    return read_phrasings(HELDOUT_FILE)
