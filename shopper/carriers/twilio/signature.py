"""Whether a request really comes from Twilio: its `X-Twilio-Signature`.

Twilio signs every webhook (the status callbacks) and every media stream's WebSocket
handshake with the account's auth token, over the URL it was given (the public URL, not the
address the tunnel forwards to) and, for form POSTs, the posted parameters. The official
`twilio.request_validator.RequestValidator` checks it. Anything that fails the check is
refused: the server must never route a stranger's audio or status into a call.
"""

from __future__ import annotations

from collections.abc import Mapping

from twilio.request_validator import RequestValidator

SIGNATURE_HEADER = "X-Twilio-Signature"


class SignatureChecker:
    """Checks requests against the public base URL they were addressed to."""

    def __init__(self, auth_token: str, public_url: str) -> None:
        self._validator = RequestValidator(auth_token)
        self._public_url = public_url.rstrip("/")

    def public(self, path_qs: str) -> str:
        """The URL Twilio signed for a request that reached us at `path_qs`."""
        return self._public_url + path_qs

    def valid(self, url: str, params: Mapping[str, str], signature: str | None) -> bool:
        if not signature:
            return False
        return bool(self._validator.validate(url, dict(params), signature))


def sign(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """The signature Twilio would send for `url` and `params` (tests and emulators)."""
    return str(RequestValidator(auth_token).compute_signature(url, dict(params)))
