"""Who may use the emulator, and the signature Twilio puts on what it sends.

Requests to the REST API carry HTTP Basic auth: the account SID with its auth token, or an
API key SID with its secret. Everything the emulator sends (status callbacks, TwiML fetches,
the WebSocket handshake) carries `X-Twilio-Signature`, computed by the official
`twilio.request_validator` with the account's auth token, so it is exactly what the official
validator checks.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field

from twilio.request_validator import RequestValidator
from yarl import URL

SIGNATURE_HEADER = "X-Twilio-Signature"


@dataclass(frozen=True, slots=True)
class Credentials:
    """The one account the emulator serves, and the API keys that may act for it."""

    account_sid: str
    auth_token: str
    api_keys: Mapping[str, str] = field(default_factory=dict)
    """API key SID (SK...) to its secret."""

    def allows(self, authorization: str | None) -> bool:
        """Whether an `Authorization: Basic ...` header names this account or one of its keys."""
        pair = _basic_pair(authorization)
        if pair is None:
            return False
        user, password = pair
        if user == self.account_sid:
            return hmac.compare_digest(password.encode(), self.auth_token.encode())
        secret = self.api_keys.get(user)
        return secret is not None and hmac.compare_digest(password.encode(), secret.encode())

    def sign(self, url: str, params: Mapping[str, str]) -> str:
        """`X-Twilio-Signature` for a request to `url` with form fields `params`."""
        signature: str = RequestValidator(self.auth_token).compute_signature(url, dict(params))
        return signature


def _basic_pair(authorization: str | None) -> tuple[str, str] | None:
    if authorization is None or not authorization.startswith("Basic "):
        return None
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, colon, password = decoded.partition(":")
    return (user, password) if colon else None


def shown(url: str) -> str:
    """`url` for messages and logs: without the user and password a URL may carry (Twilio
    accepts `https://user:pass@host/...` for webhooks)."""
    try:
        parsed = URL(url)
    except ValueError:
        return "<unreadable URL>"
    if parsed.user is None and parsed.password is None:
        return url
    return str(parsed.with_user(None))
