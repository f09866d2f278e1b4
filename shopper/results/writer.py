"""Putting one call's result and evidence on disk, one folder per call.

The recording is streamed into the folder while the call goes (`recording_path`): a crash
leaves a readable recording.wav of what was heard (shopper.audio.wav_stream), and at the end
it is only forced to disk. Every other file is written to a temporary name in the same folder
and renamed into place, so a crash or a full disk never leaves a half-written file under a
real name. result.json goes last: a folder that has one has all the evidence it points to.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from shopper.audio.files import AudioFileError
from shopper.audio.wav_stream import GrowingWav
from shopper.errors import ShopperError
from shopper.results.html_report import render_report
from shopper.results.record import CallRecord
from shopper.results.transcript import transcript_json, webvtt

RESULT_FILE = "result.json"
RECORDING_FILE = "recording.wav"
TRANSCRIPT_JSON_FILE = "transcript.json"
TRANSCRIPT_VTT_FILE = "transcript.vtt"
REPORT_FILE = "report.html"
TRUTH_FILE = "sandbox-truth.json"

RESULT_KEYS = (
    "schema",
    "call_id",
    "shopper_version",
    "started_at",
    "script",
    "target",
    "carrier",
    "engine",
    "outcome",
    "failure",
    "ended_by",
    "end_cause",
    "signalling",
    "metrics",
    "human",
    "reached",
    "voicemail",
    "callback_offered",
    "holds",
    "steps",
    "assertions",
    "transcript",
    "events",
    "carrier_call",
    "recording",
)
"""The documented order of result.json, so diffs between two calls' results line up."""
OPTIONAL_RESULT_KEYS = ("run_id",)
"""Documented keys only some results carry (after the others): a monitor run's id."""

SAFE_CALL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


class ResultWriteError(ShopperError):
    """A result file that could not be written; the message names the path."""


def write_call(record: CallRecord, out_dir: Path) -> Path:
    """Write the call's folder (created if needed) and return the path of its result.json."""
    _make_folder(out_dir)
    _write_recording(out_dir / RECORDING_FILE, record)
    write_json_atomic(out_dir / TRANSCRIPT_JSON_FILE, transcript_json(record.transcript))
    write_text_atomic(out_dir / TRANSCRIPT_VTT_FILE, webvtt(record.transcript))
    truth_file = None
    if record.truth is not None:
        write_json_atomic(out_dir / TRUTH_FILE, record.truth)
        truth_file = TRUTH_FILE
    write_text_atomic(out_dir / REPORT_FILE, render_report(record.result, truth_file))
    result_path = out_dir / RESULT_FILE
    write_json_atomic(result_path, ordered_result(record.result))
    return result_path


def recording_path(out_dir: Path) -> Path:
    """Where a call whose evidence goes to `out_dir` streams its recording (the folder is
    created now, before the call)."""
    _make_folder(out_dir)
    return out_dir / RECORDING_FILE


def _make_folder(out_dir: Path) -> None:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ResultWriteError(f"{out_dir}: cannot create folder ({_reason(error)})") from None


def default_call_dir(root: Path, started_at: datetime, call_id: str) -> Path:
    """root/<YYYY-MM-DD>/<call_id>, the date in UTC like the result's started_at."""
    if not SAFE_CALL_ID.fullmatch(call_id):
        raise ResultWriteError(
            f"call id {call_id!r} cannot name a folder (use letters, digits, '.', '_', '-')"
        )
    if started_at.tzinfo is not None:
        started_at = started_at.astimezone(UTC)
    return root / started_at.strftime("%Y-%m-%d") / call_id


def ordered_result(result: dict[str, Any]) -> dict[str, Any]:
    """The documented keys first, in order; anything else after them rather than lost."""
    ordered = {key: result[key] for key in RESULT_KEYS + OPTIONAL_RESULT_KEYS if key in result}
    ordered.update({key: value for key, value in result.items() if key not in ordered})
    return ordered


def result_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of result.json, shipped inside the package."""
    text = resources.files("shopper.results").joinpath("schema/result.schema.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


def write_json_atomic(path: Path, document: Any) -> None:
    try:
        text = json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False)
    except ValueError as error:
        raise ResultWriteError(f"{path}: cannot write ({error})") from None
    write_text_atomic(path, text + "\n")


def write_text_atomic(path: Path, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def write_bytes_atomic(path: Path, data: bytes) -> None:
    temp = _temp_beside(path)
    try:
        with open(temp, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except OSError as error:
        _discard(temp)
        raise ResultWriteError(f"{path}: cannot write ({_reason(error)})") from None


def _write_recording(path: Path, record: CallRecord) -> None:
    """Force the recording streamed at `path` to disk; one streamed elsewhere (or to an
    anonymous file) is copied under a temporary name and renamed into place."""
    recording = record.recording
    if recording.channels != 2:
        raise ResultWriteError(
            f"{path}: the recording must be stereo (far end, tester), not "
            f"{recording.channels} channel(s)"
        )
    try:
        if recording.is_at(path):
            recording.sync()
            return
        _copy_recording(recording, path)
    except AudioFileError as error:
        raise ResultWriteError(str(error)) from None


def _copy_recording(recording: GrowingWav, path: Path) -> None:
    temp = _temp_beside(path)
    try:
        recording.copy_to(temp)
        os.replace(temp, path)
    except AudioFileError as error:
        _discard(temp)
        raise ResultWriteError(str(error).replace(str(temp), str(path))) from None
    except OSError as error:
        _discard(temp)
        raise ResultWriteError(f"{path}: cannot write ({_reason(error)})") from None


def _temp_beside(path: Path) -> Path:
    """A fresh name in the target's own folder, so the final rename stays on one filesystem."""
    try:
        handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as error:
        raise ResultWriteError(f"{path}: cannot write ({_reason(error)})") from None
    os.close(handle)
    return Path(name)


def _discard(temp: Path) -> None:
    with contextlib.suppress(OSError):
        temp.unlink(missing_ok=True)


def _reason(error: OSError) -> str:
    return error.strerror or str(error)
