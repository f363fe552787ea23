"""Check the import contracts in .importlinter (run by `make test`).

import-linter's graph builder (grimp) reads packages only, and the service is a set
of top-level modules (``app.py``, ``light.py``, ...). So this copies them into a
temporary package named ``ledsock``, turns each import of a project module into an
import from that package (``import protocol`` becomes ``from ledsock import
protocol``), and runs ``lint-imports`` there; the contracts name the modules as
``ledsock.<module>``.
Exits with lint-imports' status: 0 when every contract is kept.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "ledsock"


def project_modules() -> set[str]:
    """The service's modules: every top-level .py file."""
    return {path.stem for path in ROOT.glob("*.py")}


def rewrite(source: str, modules: set[str], path: Path) -> str:
    names = "|".join(sorted(modules))
    plain = re.compile(rf"^(\s*)import ({names})\b(?!\.)(.*)$")
    from_ = re.compile(rf"^(\s*)from ({names})( import .*)$")
    lines = []
    for number, line in enumerate(source.splitlines(), 1):
        if (match := plain.match(line)) is not None:
            if "," in match.group(3).split("#")[0]:
                raise SystemExit(f"lint_imports: {path.name}:{number}: write one project import per line")
            line = f"{match.group(1)}from {PACKAGE} import {match.group(2)}{match.group(3)}"
        elif (match := from_.match(line)) is not None:
            line = f"{match.group(1)}from {PACKAGE}.{match.group(2)}{match.group(3)}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def main() -> int:
    modules = project_modules()
    with tempfile.TemporaryDirectory(prefix="ledsock-imports-") as work:
        package = Path(work) / PACKAGE
        package.mkdir()
        (package / "__init__.py").write_text("")
        for name in modules:
            source = ROOT / f"{name}.py"
            (package / source.name).write_text(rewrite(source.read_text(), modules, source))
        lint = Path(sys.executable).with_name("lint-imports")
        return subprocess.run([str(lint), "--no-cache", "--no-logo", str(ROOT / ".importlinter")], cwd=work,
                              env={**os.environ, "PYTHONPATH": work}).returncode


if __name__ == "__main__":
    sys.exit(main())
