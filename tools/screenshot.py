"""Write docs/screenshot.png: the page on a phone (dark) and on a desktop (light), side by side.

Starts the service with a simulated LED on a free loopback port, sets a level,
and photographs the page with the same headless Chromium the tests use.
Run it with `make screenshot`; `python tools/screenshot.py OUT.png` writes elsewhere.
"""

import base64
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
OUT = ROOT / "docs" / "screenshot.png"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(out: Path = OUT):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    state_dir = tempfile.TemporaryDirectory()  # never the user's saved level
    server = subprocess.Popen(
        [
            sys.executable,
            "app.py",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--pin-factory",
            "mock",
            "--power-on",
            "70",
            "--state-file",
            str(Path(state_dir.name) / "state.json"),
        ],
        cwd=ROOT,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.05)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            shots = {}
            for name, options in {
                "phone": {
                    "viewport": {"width": 360, "height": 740},
                    "device_scale_factor": 2,
                    "is_mobile": True,
                    "has_touch": True,
                    "color_scheme": "dark",
                },
                "desktop": {"viewport": {"width": 1024, "height": 740}, "color_scheme": "light"},
            }.items():
                page = browser.new_context(**options).new_page()
                page.goto(base + "/")
                page.wait_for_selector("#connection[data-state=connected]")
                page.wait_for_timeout(300)
                shots[name] = base64.b64encode(page.screenshot()).decode()
            sheet = browser.new_page(viewport={"width": 1464, "height": 780})
            sheet.set_content(
                "<body style='margin:0;padding:20px;background:#888;display:flex;gap:20px;align-items:flex-start'>"
                f"<img width=360 height=740 src='data:image/png;base64,{shots['phone']}'>"
                f"<img width=1024 height=740 src='data:image/png;base64,{shots['desktop']}'></body>"
            )
            sheet.screenshot(path=str(out))
            browser.close()
    finally:
        server.terminate()
        server.wait(20)
        state_dir.cleanup()
    print(json.dumps({"wrote": str(out)}))


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
