"""Running a call script: place the call, perform the steps, judge the call, keep the evidence.

Whatever happens — a failed step, an unexpected error, a far end that hangs up — the call is
always hung up through the carrier and everything heard so far is kept in the record.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shopper import __version__
from shopper.asr.types import SpeechEngine
from shopper.audio.frame import TELEPHONY_RATE
from shopper.carriers.base import AnswerKey, Placed, ReportsCarrierCall
from shopper.carriers.dial import UnplacedCall, carrier_for, dial
from shopper.carriers.options import DialOptions
from shopper.carriers.pacing import Slot, configured_caps, wait_for_turn
from shopper.engine.caller import Caller
from shopper.engine.failures import NOT_PLACED, FailureKind, StepFailure
from shopper.engine.recording import Recording
from shopper.engine.session import CallSession, ListenSettings
from shopper.engine.timeline import StepFinished
from shopper.errors import ShopperError
from shopper.results.record import RESULT_SCHEMA, CallRecord
from shopper.results.writer import recording_path
from shopper.scripts.metrics import call_metrics
from shopper.scripts.model import (
    CallScript,
    ChooseStep,
    ExpectHangupStep,
    ExpectStep,
    HangupStep,
    HoldStep,
    HumanStep,
    Limits,
    PressStep,
    SayStep,
    Step,
    WaitStep,
)
from shopper.text.match import Match
from shopper.text.phrasebook.model import shipped_model


@dataclass(slots=True)
class StepReport:
    index: int
    label: str
    outcome: str = "skipped"
    start_s: float | None = None
    end_s: float | None = None
    detail: str | None = None
    decision: Match | None = None
    """How a passed `expect` or `choose` was decided: text, letters or audio."""

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "step": self.label,
            "outcome": self.outcome,
            "start_s": self.start_s,
            "end_s": self.end_s,
            "detail": self.detail,
            "decision": _decision_json(self.decision),
        }


def _decision_json(match: Match | None) -> dict[str, Any] | None:
    if match is None:
        return None
    return {
        "method": match.method,
        "score": round(match.score, 3),
        "margin": None if match.margin is None else round(match.margin, 2),
        "contrast": None if match.contrast is None else round(match.contrast, 2),
        "heard": match.span,
    }


@dataclass(frozen=True, slots=True)
class Failure:
    kind: FailureKind
    step: int | None
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "step": self.step, "message": self.message}


def new_call_id(script_name: str, started_at: datetime) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", script_name.lower()).strip("-")[:40] or "call"
    return f"{started_at:%Y%m%dT%H%M%SZ}-{slug}-{secrets.token_hex(3)}"


@dataclass(frozen=True, slots=True, kw_only=True)
class CallPlan:
    """Whom a call is placed to and under which name: the name (of the script, or given from
    Python) that the call id and the result carry, the target, its carrier, and the script
    file it comes from (None when placed from Python)."""

    name: str
    target: str
    carrier: str = "sandbox"
    source: Path | None = None


class CallNotPlaced(StepFailure):
    """The carrier could not place the call: `async with` raises it on entering, and the
    context's `failure` and `record()` hold it (a call-level failure, before any step)."""


OnPlaced = Callable[["CallContext"], None]
CallFolder = Callable[[str, datetime], Path]
"""The folder a call's evidence goes to, from its call id and start time: its recording is
streamed there while the call goes, so a crash leaves what was heard."""


class CallContext:
    """One call placed for a script or a Python test: the verbs, then the evidence.

    `async with open_call(...) as call:` dials (asynchronously) and gives a Caller for the
    steps; a call the carrier could not place raises CallNotPlaced instead. Leaving the block
    always hangs up through the carrier, and `record()` assembles everything heard. The
    engine is given the call alone; the carrier's answer key (the simulated phone system's
    truth) stays here, for the record.
    """

    def __init__(
        self,
        plan: CallPlan,
        engine: SpeechEngine,
        options: DialOptions,
        settings: ListenSettings,
        on_placed: OnPlaced | None = None,
        folder: CallFolder | None = None,
    ) -> None:
        self.name = plan.name
        self.target = plan.target
        self.carrier = plan.carrier
        self.source = plan.source
        self.started_at = datetime.now(UTC)
        """When the call was dialled (until then: when it was opened), to the millisecond."""
        self.call_id = new_call_id(plan.name, self.started_at)
        self.steps: list[StepReport] = []
        self.failure: Failure | None = None
        self._engine = engine
        self._options = options
        self._settings = settings
        self._on_placed = on_placed
        self._folder = folder
        self._session: CallSession | None = None
        self._caller: Caller | None = None
        self._answer_key: AnswerKey | None = None
        self._slot: Slot | None = None
        self.dialled = False
        """Whether its turn came and the carrier was asked (see shopper.carriers.pacing);
        a call stopped while it waited for its turn was never dialled."""

    @property
    def placed(self) -> bool:
        """Whether the call has a session and so a record: dialled (placed or not), or
        stopped before its turn to be dialled came."""
        return self._session is not None

    @property
    def session(self) -> CallSession:
        if self._session is None:
            raise ShopperError("the call is placed on entering `async with open_call(...)`")
        return self._session

    @property
    def caller(self) -> Caller:
        if self._caller is None:
            raise ShopperError("the call is placed on entering `async with open_call(...)`")
        return self._caller

    async def __aenter__(self) -> Caller:
        caps = self._options.caps or configured_caps()
        try:
            await self._ready_to_listen()
            self._slot = await wait_for_turn(self.carrier, self.target, caps)
        except asyncio.CancelledError as cancelled:
            # Not announced to `on_placed`: nothing was dialled, so nothing is published.
            self._session = CallSession(
                UnplacedCall(self.carrier, None), self._engine, self._settings
            )
            self._caller = Caller(self._session)
            self.failure = Failure("error", None, f"{_reason(cancelled)} before dialling")
            raise
        self.started_at = datetime.now(UTC)
        self.dialled = True
        try:
            # Before dialling: a recording that cannot be written stops the call from being
            # placed.
            return await self._dial(self._new_recording())
        except BaseException:
            self._slot.release()
            raise

    async def _ready_to_listen(self) -> None:
        """Before the turn to dial: the carrier and the target are checked (a bad one fails at
        once), and what a call's first moments need is loaded off the event loop: the
        prompt-kind model (a 1 MB JSON, ~70 ms), not at the first hold announcement while
        other calls' frames wait; and the speech model, which a real far end does not wait
        for (Moonshine's workers took 18 s to load on a loaded machine, longer than a menu
        waits for a key)."""
        carrier_for(self.target, self.carrier)
        await asyncio.to_thread(shipped_model)
        await asyncio.to_thread(self._engine.wait_until_loaded)

    async def _dial(self, recording: Recording) -> Caller:
        try:
            placed = await dial(self.target, self.carrier, self._options)
        except asyncio.CancelledError as cancelled:
            self._attach(Placed(UnplacedCall(self.carrier, None)), recording)
            self.failure = Failure("error", None, f"{_reason(cancelled)} while dialling")
            raise
        except BaseException:
            recording.discard()
            raise
        self._attach(placed, recording)
        if placed.failed is not None:
            await self.session.hangup()
            kind = NOT_PLACED[placed.failed.cause]
            message = f"could not place the call ({placed.failed.cause}): {placed.failed.detail}"
            self.failure = Failure(kind, None, message)
            raise CallNotPlaced(kind, message)
        return self.caller

    def _new_recording(self) -> Recording:
        """The call's recording, streamed into its folder when it has one."""
        if self._folder is None:
            return Recording(None)
        return Recording(recording_path(self._folder(self.call_id, self.started_at)))

    def _attach(self, placed: Placed, recording: Recording) -> None:
        self._session = CallSession(placed.call, self._engine, self._settings, recording=recording)
        self._caller = Caller(self._session)
        self._answer_key = placed.answer_key
        if self._on_placed is not None:
            self._on_placed(self)

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, _: object
    ) -> None:
        if isinstance(error, StepFailure):
            self.failure = Failure(error.kind, None, error.message)
        elif isinstance(error, ShopperError):
            self.failure = Failure("error", None, str(error))
        elif isinstance(error, asyncio.CancelledError) and self.failure is None:
            # e.g. a sibling call of an asyncio.TaskGroup failed: hung up, not passed
            self.failure = Failure("error", None, f"hung up: {_reason(error)}")
        try:
            if not self.session.ended:
                await self.caller.hangup()
        finally:
            if self._slot is not None:
                self._slot.release()

    def record(self, limits: Limits | None = None) -> CallRecord:
        metrics = call_metrics(self.session, self.caller)
        assertions = _assertions(limits or Limits(), metrics)
        failure = self.failure
        if failure is None:
            broken = next((a for a in assertions if not a["passed"]), None)
            if broken is not None:
                failure = Failure("assertion", None, _broken_limit(broken))
        return CallRecord(
            result=_result_document(self, failure, metrics, assertions),
            recording=self.session.recording.file,
            transcript=list(self.session.transcript),
            timeline=self.session.timeline,
            truth=self._answer_key.to_dict() if self._answer_key is not None else None,
        )


def open_call(
    target: str,
    engine: SpeechEngine,
    *,
    name: str = "call",
    carrier: str = "sandbox",
    options: DialOptions | None = None,
    settings: ListenSettings | None = None,
    folder: CallFolder | None = None,
    on_placed: OnPlaced | None = None,
) -> CallContext:
    """A call to place from Python (pytest suites): `async with open_call(...) as call: ...`
    dials on entering. With `folder`, the recording streams there (else to an anonymous
    temporary file, copied wherever the record is written). `on_placed` sees the call as
    soon as it is placed, as `run_script`'s `on_call` does."""
    plan = CallPlan(name=name, target=target, carrier=carrier)
    return CallContext(
        plan,
        engine,
        options or DialOptions(),
        settings or ListenSettings(),
        on_placed=on_placed,
        folder=folder,
    )


async def run_script(
    script: CallScript,
    engine: SpeechEngine,
    options: DialOptions | None = None,
    on_call: Callable[[CallContext], None] | None = None,
    folder: CallFolder | None = None,
) -> CallRecord:
    """Perform every step of the script on one call and return its record.

    `on_call` sees the call as soon as it is placed, before any step: the moment to subscribe
    to its timeline (live MQTT events). `folder`: where its recording streams (open_call).
    """
    options = options or DialOptions()
    if script.sandbox_at is not None:
        options = replace(options, sandbox=replace(options.sandbox, at=script.sandbox_at))
    context = CallContext(
        CallPlan(
            name=script.name, target=script.target, carrier=script.carrier, source=script.source
        ),
        engine,
        replace(options, max_duration_s=script.max_duration_s),
        _listen_settings(script),
        on_placed=on_call,
        folder=folder,
    )
    context.steps = [StepReport(i + 1, step.label) for i, step in enumerate(script.steps)]
    try:
        await _perform_all(context, script)
    except asyncio.CancelledError as cancelled:
        if not context.dialled:
            raise  # stopped while it waited for its turn: there is no call to keep
        current = asyncio.current_task()
        if current is not None:
            current.uncancel()
        raise CallInterrupted(context.record(script.limits), _reason(cancelled)) from None
    return context.record(script.limits)


class CallInterrupted(Exception):
    """The call was cancelled (Ctrl-C, SIGTERM) and hung up; `record` holds its evidence so
    far, with outcome `error` and the reason, to be written like any other call's."""

    def __init__(self, record: CallRecord, reason: str) -> None:
        super().__init__(reason)
        self.record = record


def _reason(cancelled: asyncio.CancelledError) -> str:
    return str(cancelled.args[0]) if cancelled.args else "interrupted"


async def _perform_all(context: CallContext, script: CallScript) -> None:
    """The script's steps in order until one fails; the call is hung up whatever happens."""
    try:
        async with context as caller:
            await _perform_steps(context, script, caller)
    except CallNotPlaced:
        return  # context.failure says why; every step stays skipped


async def _perform_steps(context: CallContext, script: CallScript, caller: Caller) -> None:
    """The steps in order until one fails."""
    session = context.session
    for report, step in zip(context.steps, script.steps, strict=True):
        report.start_s = round(session.now / TELEPHONY_RATE, 3)
        try:
            caller.decided = None
            report.detail = await _perform(step, caller)
            report.decision = caller.decided
            report.outcome = "passed"
        except asyncio.CancelledError as cancelled:
            report.outcome, report.detail = "failed", _reason(cancelled)
            context.failure = Failure("error", report.index, _reason(cancelled))
            raise
        except StepFailure as error:
            report.outcome, report.detail = "failed", error.message
            context.failure = Failure(error.kind, report.index, error.message)
            break
        except ShopperError as error:
            report.outcome, report.detail = "failed", str(error)
            context.failure = Failure("error", report.index, str(error))
            break
        finally:
            report.end_s = round(session.now / TELEPHONY_RATE, 3)
            session.timeline.add(
                StepFinished(
                    session.now,
                    index=report.index,
                    step=report.label,
                    outcome=report.outcome,
                )
            )


def _broken_limit(assertion: dict[str, Any]) -> str:
    name, limit, actual = assertion["name"], assertion["limit"], assertion["actual"]
    if actual is None:
        return f"{name} was never measured (limit {limit:g} s)"
    return f"{name} {actual:g} s is over the limit of {limit:g} s"


def _listen_settings(script: CallScript) -> ListenSettings:
    defaults = ListenSettings()
    return ListenSettings(
        prompt_end_silence_s=script.prompt_end_silence_s or defaults.prompt_end_silence_s,
        dead_air_s=script.dead_air_s or defaults.dead_air_s,
        hold_dead_air_s=script.hold_dead_air_s or defaults.hold_dead_air_s,
        ack_s=script.ack_s or defaults.ack_s,
    )


async def _perform(step: Step, caller: Caller) -> str | None:
    """Do one step; returns a short detail for the report."""
    match step:
        case ExpectStep():
            found = await caller.expect(step.matcher, step.within_s, step.silence_s, step.optional)
            return "not heard (optional)" if found is None else _decided(found)
        case PressStep():
            reaction = await caller.press(
                step.keys, step.ack_s, step.tone_s, step.gap_s, step.after_prompt
            )
            return f"acknowledged after {reaction:.2f} s"
        case SayStep():
            await caller.say(step.text)
        case WaitStep():
            await caller.wait(step.seconds)
        case HoldStep():
            held = await caller.hold(step.max_s, step.start_within_s)
            return f"held {held:.1f} s"
        case HumanStep():
            verdict = await caller.human(step.within_s, step.probe, step.courtesy)
            return f"person at {verdict.at / 8000:.1f} s (confidence {verdict.confidence:.2f})"
        case HangupStep():
            await caller.hangup()
        case ExpectHangupStep():
            await caller.expect_hangup(step.within_s)
        case ChooseStep():
            chosen = step.branches[
                await caller.choose([b.matcher for b in step.branches], step.within_s)
            ]
            decided = caller.decided  # the branch's own steps decide expectations of their own
            for inner in chosen.steps:
                await _perform(inner, caller)
            caller.decided = decided
            how = f"; {_decided(decided)}" if decided is not None else ""
            return f"took branch {chosen.label}{how}"
    return None


def _decided(match: Match) -> str:
    """A passed expectation in words: its score, and how it was decided when not by text."""
    if match.method == "letters":
        return f"letters: the same as {match.span!r}"
    if match.method == "audio" and match.margin is not None:
        return f"audio: {match.margin:+.1f} nats for {match.span!r}"
    if match.method == "contrast" and match.margin is not None and match.contrast is not None:
        return (
            f"contrast: {match.margin:+.1f} nats for {match.span!r}, "
            f"its key or words {match.contrast:.1f} nats above any rival"
        )
    return f"score {match.score:.2f}"


def _assertions(limits: Limits, metrics: dict[str, Any]) -> list[dict[str, Any]]:
    checks = [
        ("time_to_human", limits.time_to_human_max_s, metrics["time_to_human_s"]),
        ("hold", limits.hold_max_s, metrics["hold_s"]),
        ("duration", limits.duration_max_s, metrics["duration_s"]),
        ("answer", limits.answer_max_s, metrics["answer_s"]),
    ]
    return [
        {
            "name": name,
            "limit": limit,
            "actual": actual,
            "passed": actual is not None and actual <= limit,
        }
        for name, limit, actual in checks
        if limit is not None
    ]


def _result_document(
    context: CallContext,
    failure: Failure | None,
    metrics: dict[str, Any],
    assertions: list[dict[str, Any]],
) -> dict[str, Any]:
    session, verdict = context.session, context.caller.human_verdict
    call = session.call
    outcome = "passed" if failure is None else "error" if failure.kind == "error" else "failed"
    return {
        "schema": RESULT_SCHEMA,
        "call_id": context.call_id,
        "shopper_version": __version__,
        "started_at": context.started_at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "script": {
            "name": context.name,
            "file": str(context.source) if context.source is not None else None,
        },
        "target": context.target,
        "carrier": call.carrier,
        "engine": session.engine_name,
        "outcome": outcome,
        "failure": failure.to_json() if failure is not None else None,
        "ended_by": call.ended_by,
        "end_cause": call.end_cause,
        "signalling": call.end_status.to_json() if call.end_status is not None else None,
        "metrics": metrics,
        "human": {
            "detected": verdict is not None,
            "at_s": _s(verdict.at) if verdict else None,
            "confidence": round(verdict.confidence, 3) if verdict else None,
            "evidence": verdict.evidence.to_json() if verdict else None,
        },
        "reached": _reached(context),
        "voicemail": session.voicemail.box.to_json() if session.voicemail.box else None,
        "callback_offered": bool(session.hold.callback_offers),
        "holds": [
            {"start_s": _s(p.start), "end_s": _s(p.end) if p.end is not None else None}
            for p in session.hold.periods
        ],
        "steps": [report.to_json() for report in context.steps],
        "assertions": assertions,
        "transcript": [
            {
                "start_s": _s(u.start),
                "end_s": _s(u.end),
                "text": u.text,
                "confidence": round(u.confidence, 3),
            }
            for u in session.transcript
        ],
        "events": session.timeline.to_json(),
        "carrier_call": call.carrier_report.to_json()
        if isinstance(call, ReportsCarrierCall)
        else None,
        "recording": "recording.wav",
    }


def _reached(context: CallContext) -> str | None:
    """What answered at the end of the menus: a person, a voicemail box, or neither known."""
    if context.caller.human_verdict is not None:
        return "human"
    if context.session.voicemail.box is not None:
        return "voicemail"
    return None


def _s(samples: int) -> float:
    return round(samples / TELEPHONY_RATE, 3)
