"""Prometheus metrics of the monitor, scraped over HTTP like Prometheus does."""

from __future__ import annotations

import math
import socket
from pathlib import Path

import aiohttp
import pytest
from monitor_runs import T0, Clock, check_spec, run_record
from prometheus_client.parser import text_string_to_metric_families

from shopper.monitor.alert_observer import AlertObserver
from shopper.monitor.history import opened_history
from shopper.monitor.metrics import (
    MetricsObserver,
    MetricsPortError,
    MonitorMetrics,
    metrics_observer,
    serving_metrics,
)
from shopper.monitor.records import SkippedRun

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(port: int) -> Samples:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}/metrics") as response,
    ):
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        text = await response.text()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def at(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


async def test_runs_skips_times_and_alert_state_are_scraped(tmp_path: Path) -> None:
    clock = Clock(T0)
    metrics = MonitorMetrics()
    with opened_history(tmp_path / "monitor.sqlite3") as history:
        alerts = AlertObserver([check_spec()], history, clock=clock)
        observer = MetricsObserver(history, metrics)
        async with serving_metrics(metrics.registry, 0, "127.0.0.1") as port:
            runs = [
                run_record(0, "passed", tth=30.0, hold=12.0),
                run_record(1, "passed", tth=150.0, hold=100.0),
                run_record(2, "failed", hold=None),
                run_record(3, "error", hold=None),
            ]
            for run in runs:
                history.add_run(run)
                await alerts.run_ended(run)
                await observer.run_ended(run)
            await observer.run_skipped(
                SkippedRun(check="support-line", scheduled_at=T0, reason="overlap")
            )
            samples = await scrape(port)
    check = "support-line"
    for outcome, count in (("passed", 2), ("failed", 1), ("error", 1)):
        assert at(samples, "shopper_monitor_runs_total", check=check, outcome=outcome) == count
    assert at(samples, "shopper_monitor_runs_reached_human_total", check=check) == 2
    assert at(samples, "shopper_monitor_skipped_runs_total", check=check, reason="overlap") == 1
    last = "shopper_monitor_last_outcome"
    assert at(samples, last, check=check, **{last: "error"}) == 1
    assert at(samples, last, check=check, **{last: "passed"}) == 0
    assert math.isnan(at(samples, "shopper_monitor_last_time_to_human_seconds", check=check))
    assert at(samples, "shopper_monitor_last_run_timestamp_seconds", check=check) == (
        runs[-1].ended_at.timestamp()
    )
    tth = "shopper_monitor_time_to_human_seconds"
    assert at(samples, f"{tth}_count", check=check) == 2
    assert at(samples, f"{tth}_sum", check=check) == 180.0
    assert at(samples, f"{tth}_bucket", check=check, le="30.0") == 1
    assert at(samples, f"{tth}_bucket", check=check, le="120.0") == 1
    assert at(samples, f"{tth}_bucket", check=check, le="180.0") == 2
    assert at(samples, "shopper_monitor_hold_seconds_count", check=check) == 2
    assert at(samples, "shopper_monitor_alert_failing", check=check) == 1


async def test_a_restarted_monitor_shows_the_last_run_and_alert_from_its_history(
    tmp_path: Path,
) -> None:
    path = tmp_path / "monitor.sqlite3"
    clock = Clock(T0)
    with opened_history(path) as history:
        alerts = AlertObserver([check_spec()], history, clock=clock)
        for n in range(3):
            run = run_record(n, "failed" if n else "passed")
            history.add_run(run)
            await alerts.run_ended(run)
    with opened_history(path) as history:
        checks = ["support-line", "quiet-line"]
        async with metrics_observer(history, checks, 0, "127.0.0.1") as (_, port):
            samples = await scrape(port)
    assert at(samples, "shopper_monitor_alert_failing", check="support-line") == 1
    assert at(samples, "shopper_monitor_alert_failing", check="quiet-line") == 0
    last = "shopper_monitor_last_outcome"
    assert at(samples, last, check="support-line", **{last: "failed"}) == 1
    assert (
        "shopper_monitor_runs_total",
        (("check", "support-line"), ("outcome", "failed")),
    ) not in (samples)


async def test_a_port_in_use_is_one_line_naming_the_option() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(MetricsPortError) as error:
            async with serving_metrics(MonitorMetrics().registry, port, "127.0.0.1"):
                pass
    assert str(error.value) == (
        f"--metrics-port {port}: cannot listen on it (address already in use); choose another port"
    )
