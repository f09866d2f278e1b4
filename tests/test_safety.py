"""Dialling safety: look-alike digits, costly ranges by libphonenumber's metadata, the override."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from shopper.carriers.safety import UnsafeNumberError, check_dialable, looks_like_phone_number


@pytest.fixture(autouse=True)
def no_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    config = tmp_path / "config.toml"
    monkeypatch.setenv("SHOPPER_CONFIG", str(config))
    return config


@pytest.mark.parametrize(
    "number",
    [
        "+\uff11 \uff19\uff10\uff10 555 0100",  # fullwidth +1 900
        "+\u0661\u0669\u0660\u0660\u0665\u0665\u0665\u0660\u0661\u0660\u0660",  # Arabic-Indic
        "+1 9\u00b9\u00b2 555 0100",  # superscripts
        "\uff19\uff11\uff11",  # fullwidth 911
        "+1 555 \u0e51\u0e52\u0e53 4567",  # Thai digits among ASCII ones
    ],
)
def test_look_alike_digits_are_refused_by_name(number: str) -> None:
    assert looks_like_phone_number(number)
    with pytest.raises(UnsafeNumberError, match="ASCII digits 0-9"):
        check_dialable(number)


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("+41 900 123 456", "premium-rate"),  # Switzerland 0900
        ("+43 900 123456", "premium-rate"),  # Austria 0900
        ("+32 900 12345", "premium-rate"),  # Belgium 0900
        ("+44 845 123 4567", "premium-rate"),  # UK 0845, per the metadata
        ("+44 70 1234 5678", "personal number"),
        ("+870 773 112345", "international network (+870)"),  # Inmarsat
        ("+883 123 456 789", "international network (+883)"),
        ("+979 123 456 789", "international network (+979)"),
        ("+1 900 555 0100", "premium-rate"),
    ],
)
def test_costly_ranges_are_refused(number: str, reason: str) -> None:
    with pytest.raises(UnsafeNumberError, match=re.escape(reason)):
        check_dialable(number)


@pytest.mark.parametrize(
    "number",
    [
        "+1 555 010 0000",
        "+44 20 7946 0000",
        "+49 151 12345678",
        "+800 1234 5678",
        "+1 800 555 0100",
    ],
)
def test_ordinary_toll_free_and_test_numbers_are_dialable(number: str) -> None:
    check_dialable(number)


def test_the_override_allows_a_named_costly_number_but_never_an_emergency(
    no_config: Path,
) -> None:
    with pytest.raises(UnsafeNumberError, match=r'allow = \["\+19005550100"\]'):
        check_dialable("+1 900 555 0100")
    no_config.write_text('[safety]\nallow = ["+1 (900) 555-0100", "911"]\n')
    check_dialable("+1 900 555 0100")
    with pytest.raises(UnsafeNumberError, match="premium-rate"):
        check_dialable("+1 900 555 0101")
    with pytest.raises(UnsafeNumberError, match="emergency"):
        check_dialable("911")
