"""The topic tree: `<prefix>/<site>/...`, one place that knows how topics are spelled."""

from __future__ import annotations

import re
from dataclasses import dataclass

from shopper.scripts.model import CallScript


@dataclass(frozen=True, slots=True)
class Topics:
    prefix: str
    site: str

    @property
    def root(self) -> str:
        return f"{self.prefix}/{self.site}"

    def full(self, suffix: str) -> str:
        return f"{self.root}/{suffix}"

    @property
    def status(self) -> str:
        return self.full("status")

    @staticmethod
    def events(call_id: str) -> str:
        return f"calls/{call_id}/events"

    @staticmethod
    def result(script_id: str) -> str:
        return f"results/{script_id}"

    @staticmethod
    def crawl(target_id: str) -> str:
        return f"crawls/{target_id}"

    def all_events(self, site: str | None) -> str:
        """The subscription that follows every call of one site, or of all sites."""
        return f"{self.prefix}/{site or '+'}/calls/+/events"


def script_id(script: CallScript) -> str:
    """A stable topic level per script: the file name without .yaml, else its name slugged.

    Stable across runs so that the retained result of a script is replaced by its next call.
    """
    base = script.source.stem if script.source is not None else script.name
    return re.sub(r"[^a-z0-9._-]+", "-", base.lower()).strip("-") or "script"
