"""The service's version, from one place: what `make install` wrote in VERSION (``git describe``
of the clone it was installed from), else ``git describe`` of this clone, else "unknown".
Home Assistant's device page shows it (``sw_version``), and the log and /healthz say it.
"""

from __future__ import annotations

import subprocess
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VERSION_FILE = "VERSION"  # written by `make install` into the install folder


@cache
def service_version(root: Path = ROOT) -> str:
    """``git describe --tags --always --dirty`` of the code that runs, as installed or as cloned."""
    installed = root / VERSION_FILE
    if installed.is_file():
        return installed.read_text().strip() or "unknown"
    try:
        described = subprocess.run(
            ["git", "describe", "--tags", "--always", "--dirty"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=5,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return described.stdout.strip() if described.returncode == 0 and described.stdout.strip() else "unknown"
