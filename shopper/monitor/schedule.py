"""Reading a schedule file (`shopper monitor SCHEDULE.yaml`) into a `Schedule`, or saying in
one line what is wrong.

Like call scripts, a schedule is checked completely before the monitor starts — every
check's cadence, hours, windows and rules, and every call script it names (loaded, with its
own `FILE:LINE` errors) — because a typo found at 3 a.m. by the first run of a check is a
night without monitoring. Every problem is `FILE:LINE: message (how to fix)`.
"""

from __future__ import annotations

import dataclasses
import re
import zoneinfo
from collections.abc import Callable, Mapping
from datetime import date, datetime, time
from pathlib import Path
from typing import TypeVar, cast, get_args
from zoneinfo import ZoneInfo

from shopper.errors import ShopperError
from shopper.monitor.cadence import WallClockCron
from shopper.monitor.spec import (
    ActiveHours,
    AlertRule,
    Cadence,
    CheckSpec,
    Cron,
    Every,
    Lines,
    Maintenance,
    Retries,
    Schedule,
    SloMetric,
    SloRule,
)
from shopper.paths import PathError, resolve_reference
from shopper.scripts.loader import load_script
from shopper.yamlfile import Where, YamlChecker, YamlFile, YamlFileError, closest, load_yaml

TOP_KEYS = ("timezone", "checks", "lines", "keep_days")
CHECK_KEYS = (
    "script",
    "every",
    "cron",
    "jitter",
    "active",
    "maintenance",
    "retries",
    "alert",
    "slo",
    "webhooks",
)
ACTIVE_KEYS = ("days", "hours", "except")
ALERT_KEYS = ("failures", "of_last", "recover_after", "renotify")
LINES_KEYS = ("max_parallel", "per_target", "cps")
SLO_METRICS: tuple[SloMetric, ...] = get_args(SloMetric)
CHECK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
"""A check's name names folders, MQTT topic levels and run ids: no spaces, slashes or `+#`."""
DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
HOURS_RANGE = re.compile(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})")

_EXAMPLES = {
    "checks": "{support-line: {script: billing-human.yaml, every: 5m}}",
    "check": "{script: billing-human.yaml, every: 5m}",
    "active": '{days: Mon-Fri, hours: "08:00-20:00", except: [2026-12-25]}',
    "window": '{from: "2026-12-31T22:00", to: "2027-01-01T02:00"}',
    "retries": "{count: 1, after: 30s}",
    "alert": "{failures: 3, of_last: 5, recover_after: 2, renotify: 1h}",
    "slo": "{time_to_human: {p95_max: 3m, window: 1h}}",
    "lines": "{max_parallel: 4, per_target: 1, cps: 1}",
}


T = TypeVar("T")
_KEEP_DAYS = cast(
    float, next(f.default for f in dataclasses.fields(Schedule) if f.name == "keep_days")
)


class ScheduleError(ShopperError):
    """A schedule file that cannot be used; the message is `FILE:LINE: problem (fix)`."""


def load_schedule(path: Path) -> Schedule:
    """The schedule in `path`, fully checked, its scripts' paths absolute."""
    try:
        document = load_yaml(path)
    except YamlFileError as error:
        raise ScheduleError(str(error)) from None
    return _Reader(document).schedule()


class _Reader(YamlChecker):
    error = ScheduleError
    document_label = "the schedule"
    examples = _EXAMPLES
    top_hint = " (start with timezone: and checks:)"

    def __init__(self, document: YamlFile) -> None:
        super().__init__(document)
        self.base = document.path.resolve().parent
        self.zone = ZoneInfo("UTC")

    def schedule(self) -> Schedule:
        if self.document.data is None:
            self.fail((), "the file is empty (see docs/monitor.md for the format)")
        top = self.mapping(self.document.data, (), TOP_KEYS, required=("timezone", "checks"))
        self.zone = self.timezone(top["timezone"])
        checks = top["checks"]
        if not isinstance(checks, dict) or not checks:
            self.fail(
                ("checks",),
                f"checks must be a mapping of named checks, like {_EXAMPLES['checks']}",
            )
        return Schedule(
            path=self.document.path.resolve(),
            timezone=self.zone,
            checks=tuple(self.check(name, spec) for name, spec in checks.items()),
            lines=self.lines(top["lines"]) if "lines" in top else Lines(),
            keep_days=self.optional(top, "keep_days", (), self.positive, _KEEP_DAYS),
        )

    def timezone(self, value: object) -> ZoneInfo:
        at = ("timezone",)
        name = self.text(value, at)
        try:
            return ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            suggestion = closest(name, sorted(zoneinfo.available_timezones()))
            hint = f"did you mean {suggestion}? " if suggestion else ""
            self.fail(
                at, f"unknown time zone {name!r} ({hint}use an IANA name like America/Chicago)"
            )

    # -- one check ----------------------------------------------------------------------

    def check(self, name: object, value: object) -> CheckSpec:
        at: Where = ("checks", name)
        if not isinstance(name, str) or not CHECK_NAME.fullmatch(name):
            self.fail(
                at,
                f"check name {name!r}: use up to 64 letters, digits, '.', '_' or '-' "
                "(it names folders and MQTT topics)",
                key=True,
            )
        fields = self.mapping(
            value, at, CHECK_KEYS, ("script",), label=f"check {name}", example="check"
        )
        cadence = self.cadence(fields, at, name)
        jitter = self.optional(fields, "jitter", at, self.duration, 0.0)
        if isinstance(cadence, Every) and jitter >= cadence.seconds:
            self.fail(
                (*at, "jitter"),
                f"jitter {jitter:g} s must be shorter than every: {cadence.seconds:g} s "
                "(else runs overlap and are skipped)",
            )
        return CheckSpec(
            name=name,
            script=self.script(fields["script"], (*at, "script")),
            cadence=cadence,
            jitter_s=jitter,
            active=self.optional(fields, "active", at, self.active, ActiveHours()),
            maintenance=self.optional(fields, "maintenance", at, self.maintenance, ()),
            retries=self.optional(fields, "retries", at, self.retries, Retries()),
            alert=self.optional(fields, "alert", at, self.alert, AlertRule()),
            slos=self.optional(fields, "slo", at, self.slos, ()),
            webhooks=self.optional(fields, "webhooks", at, self.webhooks, ()),
        )

    def cadence(self, fields: Mapping[str, object], at: Where, name: str) -> Cadence:
        given = [key for key in ("every", "cron") if key in fields]
        if len(given) != 1:
            where = (*at, "cron") if len(given) == 2 else at
            self.fail(
                where,
                f"check {name} needs exactly one of every: (like every: 5m) or cron: "
                '(like cron: "*/5 8-19 * * 1-5")',
                key=True,
            )
        if given[0] == "every":
            return Every(self.duration(fields["every"], (*at, "every"), positive=True))
        expression = self.text(fields["cron"], (*at, "cron"))
        try:
            WallClockCron(expression, self.zone)
        except ValueError as error:
            self.fail(
                (*at, "cron"),
                f"cron {expression!r}: {error} (five fields: minute hour day month weekday, "
                'like "*/5 8-19 * * 1-5")',
            )
        return Cron(expression)

    def script(self, value: object, at: Where) -> Path:
        reference = self.text(value, at)
        try:
            path = resolve_reference(reference, self.base)
        except PathError as error:
            self.fail(at, f"script {error}")
        if not path.is_file():
            self.fail(
                at,
                f"script {reference!r} not found: looked for {path} "
                "(relative paths start at the schedule's folder)",
            )
        load_script(path)  # its own FILE:LINE errors, before the monitor starts
        return path

    def active(self, value: object, at: Where) -> ActiveHours:
        fields = self.mapping(value, at, ACTIVE_KEYS)
        default = ActiveHours()
        return ActiveHours(
            days=self.optional(fields, "days", at, self.days, default.days),
            hours=self.optional(fields, "hours", at, self.hours, default.hours),
            except_dates=self.optional(fields, "except", at, self.dates, frozenset()),
        )

    def days(self, value: object, at: Where) -> frozenset[int]:
        items = value if isinstance(value, list) else str(value).split(",")
        days: set[int] = set()
        for item in items:
            first, _, last = str(item).strip().partition("-")
            start, end = self.day(first, at), self.day(last or first, at)
            span = (end - start) % 7
            days.update((start - 1 + offset) % 7 + 1 for offset in range(span + 1))
        return frozenset(days)

    def day(self, text: str, at: Where) -> int:
        """1 (Monday) to 7 from a day's name or its first three letters."""
        for number, name in enumerate(DAY_NAMES, start=1):
            if text.strip().lower() in (name, name[:3]):
                return number
        self.fail(at, f"days: {text!r} is not a day (write Mon-Fri, Sat,Sun or [Mon, Wed, Fri])")

    def hours(self, value: object, at: Where) -> tuple[tuple[time, time], ...]:
        items = value if isinstance(value, list) else [value]
        ranges = []
        for index, item in enumerate(items):
            where = (*at, index) if isinstance(value, list) else at
            found = HOURS_RANGE.fullmatch(item.strip()) if isinstance(item, str) else None
            if found is None:
                self.fail(
                    where,
                    f'hours: {item!r} is not a range of local times (write "08:00-20:00", quoted, '
                    'or a list like ["08:00-12:00", "13:00-17:00"])',
                )
            start = self.clock_time(int(found[1]), int(found[2]), where, item)
            end = self.clock_time(int(found[3]), int(found[4]), where, item)
            if end <= start:
                self.fail(
                    where,
                    f"hours: {item!r} ends before it starts (a range past midnight is two: "
                    '["22:00-24:00", "00:00-06:00"])',
                )
            ranges.append((start, end))
        return tuple(ranges)

    def clock_time(self, hour: int, minute: int, at: Where, written: object) -> time:
        if (hour, minute) == (24, 0):
            return time.max
        if hour > 23 or minute > 59:
            self.fail(at, f"hours: {written!r} has no such time of day (00:00 to 24:00)")
        return time(hour, minute)

    def dates(self, value: object, at: Where) -> frozenset[date]:
        items = value if isinstance(value, list) else [value]
        found: set[date] = set()
        for index, item in enumerate(items):
            where = (*at, index) if isinstance(value, list) else at
            if isinstance(item, date) and not isinstance(item, datetime):
                found.add(item)
                continue
            try:
                found.add(date.fromisoformat(str(item)))
            except ValueError:
                self.fail(where, f"except: {item!r} is not a date (write it like 2026-12-25)")
        return frozenset(found)

    def maintenance(self, value: object, at: Where) -> tuple[Maintenance, ...]:
        items = value if isinstance(value, list) else None
        if items is None:
            self.fail(at, f"maintenance must be a list of windows, like [{_EXAMPLES['window']}]")
        windows = []
        for index, item in enumerate(items):
            where = (*at, index)
            window = self.mapping(
                item, where, ("from", "to"), ("from", "to"), label="window", example="window"
            )
            start = self.moment(window["from"], (*where, "from"))
            end = self.moment(window["to"], (*where, "to"))
            if end <= start:
                self.fail(
                    (*where, "to"),
                    f"the window ends ({window['to']}) before it starts ({window['from']})",
                )
            windows.append(Maintenance(start=start, end=end))
        return tuple(windows)

    def moment(self, value: object, at: Where) -> datetime:
        """A local date and time (the schedule's zone) or one with an offset."""
        if isinstance(value, datetime):
            moment = value
        elif isinstance(value, date):
            moment = datetime(value.year, value.month, value.day)
        else:
            try:
                moment = datetime.fromisoformat(str(value))
            except ValueError:
                self.fail(
                    at,
                    f"{at[-1]}: {value!r} is not a date and time (write it like "
                    '"2026-12-31T22:00", local to the schedule\'s timezone)',
                )
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=self.zone)

    def retries(self, value: object, at: Where) -> Retries:
        fields = self.mapping(value, at, ("count", "after"), ("count",))
        return Retries(
            count=self.whole(fields["count"], (*at, "count"), minimum=0),
            after_s=self.optional(fields, "after", at, self.duration, Retries().after_s),
        )

    def alert(self, value: object, at: Where) -> AlertRule:
        fields = self.mapping(value, at, ALERT_KEYS)
        default = AlertRule()
        failures = self.optional(fields, "failures", at, self.count, default.failures)
        of_last = self.optional(fields, "of_last", at, self.count, failures)
        if of_last < failures:
            self.fail(
                (*at, "of_last"),
                f"of_last: {of_last} is fewer than failures: {failures} (of_last counts the "
                "runs the failures are among)",
            )
        return AlertRule(
            failures=failures,
            of_last=of_last,
            recover_after=self.optional(
                fields, "recover_after", at, self.count, default.recover_after
            ),
            renotify_s=self.optional(fields, "renotify", at, self.span, default.renotify_s),
        )

    def slos(self, value: object, at: Where) -> tuple[SloRule, ...]:
        fields = self.mapping(value, at, SLO_METRICS)
        rules = []
        for metric_name, spec in fields.items():
            metric = cast(SloMetric, metric_name)
            where = (*at, metric)
            if metric == "reached_human":
                rule = self.mapping(spec, where, ("min_share", "window"), ("min_share", "window"))
                share = self.number(rule["min_share"], (*where, "min_share"), minimum=0)
                if share > 1:
                    self.fail(
                        (*where, "min_share"),
                        f"min_share {share:g} is a share from 0 to 1 (0.9 for 90 %)",
                    )
                window = self.span(rule["window"], (*where, "window"))
                rules.append(SloRule(metric=metric, window_s=window, min_share=share))
            else:
                rule = self.mapping(spec, where, ("p95_max", "window"), ("p95_max", "window"))
                rules.append(
                    SloRule(
                        metric=metric,
                        window_s=self.span(rule["window"], (*where, "window")),
                        p95_max=self.duration(rule["p95_max"], (*where, "p95_max")),
                    )
                )
        return tuple(rules)

    def webhooks(self, value: object, at: Where) -> tuple[str, ...]:
        items = value if isinstance(value, list) else [value]
        urls = []
        for index, item in enumerate(items):
            where = (*at, index) if isinstance(value, list) else at
            if not isinstance(item, str) or not re.match(r"https?://[^\s/]+", item):
                self.fail(where, f"webhooks: {item!r} is not an http:// or https:// URL")
            urls.append(item)
        return tuple(urls)

    def lines(self, value: object) -> Lines:
        at = ("lines",)
        fields = self.mapping(value, at, LINES_KEYS)
        default = Lines()
        return Lines(
            max_parallel=self.optional(
                fields, "max_parallel", at, self.count, default.max_parallel
            ),
            per_target=self.optional(fields, "per_target", at, self.count, default.per_target),
            cps=self.optional(fields, "cps", at, self.positive, default.cps),
        )

    # -- shapes -------------------------------------------------------------------------

    def optional(
        self,
        fields: Mapping[str, object],
        name: str,
        at: Where,
        read: Callable[[object, Where], T],
        default: T,
    ) -> T:
        """`read` the value of key `name` when it is there, else `default`."""
        return read(fields[name], (*at, name)) if name in fields else default

    def count(self, value: object, at: Where) -> int:
        return self.whole(value, at, minimum=1)

    def span(self, value: object, at: Where) -> float:
        return self.duration(value, at, positive=True)

    def whole(self, value: object, at: Where, *, minimum: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.fail(at, f"{at[-1]} must be a whole number of {minimum} or more, not {value!r}")
        return value

    def positive(self, value: object, at: Where) -> float:
        return self.number(value, at, minimum=0, above=True)

    def number(self, value: object, at: Where, *, minimum: float, above: bool = False) -> float:
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or value < minimum
            or (above and value == minimum)
            or value != value  # NaN
            or value == float("inf")
        ):
            relation = "above" if above else "at least"
            self.fail(at, f"{at[-1]} must be a number {relation} {minimum:g}, not {value!r}")
        return float(value)
