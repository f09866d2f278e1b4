"""Text to Moonshine token ids, from the wheel's tokenizer.bin alone (no tokenizer package).

Moonshine base-en uses a SentencePiece BPE vocabulary of 32000 pieces (LLaMA's): ids 0-2 are
`<unk>`, `<s>`, `</s>`; ids 3-258 the 256 byte-fallback pieces; then the merged pieces in the
order BPE learnt them; the single characters last (from id 29871, `▁`). tokenizer.bin keeps
that order, so the rank of a merge is its id: encoding starts from one piece per character
(a space written `▁`, one `▁` put before the text, a character with no piece spelt as its
UTF-8 bytes) and repeatedly merges the adjacent pair whose joined piece has the lowest id,
as SentencePiece does. Re-encoding the model's own output gives back its exact tokens
(tests/test_moonshine_verify.py checks this on real transcriptions).
"""

from __future__ import annotations

from collections.abc import Sequence

_SPACE = "\u2581"
_FIRST_BYTE_PIECE = 3
_BYTE_PIECES = 256


class MoonshineTokenizer:
    """Encodes text into the token ids Moonshine's decoder reads and writes."""

    def __init__(self, vocabulary: Sequence[bytes]) -> None:
        self._vocabulary = list(vocabulary)
        self._ids: dict[bytes, int] = {}
        for token, piece in enumerate(vocabulary):
            if token >= _FIRST_BYTE_PIECE + _BYTE_PIECES and piece:
                self._ids.setdefault(piece, token)

    @property
    def vocabulary(self) -> list[bytes]:
        return self._vocabulary

    def encode(self, text: str) -> list[int]:
        """Token ids of `text` (no start or end token); whitespace runs count as one space."""
        words = text.split()
        if not words:
            return []
        normalised = _SPACE + _SPACE.join(words)
        pieces = [self._symbols(char) for char in normalised]
        symbols = [symbol for group in pieces for symbol in group]
        return self._merge(symbols)

    def word_starts(self, tokens: Sequence[int]) -> list[bool]:
        """For each token, whether it begins a word (its piece starts with `▁`); control and
        out-of-vocabulary ids begin none."""
        mark = _SPACE.encode("utf-8")
        return [
            0 <= token < len(self._vocabulary) and self._vocabulary[token].startswith(mark)
            for token in tokens
        ]

    def _symbols(self, char: str) -> list[bytes]:
        """The character's piece, or its UTF-8 bytes as byte-fallback pieces."""
        piece = char.encode("utf-8")
        if piece in self._ids:
            return [piece]
        return [bytes([byte]) + b"\x00" for byte in piece]

    def _merge(self, symbols: list[bytes]) -> list[int]:
        while len(symbols) > 1:
            best, best_rank = -1, -1
            for index in range(len(symbols) - 1):
                rank = self._ids.get(symbols[index] + symbols[index + 1], -1)
                if rank >= 0 and (best_rank < 0 or rank < best_rank):
                    best, best_rank = index, rank
            if best < 0:
                break
            symbols[best : best + 2] = [symbols[best] + symbols[best + 1]]
        return [self._id(symbol) for symbol in symbols]

    def _id(self, symbol: bytes) -> int:
        if symbol in self._ids:
            return self._ids[symbol]
        return _FIRST_BYTE_PIECE + symbol[0]
