"""Parallel lines: each crawl call runs in its own worker process.

The simulated phone system and the recogniser are CPU-bound, so calls gain nothing from
sharing an event loop. Each line is a process that loads its speech engine once and runs one
call at a time; the machine's cores are shared out between the lines' speech workers, since
every worker loads its own copy of the model (~2 s of CPU, ~800 MB).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

from shopper.asr.selection import EngineChoice, select_engine
from shopper.asr.types import SpeechEngine
from shopper.crawl.pathcall import CallResult, PathJob, run_path

_engine: SpeechEngine | None = None


def _load_engine(choice: EngineChoice, vosk_model: Path | None, speech_workers: int) -> None:
    global _engine
    _engine = select_engine(choice, vosk_model, deterministic=True, speech_workers=speech_workers)


def _call(job: PathJob) -> CallResult:
    assert _engine is not None, "the line's engine is loaded when its process starts"
    return asyncio.run(run_path(job, _engine))


class Lines:
    """`lines` worker processes placing crawl calls; use as a context manager."""

    def __init__(self, lines: int, engine: EngineChoice, vosk_model: Path | None = None) -> None:
        self._pool = ProcessPoolExecutor(
            max_workers=lines,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_load_engine,
            initargs=(engine, vosk_model, max(1, (os.cpu_count() or 1) // lines)),
        )

    def place(self, job: PathJob) -> Future[CallResult]:
        return self._pool.submit(_call, job)

    def __enter__(self) -> Lines:
        return self

    def __exit__(self, *_: object) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
