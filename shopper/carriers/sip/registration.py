"""REGISTER, for a PBX that takes calls only from a registered user (`[sip] register = true`).

The call registers its own SIP socket (the address and port its INVITE goes out from, so
the PBX's binding is the one the call uses) before the INVITE, through aiosipua's
`Registration`: digest authentication on 401/407, a refresh at 90 % of the interval the
registrar grants (a long hold outlives it), and 423 Interval Too Brief. When the call ends
the binding is removed (Expires: 0) and the answer waited for briefly. This module adds what
aiosipua leaves out: over UDP it does not resend a REGISTER that got no answer, so here one
is sent again (as a new transaction) at 0.5 s, then doubling to 4 s (RFC 3261 Timer E),
until a final answer or the 32 s of Timer F. Over TCP (reliable) it is sent once and the
answer waited for up to Timer F.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiosipua import SipDigestAuth
from aiosipua.registration import Registration, RegistrationState

from shopper.carriers.base import DialCause, DialFailed, EndStatus
from shopper.carriers.sip.signalling import SipDialog

log = logging.getLogger(__name__)
EXPIRES_S = 300
"""The binding interval asked for (the registrar may grant another)."""
TIMER_F_S = 32.0
"""No final answer to a REGISTER by then: the registrar is not there."""
T1_S = 0.5
T2_S = 4.0
UNREGISTER_WAIT_S = 2.0
"""How long ending the call waits for the registrar to confirm the binding is gone."""


class SipRegistration:
    """One call's binding at the registrar (the dialog's remote: the proxy or the PBX)."""

    def __init__(self, dialog: SipDialog, user: str, domain: str, password: str | None) -> None:
        auth = SipDigestAuth(user, password) if password else None
        self._user = user
        self._where = f"{dialog.remote[0]}:{dialog.remote[1]}"
        self._reliable = dialog.reliable
        self._registration = Registration(
            dialog.uac,
            f"sip:{user}@{domain}",
            dialog.remote,
            expires=EXPIRES_S,
            auth=auth,
            user_agent="shopper",
        )
        self._answered = asyncio.Event()
        self._failure: tuple[int, str] | None = None
        self._registration.on_registered = self._registered
        self._registration.on_failed = self._failed
        self._registration.on_expired = self._expired

    async def register(self) -> None:
        """Register, or raise DialFailed naming why not (nothing has been dialled yet).

        It waits with `asyncio.timeout`, not `wait_for`: on Python 3.11 `wait_for` can swallow
        a cancellation that lands as the registrar answers, and the call would then be dialled
        after a Ctrl-C."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + TIMER_F_S
        interval = TIMER_F_S if self._reliable else T1_S
        self._registration.register()
        while not self._answered.is_set():
            left = deadline - loop.time()
            if left <= 0:
                detail = f"no answer to REGISTER from {self._where} within {TIMER_F_S:g} s"
                status = EndStatus("sip", 408, "Request Timeout", detail)
                raise DialFailed("timeout", detail, status)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(interval, left)):
                    await self._answered.wait()
            if not self._answered.is_set():
                self._registration.register()  # a new transaction: the last got no answer
                interval = min(2 * interval, T2_S)
        if self._failure is not None:
            code, reason = self._failure
            raise DialFailed(*_refused(code, reason, self._user, self._registration.auth))

    async def unregister(self) -> None:
        """Remove the binding and stop refreshing it; wait briefly for the registrar."""
        if self._registration.state not in (
            RegistrationState.REGISTERED,
            RegistrationState.REGISTERING,
        ):
            self._registration._cancel_timers()
            return
        self._registration.unregister()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + UNREGISTER_WAIT_S
        gone = (RegistrationState.UNREGISTERED, RegistrationState.FAILED)
        while self._registration.state not in gone and loop.time() < deadline:
            await asyncio.sleep(0.02)  # aiosipua says nothing when the binding is removed

    def _registered(self, registration: Registration) -> None:
        log.info("registered at %s for %d s", self._where, registration.granted_expires)
        self._answered.set()

    def _failed(self, registration: Registration, code: int, reason: str) -> None:
        self._failure = (code, reason)
        self._answered.set()

    def _expired(self, registration: Registration) -> None:
        log.warning("the registration at %s expired: its refresh got no answer", self._where)


def _refused(
    code: int, reason: str, user: str, auth: SipDigestAuth | None
) -> tuple[DialCause, str, EndStatus]:
    status = f"SIP {code} {reason}".rstrip()
    if code in (401, 407) and auth is None:
        detail = (
            f"REGISTER: {status}: the registrar asks for credentials and none are configured "
            "(set [sip] user and SHOPPER_SIP_PASSWORD)"
        )
        cause: DialCause = "auth-failed"
    elif code in (401, 403, 407):
        detail = (
            f"REGISTER: {status}: the registrar rejected the credentials of user {user!r} "
            "(check the username, the password and the realm it expects)"
        )
        cause = "auth-failed"
    elif code in (404, 604):
        detail = f"REGISTER: {status}: the registrar does not know user {user!r}"
        cause = "no-route"
    else:
        detail = f"REGISTER: {status}: the registrar refused the registration"
        cause = "failed"
    return cause, detail, EndStatus("sip", code, reason, detail)
