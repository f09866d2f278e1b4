"""G.711 μ-law and A-law, bit-exact with CPython's audioop (removed from the stdlib in 3.13).

Encoding goes through 65 536-entry tables built once from the Sun reference algorithm
that audioop implements, so the per-frame cost is a single table lookup.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from shopper.audio.frame import Samples

Codes = NDArray[np.uint8]

_ULAW_SEG_END = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF], dtype=np.int32)
_ALAW_SEG_END = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF], dtype=np.int32)
_ULAW_BIAS = 0x84
_ULAW_CLIP = 8159


def _all_pcm_values() -> NDArray[np.int32]:
    return np.arange(-32768, 32768, dtype=np.int32)


def _build_ulaw_encode_table() -> Codes:
    value = _all_pcm_values() >> 2
    mask = np.where(value < 0, 0x7F, 0xFF)
    magnitude = np.minimum(np.abs(value), _ULAW_CLIP) + (_ULAW_BIAS >> 2)
    segment = np.searchsorted(_ULAW_SEG_END, magnitude, side="left")
    code = (np.minimum(segment, 7) << 4) | ((magnitude >> (np.minimum(segment, 7) + 1)) & 0xF)
    code = np.where(segment >= 8, 0x7F, code)
    return (code ^ mask).astype(np.uint8)


def _build_alaw_encode_table() -> Codes:
    value = _all_pcm_values() >> 3
    negative = value < 0
    mask = np.where(negative, 0x55, 0xD5)
    magnitude = np.where(negative, -value - 1, value)
    segment = np.searchsorted(_ALAW_SEG_END, magnitude, side="left")
    clamped = np.minimum(segment, 7)
    shift = np.where(clamped < 2, 1, clamped)
    code = (clamped << 4) | ((magnitude >> shift) & 0xF)
    code = np.where(segment >= 8, 0x7F, code)
    return (code ^ mask).astype(np.uint8)


def _build_ulaw_decode_table() -> Samples:
    code = ~np.arange(256, dtype=np.int32) & 0xFF
    magnitude = (((code & 0x0F) << 3) + _ULAW_BIAS) << ((code & 0x70) >> 4)
    return np.where(code & 0x80, _ULAW_BIAS - magnitude, magnitude - _ULAW_BIAS).astype(np.int16)


def _build_alaw_decode_table() -> Samples:
    code = np.arange(256, dtype=np.int32) ^ 0x55
    quant = code & 0x0F
    segment = (code & 0x70) >> 4
    magnitude = np.where(segment > 0, (2 * quant + 1 + 32) << (segment + 2), (2 * quant + 1) << 3)
    return np.where(code & 0x80, magnitude, -magnitude).astype(np.int16)


_ULAW_ENCODE = _build_ulaw_encode_table()
_ALAW_ENCODE = _build_alaw_encode_table()
_ULAW_DECODE = _build_ulaw_decode_table()
_ALAW_DECODE = _build_alaw_decode_table()


def ulaw_encode(pcm: Samples) -> Codes:
    return _ULAW_ENCODE[pcm.astype(np.int32) + 32768]


def ulaw_decode(codes: Codes | bytes) -> Samples:
    return _ULAW_DECODE[np.frombuffer(codes, dtype=np.uint8)]


def alaw_encode(pcm: Samples) -> Codes:
    return _ALAW_ENCODE[pcm.astype(np.int32) + 32768]


def alaw_decode(codes: Codes | bytes) -> Samples:
    return _ALAW_DECODE[np.frombuffer(codes, dtype=np.uint8)]


def ulaw_round_trip(pcm: Samples) -> Samples:
    """What the far end hears of this audio over a μ-law (PCMU) channel."""
    return ulaw_decode(ulaw_encode(pcm))
