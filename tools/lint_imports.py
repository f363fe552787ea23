"""Check the import contracts (run by `make test`): .importlinter's for the packages, and the
rules below for the three modules at the top.

import-linter reads packages as they are (``lamp``, ``doors``, ...). app.py, led.py and
protocol.py are modules at the top of the repository, the product's layout, and import-linter
builds its graph of packages only; so it sees them only as names that the packages import,
and its contracts say which packages may. What these three import themselves is checked here,
from their source: each may import only the packages ``TOP_LEVEL`` gives it, and none of
``NEVER``. Exits non-zero when a contract or a rule is broken.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("lamp", "curves", "messages", "boards", "broadcast", "doors", "serving", "limits", "adapters")
TOP_LEVEL = {  # module: the project's packages and modules it may import (None: any; it wires them)
    "app": None,
    "led": {"curves", "boards", "limits", "adapters"},
    "protocol": {"messages"},
}
NEVER = {  # libraries a top-level module must not import
    "led": {"flask", "flask_sock", "simple_websocket", "wsproto", "paho", "socket"},
    "protocol": {"flask", "gevent", "socket", "threading", "paho", "gpiozero"},
}
PROJECT = set(PACKAGES) | set(TOP_LEVEL)


def imported(path: Path) -> list[tuple[int, str]]:
    """Every module ``path`` imports (absolute, as written), with its line."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append((node.lineno, node.module))
    return found


def top_level_problems() -> list[str]:
    problems = []
    for module, allowed in TOP_LEVEL.items():
        for line, name in imported(ROOT / f"{module}.py"):
            first = name.split(".")[0]
            if first in NEVER.get(module, ()):
                problems.append(f"{module}.py:{line} imports {name}, which it must not")
            elif allowed is not None and first in PROJECT and first not in allowed and first != module:
                problems.append(f"{module}.py:{line} imports {name}; it may import only {', '.join(sorted(allowed))}")
    return problems


def main() -> int:
    lint = Path(sys.executable).with_name("lint-imports")
    status = subprocess.run(
        [str(lint), "--no-cache", "--no-logo", str(ROOT / ".importlinter")],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    ).returncode
    problems = top_level_problems()
    for problem in problems:
        print(f"lint_imports: {problem}")
    if not problems:
        print(f"lint_imports: {', '.join(f'{m}.py' for m in TOP_LEVEL)} import what they may")
    return status or (1 if problems else 0)


if __name__ == "__main__":
    sys.exit(main())
