"""One real call through a real Twilio account, when the developer opts in.

Everything else about the Twilio carrier is tested against the emulator, which speaks Twilio's
documented protocol; only this test learns whether Twilio itself still speaks it. It needs the
account (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN), a number of the developer's that answers
(SHOPPER_TWILIO_TEST_NUMBER: every run costs a call to it), the calling number
(SHOPPER_TWILIO_FROM) and the public https URL at which Twilio reaches this machine
(SHOPPER_TWILIO_PUBLIC_URL, a tunnel: docs/twilio.md); SHOPPER_TWILIO_LISTEN optionally, and
SHOPPER_TWILIO_API_URL to aim it at an emulator instead (how this test itself was checked).
Without them it skips, saying which are missing.
"""

from __future__ import annotations

import os
from pathlib import Path

import jsonschema
import pytest

from shopper.asr.moonshine_engine import MoonshineEngine
from shopper.carriers.options import DialOptions, TwilioGiven
from shopper.results.writer import result_schema, write_call
from shopper.scripts.loader import load_script
from shopper.scripts.runner import run_script

CREDENTIALS = ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN")
SETTINGS = ("SHOPPER_TWILIO_TEST_NUMBER", "SHOPPER_TWILIO_FROM", "SHOPPER_TWILIO_PUBLIC_URL")


@pytest.mark.slow
async def test_a_real_call_through_twilio_is_placed_heard_and_hung_up(
    live_twilio: dict[str, str], tmp_path: Path
) -> None:
    missing = [name for name in CREDENTIALS if not os.environ.get(name)]
    missing += [name for name in SETTINGS if name not in live_twilio]
    if missing:
        pytest.skip(f"live Twilio test not opted in: set {', '.join(missing)}")
    script = tmp_path / "live.yaml"
    script.write_text(
        f'name: live twilio\ncarrier: twilio\ntarget: "{live_twilio[SETTINGS[0]]}"\n'
        "steps:\n  - wait: 8s\n  - hangup: true\n",
        encoding="utf-8",
    )
    given = TwilioGiven(
        from_number=live_twilio["SHOPPER_TWILIO_FROM"],
        public_url=live_twilio["SHOPPER_TWILIO_PUBLIC_URL"],
        listen=live_twilio.get("SHOPPER_TWILIO_LISTEN"),
        api_url=live_twilio.get("SHOPPER_TWILIO_API_URL"),
    )
    record = await run_script(load_script(script), MoonshineEngine(), DialOptions(twilio=given))
    result = record.result
    jsonschema.validate(result, result_schema())
    assert result["outcome"] == "passed", result["failure"]
    assert result["ended_by"] == "tester"
    assert result["carrier_call"]["status"] == "completed"
    assert result["metrics"]["answer_s"] is not None
    folder = tmp_path / "call"
    write_call(record, folder)
    token = os.environ["TWILIO_AUTH_TOKEN"].encode()
    for path in folder.iterdir():
        assert token not in path.read_bytes(), path.name
