"""G.711 must match the reference codec exactly: recordings and golden files depend on it."""

import warnings

import numpy as np
import pytest

from shopper.audio.g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode, ulaw_round_trip

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

ALL_PCM = np.arange(-32768, 32768, dtype=np.int16)
ALL_CODES = bytes(range(256))


def test_ulaw_encode_matches_audioop_on_every_value() -> None:
    assert ulaw_encode(ALL_PCM).tobytes() == audioop.lin2ulaw(ALL_PCM.tobytes(), 2)


def test_alaw_encode_matches_audioop_on_every_value() -> None:
    assert alaw_encode(ALL_PCM).tobytes() == audioop.lin2alaw(ALL_PCM.tobytes(), 2)


def test_ulaw_decode_matches_audioop_on_every_code() -> None:
    assert ulaw_decode(ALL_CODES).tobytes() == audioop.ulaw2lin(ALL_CODES, 2)


def test_alaw_decode_matches_audioop_on_every_code() -> None:
    assert alaw_decode(ALL_CODES).tobytes() == audioop.alaw2lin(ALL_CODES, 2)


@pytest.mark.parametrize("encode,decode", [(ulaw_encode, ulaw_decode), (alaw_encode, alaw_decode)])
def test_decode_then_encode_is_identity_on_codes(encode, decode) -> None:  # type: ignore[no-untyped-def]
    codes = np.arange(256, dtype=np.uint8)
    round_trip = encode(decode(codes))
    # Both laws have two codes for zero (+0 and -0); every other code survives exactly.
    differs = codes[round_trip != codes]
    assert set(decode(differs).tolist()) <= {0}


def test_round_trip_error_is_within_a_quantisation_step() -> None:
    rng = np.random.default_rng(1)
    pcm = rng.integers(-20000, 20000, 8000).astype(np.int16)
    error = np.abs(ulaw_round_trip(pcm).astype(np.int32) - pcm)
    # μ-law's largest step is 1024 at the loudest segment, so the error is at most half of
    # it, plus the 2 bits the 14-bit codec drops from 16-bit input.
    assert error.max() <= 512 + 4
    assert ulaw_round_trip(pcm).dtype == np.int16
