"""What really happened on a simulated call, written by the phone system itself.

The tester side only hears audio and must never read this during a call; afterwards it is
the answer key a result is checked against (did shopper's "reached a human at 94.2 s" match
the moment the agent spoke?). The phone records in samples of media time; the JSON gives
seconds (sample index / 8000) rounded to the millisecond.

Shape of `to_json()` (`sandbox-truth.json`)::

    {
      "ivr": "Acme support",            # IvrDefinition.name
      "seed": 0,
      "now": "2024-05-06T09:00:00+00:00",   # the calendar time the hours were judged at
      "answer": {"mode": "answer", "answered_s": 4.0},   # answered_s null: never answered
      "nodes": [{"node": "main", "at_s": 4.0, "reason": "start"}, ...],
          # reason: "start", "closed hours", "key 1", "goto", "retries exhausted",
          #         "hold ended", "callback"
      "sounds": [{"node": "main", "role": "prompt", "what": "Press 1 for ...",
                  "start_s": 4.0, "end_s": 7.26, "cut": false}, ...],
          # role: ringback, busy, prompt, invalid, no-input, music, announcement,
          #       callback-offer, greeting, reply, beep, tone; node is null before answer;
          #       cut: stopped before its end (barge-in, end of hold, drop, hang-up);
          #       end_s is where it stopped
      "keys": [{"digit": "1", "start_s": 5.1, "end_s": 5.2, "node": "main",
                "action": "accepted"}, ...],
          # action: accepted, invalid, callback, ignored (no use for it there, or no
          #         barge-in while the prompt played)
      "caller_speech": [{"start_s": 30.2, "end_s": 31.9}, ...],   # as the IVR heard it
      "agent_first_spoke_s": 30.0,      # null: no agent spoke
      "holds": [{"node": "queue", "start_s": 8.0, "end_s": 188.0,
                 "outcome": "then"}, ...],   # outcome: then, callback, call ended
      "callback_offers": [{"node": "queue", "start_s": 38.0, "end_s": 41.5,
                           "accepted_s": null}, ...],
      "voicemail": [{"node": "vm", "recording_start_s": 12.4, "recording_end_s": 72.4}],
      "end": {"at_s": 72.4, "by": "ivr", "reason": "voicemail full", "cause": "hangup"}
          # by: ivr (the phone system hung up), caller (the tester hung up), network (ring
          #     timeout, maximum call length); null while the call goes on
    }
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from shopper.audio.frame import TELEPHONY_RATE

EndedBy = Literal["ivr", "caller", "network"]


def seconds(samples: int | None) -> float | None:
    return None if samples is None else round(samples / TELEPHONY_RATE, 3)


@dataclass(slots=True)
class NodeEntry:
    node: str
    at: int
    reason: str


@dataclass(slots=True)
class SoundPlayed:
    node: str | None
    role: str
    what: str
    start: int
    end: int | None = None
    cut: bool = False

    def stop(self, at: int, cut: bool) -> None:
        if self.end is None:
            self.end = at
            self.cut = cut


@dataclass(slots=True)
class KeyHeard:
    digit: str
    start: int
    end: int
    node: str | None
    action: str


@dataclass(slots=True)
class Hold:
    node: str
    start: int
    end: int | None = None
    outcome: str | None = None


@dataclass(slots=True)
class CallbackOffered:
    node: str
    start: int
    end: int | None = None
    accepted: int | None = None


@dataclass(slots=True)
class VoicemailRecording:
    node: str
    start: int
    end: int | None = None


@dataclass(slots=True)
class CallEnd:
    at: int
    by: EndedBy
    reason: str
    cause: str


@dataclass(slots=True)
class SandboxTruth:
    ivr: str
    seed: int
    now: datetime
    answer_mode: str
    answered: int | None = None
    nodes: list[NodeEntry] = field(default_factory=list)
    sounds: list[SoundPlayed] = field(default_factory=list)
    keys: list[KeyHeard] = field(default_factory=list)
    caller_speech: list[tuple[int, int]] = field(default_factory=list)
    agent_first_spoke: int | None = None
    holds: list[Hold] = field(default_factory=list)
    callback_offers: list[CallbackOffered] = field(default_factory=list)
    voicemail: list[VoicemailRecording] = field(default_factory=list)
    end: CallEnd | None = None

    def sound(self, node: str | None, role: str, what: str, start: int) -> SoundPlayed:
        played = SoundPlayed(node, role, what, start)
        self.sounds.append(played)
        return played

    def nodes_entered(self) -> list[str]:
        return [entry.node for entry in self.nodes]

    def to_dict(self) -> dict[str, Any]:
        return {
            "ivr": self.ivr,
            "seed": self.seed,
            "now": self.now.isoformat(),
            "answer": {"mode": self.answer_mode, "answered_s": seconds(self.answered)},
            "nodes": [
                {"node": entry.node, "at_s": seconds(entry.at), "reason": entry.reason}
                for entry in self.nodes
            ],
            "sounds": [
                {
                    "node": played.node,
                    "role": played.role,
                    "what": played.what,
                    "start_s": seconds(played.start),
                    "end_s": seconds(played.end),
                    "cut": played.cut,
                }
                for played in self.sounds
            ],
            "keys": [
                {
                    "digit": key.digit,
                    "start_s": seconds(key.start),
                    "end_s": seconds(key.end),
                    "node": key.node,
                    "action": key.action,
                }
                for key in self.keys
            ],
            "caller_speech": [
                {"start_s": seconds(start), "end_s": seconds(end)}
                for start, end in self.caller_speech
            ],
            "agent_first_spoke_s": seconds(self.agent_first_spoke),
            "holds": [
                {
                    "node": hold.node,
                    "start_s": seconds(hold.start),
                    "end_s": seconds(hold.end),
                    "outcome": hold.outcome,
                }
                for hold in self.holds
            ],
            "callback_offers": [
                {
                    "node": offer.node,
                    "start_s": seconds(offer.start),
                    "end_s": seconds(offer.end),
                    "accepted_s": seconds(offer.accepted),
                }
                for offer in self.callback_offers
            ],
            "voicemail": [
                {
                    "node": recording.node,
                    "recording_start_s": seconds(recording.start),
                    "recording_end_s": seconds(recording.end),
                }
                for recording in self.voicemail
            ],
            "end": None
            if self.end is None
            else {
                "at_s": seconds(self.end.at),
                "by": self.end.by,
                "reason": self.end.reason,
                "cause": self.end.cause,
            },
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"
