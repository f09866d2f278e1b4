"""`shopper monitor` as an operator runs it, every part at once: a real process on a schedule,
real calls through the sandbox, a real mosquitto. The line is made to fail (the person is
gone from the IVR), the alert is raised, published over MQTT and shown on the dashboard; the
line is mended, the alert clears the same ways; Prometheus and `monitor status` agree."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from mosquitto import Collector, Mosquitto, free_port

from shopper.monitor.history import opened_history

pytestmark = pytest.mark.slow

DATA = Path(__file__).parent / "data" / "mqtt"
NOBODY = """
  closed:
    say: "Sorry, all of our staff have gone home. Goodbye."
    hangup: true
"""
SCHEDULE = """timezone: America/Chicago
checks:
  quick:
    script: quick-line.yaml
    every: 2s
    alert: {failures: 1, recover_after: 1}
"""


def alerts(collector: Collector) -> list[dict[str, Any]]:
    return collector.on("/alerts/quick")


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        return str(response.read().decode())


async def test_an_alert_is_raised_and_cleared_over_mqtt_metrics_and_the_dashboard(
    tmp_path: Path, broker: Mosquitto
) -> None:
    good_ivr = (DATA / "ivr.yaml").read_text()
    ivr = tmp_path / "ivr.yaml"
    ivr.write_text(good_ivr.replace("then: agent", "then: closed") + NOBODY)
    (tmp_path / "quick-line.yaml").write_text((DATA / "quick-line.yaml").read_text())
    (tmp_path / "schedule.yaml").write_text(SCHEDULE)
    out, state, metrics_port = tmp_path / "out", tmp_path / "state", free_port()
    broker.start()
    collector = Collector(broker, "shopper/#")
    collecting = asyncio.create_task(collector.collect())
    await collector.wait_for(lambda: collector.ready, 20)
    process = await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "shopper", "monitor", str(tmp_path / "schedule.yaml")],
        *["--engine", "moonshine", "--out", str(out), "--state-dir", str(state)],
        *["--mqtt", broker.url(), "--mqtt-site", "lab", "--metrics-port", str(metrics_port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "SHOPPER_CONFIG": str(tmp_path / "none.toml")},
    )
    try:
        await collector.wait_for(
            lambda: any(a["status"] == "failing" for a in alerts(collector)), 240
        )
        raised = alerts(collector)[0]
        assert raised["change"] == "raised" and raised["previous"] is None
        (evidence,) = raised["runs"]
        assert evidence["outcome"] == "failed" and Path(evidence["report"]).is_file()
        failing_metrics = await asyncio.to_thread(scrape, metrics_port)
        assert 'shopper_monitor_alert_failing{check="quick"} 1.0' in failing_metrics

        ivr.write_text(good_ivr)  # the line is mended
        await collector.wait_for(lambda: alerts(collector)[-1]["status"] == "ok", 240)
        cleared = alerts(collector)[-1]
        assert cleared["change"] == "recovered" and cleared["previous"] == "failing"
        assert [run["outcome"] for run in cleared["runs"]] == ["passed"]
        ok_metrics = await asyncio.to_thread(scrape, metrics_port)
        assert 'shopper_monitor_alert_failing{check="quick"} 0.0' in ok_metrics
        assert 'shopper_monitor_runs_total{check="quick",outcome="passed"}' in ok_metrics
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), 120)
        collecting.cancel()
    assert process.returncode == 143, stderr.decode()
    assert "Traceback" not in stderr.decode()

    topics = {topic for topic, _, _ in collector.messages}
    assert "shopper/v1/lab/alerts/quick" in topics
    with opened_history(state / "monitor.sqlite3") as history:
        runs = history.runs("quick")
        saved = history.alerts("quick")
    assert [alert.status for alert in saved][:2] == ["failing", "ok"]
    assert runs[0].outcome == "failed" and any(run.outcome == "passed" for run in runs)
    results = [message["result"] for message in collector.on("/results/quick-line")]
    published = {result["call_id"]: result["run_id"] for result in results}  # QoS 1: folded
    assert {run.call_id: run.run_id for run in runs}.items() <= published.items()

    page = (out / "dashboard.html").read_text()
    period = f"[{round(saved[0].since.timestamp())}, {round(saved[1].since.timestamp())}]"
    assert period in page.replace(",", ", ").replace(",  ", ", ")  # the shaded alert period
    for run in runs:
        assert run.evidence is not None
        assert f"{Path(run.evidence).relative_to(out)}/report.html" in page

    status = subprocess.run(
        [sys.executable, "-m", "shopper", "monitor", "status", "--state-dir", str(state)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert status.returncode == 0, status.stderr
    row = next(line for line in status.stdout.splitlines() if "quick" in line)
    assert "ok" in row.lower() and "%" in row

    retained = Collector(broker, "shopper/v1/lab/alerts/#")
    retained.identifier = "late-subscriber"
    late = asyncio.create_task(retained.collect())
    await retained.wait_for(lambda: bool(retained.messages), 20)
    late.cancel()
    (_, was_retained, payload) = retained.messages[0]
    assert was_retained and payload["status"] == "ok" and payload["id"] == cleared["id"]
    assert json.dumps(payload)  # a document, not a fragment
