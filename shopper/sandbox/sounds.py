"""Where the sandbox finds the real recordings its IVRs name as `asterisk:NAME` (recorded
prompts) and `asterisk-moh:NAME` (music on hold): Debian's Asterisk sound packages.

They live with the sandbox because the sandbox plays them; the benchmarks and tests that use
the same recordings as material import them from here."""

from __future__ import annotations

from pathlib import Path

from shopper.errors import ShopperError

PROMPTS_DIR = Path("/usr/share/asterisk/sounds/en")
"""asterisk-core-sounds-en-wav: 8 kHz recorded IVR prompts."""
MOH_DIR = Path("/usr/share/asterisk/moh")
"""asterisk-moh-opsound-wav: music on hold."""


class SoundsMissing(ShopperError):
    """A Debian sound package is not installed; the message says which and how to install it."""


def require_installed(path: Path, package: str) -> Path:
    """`path`, which the Debian `package` installs; SoundsMissing when it is not there."""
    if not path.exists():
        raise SoundsMissing(f"{path} not found: install {package} (apt-get install {package})")
    return path


def moh_files() -> list[Path]:
    """Every music-on-hold file, sorted by name: what a sandbox queue plays by default."""
    root = require_installed(MOH_DIR, "asterisk-moh-opsound-wav")
    return sorted(root.glob("*.wav"))
