"""`make install` and `make uninstall` into a temporary root (DESTDIR), the unit checked by
systemd's own `systemd-analyze verify`."""

import shutil
import subprocess

import pytest

from support import ROOT


def make(*args, timeout=600):
    return subprocess.run(
        ["make", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )


def verify(unit_text: str, folder) -> subprocess.CompletedProcess:
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is missing: `make test` installs Debian's systemd"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ledsock.service").write_text(unit_text)
    return subprocess.run(
        [analyze, "verify", str(folder / "ledsock.service")], capture_output=True, text=True, timeout=60
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    root = tmp_path_factory.mktemp("root")
    result = make("install", f"DESTDIR={root}")
    assert result.returncode == 0, result.stdout + result.stderr
    return root


def test_install_puts_the_service_its_venv_and_a_hardened_unit_in_place(installed, tmp_path):
    prefix = installed / "opt" / "ledsock"
    assert (prefix / "app.py").exists() and (prefix / "templates" / "index.html").exists()
    check = subprocess.run(
        [str(prefix / ".venv" / "bin" / "python"), "-c", "import flask, gpiozero, lgpio, gevent"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert check.returncode == 0, check.stderr  # its own venv, from the lock
    served = subprocess.run(
        [str(prefix / ".venv" / "bin" / "python"), "-c", "import app, doors.web, serving.serve"],
        cwd=prefix,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert served.returncode == 0, served.stderr  # every package of the service is in place
    described = subprocess.run(
        ["git", "describe", "--tags", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    assert (prefix / "VERSION").read_text().strip() == described  # what Home Assistant's device page shows
    unit = (installed / "etc" / "systemd" / "system" / "ledsock.service").read_text()
    for line in (
        "User=ledsock",
        "SupplementaryGroups=gpio",
        "StateDirectory=ledsock",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "Wants=pigpiod.service",
        "ExecStart=/opt/ledsock/.venv/bin/python /opt/ledsock/app.py",
        "Environment=LED_PIN_FACTORY=auto",
        "RuntimeDirectory=ledsock",
        "Environment=LG_WD=%t/ledsock",
    ):  # lgpio's FIFO: not the read-only install
        assert line in unit.splitlines(), line
    assert "Requires=pigpiod" not in unit and "@PREFIX@" not in unit
    # systemd reads it as a unit whose command exists (pointed at the temporary root).
    checked = verify(unit.replace("/opt/ledsock", str(prefix)), tmp_path / "ok")
    assert checked.returncode == 0, checked.stderr
    broken = verify(unit.replace("/opt/ledsock/.venv", "/opt/nowhere/.venv"), tmp_path / "broken")
    assert broken.returncode != 0 and "not executable" in broken.stderr  # the check can fail


def test_a_second_install_upgrades_in_place_and_uninstall_keeps_the_state(installed):
    prefix = installed / "opt" / "ledsock"
    state = installed / "var" / "lib" / "ledsock" / "state.json"
    state.parent.mkdir(parents=True)
    state.write_text('{"brightness": 40, "on": true}\n')
    (prefix / "app.py").write_text("stale\n")
    again = make("install", f"DESTDIR={installed}")
    assert again.returncode == 0, again.stderr
    assert (prefix / "app.py").read_text() == (ROOT / "app.py").read_text()  # upgraded
    assert state.read_text() == '{"brightness": 40, "on": true}\n'
    removed = make("uninstall", f"DESTDIR={installed}")
    assert removed.returncode == 0, removed.stderr
    assert not prefix.exists() and not (installed / "etc" / "systemd" / "system" / "ledsock.service").exists()
    assert state.exists()  # the saved state is kept
