"""Where the sandbox finds the real recordings its IVRs name as `asterisk:NAME` (recorded
prompts) and `asterisk-moh:NAME` (music on hold): Debian's Asterisk sound packages."""

from __future__ import annotations

from pathlib import Path

PROMPTS_DIR = Path("/usr/share/asterisk/sounds/en")
"""asterisk-core-sounds-en-wav: 8 kHz recorded IVR prompts."""
MOH_DIR = Path("/usr/share/asterisk/moh")
"""asterisk-moh-opsound-wav: music on hold."""
