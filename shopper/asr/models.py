"""Where speech models live, and fetching the ones shopper can install itself.

A Vosk model is a folder of Kaldi files tens of megabytes big, so it is not shipped with
shopper: the user points at one (argument, SHOPPER_VOSK_MODEL, config file) or lets
`shopper models download` put one in the user cache. The Moonshine English model is bundled
by the moonshine-cpp wheel and so is always there as a fallback.

Tests and sandboxes redirect every location through environment variables
(SHOPPER_CACHE_DIR, SHOPPER_CONFIG) so that nothing ever touches the real home directory.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Literal

import platformdirs

from shopper.config import config_table
from shopper.errors import ShopperError

ENV_VOSK_MODEL = "SHOPPER_VOSK_MODEL"
ENV_CACHE_DIR = "SHOPPER_CACHE_DIR"

_CHUNK_BYTES = 1 << 16
_DOWNLOAD_TIMEOUT_S = 30.0

ProgressCallback = Callable[[int, int | None], None]
"""Called with (bytes received so far, total bytes or None when the server does not say)."""

ModelSource = Literal["cache", "env", "config", "bundled"]


class ModelError(ShopperError):
    """A model that cannot be found, read or configured; the message says how to fix it."""


class ModelDownloadError(ModelError):
    """A download that failed; nothing half-installed is left behind."""


@dataclass(frozen=True, slots=True)
class DownloadableModel:
    name: str
    url: str
    sha256: str
    folder: str
    """The folder the archive unpacks to; kept as the installed name so it carries the version."""
    size_bytes: int
    description: str


@dataclass(frozen=True, slots=True)
class InstalledModel:
    name: str
    engine: Literal["vosk", "moonshine"]
    path: Path
    source: ModelSource


REGISTRY: dict[str, DownloadableModel] = {
    "vosk-small-en-us": DownloadableModel(
        name="vosk-small-en-us",
        url="https://alphacephei.com/vosk/models/vosk-model-small-en-us-0.15.zip",
        sha256="30f26242c4eb449f948e42cb302dd7a686cb29a3423a8367f99ff41780942498",
        folder="vosk-model-small-en-us-0.15",
        size_bytes=41_205_931,
        description="Vosk small US English (Apache-2.0), 16 kHz, ~40 MB",
    ),
}


def cache_root() -> Path:
    override = os.environ.get(ENV_CACHE_DIR)
    return Path(override).expanduser() if override else Path(platformdirs.user_cache_dir("shopper"))


def models_dir() -> Path:
    return cache_root() / "models"


def looks_like_vosk_model(folder: Path) -> bool:
    """Checked before loading, because Kaldi aborts the whole process on a malformed model."""
    graph = folder / "graph"
    has_graph = (graph / "HCLG.fst").is_file() or (graph / "HCLr.fst").is_file()
    return (
        (folder / "am" / "final.mdl").is_file()
        and (folder / "conf" / "mfcc.conf").is_file()
        and (folder / "conf" / "model.conf").is_file()
        and has_graph
    )


def configured_vosk_model() -> Path | None:
    """The `[asr] vosk_model` entry of the config file; relative paths are from the file."""
    path, asr = config_table("asr")
    value = asr.get("vosk_model")
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ModelError(f"{path}: [asr] vosk_model must be a folder path in quotes")
    return path.parent / Path(value).expanduser()


def find_vosk_model(explicit: Path | None = None) -> Path | None:
    """The Vosk model to use: explicit, SHOPPER_VOSK_MODEL, config file, then the cache."""
    if explicit is not None:
        return explicit
    from_env = os.environ.get(ENV_VOSK_MODEL)
    if from_env:
        return Path(from_env).expanduser()
    from_config = configured_vosk_model()
    if from_config is not None:
        return from_config
    for entry in REGISTRY.values():
        candidate = models_dir() / entry.folder
        if looks_like_vosk_model(candidate):
            return candidate
    return None


def bundled_moonshine_model() -> Path | None:
    """Located without importing moonshine_cpp, which would load its native libraries."""
    spec = importlib.util.find_spec("moonshine_cpp")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "models" / "base-en"
    return folder if folder.is_dir() else None


def list_models() -> list[InstalledModel]:
    installed: list[InstalledModel] = []
    root = models_dir()
    if root.is_dir():
        for folder in sorted(root.iterdir()):
            if not folder.name.startswith(".") and looks_like_vosk_model(folder):
                installed.append(InstalledModel(folder.name, "vosk", folder, "cache"))
    from_env = os.environ.get(ENV_VOSK_MODEL)
    if from_env:
        path = Path(from_env).expanduser()
        installed.append(InstalledModel(path.name, "vosk", path, "env"))
    from_config = configured_vosk_model()
    if from_config is not None:
        installed.append(InstalledModel(from_config.name, "vosk", from_config, "config"))
    moonshine = bundled_moonshine_model()
    if moonshine is not None:
        installed.append(InstalledModel("moonshine-base-en", "moonshine", moonshine, "bundled"))
    return installed


def download_model(name: str, progress: ProgressCallback | None = None) -> Path:
    """Install a registry model into the cache; returns its folder (at once if already there).

    The archive and the unpacked tree are staged beside the destination and moved into place
    with one rename, so an interrupted or failed download never leaves a folder that looks
    installed.
    """
    entry = REGISTRY.get(name)
    if entry is None:
        known = ", ".join(sorted(REGISTRY))
        raise ModelDownloadError(f"unknown model '{name}' (known: {known})")
    destination = models_dir() / entry.folder
    if looks_like_vosk_model(destination):
        return destination
    try:
        models_dir().mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ModelDownloadError(f"{models_dir()}: cannot create ({error.strerror})") from None
    archive_fd, archive_name = tempfile.mkstemp(dir=models_dir(), prefix=".download-")
    archive = Path(archive_name)
    unpack_dir: Path | None = None
    try:
        with os.fdopen(archive_fd, "wb") as sink:
            digest = _fetch(entry, sink, progress)
        if digest != entry.sha256:
            raise ModelDownloadError(
                f"{entry.url}: checksum mismatch (got {digest}, expected {entry.sha256}); "
                "the download was discarded"
            )
        unpack_dir = Path(tempfile.mkdtemp(dir=models_dir(), prefix=".unpack-"))
        model_root = _unpack(archive, unpack_dir, entry)
        try:
            model_root.rename(destination)
        except OSError as error:
            raise ModelDownloadError(f"{destination}: cannot install ({error.strerror})") from None
        return destination
    finally:
        archive.unlink(missing_ok=True)
        if unpack_dir is not None:
            shutil.rmtree(unpack_dir, ignore_errors=True)


def _offline_message(entry: DownloadableModel, reason: object) -> str:
    return (
        f"cannot download {entry.name}: this machine seems offline ({reason}); to install it by "
        f"hand, fetch {entry.url} elsewhere, unpack it and set {ENV_VOSK_MODEL} to the "
        f"unpacked {entry.folder} folder"
    )


def _fetch(entry: DownloadableModel, sink: IO[bytes], progress: ProgressCallback | None) -> str:
    """Stream the archive into `sink`; returns its sha256 (hex)."""
    digest = hashlib.sha256()
    received = 0
    try:
        with urllib.request.urlopen(entry.url, timeout=_DOWNLOAD_TIMEOUT_S) as response:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            if progress is not None:
                progress(0, total)
            while chunk := response.read(_CHUNK_BYTES):
                digest.update(chunk)
                sink.write(chunk)
                received += len(chunk)
                if progress is not None:
                    progress(received, total)
    except urllib.error.HTTPError as error:
        raise ModelDownloadError(
            f"{entry.url}: server answered HTTP {error.code} {error.reason}; to install it by "
            f"hand, unpack the archive and set {ENV_VOSK_MODEL} to the {entry.folder} folder"
        ) from None
    except urllib.error.URLError as error:
        raise ModelDownloadError(_offline_message(entry, error.reason)) from None
    except (TimeoutError, ConnectionError) as error:
        raise ModelDownloadError(_offline_message(entry, error)) from None
    return digest.hexdigest()


def _unpack(archive: Path, into: Path, entry: DownloadableModel) -> Path:
    """Extract; the model is the archive's single top folder, or `into` itself if it has none."""
    try:
        with zipfile.ZipFile(archive) as bundle:
            for member in bundle.namelist():
                parts = PurePosixPath(member).parts
                if PurePosixPath(member).is_absolute() or ".." in parts:
                    raise ModelDownloadError(f"{entry.url}: archive has unsafe path '{member}'")
            bundle.extractall(into)
    except zipfile.BadZipFile:
        raise ModelDownloadError(f"{entry.url}: not a zip archive") from None
    except OSError as error:
        raise ModelDownloadError(f"{into}: cannot unpack ({error.strerror})") from None
    entries = [child for child in into.iterdir() if not child.name.startswith("__MACOSX")]
    model_root = entries[0] if len(entries) == 1 and entries[0].is_dir() else into
    if not looks_like_vosk_model(model_root):
        raise ModelDownloadError(f"{entry.url}: the archive does not contain a Vosk model")
    return model_root
