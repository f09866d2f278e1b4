"""The trained classifier: one logistic regression per kind over a sentence's features.

Weights are trained by `python -m shopper.text.phrasebook.train` and shipped as model.json;
loading is all that happens at run time. Each kind has its own decision threshold, chosen
by cross-validation on the training corpus (never on the held-out file).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from pathlib import Path
from typing import Any

from shopper.text.phrasebook.features import features
from shopper.text.phrasebook.kinds import PromptKind

MODEL_FILE = Path(__file__).with_name("model.json")
SENTENCE = re.compile(r"[^.!?]+[.!?]*")


@dataclass(frozen=True, slots=True)
class PhraseModel:
    kinds: tuple[PromptKind, ...]
    weights: dict[str, tuple[float, ...]]
    """Per feature, its weight for each of `kinds` (features of weight zero are left out)."""
    bias: tuple[float, ...]
    thresholds: tuple[float, ...]

    def probabilities(self, text: str) -> dict[PromptKind, float]:
        """How likely the whole of `text`, read as one sentence, is of each kind."""
        scores = list(self.bias)
        for feature in features(text):
            row = self.weights.get(feature)
            if row is not None:
                scores = [score + weight for score, weight in zip(scores, row, strict=True)]
        return {kind: _sigmoid(score) for kind, score in zip(self.kinds, scores, strict=True)}

    def scores(self, text: str) -> dict[PromptKind, float]:
        """Per kind, the highest probability of any sentence of `text` or of two sentences
        read together (a callback offer may say "we can call you back", then "press 1")."""
        sentences = [s.strip() for s in SENTENCE.findall(text) if s.strip()]
        windows = sentences + [f"{a} {b}" for a, b in pairwise(sentences)]
        best = dict.fromkeys(self.kinds, 0.0)
        for window in windows:
            for kind, probability in self.probabilities(window).items():
                best[kind] = max(best[kind], probability)
        return best

    def kinds_of(self, text: str) -> frozenset[PromptKind]:
        scores = self.scores(text)
        return frozenset(
            kind
            for kind, threshold in zip(self.kinds, self.thresholds, strict=True)
            if scores[kind] >= threshold
        )

    def to_json(self) -> dict[str, object]:
        return {
            "kinds": [kind.value for kind in self.kinds],
            "bias": [round(b, 4) for b in self.bias],
            "thresholds": [round(t, 4) for t in self.thresholds],
            "weights": {
                feature: [round(w, 4) for w in row] for feature, row in sorted(self.weights.items())
            },
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PhraseModel:
        return cls(
            kinds=tuple(PromptKind(name) for name in data["kinds"]),
            weights={f: tuple(map(float, row)) for f, row in data["weights"].items()},
            bias=tuple(map(float, data["bias"])),
            thresholds=tuple(map(float, data["thresholds"])),
        )


def _sigmoid(score: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, score))))


@lru_cache(maxsize=1)
def shipped_model() -> PhraseModel:
    data = json.loads(MODEL_FILE.read_text(encoding="utf-8"))
    return PhraseModel.from_json(data)
