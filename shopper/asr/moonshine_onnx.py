"""The bundled Moonshine model run by the onnxruntime package: 3x less CPU than moonshine-cpp.

The wheel's two model files store their weights as int8 and turn them back into float32
(Cast, Add, Mul, and a Transpose of the 32768 x 416 embedding for the logits) inside the
graph. Loaded as ORT format, which is how moonshine-cpp loads them, that happens again on
every decoder step: a 3 s prompt spent ~52 ms per token, of which ~7 ms multiplying. So here
each file is re-serialised as ONNX (`onnx_subgraphs` repairs what onnxruntime leaves out),
and loading that ONNX folds the conversion into constant float32 weights once (~12 ms per
token; ~600 MB of memory per loaded model instead of ~60 MB, and no growth over 200 calls,
unlike moonshine-cpp, which leaks on every call). The arithmetic is the same, so the text
matched moonshine-cpp's on all 30 Asterisk prompts compared.

The decoding follows moonshine-cpp 0.1.4 (its libmoonshine.so and the Moonshine C++ core):
greedy, starting from token 1, stopping at token 2 or after ceil(seconds x 13) tokens
(float32 arithmetic, as there), with the Hugging Face "merged decoder" convention of a
`use_cache_branch` flag, self-attention keys/values carried over from every step and the
cross-attention ones from the first.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from shopper.asr.onnx_subgraphs import WireFormatError, name_subgraphs
from shopper.errors import ShopperError

DECODER_START_TOKEN = 1
END_OF_TEXT_TOKEN = 2
MAX_TOKENS_PER_SECOND = 13.0
"""The cap moonshine-cpp 0.1.4 applies (a float constant in its transcribe function)."""
_RATE = 16000
_SPACE = "\u2581"
"""SentencePiece's word-start mark, written where the text has a space."""
_PAST = "past_key_values."
_PRESENT = "present."
SCORE_BATCH = 8
MIN_ENCODED_SAMPLES = 1600
"""The encoder's first convolutions need about 30 ms of 16 kHz audio for one frame of output
and fail on less; shorter audio (a stretch cut a few samples after speech began, a click) is
padded with silence to 0.1 s, which holds no word and adds none."""
"""Candidates scored in one decoder pass: each costs full-vocabulary logits (32768 floats,
128 KB) per token, ~4 MB for a 30-token candidate, so batches stay small."""


@dataclass(frozen=True, slots=True)
class GreedyReading:
    """The model's own (greedy) reading of a chunk: token ids, the start token first, and the
    natural log-probability of each token after it (the end token's included when reached)."""

    tokens: list[int]
    log_probs: list[float]


class OnnxMoonshineError(ShopperError):
    """onnxruntime could not load or run the model; the message says which file and why."""


def read_vocabulary(path: Path) -> list[bytes]:
    """Each token's bytes, by token id, from Moonshine's tokenizer.bin.

    The file is the tokens in id order, each a length then that many bytes; the length is
    one byte under 128, else two: (second x 128) + first - 128. A zero length is a token
    with no text.
    """
    data = path.read_bytes()
    tokens: list[bytes] = []
    position = 0
    while position < len(data):
        length = data[position]
        position += 1
        if length >= 128:
            if position >= len(data):
                raise OnnxMoonshineError(f"{path}: truncated at byte {position}")
            length = data[position] * 128 + length - 128
            position += 1
        if position + length > len(data):
            raise OnnxMoonshineError(f"{path}: token {len(tokens)} runs past the end")
        tokens.append(data[position : position + length])
        position += length
    return tokens


def detokenize(vocabulary: Sequence[bytes], tokens: Sequence[int]) -> str:
    """Text of the tokens: control tokens (`<s>`, `</s>`, `<unk>`) and ids past the end of
    the vocabulary (the model has 768 more outputs than tokens) give nothing."""
    pieces = []
    for token in tokens:
        piece = vocabulary[token] if 0 <= token < len(vocabulary) else b""
        if not (len(piece) > 2 and piece.startswith(b"<") and piece.endswith(b">")):
            pieces.append(piece)
    return b"".join(pieces).decode("utf-8", errors="replace").replace(_SPACE, " ").strip()


def max_tokens(samples: int) -> int:
    """The most tokens decoded from this many 16 kHz samples."""
    seconds = np.float32(samples) / np.float32(_RATE)
    return math.ceil(float(seconds * np.float32(MAX_TOKENS_PER_SECOND)))


class OnnxMoonshine:
    """The model folder's encoder, merged decoder and tokenizer on onnxruntime.

    `threads` is onnxruntime's intra-op thread count; calls on one instance are serial.
    """

    def __init__(self, folder: Path, threads: int = 1) -> None:
        import onnxruntime
        from onnxruntime.capi import onnxruntime_pybind11_state

        self._ort: Any = onnxruntime
        self._errors = _exception_classes(onnxruntime_pybind11_state)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
        self._encoder: Any = self._session(folder / "encoder_model.ort", options)
        self._decoder: Any = self._session(folder / "decoder_model_merged.ort", options)
        self._vocabulary = read_vocabulary(folder / "tokenizer.bin")
        self._outputs: list[str] = [output.name for output in self._decoder.get_outputs()]
        self._empty_past = {
            value.name: np.zeros((1, value.shape[1], 1, value.shape[3]), dtype=np.float32)
            for value in self._decoder.get_inputs()
            if value.name.startswith(_PAST)
        }

    @property
    def vocabulary(self) -> list[bytes]:
        return self._vocabulary

    def transcribe(self, audio: NDArray[np.float32]) -> str:
        """Text of one chunk of 16 kHz float audio (full scale 1.0)."""
        return detokenize(self._vocabulary, self.tokens(audio))

    def tokens(self, audio: NDArray[np.float32]) -> list[int]:
        """The greedy decoding's token ids, the start token first."""
        return self.read(self.encode(audio), len(audio)).tokens

    def encode(self, audio: NDArray[np.float32]) -> NDArray[np.float32]:
        """The encoder's output for one chunk of 16 kHz float audio: what decoding and scoring
        start from (416 floats per 24 ms, ~0.7 MB for 10 s)."""
        short_by = max(0, MIN_ENCODED_SAMPLES - len(audio))
        audio = np.pad(np.asarray(audio, dtype=np.float32), (0, short_by))
        samples = np.ascontiguousarray(audio, dtype=np.float32)[np.newaxis, :]
        try:
            (hidden,) = self._encoder.run(None, {"input_values": samples})
        except self._errors as error:
            raise OnnxMoonshineError(f"Moonshine on onnxruntime failed: {error}") from None
        return np.asarray(hidden, dtype=np.float32)

    def read(self, hidden: NDArray[np.float32], samples: int) -> GreedyReading:
        """The greedy decoding of the encoder output of `samples` samples of audio, with each
        token's log-probability."""
        try:
            return self._decode(hidden, samples)
        except self._errors as error:
            raise OnnxMoonshineError(f"Moonshine on onnxruntime failed: {error}") from None

    def score(
        self, hidden: NDArray[np.float32], candidates: Sequence[Sequence[int]]
    ) -> list[float]:
        """Log-likelihood (nats) of each token sequence given the encoded audio, by teacher
        forcing: the start token, the candidate's tokens and the end token go through the
        decoder in one pass without its cache (the merged decoder's `use_cache_branch` off),
        `SCORE_BATCH` candidates at a time, right-padded (the decoder is causal, so padding
        after a candidate does not change its scores)."""
        scores: list[float] = []
        try:
            for first in range(0, len(candidates), SCORE_BATCH):
                scores += self._score_batch(hidden, candidates[first : first + SCORE_BATCH])
        except self._errors as error:
            raise OnnxMoonshineError(f"Moonshine on onnxruntime failed: {error}") from None
        return scores

    def _score_batch(
        self, hidden: NDArray[np.float32], candidates: Sequence[Sequence[int]]
    ) -> list[float]:
        sequences = [[DECODER_START_TOKEN, *tokens, END_OF_TEXT_TOKEN] for tokens in candidates]
        width = max(len(sequence) for sequence in sequences)
        ids = np.full((len(sequences), width), END_OF_TEXT_TOKEN, dtype=np.int64)
        for row, sequence in enumerate(sequences):
            ids[row, : len(sequence)] = sequence
        past = {
            name: np.zeros((len(sequences), *value.shape[1:]), dtype=np.float32)
            for name, value in self._empty_past.items()
        }
        (logits,) = self._decoder.run(
            ["logits"],
            {
                "input_ids": ids,
                "encoder_hidden_states": np.repeat(hidden, len(sequences), axis=0),
                "use_cache_branch": np.array([False]),
                **past,
            },
        )
        scores = []
        for row, sequence in enumerate(sequences):
            steps = np.arange(len(sequence) - 1)
            chosen = logits[row, steps, sequence[1:]]
            scores.append(float(np.sum(chosen - _log_sum_exp(logits[row, steps]))))
        return scores

    def _decode(self, hidden: NDArray[np.float32], samples: int) -> GreedyReading:
        past = dict(self._empty_past)
        tokens = [DECODER_START_TOKEN]
        log_probs: list[float] = []
        for step in range(max_tokens(samples)):
            logits, *present = self._decoder.run(
                None,
                {
                    "input_ids": np.array([[tokens[-1]]], dtype=np.int64),
                    "encoder_hidden_states": hidden,
                    "use_cache_branch": np.array([step > 0]),
                    **past,
                },
            )
            last = logits[0, -1]
            token = int(np.argmax(last))
            tokens.append(token)
            log_probs.append(float(last[token] - _log_sum_exp(last)))
            if token == END_OF_TEXT_TOKEN:
                break
            for name, value in zip(self._outputs[1:], present, strict=True):
                if step == 0 or ".decoder." in name:
                    past[_PAST + name.removeprefix(_PRESENT)] = value
        return GreedyReading(tokens, log_probs)

    def _session(self, path: Path, options: Any) -> Any:
        """A session on the ONNX re-serialisation of an ORT-format file (see the module
        docstring for why)."""
        errors: tuple[type[Exception], ...] = (OSError, WireFormatError, *self._errors)
        try:
            with tempfile.TemporaryDirectory(prefix="shopper-moonshine-") as folder:
                plain = self._ort.SessionOptions()
                plain.graph_optimization_level = self._ort.GraphOptimizationLevel.ORT_DISABLE_ALL
                plain.optimized_model_filepath = str(Path(folder) / "model.onnx")
                self._ort.InferenceSession(str(path), plain, providers=["CPUExecutionProvider"])
                onnx = name_subgraphs(Path(plain.optimized_model_filepath).read_bytes())
            return self._ort.InferenceSession(onnx, options, providers=["CPUExecutionProvider"])
        except errors as error:
            raise OnnxMoonshineError(f"{path}: onnxruntime could not load it: {error}") from None


def _log_sum_exp(logits: NDArray[np.float32]) -> NDArray[np.float32]:
    """log(sum(exp(logits))) over the last axis, computed stably."""
    peak = np.max(logits, axis=-1, keepdims=True)
    total = np.log(np.sum(np.exp(logits - peak), axis=-1, keepdims=True)) + peak
    return np.asarray(total[..., 0], dtype=np.float32)


def _exception_classes(module: object) -> tuple[type[Exception], ...]:
    """onnxruntime's own exceptions (Fail, InvalidGraph, ...), which derive from Exception
    only, so that they can be caught without catching everything."""
    return tuple(
        value
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, Exception)
    )
