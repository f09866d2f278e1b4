"""Hanging up a dead worker's leftover call before its run is called again: a Twilio call
that is still up is ended through the REST API (against the Twilio emulator, the same REST
surface shopper's carrier uses); the legs the other carriers leave are noted for what they
are (an answered SIP call's BYE: tests/test_sip_bye_elsewhere.py; a ringing one's CANCEL:
tests/test_sip_cancel_elsewhere.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from shopper.carriers.sip.cancel import RingingInvite
from shopper.monitor.fleet.hangup import Leg, hang_up_leftover
from shopper.sandbox.loader import load_ivr
from shopper.sandbox.render import SoundBank
from shopper.sandbox.twilio.server import EmulatorSettings, ServedIvr, TwilioEmulator
from shopper.sandbox.twilio.signature import Credentials

DATA = Path(__file__).resolve().parent / "data"
ACCOUNT = "AC" + "0" * 31 + "1"
TOKEN = "test-auth-token-not-a-secret"
LINE = "+15550100001"
CALLER = "+15550109999"
FINAL = ("completed", "canceled", "busy", "no-answer", "failed")

pytestmark = [
    pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:The 'auth' parameter is deprecated:DeprecationWarning"),
]


@pytest.fixture
async def emulator(tmp_path: Path) -> AsyncIterator[str]:
    definition = load_ivr(DATA / "twilioemu" / "menu.yaml")
    served = {LINE: ServedIvr(definition, SoundBank(definition))}
    settings = EmulatorSettings(truth_dir=tmp_path, caller_ids=frozenset({CALLER}))
    server = TwilioEmulator(served, Credentials(ACCOUNT, TOKEN, {}), settings)
    port = await server.start("127.0.0.1", 0)
    yield f"http://127.0.0.1:{port}"
    await server.stop()


async def test_a_leftover_twilio_call_is_ended_through_rest(
    emulator: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    http = AsyncTwilioHttpClient()
    client = Client(ACCOUNT, TOKEN, account_sid=ACCOUNT, http_client=http)
    client.api.base_url = emulator
    try:
        call = await client.calls.create_async(
            to=LINE, from_=CALLER, twiml='<Response><Pause length="60"/></Response>'
        )
        # The worker that retries the run has the fleet's Twilio account in its environment.
        for name, value in {
            "TWILIO_ACCOUNT_SID": ACCOUNT,
            "TWILIO_AUTH_TOKEN": TOKEN,
            "SHOPPER_TWILIO_FROM": CALLER,
            "SHOPPER_TWILIO_PUBLIC_URL": "https://shopper.example.net",
            "SHOPPER_TWILIO_API_URL": emulator,
        }.items():
            monkeypatch.setenv(name, value)
        assert (await client.calls(call.sid).fetch_async()).status in ("queued", "ringing")

        note = await hang_up_leftover(Leg(carrier="twilio", call_id="c1", carrier_id=call.sid))

        assert call.sid in note and "hung up" in note
        async with asyncio.timeout(10):  # the emulator ends a call at its next 20 ms frame
            while (status := (await client.calls(call.sid).fetch_async()).status) not in FINAL:
                await asyncio.sleep(0.05)
        assert status in ("completed", "canceled")
    finally:
        await http.close()


async def test_a_leftover_twilio_call_without_credentials_is_noted_not_raised(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TWILIO_ACCOUNT_SID", raising=False)
    note = await hang_up_leftover(Leg(carrier="twilio", call_id="c1", carrier_id="CA" + "1" * 32))
    assert note.startswith("could not hang up Twilio call CA")


async def test_other_carriers_legs_are_noted_for_what_they_are() -> None:
    sandbox = await hang_up_leftover(Leg(carrier="sandbox", call_id="c1"))
    sip = await hang_up_leftover(Leg(carrier="sip", call_id="c2", carrier_id="abc@host"))
    assert "ended with its worker" in sandbox
    assert "abc@host" in sip and "not answered" in sip  # no dialog recorded: nothing to BYE


async def test_a_ringing_tcp_call_is_noted_not_cancelled_over_udp() -> None:
    """A CANCEL from another process is built for UDP: a ringing call whose INVITE went over
    TCP gets a note saying why nothing was sent, not a UDP CANCEL with a TCP Via."""
    invite = RingingInvite(
        request_uri="sip:ivr@127.0.0.1:5999;transport=tcp",
        call_id="tcp-call@127.0.0.1",
        via="SIP/2.0/TCP 127.0.0.1:5998;branch=z9hG4bKtcpleg;rport",
        from_header="<sip:shopper@127.0.0.1>;tag=abc",
        to_header="<sip:ivr@127.0.0.1:5999;transport=tcp>",
        cseq=1,
        routes=(),
        remote=("127.0.0.1", 5999),
    )
    note = await hang_up_leftover(
        Leg(carrier="sip", call_id="c3", carrier_id=invite.call_id, sip_invite=invite)
    )
    assert "went over TCP" in note and "none was sent" in note, note
