"""Whether a check may call at a fire time: its active days and hours, its holidays and its
maintenance windows, judged on the wall clock of the schedule's time zone (zoneinfo), so
"08:00-20:00" means eight to eight local time in winter and in summer alike."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from shopper.monitor.records import SkipReason
from shopper.monitor.spec import ActiveHours, CheckSpec


def closed_reason(check: CheckSpec, moment: datetime, zone: ZoneInfo) -> SkipReason | None:
    """Why the check must not call at `moment` (aware): `maintenance`, `inactive`, or None."""
    if any(window.start <= moment < window.end for window in check.maintenance):
        return "maintenance"
    if not is_active(check.active, moment.astimezone(zone)):
        return "inactive"
    return None


def is_active(active: ActiveHours, local: datetime) -> bool:
    """Whether local time `local` is on an active day, not a holiday, in an hours range."""
    if local.isoweekday() not in active.days or local.date() in active.except_dates:
        return False
    now = local.time()
    return any(start <= now < end for start, end in active.hours)
