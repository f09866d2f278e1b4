"""The Calls resource of Twilio's 2010-04-01 REST API, as the official `twilio` client uses it.

`POST /2010-04-01/Accounts/{AccountSid}/Calls.json` creates a call, `GET .../Calls/{Sid}.json`
fetches it and `POST .../Calls/{Sid}.json` updates it (`Status=completed` or `canceled`,
`Twiml`, `Url`). Every request needs HTTP Basic auth for the account (shopper.sandbox.twilio.
signature). Errors are Twilio's JSON (`code`, `message`, `more_info`, `status`) with the codes
Twilio documents for the same mistakes. `MachineDetection` and the recording, SIP and trunking
parameters are accepted and ignored; `Method`, `StatusCallbackMethod` and `FallbackUrl` other
than POST are not emulated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web
from aiohttp.typedefs import Handler
from aiohttp.web_request import FileField
from multidict import MultiDictProxy

from shopper.sandbox.twilio.call import FINAL, CallRequest, EmulatedCall, TwimlSource
from shopper.sandbox.twilio.signature import shown
from shopper.sandbox.twilio.twiml import TwimlError, parse_twiml

if TYPE_CHECKING:
    from shopper.sandbox.twilio.server import TwilioEmulator

E164 = re.compile(r"\+[1-9][0-9]{1,14}")
DEFAULT_TIMEOUT_S = 60
MAX_TIMEOUT_S = 600
DEFAULT_TIME_LIMIT_S = 14400
Form = MultiDictProxy[str | bytes | bytearray | FileField]
EMULATOR_KEY: web.AppKey[TwilioEmulator] = web.AppKey("emulator")


@dataclass(frozen=True, slots=True)
class RestError(Exception):
    """A request Twilio would refuse, with Twilio's error code."""

    code: int
    message: str
    status: int = 400

    def response(self) -> web.Response:
        body = {
            "code": self.code,
            "message": self.message,
            "more_info": f"https://www.twilio.com/docs/errors/{self.code}",
            "status": self.status,
        }
        return web.json_response(body, status=self.status)


def rest_app(emulator: TwilioEmulator) -> web.Application:
    app = web.Application(middlewares=[_errors])
    app[EMULATOR_KEY] = emulator
    base = "/2010-04-01/Accounts/{account}/Calls"
    app.router.add_post(base + ".json", _create)
    app.router.add_get(base + "/{sid}.json", _fetch)
    app.router.add_post(base + "/{sid}.json", _update)
    return app


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    emulator = request.app[EMULATOR_KEY]
    try:
        if not emulator.credentials.allows(request.headers.get("Authorization")):
            raise RestError(20003, "Authenticate", 401)
        if request.match_info.get("account") != emulator.credentials.account_sid:
            raise RestError(20003, "Authenticate", 401)
        response: web.StreamResponse = await handler(request)
    except RestError as error:
        return error.response()
    return response


async def _create(request: web.Request) -> web.Response:
    emulator = request.app[EMULATOR_KEY]
    if emulator.stopping:
        raise RestError(20429, "Too Many Requests: the emulator is stopping", 429)
    form = await request.post()
    to = _text(form, "To")
    caller = _text(form, "From")
    if not to:
        raise RestError(21201, "No 'To' number is specified")
    if not E164.fullmatch(to):
        raise RestError(21211, f"Invalid 'To' Phone Number: {to}")
    if not caller:
        raise RestError(21213, "No 'From' number is specified")
    allowed = emulator.settings.caller_ids
    if not E164.fullmatch(caller) or (allowed and caller not in allowed):
        raise RestError(
            21210,
            f"The source phone number provided, {caller}, is not yet verified for your account. "
            "You may only make calls from phone numbers that you've verified or purchased.",
        )
    request_fields = CallRequest(
        to=to,
        caller=caller,
        status_callback=_url(form, "StatusCallback", 21502) or None,
        events=frozenset(
            event.strip() for value in form.getall("StatusCallbackEvent", []) for event in
            str(value).split(" ") if event.strip()
        ),
        timeout_s=min(_number(form, "Timeout", DEFAULT_TIMEOUT_S), MAX_TIMEOUT_S),
        time_limit_s=_number(form, "TimeLimit", DEFAULT_TIME_LIMIT_S),
    )  # fmt: skip
    twiml = _twiml_source(emulator, form)
    if twiml is None:
        raise RestError(21200, "A 'Url', 'Twiml' or 'ApplicationSid' parameter is required")
    call = emulator.place(request_fields, twiml)
    return web.json_response(call.resource(), status=201)


async def _fetch(request: web.Request) -> web.Response:
    return web.json_response(_call(request).resource())


async def _update(request: web.Request) -> web.Response:
    emulator = request.app[EMULATOR_KEY]
    call = _call(request)
    form = await request.post()
    if call.status in FINAL:
        raise RestError(21220, "Call is not in-progress. Cannot redirect.")
    status = _text(form, "Status")
    if status == "completed":
        call.end("caller", "REST update Status=completed", "completed" if call.status ==
                 "in-progress" else "canceled")  # fmt: skip
    elif status == "canceled":
        if call.status != "in-progress":
            call.end("caller", "REST update Status=canceled", "canceled")
    elif status:
        raise RestError(21200, f"Invalid Status {status!r}: use completed or canceled")
    else:
        twiml = _twiml_source(emulator, form)
        if twiml is None:
            raise RestError(21200, "Give 'Status', 'Twiml' or 'Url' to update a call")
        call.redirect(twiml)
    return web.json_response(call.resource())


def _call(request: web.Request) -> EmulatedCall:
    call = request.app[EMULATOR_KEY].calls.get(request.match_info["sid"])
    if call is None:
        raise RestError(20404, f"The requested resource {request.path} was not found", 404)
    return call


def _twiml_source(emulator: TwilioEmulator, form: Form) -> TwimlSource | None:
    inline = _text(form, "Twiml")
    if inline:
        try:
            return emulator.inline(parse_twiml(inline))
        except TwimlError as error:
            raise RestError(12100, f"Document parse failure: {error}") from None
    url = _url(form, "Url", 21205)
    if url:
        return emulator.fetched(url)
    return None


def _text(form: Form, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _url(form: Form, name: str, code: int) -> str:
    url = _text(form, name)
    if url and not re.fullmatch(r"https?://[^/\s]+(/\S*)?", url):
        raise RestError(code, f"{name} is not a valid URL: {shown(url)}")
    return url


def _number(form: Form, name: str, default: int) -> float:
    text = _text(form, name)
    if not text:
        return float(default)
    try:
        value = float(text)
    except ValueError:
        raise RestError(21200, f"{name} must be a number of seconds, not {text!r}") from None
    if value <= 0:
        raise RestError(21200, f"{name} must be positive, not {text!r}")
    return value
