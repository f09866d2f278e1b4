"""pytest plugin: place calls from test functions and keep every call's evidence.

It is registered as a pytest11 entry point, so it loads in every pytest run of anyone who
installs shopper, whether or not their tests call anything. Importing it must therefore cost
nothing: the speech engine, carriers, engine and result writer are imported only inside the
fixtures that need them.

    async def test_billing(shopper_call):
        async with shopper_call("scripts/acme/ivr.yaml") as call:
            await call.expect("thank you for calling")
            await call.press("1")

Each call is written as a result folder (recording, transcript, report.html, result.json)
and its figures are attached to the test's JUnit entry, whether the test passed or not; the
session's summary says where the folders are.

Tests that use `shopper_call` are async, and pytest runs no async test by itself. So that the
docs' example works when copied into a fresh project, the plugin runs such a test on a new event
loop itself, unless pytest-asyncio (or another async plugin) has marked it to run it, as
pytest-asyncio does for every async test in `asyncio_mode = auto` or with `@pytest.mark.asyncio`.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from shopper.asr.types import SpeechEngine
    from shopper.engine.caller import Caller
    from shopper.engine.session import ListenSettings
    from shopper.scripts.runner import CallContext

ENGINE_CHOICES = ("auto", "vosk", "moonshine")
JUNIT_METRICS = ("time_to_human_s", "hold_s", "duration_s")
ASYNC_PLUGIN_MARKERS = ("asyncio", "anyio", "trio")
"""Markers by which another plugin has taken an async test over: such tests are left to it."""
EVIDENCE_KEY = pytest.StashKey[list[Path]]()
"""Folders written by the session's calls, for the terminal summary."""


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run an async test that places calls, when no async plugin has claimed it."""
    test = pyfuncitem.obj
    if not inspect.iscoroutinefunction(test) or "shopper_call" not in pyfuncitem.fixturenames:
        return None
    if any(pyfuncitem.get_closest_marker(name) for name in ASYNC_PLUGIN_MARKERS):
        return None
    arguments = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    asyncio.run(test(**arguments))
    return True


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    folders = terminalreporter.config.stash.get(EVIDENCE_KEY, [])
    if folders:
        roots = sorted({str(folder.parent) for folder in folders})
        terminalreporter.write_line(
            f"shopper: evidence of {len(folders)} call(s) in {', '.join(roots)}"
        )


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("shopper", "shopper: calls to phone systems")
    group.addoption(
        "--shopper-engine",
        choices=ENGINE_CHOICES,
        default="auto",
        help="speech engine for shopper calls: auto (Vosk if a model is installed, else "
        "Moonshine), vosk or moonshine (default: auto)",
    )
    group.addoption(
        "--shopper-vosk-model",
        metavar="DIR",
        type=Path,
        default=None,
        help="Vosk model folder (default: SHOPPER_VOSK_MODEL, the config file, then the cache)",
    )
    group.addoption(
        "--shopper-out",
        metavar="DIR",
        type=Path,
        default=None,
        help="write each call's evidence to DIR/<call id> (default: the test's tmp_path)",
    )
    group.addoption(
        "--shopper-seed",
        metavar="N",
        type=int,
        default=0,
        help="seed of the simulated phone system (default: 0)",
    )
    group.addoption(
        "--shopper-realtime",
        action="store_true",
        default=False,
        help="run simulated phone systems in real time instead of their virtual clock",
    )


@pytest.fixture(scope="session")
def shopper_engine(pytestconfig: pytest.Config) -> SpeechEngine:
    """The speech engine every call in the session listens with, loaded once.

    Deterministic (Vosk without dither), so a test run on the same audio hears the same words.
    """
    from shopper.asr.selection import select_engine
    from shopper.errors import ShopperError

    try:
        return select_engine(
            pytestconfig.getoption("shopper_engine"),
            pytestconfig.getoption("shopper_vosk_model"),
            deterministic=True,
        )
    except ShopperError as error:
        pytest.fail(f"shopper: {error}", pytrace=False)


class CallFactory:
    """`shopper_call(target, ...)`: an async context manager giving the call's Caller."""

    def __init__(
        self,
        engine: SpeechEngine,
        request: pytest.FixtureRequest,
        out_root: Path,
    ) -> None:
        self._engine = engine
        self._request = request
        self._out_root = out_root

    def __call__(
        self,
        target: str | Path,
        *,
        name: str | None = None,
        carrier: str = "sandbox",
        settings: ListenSettings | None = None,
        at: datetime | None = None,
        max_duration_s: float | None = None,
    ) -> AbstractAsyncContextManager[Caller]:
        """Place a call to `target`: a sandbox IVR file, or a number with another carrier.

        A relative IVR path is looked up beside the test file, then from the rootdir. `at`
        is the moment the simulated phone system believes it is (opening hours).
        """
        return self._call(
            target, name or self._request.node.name, carrier, settings, at, max_duration_s
        )

    @asynccontextmanager
    async def _call(
        self,
        target: str | Path,
        name: str,
        carrier: str,
        settings: ListenSettings | None,
        at: datetime | None,
        max_duration_s: float | None,
    ) -> AsyncIterator[Caller]:
        from shopper.errors import ShopperError

        context = self._open(target, name, carrier, settings, at, max_duration_s)
        try:
            async with context as caller:
                yield caller
        except BaseException as error:
            if not context.placed:
                if isinstance(error, ShopperError):  # bad target or carrier: nothing to keep
                    pytest.fail(f"shopper: {error}", pytrace=False)
                raise
            failure = context.failure
            what = f"call failed ({failure.kind})" if failure is not None else "call ended"
            error.add_note(f"shopper: {what}; evidence: {self._keep(context)}")
            raise
        self._keep(context)

    def _open(
        self,
        target: str | Path,
        name: str,
        carrier: str,
        settings: ListenSettings | None,
        at: datetime | None,
        max_duration_s: float | None,
    ) -> CallContext:
        from dataclasses import replace

        from shopper.carriers.options import DialOptions, SandboxOptions
        from shopper.errors import ShopperError
        from shopper.scripts.runner import open_call

        config = self._request.config
        options = DialOptions(
            sandbox=SandboxOptions(
                seed=config.getoption("shopper_seed"),
                realtime=config.getoption("shopper_realtime"),
                at=at,
            )
        )
        if max_duration_s is not None:
            options = replace(options, max_duration_s=max_duration_s)
        try:
            # Numbers are checked by the safety rules when dialled (shopper.carriers.dial).
            resolved = str(self._sandbox_file(Path(target)) if carrier == "sandbox" else target)
            return open_call(
                resolved,
                self._engine,
                name=name,
                carrier=carrier,
                options=options,
                settings=settings,
                folder=lambda call_id, _: self._out_root / call_id,
            )
        except ShopperError as error:
            pytest.fail(f"shopper: {error}", pytrace=False)

    def _sandbox_file(self, target: Path) -> Path:
        if target.is_absolute():
            candidates = [target]
        else:
            candidates = [
                self._request.path.parent / target,
                self._request.config.rootpath / target,
            ]
        for candidate in candidates:
            if candidate.is_file():
                return candidate.resolve()
        from shopper.errors import ShopperError

        looked = " and ".join(str(candidate) for candidate in candidates)
        raise ShopperError(
            f"sandbox IVR {str(target)!r} not found: looked for {looked} (relative paths start "
            "at the test file's folder, then at the rootdir)"
        )

    def _keep(self, context: CallContext) -> Path:
        """Write the call's folder and attach its figures to the JUnit report."""
        from shopper.results.writer import RECORDING_FILE, write_call

        record = context.record()
        folder = self._out_root / context.call_id
        write_call(record, folder)
        result = record.result
        properties: dict[str, object] = {
            "call_id": result["call_id"],
            "outcome": result["outcome"],
            "engine": result["engine"],
        }
        if result["failure"] is not None:
            properties["failure"] = result["failure"]["kind"]
        metrics = result["metrics"]
        properties.update({key: metrics[key] for key in JUNIT_METRICS if metrics[key] is not None})
        properties["recording"] = str(folder / RECORDING_FILE)
        properties["evidence"] = str(folder)
        self._request.node.user_properties.extend(properties.items())
        self._request.config.stash.setdefault(EVIDENCE_KEY, []).append(folder)
        return folder


@pytest.fixture
def shopper_call(
    shopper_engine: SpeechEngine,
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> CallFactory:
    """Place calls from a test: `async with shopper_call("ivr.yaml") as call: ...`.

    The call's figures go to the test's user properties, which is what `record_property`
    does, but without its warning under the default junit_family (xunit2): that warning
    would fail every suite run with `filterwarnings = error`.
    """
    out: Path | None = request.config.getoption("shopper_out")
    return CallFactory(shopper_engine, request, out if out is not None else tmp_path)
