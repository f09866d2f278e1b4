"""The call-speed benchmark on a much shorter call than its own (one menu, 10 s of hold).

Speed is for the benchmark's report, never asserted here; what is checked is that the call
really runs to a person and that the report's figures are the call's and the truth's.
"""

import pytest
import yaml

from shopper.bench.call_bench import BENCH_SCRIPT, CallBenchReport, run_call_bench

SHORT_IVR = {
    "name": "Short benchmark line",
    "voice": {"tts": "flite", "voice": "awb", "speed": 165},
    "start": "main",
    "answer": {"after": "2s"},
    "nodes": {
        "main": {
            "say": "Thank you for calling. To speak with a representative, press 0.",
            "menu": {"options": {"0": "queue"}},
        },
        "queue": {
            "queue": {
                "hold": "10s",
                "music": "default",
                "then": "agent",
            }
        },
        "agent": {
            "agent": {
                "greeting": "Thank you for calling, this is Dana. How can I help you today?",
                "voice": {"tts": "flite", "voice": "rms", "speed": 160},
            }
        },
    },
}

SHORT_SCRIPT = {
    "name": "Short benchmark call",
    "target": "ivr.yaml",
    "steps": [
        {"expect": {"fuzzy": "to speak with a representative press 0", "min": 0.7}},
        {"press": "0"},
        {"hold": {"max": "1m", "start_within": "15s"}},
        {"human": {"within": "1m"}},
    ],
}


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> CallBenchReport:
    folder = tmp_path_factory.mktemp("bench")
    (folder / "ivr.yaml").write_text(yaml.safe_dump(SHORT_IVR), encoding="utf-8")
    script = folder / "short.yaml"
    script.write_text(yaml.safe_dump(SHORT_SCRIPT), encoding="utf-8")
    return run_call_bench(script)


def test_the_short_call_reaches_a_person_and_is_timed(report: CallBenchReport) -> None:
    assert report.outcome == "passed"
    assert report.call_s > 10.0
    assert report.wall_s > 0.0
    assert report.speed_up == pytest.approx(report.call_s / report.wall_s)
    assert report.main_cpu_s > 0.0
    assert report.worker_cpu_s is not None and report.worker_cpu_s > 0.0
    assert report.speech_s > 2.0


def test_measurements_are_compared_with_the_sandbox_truth(report: CallBenchReport) -> None:
    assert report.truth_hold_s == pytest.approx(10.0, abs=0.05)
    assert report.hold_s == pytest.approx(report.truth_hold_s, abs=1.0)
    assert report.truth_time_to_human_s is not None and report.time_to_human_s is not None
    assert report.time_to_human_s == pytest.approx(report.truth_time_to_human_s, abs=1.0)


def test_the_report_shows_every_figure(report: CallBenchReport) -> None:
    text = report.render()
    for label in ("simulated call", "wall time", "speed-up", "main process", "speech worker"):
        assert label in text
    assert f"{report.call_s:.1f} s" in text
    assert f"{report.truth_hold_s:.2f} s true" in text
    assert report.target_wall_s is None and "target" not in text


def test_the_default_call_is_the_issues_benchmark() -> None:
    assert BENCH_SCRIPT.is_file()
    script = yaml.safe_load(BENCH_SCRIPT.read_text(encoding="utf-8"))
    ivr = yaml.safe_load((BENCH_SCRIPT.parent / script["target"]).read_text(encoding="utf-8"))
    assert ivr["nodes"]["queue"]["queue"]["hold"] == "180s"
