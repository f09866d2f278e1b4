"""A call's folder: every file written, each readable by the tool it is meant for."""

from __future__ import annotations

import json
import re
import wave
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pytest
from page_parts import HOSTILE, page_parts, shown_whole

from shopper.asr.types import Utterance, Word
from shopper.audio.dtmf import dtmf_sequence
from shopper.audio.files import read_audio
from shopper.audio.frame import TELEPHONY_RATE, Samples
from shopper.audio.wav_stream import GrowingWav
from shopper.bench.corpus import prompt_files
from shopper.engine.human import HumanEvidence
from shopper.engine.timeline import (
    Answered,
    CallbackOffered,
    DeadAir,
    Dialing,
    Ended,
    ExpectMatched,
    HoldEnded,
    HoldStarted,
    HumanDetected,
    HumanEvidenceWeighed,
    KeyAcknowledged,
    KeySent,
    Said,
    SoundRun,
    StepFinished,
    Timeline,
    ToneHeard,
    UtteranceHeard,
)
from shopper.errors import ShopperError
from shopper.results.html_report import GUTTER, PLOT_WIDTH, render_report
from shopper.results.record import RESULT_SCHEMA, CallRecord
from shopper.results.writer import (
    RESULT_KEYS,
    ResultWriteError,
    default_call_dir,
    result_schema,
    write_call,
)
from shopper.sandbox.sounds import moh_files

INJECTION = "hi <script>alert('x')</script> & welcome"
ALL_FILES = {
    "result.json",
    "recording.wav",
    "transcript.json",
    "transcript.vtt",
    "report.html",
    "sandbox-truth.json",
}


def _prompt(stem: str) -> Samples:
    path = next(p for p in prompt_files() if p.stem == stem)
    return read_audio(path)


def _s(samples: int) -> float:
    return round(samples / TELEPHONY_RATE, 3)


def make_record(truth: bool = True) -> CallRecord:
    """A call to a directory IVR: welcome, press 0, hold on music, a person answers."""
    rate = TELEPHONY_RATE
    far_parts: list[Samples] = []
    marks: dict[str, tuple[int, int]] = {}

    def far(name: str, samples: Samples) -> None:
        start = sum(len(p) for p in far_parts)
        far_parts.append(samples)
        marks[name] = (start, start + len(samples))

    far("ringing", np.zeros(rate, dtype=np.int16))
    far("welcome", _prompt("dir-welcome"))
    far("menu", _prompt("forhelp"))
    far("gap", np.zeros(rate // 2, dtype=np.int16))
    far("please-hold", _prompt("pls-hold-while-try"))
    far("music", read_audio(moh_files()[0])[: 4 * rate])
    far("person", _prompt("hello"))
    far("quiet", np.zeros(rate, dtype=np.int16))
    far_audio = np.concatenate(far_parts)

    near_audio = np.zeros_like(far_audio)
    keys = dtmf_sequence("0")
    key_at = marks["gap"][0] + 800
    near_audio[key_at : key_at + len(keys)] = keys
    said = _prompt("hello")
    said_at = marks["person"][1] + 400
    near_audio[said_at : said_at + len(said)] = said[: len(near_audio) - said_at]
    recording = np.stack([far_audio, near_audio], axis=1)

    welcome, menu = marks["welcome"], marks["menu"]
    hold_start, hold_end = marks["please-hold"][1], marks["music"][1]
    person = marks["person"]
    end = len(far_audio)
    transcript = [
        Utterance(welcome[0], welcome[1], "welcome to the directory", 0.91, True),
        Utterance(
            menu[0],
            menu[1],
            "press zero for help",
            0.88,
            True,
            (
                Word(menu[0], menu[0] + 2400, "press", 0.9),
                Word(menu[0] + 2400, menu[0] + 5000, "zero", 0.85),
                Word(menu[0] + 5000, menu[0] + 7000, "for", 0.9),
                Word(menu[0] + 7000, menu[1], "help", 0.88),
            ),
        ),
        Utterance(*marks["please-hold"], "please hold while we try to connect you", 0.8, True),
        Utterance(person[0], person[1], INJECTION + " — café", 0.7, True),
    ]

    timeline = Timeline()
    timeline.add(Dialing(0, carrier="sandbox", call_id="call-1"))
    timeline.add(ToneHeard(0, kind="ringback", end_s=_s(rate)))
    timeline.add(Answered(rate))
    for name, kind in [
        ("welcome", "speech"),
        ("menu", "speech"),
        ("gap", "silence"),
        ("please-hold", "speech"),
        ("music", "music"),
        ("person", "speech"),
        ("quiet", "silence"),
    ]:
        timeline.add(SoundRun(marks[name][0], kind=kind, end_s=_s(marks[name][1])))
    for utterance in transcript:
        timeline.add(
            UtteranceHeard(
                utterance.start,
                end_s=_s(utterance.end),
                text=utterance.text,
                confidence=utterance.confidence,
            )
        )
    timeline.add(
        ExpectMatched(welcome[1], heard="welcome to the directory", score=0.97, method="text")
    )
    timeline.add(StepFinished(welcome[1], index=1, step="expect 'welcome'", outcome="passed"))
    timeline.add(KeySent(key_at, digits="0"))
    timeline.add(KeyAcknowledged(key_at + 2400, digits="0", after_s=0.3))
    timeline.add(StepFinished(key_at + 2400, index=2, step="press 0", outcome="passed"))
    timeline.add(HoldStarted(hold_start))
    timeline.add(CallbackOffered(hold_start + rate, text="press 1 for a callback"))
    timeline.add(HoldEnded(hold_end))
    evidence = HumanEvidence(after_hold=True, new_speech=True, greeting=True, responsive=True)
    timeline.add(HumanEvidenceWeighed(person[0], text=INJECTION, evidence=evidence))
    timeline.add(Said(said_at, text="hello, can you hear me?", duration_s=_s(len(said))))
    timeline.add(HumanDetected(person[0], confidence=0.95, text=INJECTION))
    timeline.add(StepFinished(person[1], index=3, step="human within 60 s", outcome="passed"))
    timeline.add(DeadAir(marks["quiet"][0], limit_s=0.5))
    timeline.add(Ended(end, by="remote", cause="hangup"))

    result: dict[str, Any] = {
        "schema": RESULT_SCHEMA,
        "call_id": "call-1",
        "shopper_version": "0.1.0",
        "started_at": "2024-05-06T09:00:00Z",
        "script": {"name": "directory reaches a person", "file": "scripts/acme/directory.yaml"},
        "target": "sandbox:acme",
        "carrier": "sandbox",
        "engine": "moonshine:base-en",
        "outcome": "failed",
        "failure": {"kind": "dead-air", "step": None, "message": "no sound for 0.5 s"},
        "ended_by": "remote",
        "end_cause": "hangup",
        "signalling": None,
        "metrics": {
            "answer_s": 1.0,
            "first_prompt_s": _s(welcome[0] - rate),
            "time_to_human_s": _s(person[0] - rate),
            "hold_s": _s(hold_end - hold_start),
            "duration_s": _s(end),
            "dtmf_sent": 1,
            "menus": 1,
            "dead_air_s": 1.0,
            "rtp": None,
        },
        "human": {
            "detected": True,
            "at_s": _s(person[0]),
            "confidence": 0.95,
            "evidence": evidence.to_json(),
        },
        "reached": "human",
        "voicemail": None,
        "callback_offered": True,
        "holds": [{"start_s": _s(hold_start), "end_s": _s(hold_end)}],
        "steps": [
            {
                "index": 1,
                "step": "expect 'welcome'",
                "outcome": "passed",
                "start_s": 0.0,
                "end_s": _s(welcome[1]),
                "detail": None,
                "decision": {
                    "method": "text",
                    "score": 0.97,
                    "margin": None,
                    "contrast": None,
                    "heard": "welcome to the directory",
                },
            },
            {
                "index": 2,
                "step": "press 0",
                "outcome": "passed",
                "start_s": _s(welcome[1]),
                "end_s": _s(key_at + 2400),
                "detail": "acknowledged after 0.3 s",
                "decision": None,
            },
            {
                "index": 3,
                "step": "human within 60 s",
                "outcome": "passed",
                "start_s": _s(key_at + 2400),
                "end_s": _s(person[1]),
                "detail": INJECTION,
                "decision": None,
            },
            {
                "index": 4,
                "step": "say 'thanks'",
                "outcome": "skipped",
                "start_s": None,
                "end_s": None,
                "detail": None,
                "decision": None,
            },
        ],
        "assertions": [
            {"name": "time_to_human", "limit": 60.0, "actual": _s(person[0] - rate), "passed": True}
        ],
        "transcript": [
            {
                "start_s": round(u.start_s, 3),
                "end_s": round(u.end_s, 3),
                "text": u.text,
                "confidence": u.confidence,
            }
            for u in transcript
        ],
        "events": timeline.to_json(),
        "carrier_call": None,
        "recording": "recording.wav",
    }
    # The runner builds the document in its own order; the writer puts it in the documented one.
    shuffled = dict(reversed(list(result.items())))
    truth_doc = {"ivr": "Acme", "agent_first_spoke_s": _s(person[0])} if truth else None
    return CallRecord(shuffled, GrowingWav.of(recording), transcript, timeline, truth_doc)


@pytest.fixture(scope="module")
def record() -> CallRecord:
    return make_record()


@pytest.fixture(scope="module")
def call_dir(record: CallRecord, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("results") / "2024-05-06" / "call-1"
    assert write_call(record, out) == out / "result.json"
    return out


def test_every_file_is_written_and_no_temporaries_remain(call_dir: Path) -> None:
    assert {p.name for p in call_dir.iterdir()} == ALL_FILES


def test_truth_file_only_for_simulated_calls(tmp_path: Path) -> None:
    write_call(make_record(truth=False), tmp_path)
    assert "sandbox-truth.json" not in {p.name for p in tmp_path.iterdir()}
    assert "sandbox truth" not in (tmp_path / "report.html").read_text(encoding="utf-8")


def test_result_json_validates_and_keeps_the_documented_order(call_dir: Path) -> None:
    text = (call_dir / "result.json").read_text(encoding="utf-8")
    document = json.loads(text)
    jsonschema.Draft202012Validator(result_schema()).validate(document)
    assert tuple(document) == RESULT_KEYS
    assert "café" in text  # UTF-8 as is, not \u escapes
    assert text.startswith('{\n  "schema"')


def test_truth_is_written_as_given(call_dir: Path, record: CallRecord) -> None:
    truth = json.loads((call_dir / "sandbox-truth.json").read_text(encoding="utf-8"))
    assert truth == record.truth


def test_recording_reads_back_stereo_sample_for_sample(call_dir: Path, record: CallRecord) -> None:
    with wave.open(str(call_dir / "recording.wav"), "rb") as wav:
        assert wav.getnchannels() == 2
        assert wav.getframerate() == TELEPHONY_RATE
        assert wav.getnframes() == record.recording.samples
        data = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").reshape(-1, 2)
    assert np.array_equal(data, record.recording.read(0, record.recording.samples))
    assert np.any(data[:, 1])  # the tester's keys and voice are on the right channel


def test_transcript_json_has_words_only_where_the_engine_gave_them(call_dir: Path) -> None:
    entries = json.loads((call_dir / "transcript.json").read_text(encoding="utf-8"))
    assert [e["text"] for e in entries][:2] == ["welcome to the directory", "press zero for help"]
    assert "words" not in entries[0]
    assert [w["text"] for w in entries[1]["words"]] == ["press", "zero", "for", "help"]
    assert entries[1]["words"][0]["start_s"] == entries[1]["start_s"]


VTT_TIMING = re.compile(r"^(\d{2}):(\d{2}):(\d{2})\.(\d{3}) --> (\d{2}):(\d{2}):(\d{2})\.(\d{3})$")


def _vtt_seconds(h: str, m: str, s: str, ms: str) -> float:
    return int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000


def test_webvtt_has_one_well_formed_cue_per_utterance_in_order(
    call_dir: Path, record: CallRecord
) -> None:
    text = (call_dir / "transcript.vtt").read_text(encoding="utf-8")
    header, *cues = text.strip("\n").split("\n\n")
    assert header == "WEBVTT"
    assert len(cues) == len(record.transcript)
    starts = []
    for cue, utterance in zip(cues, record.transcript, strict=True):
        identifier, timing, payload = cue.split("\n")
        assert identifier.isdigit()
        match = VTT_TIMING.match(timing)
        assert match is not None, timing
        start = _vtt_seconds(*match.groups()[:4])
        end = _vtt_seconds(*match.groups()[4:])
        assert start == pytest.approx(utterance.start_s, abs=0.001)
        assert end == pytest.approx(utterance.end_s, abs=0.001)
        assert end > start
        starts.append(start)
        assert "<" not in payload and "-->" not in payload
    assert starts == sorted(starts)
    assert "hi &lt;script&gt;alert('x')&lt;/script&gt; &amp; welcome" in text


def test_report_escapes_transcripts_and_shows_the_call(call_dir: Path) -> None:
    page = (call_dir / "report.html").read_text(encoding="utf-8")
    assert "<script>alert" not in page
    assert "hi &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; welcome" in page
    assert page.count("<script>") == 1  # only the page's own player script
    assert '<audio id="player" controls preload="metadata" src="recording.wav">' in page
    assert '<a href="result.json">' in page
    assert '<a href="sandbox-truth.json">' in page
    assert ">failed</span>" in page
    assert "dead-air" in page and "no sound for 0.5 s" in page
    assert "moonshine:base-en" in page and "sandbox:acme" in page


def _svg(page: str) -> ET.Element:
    svg = page[page.index("<svg") : page.index("</svg>") + len("</svg>")]
    return ET.fromstring(svg)  # well-formed XML, so every transcript was escaped


def test_report_timeline_draws_every_lane_and_marker(call_dir: Path, record: CallRecord) -> None:
    svg = _svg((call_dir / "report.html").read_text(encoding="utf-8"))
    ns = "{http://www.w3.org/2000/svg}"
    titles = [t.text or "" for t in svg.iter(f"{ns}title")]
    assert sum(t.startswith("speech ") for t in titles) == 4
    assert sum(t.startswith("music ") for t in titles) == 1
    assert any(t.startswith("ringback tone") for t in titles)
    assert any(INJECTION in t for t in titles)  # prompt lane, text on hover
    assert any(t.startswith("pressed 0 at") for t in titles)
    assert any(t.startswith("on hold from") for t in titles)
    assert any(t.startswith("person detected at") for t in titles)
    assert any(t.startswith("dead air from") for t in titles)
    assert any(t.startswith("hangup by remote") for t in titles)
    labels = [t.text for t in svg.iter(f"{ns}text") if t.get("class") == "flag-label"]
    assert "ended by remote" in labels and "human (0.95)" in labels
    assert [t.text for t in svg.iter(f"{ns}text") if t.get("class") == "lane-name"] == [
        "steps",
        "far end",
        "tones",
        "heard",
        "tester",
    ]


def test_report_timeline_scales_to_an_hour_long_call() -> None:
    result = make_record(truth=False).result
    hour = 3600.0
    result["metrics"]["duration_s"] = hour
    result["steps"] = []
    result["events"] = [
        {"t_s": t, "type": "sound", "kind": "music", "end_s": t + 0.02}
        for t in np.arange(0.0, hour, 7.3).round(3).tolist()
    ] + [{"t_s": hour, "type": "ended", "by": "tester", "cause": "hangup"}]
    svg = _svg(render_report(result))
    ns = "{http://www.w3.org/2000/svg}"
    ticks = [t.text for t in svg.iter(f"{ns}text") if t.get("class") == "tick"]
    assert ticks[0] == "0:00" and ticks[-1] == "1:00:00"
    assert 6 <= len(ticks) <= 13
    segments = [r for r in svg.iter(f"{ns}rect") if r.get("class") == "seg"]
    assert len(segments) == len(result["events"]) - 1
    for rect in segments:
        x, width = float(rect.get("x", "nan")), float(rect.get("width", "nan"))
        assert x >= GUTTER and x + width <= GUTTER + PLOT_WIDTH + 1
        assert width > 0


def test_report_shows_a_voicemail_box_reached() -> None:
    result = make_record(truth=False).result
    box = {
        "beep_at_s": 22.46,
        "beep_s": 0.44,
        "beep_hz": 1000,
        "greeting": "Please leave <your> message after the tone.",
        "asks_for_message": True,
    }
    result["human"] = {"detected": False, "at_s": None, "confidence": None, "evidence": None}
    result["reached"], result["voicemail"] = "voicemail", box
    result["events"] = [*result["events"], {"t_s": 22.46, "type": "voicemail", **box}]
    page = render_report(result)
    assert "voicemail, beep at 22.5 s" in page
    assert "1000 Hz beep at 22.46 s after Please leave &lt;your&gt; message" in page


def test_report_survives_a_sparse_document() -> None:
    page = render_report({"outcome": "error", "failure": {"kind": "error", "message": "x<y"}})
    assert "x&lt;y" in page and "<svg" in page


def test_unwritable_folder_gives_a_one_line_error_naming_it(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    target = blocker / "call-1"
    with pytest.raises(ResultWriteError) as raised:
        write_call(make_record(truth=False), target)
    message = str(raised.value)
    assert isinstance(raised.value, ShopperError)
    assert "\n" not in message and str(target) in message


def test_a_failed_write_leaves_the_previous_result_whole(tmp_path: Path) -> None:
    write_call(make_record(truth=False), tmp_path)
    before = (tmp_path / "result.json").read_bytes()
    broken = make_record(truth=False)
    broken.result["metrics"]["hold_s"] = float("nan")
    with pytest.raises(ResultWriteError, match=r"result\.json"):
        write_call(broken, tmp_path)
    assert (tmp_path / "result.json").read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_mono_recording_is_refused_with_the_path(tmp_path: Path) -> None:
    good = make_record(truth=False)
    left = good.recording.read(0, good.recording.samples)[:, :1]
    mono = CallRecord(good.result, GrowingWav.of(left), good.transcript, good.timeline)
    with pytest.raises(ResultWriteError, match=r"recording\.wav.*stereo"):
        write_call(mono, tmp_path)


def test_default_call_dir_dates_by_utc() -> None:
    evening_in_chicago = datetime(2024, 5, 6, 20, 30, tzinfo=timezone(timedelta(hours=-5)))
    root = Path("/results")
    assert default_call_dir(root, evening_in_chicago, "abc") == root / "2024-05-07" / "abc"
    assert default_call_dir(root, datetime(2024, 1, 2, tzinfo=UTC), "x-1") == Path(
        "/results/2024-01-02/x-1"
    )


@pytest.mark.parametrize("bad", ["../escape", "a/b", "", ".hidden"])
def test_default_call_dir_refuses_ids_that_are_not_one_folder(bad: str) -> None:
    with pytest.raises(ResultWriteError, match="call id"):
        default_call_dir(Path("/results"), datetime(2024, 1, 2, tzinfo=UTC), bad)


def _poisoned(value: Any, poisoned: list[str]) -> Any:
    """Every string in a result document with hostile markup added, except event types (so
    every mark is still drawn and carries the text) and the schema name (not shown)."""
    if isinstance(value, str):
        poisoned.append(value + HOSTILE)
        return poisoned[-1]
    if isinstance(value, list):
        return [_poisoned(item, poisoned) for item in value]
    if isinstance(value, dict):
        return {
            key: item if key in ("type", "schema") else _poisoned(item, poisoned)
            for key, item in value.items()
        }
    return value


def _outside_svg(page: str) -> str:
    return page[: page.index("<svg")] + page[page.index("</svg>") :]


def test_report_shows_every_string_of_the_result_as_text_and_none_as_markup() -> None:
    clean = make_record(truth=False).result
    clean["human"]["evidence"]["plain"] = True
    clean["events"][0]["plain"] = 1
    poisoned: list[str] = []
    result = _poisoned(clean, poisoned)
    result["human"]["evidence"][HOSTILE] = result["human"]["evidence"].pop("plain")
    result["events"][0][HOSTILE] = result["events"][0].pop("plain")
    page, clean_page = render_report(result, "truth" + HOSTILE), render_report(clean, "truth")
    parts, clean_parts = page_parts(page), page_parts(clean_page)
    assert parts.tags.count("script") == 1 and "img" not in parts.tags
    assert page_parts(_outside_svg(page)).tags == page_parts(_outside_svg(clean_page)).tags
    assert set(parts.tags) <= set(clean_parts.tags)  # SVG labels may drop for lack of room
    assert parts.attribute_names == clean_parts.attribute_names
    _svg(page)  # still well-formed XML
    assert [text for text in poisoned if not shown_whole(text, parts)] == []
    assert shown_whole(f"{HOSTILE}: yes", parts) and shown_whole(f"{HOSTILE}=1", parts)
    assert shown_whole("truth" + HOSTILE, parts)


def test_a_recording_streamed_into_the_folder_is_kept_in_place(tmp_path: Path) -> None:
    """A call that streamed its recording into its own folder leaves it there: the writer
    forces it to disk and copies nothing (no temporary left either)."""
    copied = make_record(truth=False)
    audio = copied.recording.read(0, copied.recording.samples)
    streamed = GrowingWav.of(audio, path=tmp_path / "recording.wav")
    inode = (tmp_path / "recording.wav").stat().st_ino
    write_call(CallRecord(copied.result, streamed, copied.transcript, copied.timeline), tmp_path)
    assert (tmp_path / "recording.wav").stat().st_ino == inode
    assert {p.name for p in tmp_path.iterdir()} == ALL_FILES - {"sandbox-truth.json"}
    assert np.array_equal(read_channels_stereo(tmp_path / "recording.wav"), audio)


def read_channels_stereo(path: Path) -> Samples:
    with wave.open(str(path), "rb") as wav:
        raw = wav.readframes(wav.getnframes())
    return np.frombuffer(raw, dtype="<i2").reshape(-1, 2)
