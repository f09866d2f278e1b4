"""Training the phrasebook classifier: `python -m shopper.text.phrasebook.train`.

One L2-regularised logistic regression per kind over the features of features.py, fitted
by full-batch gradient descent (Adam) in numpy. Each phrasing is trained on as written and
as a recogniser might hear it (noise.py), so a garbled sentence keeps its kind. Thresholds
are chosen per kind on five-fold cross-validation of the training corpus: the threshold of
best F1 on the out-of-fold scores. The held-out file plays no part. Deterministic for a
seed: the same corpus gives the same model.json.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from shopper.text.phrasebook.corpus import Phrasing, training_phrasings
from shopper.text.phrasebook.features import features
from shopper.text.phrasebook.kinds import PromptKind
from shopper.text.phrasebook.model import MODEL_FILE, PhraseModel
from shopper.text.phrasebook.noise import garble
from shopper.text.phrasebook.scoring import KindScore, render_scores, score_kinds

KINDS = tuple(PromptKind)
FOLDS = 5
THRESHOLD_GRID = tuple(round(0.05 * step, 2) for step in range(2, 19))


@dataclass(frozen=True, slots=True)
class Settings:
    l2: float = 1.0
    """Weight of the squared weights in the loss (over the mean loss per example); chosen
    by cross-validated macro F1 among 0.1, 0.3, 1 and 3."""
    garbled_copies: int = 2
    min_examples: int = 2
    """A feature is used when at least this many training examples have it."""
    steps: int = 400
    learning_rate: float = 0.1
    seed: int = 0


@dataclass(frozen=True, slots=True)
class _Examples:
    texts: list[str]
    labels: NDArray[np.float64]
    """One row per text, one column per kind, 1.0 where the text is of the kind."""


def _examples(phrasings: Sequence[Phrasing], settings: Settings) -> _Examples:
    rng = random.Random(settings.seed)
    texts, rows = [], []
    for phrasing in phrasings:
        row = [float(kind in phrasing.kinds) for kind in KINDS]
        for copy in range(settings.garbled_copies + 1):
            texts.append(phrasing.text if copy == 0 else garble(phrasing.text, rng))
            rows.append(row)
    return _Examples(texts, np.array(rows, dtype=np.float64))


@dataclass(frozen=True, slots=True)
class _Design:
    """A sparse 0/1 matrix of examples by features, as (row, column) pairs."""

    rows: NDArray[np.int64]
    columns: NDArray[np.int64]
    shape: tuple[int, int]

    def times(self, weights: NDArray[np.float64]) -> NDArray[np.float64]:
        out = np.zeros((self.shape[0], weights.shape[1]))
        for k in range(weights.shape[1]):
            out[:, k] = np.bincount(
                self.rows, weights=weights[self.columns, k], minlength=self.shape[0]
            )
        return out

    def transposed_times(self, values: NDArray[np.float64]) -> NDArray[np.float64]:
        out = np.zeros((self.shape[1], values.shape[1]))
        for k in range(values.shape[1]):
            out[:, k] = np.bincount(
                self.columns, weights=values[self.rows, k], minlength=self.shape[1]
            )
        return out


def _design(texts: Sequence[str], vocabulary: dict[str, int]) -> _Design:
    rows, columns = [], []
    for row, text in enumerate(texts):
        for feature in features(text):
            column = vocabulary.get(feature)
            if column is not None:
                rows.append(row)
                columns.append(column)
    return _Design(np.array(rows), np.array(columns), (len(texts), len(vocabulary)))


def _vocabulary(texts: Sequence[str], min_examples: int) -> dict[str, int]:
    counts: dict[str, int] = {}
    for text in texts:
        for feature in features(text):
            counts[feature] = counts.get(feature, 0) + 1
    kept = sorted(feature for feature, count in counts.items() if count >= min_examples)
    return {feature: column for column, feature in enumerate(kept)}


class _Adam:
    """Adam's update of one parameter array in place (Kingma & Ba's defaults)."""

    def __init__(self, parameter: NDArray[np.float64], learning_rate: float) -> None:
        self.parameter = parameter
        self.learning_rate = learning_rate
        self.first = np.zeros_like(parameter)
        self.second = np.zeros_like(parameter)
        self.count = 0

    def step(self, gradient: NDArray[np.float64]) -> None:
        self.count += 1
        self.first = 0.9 * self.first + 0.1 * gradient
        self.second = 0.999 * self.second + 0.001 * gradient**2
        first = self.first / (1 - 0.9**self.count)
        second = self.second / (1 - 0.999**self.count)
        self.parameter -= self.learning_rate * first / (np.sqrt(second) + 1e-8)


def fit(phrasings: Sequence[Phrasing], settings: Settings) -> PhraseModel:
    """The model for `phrasings`, with every threshold 0.5 (see `choose_thresholds`)."""
    examples = _examples(phrasings, settings)
    vocabulary = _vocabulary(examples.texts, settings.min_examples)
    design = _design(examples.texts, vocabulary)
    n = len(examples.texts)
    weights = np.zeros((len(vocabulary), len(KINDS)))
    bias = np.zeros(len(KINDS))
    steps = (_Adam(weights, settings.learning_rate), _Adam(bias, settings.learning_rate))
    for _ in range(settings.steps):
        scores = design.times(weights) + bias
        residual = 1.0 / (1.0 + np.exp(-scores)) - examples.labels
        steps[0].step(design.transposed_times(residual) / n + settings.l2 * weights / n)
        steps[1].step(residual.mean(axis=0))
    names = sorted(vocabulary, key=vocabulary.__getitem__)
    return PhraseModel(
        kinds=KINDS,
        weights={
            name: tuple(float(w) for w in weights[column])
            for column, name in enumerate(names)
            if np.abs(weights[column]).max() >= 1e-3
        },
        bias=tuple(float(b) for b in bias),
        thresholds=(0.5,) * len(KINDS),
    )


def folds_of(count: int, seed: int) -> list[int]:
    order = list(range(count))
    random.Random(seed).shuffle(order)
    fold = [0] * count
    for position, index in enumerate(order):
        fold[index] = position % FOLDS
    return fold


def cross_validated_scores(
    phrasings: Sequence[Phrasing], settings: Settings, heard: Sequence[str] | None = None
) -> list[dict[PromptKind, float]]:
    """Out-of-fold scores of each phrasing (or of `heard[i]`, how phrasing i was heard):
    each scored by a model fitted on the other four fifths."""
    fold = folds_of(len(phrasings), settings.seed)
    texts = heard if heard is not None else [p.text for p in phrasings]
    scores: list[dict[PromptKind, float]] = [{} for _ in phrasings]
    for held in range(FOLDS):
        model = fit([p for p, f in zip(phrasings, fold, strict=True) if f != held], settings)
        for index, f in enumerate(fold):
            if f == held:
                scores[index] = model.scores(texts[index])
    return scores


def choose_thresholds(
    phrasings: Sequence[Phrasing], scores: Sequence[dict[PromptKind, float]]
) -> tuple[float, ...]:
    """Per kind, the threshold of best F1 on `scores`; ties go to the one nearest 0.5."""
    chosen = []
    for kind in KINDS:
        truth = [kind in p.kinds for p in phrasings]

        def f1(threshold: float, kind: PromptKind = kind, truth: list[bool] = truth) -> float:
            said = [s[kind] >= threshold for s in scores]
            tp = sum(t and s for t, s in zip(truth, said, strict=True))
            return 2 * tp / max(1, sum(truth) + sum(said))

        chosen.append(max(THRESHOLD_GRID, key=lambda t: (f1(t), -abs(t - 0.5))))
    return tuple(chosen)


def found_kinds(
    scores: Sequence[dict[PromptKind, float]], thresholds: Sequence[float]
) -> list[frozenset[PromptKind]]:
    return [
        frozenset(k for k, t in zip(KINDS, thresholds, strict=True) if s[k] >= t) for s in scores
    ]


def garbled_texts(phrasings: Sequence[Phrasing], seed: int) -> list[str]:
    """Each phrasing as a recogniser might hear it, from a generator the training copies
    do not share."""
    rng = random.Random(f"evaluation {seed}")
    return [garble(p.text, rng) for p in phrasings]


@dataclass(frozen=True, slots=True)
class Development:
    """What training measured on the training corpus by cross-validation."""

    thresholds: tuple[float, ...]
    written: list[KindScore]
    garbled: list[KindScore]


def develop(phrasings: Sequence[Phrasing], settings: Settings) -> Development:
    clean = cross_validated_scores(phrasings, settings)
    thresholds = choose_thresholds(phrasings, clean)
    garbled = cross_validated_scores(phrasings, settings, garbled_texts(phrasings, settings.seed))
    truth = [p.kinds for p in phrasings]
    return Development(
        thresholds,
        score_kinds(truth, found_kinds(clean, thresholds)),
        score_kinds(truth, found_kinds(garbled, thresholds)),
    )


def train(settings: Settings = Settings()) -> tuple[PhraseModel, Development]:
    phrasings = training_phrasings()
    development = develop(phrasings, settings)
    model = fit(phrasings, settings)
    return (
        PhraseModel(model.kinds, model.weights, model.bias, development.thresholds),
        development,
    )


def main() -> None:
    model, development = train()
    MODEL_FILE.write_text(json.dumps(model.to_json(), separators=(",", ":")) + "\n")
    print(f"wrote {MODEL_FILE} ({len(model.weights)} features)")
    chosen = zip(KINDS, model.thresholds, strict=True)
    print("thresholds: " + ", ".join(f"{kind.value} {threshold}" for kind, threshold in chosen))
    print("five-fold cross-validation, precision / recall:")
    print(render_scores([("as written", development.written), ("garbled", development.garbled)]))


if __name__ == "__main__":
    main()
