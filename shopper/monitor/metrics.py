"""Prometheus metrics of scheduled checks, served over HTTP for Prometheus to scrape.

Ops teams already watch everything else this way: a scrape of `/metrics` gives, per check,
the last outcome, time to human and hold (the last value, and histograms for quantiles over
any range with `histogram_quantile`), runs by outcome, skipped runs by reason and whether its
alert is failing. Counters start at zero with the process (Prometheus handles the reset);
the gauges are filled from the history at start, so a restart does not show a failing check
as fine.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import AsyncIterator, Iterable

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Enum, Gauge, Histogram
from prometheus_client.aiohttp import make_aiohttp_handler

from shopper.errors import ShopperError
from shopper.monitor.history import History
from shopper.monitor.records import AlertState, RunRecord, SkippedRun

OUTCOMES = ("passed", "failed", "error")
SECONDS_BUCKETS = (5.0, 10.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0, 300.0, 600.0, 1800.0)
"""From a quick answer to half an hour on hold; the same for time to human and hold."""


class MonitorMetrics:
    """The metric families, in a registry of their own (tests and processes never share)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.runs = Counter(
            "shopper_monitor_runs", "Scheduled runs by outcome.", ["check", "outcome"], registry=r
        )
        self.reached_human = Counter(
            "shopper_monitor_runs_reached_human",
            "Runs that reached a person.",
            ["check"],
            registry=r,
        )
        self.skipped = Counter(
            "shopper_monitor_skipped_runs",
            "Fire times that placed no call, by reason.",
            ["check", "reason"],
            registry=r,
        )
        self.last_outcome = Enum(
            "shopper_monitor_last_outcome",
            "Outcome of the check's last run.",
            ["check"],
            states=list(OUTCOMES),
            registry=r,
        )
        self.last_run = Gauge(
            "shopper_monitor_last_run_timestamp_seconds",
            "When the check's last run ended (Unix time).",
            ["check"],
            registry=r,
        )
        self.last_time_to_human = Gauge(
            "shopper_monitor_last_time_to_human_seconds",
            "Time to a person in the last run; NaN when it reached none.",
            ["check"],
            registry=r,
        )
        self.last_hold = Gauge(
            "shopper_monitor_last_hold_seconds",
            "Time on hold in the last run; NaN when not measured.",
            ["check"],
            registry=r,
        )
        self.time_to_human = Histogram(
            "shopper_monitor_time_to_human_seconds",
            "Time to a person, over runs that reached one.",
            ["check"],
            buckets=SECONDS_BUCKETS,
            registry=r,
        )
        self.hold = Histogram(
            "shopper_monitor_hold_seconds",
            "Time on hold, over runs that measured it.",
            ["check"],
            buckets=SECONDS_BUCKETS,
            registry=r,
        )
        self.alert_failing = Gauge(
            "shopper_monitor_alert_failing", "1 while the check's alert is failing.", ["check"],
            registry=r,
        )  # fmt: skip

    def record_run(self, run: RunRecord) -> None:
        check = run.check
        self.runs.labels(check, run.outcome).inc()
        self.reached_human.labels(check)  # present at 0 before the first person
        if run.reached_human:
            self.reached_human.labels(check).inc()
        if run.time_to_human_s is not None and run.reached_human:
            self.time_to_human.labels(check).observe(run.time_to_human_s)
        if run.hold_s is not None:
            self.hold.labels(check).observe(run.hold_s)
        self.show_last(run)

    def show_last(self, run: RunRecord) -> None:
        """The gauges of the check's latest run (also at start, from the history)."""
        check = run.check
        self.last_outcome.labels(check).state(run.outcome)
        self.last_run.labels(check).set(run.ended_at.timestamp())
        tth = run.time_to_human_s if run.reached_human else None
        self.last_time_to_human.labels(check).set(math.nan if tth is None else tth)
        self.last_hold.labels(check).set(math.nan if run.hold_s is None else run.hold_s)

    def record_skip(self, skip: SkippedRun) -> None:
        self.skipped.labels(skip.check, skip.reason).inc()

    def show_alert(self, check: str, state: AlertState | None) -> None:
        failing = state is not None and state.status == "failing"
        self.alert_failing.labels(check).set(1 if failing else 0)


class MetricsObserver:
    """A RunObserver that keeps `MonitorMetrics` up to date.

    Register it after the AlertObserver: it reads the alert state that one just saved."""

    def __init__(self, history: History, metrics: MonitorMetrics) -> None:
        self.history = history
        self.metrics = metrics

    def load(self, checks: Iterable[str]) -> None:
        """Gauges from the history, for a monitor that starts (or restarts) with these checks."""
        for check in checks:
            last = self.history.runs(check, last=1)
            if last:
                self.metrics.show_last(last[0])
            self.metrics.show_alert(check, self.history.alert(check))

    async def run_ended(self, run: RunRecord) -> None:
        self.metrics.record_run(run)
        self.metrics.show_alert(run.check, self.history.alert(run.check))

    async def run_skipped(self, skip: SkippedRun) -> None:
        self.metrics.record_skip(skip)


class MetricsPortError(ShopperError):
    """The metrics port cannot be listened on (taken, privileged, or not a port)."""


@contextlib.asynccontextmanager
async def serving_metrics(
    registry: CollectorRegistry, port: int, host: str = "0.0.0.0"
) -> AsyncIterator[int]:
    """Serve `/metrics` on `host:port` in this event loop; yields the port (0: any free one)."""
    app = web.Application()
    app.router.add_get("/metrics", make_aiohttp_handler(registry))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        try:
            await web.TCPSite(runner, host, port).start()
        except (OSError, OverflowError) as error:
            errno = error.errno if isinstance(error, OSError) else None
            reason = os.strerror(errno).lower() if errno else str(error)
            raise MetricsPortError(
                f"--metrics-port {port}: cannot listen on it ({reason}); choose another port"
            ) from None
        bound: int = runner.addresses[0][1]
        yield bound
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def metrics_observer(
    history: History, checks: Iterable[str], port: int, host: str = "0.0.0.0"
) -> AsyncIterator[tuple[MetricsObserver, int]]:
    """The monitor's metrics in one step: filled from the history, served on `port` while
    the block runs, kept current by the observer it yields with the port it listens on
    (register the observer after the AlertObserver)."""
    observer = MetricsObserver(history, MonitorMetrics())
    observer.load(checks)
    async with serving_metrics(observer.metrics.registry, port, host) as bound:
        yield observer, bound
