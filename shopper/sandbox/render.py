"""The simulated phone system's sounds as audio: prompts, recordings and music on hold.

Everything an IVR definition can play is rendered once, when the call is placed, so that a
missing file or a voice espeak-ng does not know fails before the first ring and the call
itself never waits on a subprocess or a disk.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from shopper.audio.files import read_audio
from shopper.audio.frame import Samples
from shopper.sandbox.model import Agent, IvrDefinition, Menu, Queue, Sound, Voice
from shopper.sandbox.sounds import moh_files
from shopper.tts import synthesize

DEFAULT_MUSIC = "asterisk-moh"
"""How the truth names the default music: the Asterisk music-on-hold files, looped."""


def render_sound(sound: Sound, voice: Voice) -> Samples:
    """Speak `say` with `voice` and/or read `play` (in that order, when a sound has both)."""
    parts: list[Samples] = []
    if sound.say is not None:
        parts.append(synthesize(sound.say, voice.voice, voice.speed, voice.tts))
    if sound.play is not None:
        parts.append(_recording(sound.play))
    if not parts:
        return np.zeros(0, dtype=np.int16)
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def describe_sound(sound: Sound) -> str:
    """What the truth says was played: the text, or the file's path."""
    described = [sound.say] if sound.say is not None else []
    if sound.play is not None:
        described.append(str(sound.play))
    return " + ".join(described)


@functools.lru_cache(maxsize=64)
def _recording(path: Path) -> Samples:
    samples = read_audio(path)
    samples.setflags(write=False)
    return samples


class MusicSource:
    """Endless looped music, read at any sample offset: hold music that resumes where it was."""

    def __init__(self, samples: Samples, name: str) -> None:
        if len(samples) == 0:
            raise ValueError(f"music {name} has no samples")
        self.samples = samples
        self.name = name

    def __len__(self) -> int:
        return len(self.samples)

    def read(self, offset: int, count: int) -> Samples:
        """`count` samples starting `offset` samples into the endless loop."""
        start = offset % len(self.samples)
        if start + count <= len(self.samples):
            return self.samples[start : start + count]
        pieces = [self.samples[start:]]
        missing = count - len(pieces[0])
        while missing > 0:
            pieces.append(self.samples[:missing])
            missing -= len(pieces[-1])
        return np.concatenate(pieces)


def music_source(path: Path | None) -> MusicSource:
    """The named file looped, or (None) every Asterisk music-on-hold file in turn, looped."""
    if path is not None:
        return MusicSource(_recording(path), str(path))
    return MusicSource(_default_music(), DEFAULT_MUSIC)


@functools.cache
def _default_music() -> Samples:
    samples = np.concatenate([read_audio(path) for path in moh_files()])
    samples.setflags(write=False)
    return samples


class SoundBank:
    """Every sound of one IVR definition, rendered up front and looked up during the call."""

    def __init__(self, definition: IvrDefinition) -> None:
        self._rendered: dict[tuple[Sound, Voice], Samples] = {}
        self._music: dict[Path | None, MusicSource] = {}
        for sound, voice in _sounds(definition):
            self._rendered[(sound, voice)] = render_sound(sound, voice)
        for node in definition.nodes.values():
            if isinstance(node.behaviour, Queue):
                self._music[node.behaviour.music] = music_source(node.behaviour.music)

    def sound(self, sound: Sound, voice: Voice) -> Samples:
        key = (sound, voice)
        if key not in self._rendered:
            self._rendered[key] = render_sound(sound, voice)
        return self._rendered[key]

    def music(self, path: Path | None) -> MusicSource:
        if path not in self._music:
            self._music[path] = music_source(path)
        return self._music[path]


def agent_voice(definition: IvrDefinition, agent: Agent) -> Voice:
    return agent.voice if agent.voice is not None else definition.voice


def _sounds(definition: IvrDefinition) -> Iterator[tuple[Sound, Voice]]:
    """Each sound a call on `definition` could play, with the voice it would be spoken in."""
    for node in definition.nodes.values():
        behaviour = node.behaviour
        if node.sound is not None:
            yield node.sound, definition.voice
        if behaviour is None:
            continue
        extra: list[Sound | None] = []
        if isinstance(behaviour, Menu):
            extra = [behaviour.invalid, behaviour.no_input]
        if isinstance(behaviour, Queue):
            extra = [
                behaviour.announce.sound if behaviour.announce else None,
                behaviour.callback_offer.sound if behaviour.callback_offer else None,
            ]
        for sound in extra:
            if sound is not None:
                yield sound, definition.voice
        if isinstance(behaviour, Agent):
            voice = agent_voice(definition, behaviour)
            yield Sound(say=behaviour.greeting), voice
            if behaviour.replies:
                yield Sound(say=behaviour.reply), voice
