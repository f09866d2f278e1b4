"""8 kHz <-> 16 kHz conversion keeps what recognisers need and streams without seams."""

import numpy as np

from shopper.audio.resample import StreamResampler, resample


def _tone(freq: float, rate: int, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (8000 * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def _dominant_frequency(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64)))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[int(np.argmax(spectrum))])


def test_upsampling_doubles_length_and_keeps_frequency() -> None:
    up = resample(_tone(1000, 8000), 8000, 16000)
    assert len(up) == 16000
    assert abs(_dominant_frequency(up, 16000) - 1000) < 2


def test_downsampling_removes_content_above_the_new_nyquist() -> None:
    high = _tone(6000, 16000)
    down = resample(high, 16000, 8000)
    assert len(down) == 8000
    assert np.sqrt(np.mean(down.astype(np.float64) ** 2)) < 100  # 6 kHz cannot pass at 8 kHz


def test_streaming_matches_whole_buffer_conversion() -> None:
    rng = np.random.default_rng(0)
    pcm = (rng.standard_normal(8000) * 3000).astype(np.int16)
    stream = StreamResampler(8000, 16000)
    pieces = [stream.process(pcm[i : i + 160]) for i in range(0, len(pcm), 160)]
    streamed = np.concatenate([*pieces, stream.flush()])
    whole = resample(pcm, 8000, 16000)
    assert len(streamed) == len(whole)
    assert np.max(np.abs(streamed.astype(np.int32) - whole)) <= 2


def test_same_rate_is_a_no_op() -> None:
    pcm = _tone(440, 8000)
    assert resample(pcm, 8000, 8000) is pcm or np.array_equal(resample(pcm, 8000, 8000), pcm)
    assert np.array_equal(StreamResampler(8000, 8000).process(pcm), pcm)
