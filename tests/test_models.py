"""Model lookup and download, against temporary folders and a web server on 127.0.0.1.

Every location is redirected (SHOPPER_CACHE_DIR, SHOPPER_CONFIG) so the real home directory
is never read or written, and no test contacts the internet: downloads come from a local
http.server serving a tiny fake model archive that the test builds, registered in place of
the real catalogue entry.
"""

from __future__ import annotations

import hashlib
import io
import socket
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shopper.asr import models
from shopper.asr.models import (
    REGISTRY,
    DownloadableModel,
    ModelDownloadError,
    download_model,
    find_vosk_model,
    list_models,
    looks_like_vosk_model,
)
from shopper.cli.models import models_app
from shopper.errors import ShopperError

FAKE_FOLDER = "vosk-model-fake-0.1"
MODEL_FILES = ["am/final.mdl", "conf/mfcc.conf", "conf/model.conf", "graph/HCLG.fst"]


def fake_model_zip(top: str = FAKE_FOLDER, files: list[str] = MODEL_FILES) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for name in files:
            bundle.writestr(f"{top}/{name}" if top else name, f"contents of {name}\n" * 50)
    return buffer.getvalue()


def make_model(folder: Path) -> Path:
    for name in MODEL_FILES:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text("x")
    return folder


@dataclass
class LocalServer:
    """Serves `files` (path -> bytes) on 127.0.0.1 and counts the requests it answers."""

    files: dict[str, bytes] = field(default_factory=dict)
    requests: int = 0
    port: int = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
def server() -> Iterator[LocalServer]:
    state = LocalServer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests += 1
            body = state.files.get(self.path)
            if body is None:
                self.send_error(404, "Not Found")
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/zip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture
def places(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Cache and config in tmp_path; no model from the environment."""
    monkeypatch.setenv("SHOPPER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("SHOPPER_CONFIG", str(tmp_path / "config" / "config.toml"))
    monkeypatch.delenv("SHOPPER_VOSK_MODEL", raising=False)
    return tmp_path


def register(monkeypatch: pytest.MonkeyPatch, url: str, archive: bytes, sha: str = "") -> None:
    entry = DownloadableModel(
        name="fake",
        url=url,
        sha256=sha or hashlib.sha256(archive).hexdigest(),
        folder=FAKE_FOLDER,
        size_bytes=len(archive),
        description="a fake model for tests",
    )
    monkeypatch.setitem(REGISTRY, "fake", entry)


def cache_entries(places: Path) -> list[str]:
    models_dir = places / "cache" / "models"
    return sorted(p.name for p in models_dir.iterdir()) if models_dir.exists() else []


def write_config(places: Path, text: str) -> None:
    config = places / "config" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(text, encoding="utf-8")


def test_real_registry_entry_is_the_official_small_english_archive() -> None:
    entry = REGISTRY["vosk-small-en-us"]
    assert entry.url == "https://alphacephei.com/vosk/models/vosk-model-small-en-us-0.15.zip"
    assert entry.folder == "vosk-model-small-en-us-0.15"
    assert len(entry.sha256) == 64 and int(entry.sha256, 16) >= 0


def test_nothing_configured_finds_nothing(places: Path) -> None:
    assert find_vosk_model() is None


def test_resolution_order_is_explicit_env_config_then_cache(
    places: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cached = make_model(places / "cache" / "models" / REGISTRY["vosk-small-en-us"].folder)
    assert find_vosk_model() == cached

    write_config(places, '[asr]\nvosk_model = "models/from-config"\n')
    assert find_vosk_model() == places / "config" / "models" / "from-config"
    write_config(places, f'[asr]\nvosk_model = "{places / "absolute"}"\n')
    assert find_vosk_model() == places / "absolute"

    monkeypatch.setenv("SHOPPER_VOSK_MODEL", str(places / "from-env"))
    assert find_vosk_model() == places / "from-env"

    assert find_vosk_model(places / "explicit") == places / "explicit"


def test_cache_folder_that_is_not_a_model_is_ignored(places: Path) -> None:
    broken = places / "cache" / "models" / REGISTRY["vosk-small-en-us"].folder
    (broken / "am").mkdir(parents=True)
    assert find_vosk_model() is None


def test_config_without_asr_section_is_ignored(places: Path) -> None:
    write_config(places, '[other]\nkey = "value"\n')
    assert find_vosk_model() is None


@pytest.mark.parametrize(
    ("text", "message"),
    [("[asr\nvosk_model = 1", "not valid TOML"), ("[asr]\nvosk_model = 3\n", "folder path")],
)
def test_bad_config_is_a_one_line_error(places: Path, text: str, message: str) -> None:
    write_config(places, text)
    with pytest.raises(ShopperError, match=message) as error:
        find_vosk_model()
    assert "\n" not in str(error.value)


def test_download_installs_atomically_with_progress(
    places: Path, server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = fake_model_zip()
    server.files["/fake.zip"] = archive
    register(monkeypatch, server.url("/fake.zip"), archive)
    seen: list[tuple[int, int | None]] = []

    installed = download_model("fake", progress=lambda done, total: seen.append((done, total)))

    assert installed == places / "cache" / "models" / FAKE_FOLDER
    assert looks_like_vosk_model(installed)
    assert (installed / "conf" / "model.conf").read_text().startswith("contents of conf/")
    assert cache_entries(places) == [FAKE_FOLDER]
    assert seen[0] == (0, len(archive))
    assert seen[-1] == (len(archive), len(archive))
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    assert download_model("fake") == installed
    assert server.requests == 1
    assert find_vosk_model() == installed


def test_archive_without_top_folder_is_installed_under_its_name(
    places: Path, server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = fake_model_zip(top="")
    server.files["/flat.zip"] = archive
    register(monkeypatch, server.url("/flat.zip"), archive)
    installed = download_model("fake")
    assert looks_like_vosk_model(installed)
    assert cache_entries(places) == [FAKE_FOLDER]


def test_checksum_mismatch_leaves_nothing(
    places: Path, server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = fake_model_zip()
    server.files["/fake.zip"] = archive
    register(monkeypatch, server.url("/fake.zip"), archive, sha="0" * 64)
    with pytest.raises(ModelDownloadError, match="checksum mismatch") as error:
        download_model("fake")
    assert "\n" not in str(error.value)
    assert cache_entries(places) == []


def test_connection_refused_says_offline_and_how_to_install_by_hand(
    places: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    register(monkeypatch, f"http://127.0.0.1:{closed_port}/fake.zip", b"")
    with pytest.raises(ModelDownloadError) as error:
        download_model("fake")
    message = str(error.value)
    assert "\n" not in message
    assert "offline" in message
    assert "SHOPPER_VOSK_MODEL" in message and "unpack" in message
    assert cache_entries(places) == []


@pytest.mark.parametrize(
    ("path", "archive", "message"),
    [
        ("/missing.zip", b"", "HTTP 404"),
        ("/junk.zip", b"this is not a zip file", "not a zip archive"),
        ("/empty.zip", fake_model_zip(files=["README"]), "does not contain a Vosk model"),
        ("/evil.zip", fake_model_zip(top="../escape"), "unsafe path"),
    ],
)
def test_bad_downloads_leave_nothing(
    places: Path,
    server: LocalServer,
    monkeypatch: pytest.MonkeyPatch,
    path: str,
    archive: bytes,
    message: str,
) -> None:
    if path != "/missing.zip":
        server.files[path] = archive
    register(monkeypatch, server.url(path), archive)
    with pytest.raises(ModelDownloadError, match=message):
        download_model("fake")
    assert cache_entries(places) == []
    assert not (places / "escape").exists()


def test_unknown_model_name_lists_the_known_ones(places: Path) -> None:
    with pytest.raises(ModelDownloadError, match="vosk-small-en-us"):
        download_model("klingon")


def test_list_models_shows_cache_env_config_and_bundled_moonshine(
    places: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_model(places / "cache" / "models" / "vosk-model-by-hand")
    (places / "cache" / "models" / "not-a-model").mkdir()
    monkeypatch.setenv("SHOPPER_VOSK_MODEL", str(places / "env-model"))
    write_config(places, f'[asr]\nvosk_model = "{places / "config-model"}"\n')

    listed = {(m.name, m.engine, m.source) for m in list_models()}

    assert listed == {
        ("vosk-model-by-hand", "vosk", "cache"),
        ("env-model", "vosk", "env"),
        ("config-model", "vosk", "config"),
        ("moonshine-base-en", "moonshine", "bundled"),
    }
    moonshine = models.bundled_moonshine_model()
    assert moonshine is not None and (moonshine / "tokenizer.bin").is_file()


def test_cli_download_and_list(
    places: Path, server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = fake_model_zip()
    server.files["/fake.zip"] = archive
    register(monkeypatch, server.url("/fake.zip"), archive)
    runner = CliRunner()

    downloaded = runner.invoke(models_app, ["download", "fake"])
    assert downloaded.exit_code == 0, downloaded.output
    assert downloaded.stdout.strip() == str(places / "cache" / "models" / FAKE_FOLDER)

    listed = runner.invoke(models_app, ["list"])
    assert listed.exit_code == 0, listed.output
    assert FAKE_FOLDER in listed.stdout
    assert "moonshine-base-en" in listed.stdout
    assert "shopper models download vosk-small-en-us" in listed.stdout


def test_cli_errors_are_one_line_with_exit_code_2(
    places: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    unknown = runner.invoke(models_app, ["download", "klingon"])
    assert unknown.exit_code == 2
    assert unknown.stderr.count("\n") == 1 and "unknown model" in unknown.stderr

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    register(monkeypatch, f"http://127.0.0.1:{closed_port}/fake.zip", b"")
    offline = runner.invoke(models_app, ["download", "fake"])
    assert offline.exit_code == 2
    assert offline.stderr.strip().count("\n") == 0 and "offline" in offline.stderr
    assert "Traceback" not in offline.output
