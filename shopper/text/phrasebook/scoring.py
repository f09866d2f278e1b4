"""Precision and recall per kind: how the classifier's figures are counted everywhere."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from shopper.text.phrasebook.kinds import PromptKind


@dataclass(frozen=True, slots=True)
class KindScore:
    kind: PromptKind
    true_positives: int
    false_positives: int
    false_negatives: int

    @property
    def precision(self) -> float:
        said = self.true_positives + self.false_positives
        return self.true_positives / said if said else 1.0

    @property
    def recall(self) -> float:
        there = self.true_positives + self.false_negatives
        return self.true_positives / there if there else 1.0

    @property
    def support(self) -> int:
        return self.true_positives + self.false_negatives


def score_kinds(
    truth: Sequence[frozenset[PromptKind]], found: Sequence[frozenset[PromptKind]]
) -> list[KindScore]:
    return [
        KindScore(
            kind,
            sum(kind in t and kind in f for t, f in zip(truth, found, strict=True)),
            sum(kind not in t and kind in f for t, f in zip(truth, found, strict=True)),
            sum(kind in t and kind not in f for t, f in zip(truth, found, strict=True)),
        )
        for kind in PromptKind
    ]


def render_scores(columns: Sequence[tuple[str, Sequence[KindScore]]]) -> str:
    """One row per kind, precision/recall (and the count of positives) per column."""
    header = f"{'kind':<16}" + "".join(f"{title:>22}" for title, _ in columns)
    lines = [header]
    for row, kind in enumerate(PromptKind):
        cells = []
        for _, scores in columns:
            s = scores[row]
            cells.append(f"{s.precision:6.0%} / {s.recall:4.0%} (n={s.support:3d})")
        lines.append(f"{kind.value:<16}" + "".join(f"{cell:>22}" for cell in cells))
    return "\n".join(lines)
