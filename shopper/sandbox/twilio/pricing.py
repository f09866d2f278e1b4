"""What the emulator charges for a call, reported as Twilio's Calls resource reports it.

Twilio bills an outbound call per started minute from answer and puts the charge on the Call
resource once the call is over: `price`, a negative decimal string ("-0.02800"), in
`price_unit` ("USD"). Calls never answered (busy, no-answer, failed, canceled) are not billed
and keep a null price. The emulator prices a call as soon as it ends (Twilio takes a few
seconds) at a made-up rate, `DEFAULT_RATE` or `--price-per-minute`: Twilio's real rate depends
on the destination and changes, so this one is only for trying code that reads prices.
"""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation

from shopper.errors import ShopperError

DEFAULT_RATE = Decimal("0.0140")
"""Made up: USD per started minute of an answered call (not Twilio's tariff)."""
PRICE_UNIT = "USD"
MAX_RATE = Decimal(100)


class RateError(ShopperError):
    """A `--price-per-minute` that is not a price."""


def call_price(status: str, duration_s: int | None, per_minute: Decimal) -> str | None:
    """The Call resource's `price` for a call that ended with `status` after `duration_s`
    seconds from answer: each started minute at `per_minute`, negative; None when not billed."""
    if status != "completed" or duration_s is None:
        return None
    minutes = max(1, math.ceil(duration_s / 60))
    return f"{-(per_minute * minutes):.5f}" if per_minute else f"{Decimal(0):.5f}"


def parse_rate(text: str) -> Decimal:
    """`0.0140`: a price per minute in USD, 0 or more."""
    try:
        rate = Decimal(text.strip())
    except InvalidOperation:
        raise RateError(f"--price-per-minute {text!r}: give a number like 0.0140") from None
    if not rate.is_finite() or not 0 <= rate <= MAX_RATE:
        raise RateError(f"--price-per-minute {text!r}: give a number from 0 to {MAX_RATE}")
    return rate
