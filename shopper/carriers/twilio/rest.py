"""Call control through Twilio's REST API with the official client: create, update, fetch.

One `TwilioRest` per shopper process and account (the async HTTP client keeps its
connections), pointed at `api_url` (Twilio, or an emulator of its REST API). Twilio's errors
become one line that says what to do (`rest_error_message`), with no secret in it: the
client's exception text quotes the request URL, which holds the account SID only, and the
message is scrubbed of the token and secret anyway.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from shopper.carriers.base import DialCause
from shopper.carriers.twilio.settings import TwilioSettings, scrub

STATUS_EVENTS = ["initiated", "ringing", "answered", "completed"]
TERMINAL = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})
MAX_TIMEOUT_S = 600
"""Twilio's longest ring timeout."""

_HINTS: dict[int, tuple[DialCause, str]] = {
    20003: (
        "auth-failed",
        "Twilio rejected the credentials: check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN (or "
        "the API key and secret) in the console, under Account > API keys & tokens",
    ),
    20404: (
        "failed",
        "Twilio does not know this resource: check that the account SID is the one the "
        "credentials belong to",
    ),
    21211: (
        "no-route",
        "Twilio says the number is not a valid phone number: check the script's target (E.164, "
        "like +15550100000)",
    ),
    21210: (
        "failed",
        "the calling number is not one of this account's numbers or verified caller IDs: set "
        "[twilio] from to a number you own in Twilio, or verify it under Phone Numbers > "
        "Verified Caller IDs",
    ),
    21212: (
        "failed",
        "the calling number is not valid: set [twilio] from to one of the account's numbers in "
        "E.164 form",
    ),
    21214: (
        "no-route",
        "Twilio cannot reach the number (it is not a phone number in service): check the "
        "script's target",
    ),
    21215: (
        "refused",
        "the account's geographic permissions do not allow calls to this country: enable it in "
        "the console under Voice > Settings > Geo permissions",
    ),
    21216: (
        "refused",
        "Twilio has blocked calls to this number (premium or high-risk): call another number",
    ),
    21219: (
        "refused",
        "a trial account can only call verified numbers: verify the target under Phone Numbers "
        "> Verified Caller IDs, or upgrade the account",
    ),
    21608: (
        "refused",
        "a trial account can only call verified numbers: verify the target under Phone Numbers "
        "> Verified Caller IDs, or upgrade the account",
    ),
    21205: (
        "failed",
        "Twilio refused the callback URL: set --public-url to the https:// URL of the tunnel",
    ),
}
"""Twilio's REST error codes that a QA engineer can act on, with the action."""


class TwilioCallError(Exception):
    """A REST request failed: `cause` for the result, `message` a one-line action."""

    def __init__(self, cause: DialCause, message: str, code: int | None) -> None:
        super().__init__(message)
        self.cause: DialCause = cause
        self.message = message
        self.code = code


@dataclass(frozen=True, slots=True)
class CallState:
    """What Twilio says about a call when asked (the Call resource)."""

    sid: str
    status: str
    price: str | None = None
    price_unit: str | None = None
    duration: str | None = None


class _HttpClient(AsyncTwilioHttpClient):  # type: ignore[misc]
    """twilio's async client with the credentials in an Authorization header: the client
    passes aiohttp's `auth=`, which aiohttp deprecates (to be removed in aiohttp 4)."""

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> object:
        headers = dict(headers or {})
        if auth is not None:
            login = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode("ascii")
            headers["Authorization"] = f"Basic {login}"
        return await super().request(
            method, url, params, data, headers, None, timeout, allow_redirects
        )


class TwilioRest:
    def __init__(self, settings: TwilioSettings) -> None:
        self._settings = settings
        self._http = _HttpClient()
        username, password = settings.rest_login
        self._client = Client(
            username, password, account_sid=settings.account_sid, http_client=self._http
        )
        self._client.api.base_url = settings.api_url

    async def close(self) -> None:
        await self._http.close()

    async def create_call(
        self,
        to: str,
        twiml: str,
        status_callback: str,
        ring_timeout_s: float,
        time_limit_s: float,
    ) -> CallState:
        try:
            call = await self._client.calls.create_async(
                to=to,
                from_=self._settings.from_number,
                twiml=twiml,
                timeout=max(1, min(MAX_TIMEOUT_S, round(ring_timeout_s))),
                time_limit=max(1, round(time_limit_s)),
                status_callback=status_callback,
                status_callback_method="POST",
                status_callback_event=STATUS_EVENTS,
            )
        except (TwilioException, OSError, ValueError) as error:
            raise self._error("place the call", error) from None
        return _state(call)

    async def update_twiml(self, sid: str, twiml: str) -> None:
        try:
            await self._client.calls(sid).update_async(twiml=twiml)
        except (TwilioException, OSError, ValueError) as error:
            raise self._error("update the call", error) from None

    async def hang_up(self, sid: str) -> CallState:
        """End the call whatever its state: `completed` ends an answered call and cancels one
        that is still queued or ringing (Twilio accepts it for both)."""
        try:
            call = await self._client.calls(sid).update_async(status="completed")
        except (TwilioException, OSError, ValueError) as error:
            raise self._error("hang up the call", error) from None
        return _state(call)

    async def fetch(self, sid: str) -> CallState:
        try:
            call = await self._client.calls(sid).fetch_async()
        except (TwilioException, OSError, ValueError) as error:
            raise self._error("ask about the call", error) from None
        return _state(call)

    def _error(self, doing: str, error: Exception) -> TwilioCallError:
        if isinstance(error, TwilioRestException):
            hint = _HINTS.get(error.code or 0)
            code = f" {error.code}" if error.code else ""
            said = scrub(str(error.msg or "").strip().rstrip("."), self._settings.secrets)
            if hint is not None:
                cause, action = hint
                return TwilioCallError(cause, f"Twilio error{code} ({said}): {action}", error.code)
            status = error.status
            return TwilioCallError(
                "auth-failed" if status in (401, 403) else "failed",
                f"Twilio could not {doing}: HTTP {status}, error{code} ({said})",
                error.code,
            )
        said = scrub(str(error) or type(error).__name__, self._settings.secrets)
        return TwilioCallError(
            "failed",
            f"cannot reach Twilio's API at {self._settings.api_url} to {doing}: {said}",
            None,
        )


def _state(call: object) -> CallState:
    def text(name: str) -> str | None:
        value = getattr(call, name, None)
        return None if value is None else str(value)

    return CallState(
        sid=text("sid") or "",
        status=text("status") or "",
        price=text("price"),
        price_unit=text("price_unit"),
        duration=text("duration"),
    )
