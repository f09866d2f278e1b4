"""The Twilio carrier's settings: credentials, the calling number, and where Twilio reaches us.

Each setting comes from the command line (`TwilioGiven`, the `--twilio-*` options), else the
environment (`SHOPPER_TWILIO_<NAME>`; the credentials also from Twilio's own
`TWILIO_ACCOUNT_SID`, `TWILIO_AUTH_TOKEN`, `TWILIO_API_KEY`, `TWILIO_API_SECRET`), else the
config file's `[twilio]` table, as the MQTT settings are. Secrets (the auth token, the API
key's secret) have no command-line option (a process list shows arguments), are kept in
fields that never print, and appear in no message this module writes: a message names the
variable or config key a value came from, never the value.

Twilio signs its webhooks and stream handshakes with the account's auth token, whichever
credential created the call, so the auth token is needed even when an API key places calls.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

from shopper.carriers.options import TwilioGiven
from shopper.config import config_table
from shopper.errors import ShopperError

TABLE = "twilio"
ENV_PREFIX = "SHOPPER_TWILIO_"
NAMES = (
    "account_sid",
    "auth_token",
    "api_key",
    "api_secret",
    "from",
    "public_url",
    "listen",
    "api_url",
    "dtmf",
)
"""Each is `[twilio] <name>` and SHOPPER_TWILIO_<NAME>; the non-secret ones also an option."""
SECRETS = frozenset({"auth_token", "api_secret"})
TWILIO_ENV = {
    "account_sid": "TWILIO_ACCOUNT_SID",
    "auth_token": "TWILIO_AUTH_TOKEN",
    "api_key": "TWILIO_API_KEY",
    "api_secret": "TWILIO_API_SECRET",
}
"""The variables Twilio's own tools read, used when shopper's own are not set."""
OPTIONS = {
    "from": "--twilio-from",
    "public_url": "--public-url",
    "listen": "--listen",
    "api_url": "--twilio-api-url",
    "dtmf": "--twilio-dtmf",
}
DEFAULT_API_URL = "https://api.twilio.com"
DEFAULT_LISTEN = ("127.0.0.1", 8765)
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
DtmfMethod = Literal["inband", "twiml"]
_ACCOUNT_SID = re.compile(r"AC[0-9a-fA-F]{32}")
_API_KEY = re.compile(r"SK[0-9a-fA-F]{32}")
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")


class TwilioSettingsError(ShopperError):
    """A Twilio setting that is missing or cannot be used; names its source and the fix."""


@dataclass(frozen=True, slots=True)
class TwilioSettings:
    account_sid: str
    auth_token: str = field(repr=False)
    """Signs and checks webhooks; also the REST password unless an API key is given."""
    from_number: str
    public_url: str
    """Base URL where Twilio reaches the built-in server (no trailing slash)."""
    listen: tuple[str, int] = DEFAULT_LISTEN
    api_url: str = DEFAULT_API_URL
    api_key: str | None = None
    api_secret: str | None = field(default=None, repr=False)
    dtmf: DtmfMethod = "inband"

    @property
    def rest_login(self) -> tuple[str, str]:
        """(username, password) for the REST API: the API key when given, else the account."""
        if self.api_key is not None and self.api_secret is not None:
            return self.api_key, self.api_secret
        return self.account_sid, self.auth_token

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every secret value, for scrubbing text that might echo one."""
        return tuple(s for s in (self.auth_token, self.api_secret) if s)


def twilio_settings(given: TwilioGiven | None = None) -> TwilioSettings:
    """The settings from `given` (the command line), the environment and the config file;
    a missing or unusable one raises TwilioSettingsError naming where to set it."""
    values = _Values(_merged(given or TwilioGiven()))
    account_sid = values.required("account_sid", _ACCOUNT_SID, "AC followed by 32 hex digits")
    auth_token = values.required("auth_token", None, "")
    api_key = values.optional("api_key", _API_KEY, "SK followed by 32 hex digits")
    api_secret = values.optional("api_secret", None, "")
    if (api_key is None) != (api_secret is None):
        missing = "api_secret" if api_secret is None else "api_key"
        raise TwilioSettingsError(
            f"an API key needs both its SID and its secret: set {values.where(missing)}"
        )
    from_number = values.required("from", _E164, "a number in E.164 form like +15550100000")
    return TwilioSettings(
        account_sid=account_sid,
        auth_token=auth_token,
        from_number=from_number,
        public_url=values.public_url(),
        listen=values.listen(),
        api_url=values.api_url(),
        api_key=api_key,
        api_secret=api_secret,
        dtmf=values.dtmf(),
    )


def _merged(given: TwilioGiven) -> dict[str, tuple[str, str]]:
    """name -> (value, where it came from): options over environment over the config file."""
    merged: dict[str, tuple[str, str]] = {}
    path, table = config_table(TABLE)
    unknown = sorted(set(table) - set(NAMES))
    if unknown:
        raise TwilioSettingsError(
            f"{path}: [{TABLE}] {unknown[0]} is not a setting; use {', '.join(NAMES)}"
        )
    for name, value in table.items():
        if not isinstance(value, str | int) or isinstance(value, bool):
            raise TwilioSettingsError(f"{path}: [{TABLE}] {name} must be a string")
        merged[name] = (str(value), f"{path}: [{TABLE}] {name}")
    for name in NAMES:
        for env in (TWILIO_ENV.get(name), ENV_PREFIX + name.upper()):
            if env and os.environ.get(env):
                merged[name] = (os.environ[env], env)
    for name, value in _given_values(given).items():
        if value is not None:
            merged[name] = (value, OPTIONS[name])
    return merged


def _given_values(given: TwilioGiven) -> dict[str, str | None]:
    return {
        "from": given.from_number,
        "public_url": given.public_url,
        "listen": given.listen,
        "api_url": given.api_url,
        "dtmf": given.dtmf,
    }


@dataclass(frozen=True, slots=True)
class _Values:
    values: dict[str, tuple[str, str]]

    def where(self, name: str) -> str:
        """Where a missing setting can be given, in the order shopper reads them."""
        places = [f"{ENV_PREFIX}{name.upper()}", f"[{TABLE}] {name} in the config file"]
        if name in TWILIO_ENV:
            places.insert(0, TWILIO_ENV[name])
        if name in OPTIONS:
            places.insert(0, OPTIONS[name])
        return " or ".join(places)

    def optional(self, name: str, pattern: re.Pattern[str] | None, form: str) -> str | None:
        if name not in self.values:
            return None
        value, source = self.values[name]
        value = value.strip()
        if not value:
            raise TwilioSettingsError(f"{source} is empty")
        if pattern is not None and not pattern.fullmatch(value):
            shown = "it" if name in SECRETS else repr(value)
            raise TwilioSettingsError(f"{source}: {shown} is not {form}")
        return value

    def required(self, name: str, pattern: re.Pattern[str] | None, form: str) -> str:
        value = self.optional(name, pattern, form)
        if value is None:
            raise TwilioSettingsError(f"a Twilio call needs {name}: set {self.where(name)}")
        return value

    def public_url(self) -> str:
        value = self.optional("public_url", None, "")
        if value is None:
            raise TwilioSettingsError(
                "a Twilio call needs a public URL: Twilio must reach shopper's built-in server "
                "for the call's status and audio, so start a tunnel to the --listen address "
                f"and set {self.where('public_url')} to its https:// URL (docs/twilio.md)"
            )
        source = self.values["public_url"][1]
        parts = urlsplit(value)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise TwilioSettingsError(
                f"{source}: {value!r} is not a URL; write https://your-tunnel.example.com"
            )
        if parts.query or parts.fragment or parts.username or parts.password:
            raise TwilioSettingsError(
                f"{source}: {value!r} must be a plain base URL, without user, query or fragment"
            )
        if parts.scheme == "http" and parts.hostname not in LOCAL_HOSTS:
            raise TwilioSettingsError(
                f"{source}: {value!r} is plain http; Twilio opens media streams only over "
                "wss://, so give the tunnel's https:// URL (plain http is for a local emulator)"
            )
        return value.rstrip("/")

    def listen(self) -> tuple[str, int]:
        value = self.optional("listen", None, "")
        if value is None:
            return DEFAULT_LISTEN
        source = self.values["listen"][1]
        host, colon, port = value.rpartition(":")
        if not colon or not port.isdigit() or not 0 <= int(port) < 65536 or not host:
            raise TwilioSettingsError(
                f"{source}: {value!r} is not HOST:PORT; write 127.0.0.1:8765 (port 0: any free)"
            )
        return host.strip("[]"), int(port)

    def api_url(self) -> str:
        value = self.optional("api_url", None, "")
        if value is None:
            return DEFAULT_API_URL
        source = self.values["api_url"][1]
        parts = urlsplit(value)
        if parts.scheme not in ("https", "http") or not parts.hostname or parts.query:
            raise TwilioSettingsError(
                f"{source}: {value!r} is not a base URL like http://127.0.0.1:8080 (an "
                "emulator of Twilio's REST API)"
            )
        return value.rstrip("/")

    def dtmf(self) -> DtmfMethod:
        value = self.optional("dtmf", None, "")
        if value is None or value == "inband":
            return "inband"
        if value == "twiml":
            return "twiml"
        source = self.values["dtmf"][1]
        raise TwilioSettingsError(f"{source}: {value!r} must be inband or twiml")


def scrub(text: str, secrets: tuple[str, ...]) -> str:
    """`text` with every secret replaced by ***: for messages that quote a server's words."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text
