"""docs/clients.md recipes run as written, the C# console client, and the Unity scripts, against real servers."""

import json
import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from support import ROOT, Client, free_port, require, shell_env

DOC_HOST = "raspberrypi.local:5000"
RECIPE = re.compile(r"<!-- recipe: (?P<name>[\w-]+) -->\s*```sh\n(?P<body>.*?)```", re.S)
TESTED_RECIPES = {
    "interactive",
    "one-shot",
    "watch",
    "led-script",
    "led-script-use",
    "curl-get",
    "curl-set-form",
    "curl-set-json",
    "curl-error",
    "curl-power",
    "csharp-build",
    "csharp-set",
    "csharp-fade",
    "token-websocat",
    "token-curl",
    "lights-one-shot",
    "lights-watch",
    "lights-curl",
    "curl-effect",
    "colour-one-shot",
    "colour-curl",
    "colour-flash",
}


def recipes() -> dict:
    return {m["name"]: m["body"] for m in RECIPE.finditer((ROOT / "docs" / "clients.md").read_text())}


def recipe(name: str, server) -> str:
    return recipes()[name].replace(DOC_HOST, f"127.0.0.1:{server.port}")


def started(script: str, stdin=subprocess.DEVNULL) -> subprocess.Popen:
    """A recipe that goes on running (a watch, an interactive session), in the user's shell, its
    output read line by line; in a session of its own, so that ending it ends its pipeline."""
    return subprocess.Popen(
        ["sh", "-c", script],
        env=shell_env(),
        text=True,
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def run(script: str, cwd=None, timeout=20, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["sh", "-c", script], cwd=cwd, env=shell_env(), capture_output=True, text=True, timeout=timeout, **kwargs
    )


@pytest.fixture
def scheduled(server):
    """The server with a schedule on it: level clients must still get only states."""
    with Client(server.ws_url) as me:
        me.recv()
        me.request({"type": "schedule", "name": "wake", "at": "06:45", "level": 80, "id": 1})
    return server


def readme_lines(tool: str) -> list[str]:
    """The lines of the README's sh blocks that run ``tool``, as written."""
    blocks = re.findall(r"```sh\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    return [line for block in blocks for line in block.splitlines() if re.match(rf"(.*\| )?{tool} ", line)]


def test_the_readmes_websocat_lines_with_schedules_present(scheduled):
    require("websocat")
    interactive, one_shot = (line.replace(DOC_HOST, f"127.0.0.1:{scheduled.port}") for line in readme_lines("websocat"))
    result = run(one_shot)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        '{"type":"state","level":50,"on":true,"brightness":50,"seq":0}',
        '{"type":"state","level":80,"on":true,"brightness":80,"seq":1}',
    ]
    session = started(interactive, stdin=subprocess.PIPE)
    try:
        assert json.loads(session.stdout.readline())["level"] == 80  # the state on connect, and only that
        session.stdin.write('{"level": 30}\n')
        session.stdin.flush()
        assert json.loads(session.stdout.readline())["level"] == 30
    finally:
        os.killpg(session.pid, 9)
        session.wait()


def test_the_readmes_curl_lines(scheduled):
    require("curl")
    lines = [line.replace(DOC_HOST, f"127.0.0.1:{scheduled.port}") for line in readme_lines("curl")]
    outputs = [run(line) for line in lines]
    assert all(o.returncode == 0 for o in outputs), [o.stderr for o in outputs]
    replies = [json.loads(o.stdout) for o in outputs]
    assert replies[0] == {"level": 50, "on": True, "brightness": 50, "seq": 0, "shown": 50}  # as the comment says
    assert replies[1]["level"] == 80 and replies[2]["level"] == 80
    assert (replies[3]["on"], replies[3]["level"], replies[3]["brightness"]) == (False, 0, 80)
    assert replies[4]["status"] == "ok"


def test_the_token_recipes_as_written(start_server):
    require("websocat"), require("curl")
    server = start_server(env={"LED_TOKEN": "s3cret"})
    websocat = recipe("token-websocat", server).replace("TOKEN", "s3cret")
    result = run(websocat)
    assert result.returncode == 0, result.stderr
    assert [json.loads(line)["level"] for line in result.stdout.splitlines()] == [50, 80]
    server.post("/led", '{"level": 20}')  # without the token: refused, the level stays 80
    result = run(recipe("token-curl", server).replace("TOKEN", "s3cret"))
    assert result.returncode == 0 and json.loads(result.stdout)["level"] == 80, result
    refused = run(websocat.replace("s3cret", "wrong").replace("echo 80", "echo 30"))
    assert refused.returncode != 0 and server.led()["level"] == 80


def test_every_recipe_in_the_document_has_a_test():
    assert set(recipes()) == TESTED_RECIPES


def test_interactive_session(server):
    require("websocat")
    session = started(recipe("interactive", server), stdin=subprocess.PIPE)
    try:
        assert json.loads(session.stdout.readline()) == {
            "type": "state",
            "level": 50,
            "on": True,
            "brightness": 50,
            "seq": 0,
        }
        session.stdin.write("80\n")
        session.stdin.flush()
        assert json.loads(session.stdout.readline()) == {
            "type": "state",
            "level": 80,
            "on": True,
            "brightness": 80,
            "seq": 1,
        }
        session.stdin.write('{"level": 81}\n')
        session.stdin.flush()
        assert json.loads(session.stdout.readline()) == {
            "type": "state",
            "level": 81,
            "on": True,
            "brightness": 81,
            "seq": 2,
        }
        session.stdin.write('{"on": false}\n{"type": "toggle", "transition": 2}\n')  # as the document shows
        session.stdin.flush()
        assert json.loads(session.stdout.readline()) == {
            "type": "state",
            "level": 0,
            "on": False,
            "brightness": 81,
            "seq": 3,
        }
        assert json.loads(session.stdout.readline()) == {
            "type": "state",
            "level": 81,
            "on": True,
            "brightness": 81,
            "seq": 4,
            "transition": 2.0,
        }
        session.stdin.close()  # Ctrl+D
        assert session.wait(10) == 0
    finally:
        session.kill()
    led = server.led()  # the 2 s fade may still be under way: its transition is what is left of it
    assert (led["level"], led["on"], led["brightness"], led["seq"]) == (81, True, 81, 4), led


def test_one_shot_set_prints_the_reply_and_exits_0(scheduled):
    require("websocat")
    result = run(recipe("one-shot", scheduled))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        '{"type":"state","level":50,"on":true,"brightness":50,"seq":0}',
        '{"type":"state","level":80,"on":true,"brightness":80,"seq":1}',
    ]


def test_watch_prints_every_change_one_line_each(server):
    require("websocat"), require("jq")
    watcher = started(recipe("watch", server))
    try:
        assert watcher.stdout.readline() == "50\n"
        for level in (33, 34, 0):
            server.post("/led", f'{{"level": {level}}}')
            assert watcher.stdout.readline() == f"{level}\n"
    finally:
        os.killpg(watcher.pid, 9)
        watcher.wait()


@pytest.fixture
def led_script(tmp_path, scheduled):
    (tmp_path / "led.sh").write_text(recipe("led-script", scheduled))
    require("websocat"), require("jq")
    return tmp_path


def test_led_script_sets_and_reads(led_script, server):
    result = run(recipe("led-script-use", server), cwd=led_script)
    assert (result.returncode, result.stdout, result.stderr) == (0, "80\n80\n", "")
    assert server.get("/led")["level"] == 80


def test_led_script_exits_1_with_the_reason_on_an_error_reply(led_script, server):
    for level, code in (("150", "out_of_range"), ("abc", "invalid_message"), ("\u00b2", "invalid_message")):
        result = run(f"sh led.sh '{level}'", cwd=led_script)
        assert result.returncode == 1
        assert result.stdout == ""
        assert result.stderr.startswith(f"led.sh: {code}: level must be an integer from 0 to 100")
    assert run("sh led.sh 150", cwd=led_script).stderr == (
        'led.sh: out_of_range: level must be an integer from 0 to 100, got "150"\n'
    )
    assert server.led() == {"level": 50, "on": True, "brightness": 50, "seq": 0}


def test_led_script_exits_2_when_nothing_answers(led_script):
    url = f"ws://127.0.0.1:{free_port()}/ws"  # nothing listens here
    result = subprocess.run(
        ["sh", "led.sh", "10"],
        cwd=led_script,
        capture_output=True,
        text=True,
        timeout=20,
        env={**shell_env(), "LED_URL": url},
    )
    assert result.returncode == 2 and "no answer" in result.stderr
    with socket.socket() as silent:  # accepts the connection, never answers the handshake
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        started = time.monotonic()
        result = subprocess.run(
            ["sh", "led.sh"],
            cwd=led_script,
            capture_output=True,
            text=True,
            timeout=20,
            env={**shell_env(), "LED_URL": f"ws://127.0.0.1:{silent.getsockname()[1]}/ws"},
        )
        assert result.returncode == 2 and "no answer" in result.stderr
        assert 4 < time.monotonic() - started < 15


def test_curl_recipes(server):
    require("curl")
    get = run(recipe("curl-get", server))
    assert get.stdout == '{"level":50,"on":true,"brightness":50,"seq":0,"shown":50}\n'
    with Client(server.ws_url) as client:
        client.recv()
        assert run(recipe("curl-set-form", server)).stdout == '{"level":42,"on":true,"brightness":42,"seq":1}\n'
        assert client.recv() == {"type": "state", "level": 42, "on": True, "brightness": 42, "seq": 1}
        assert run(recipe("curl-set-json", server)).stdout == '{"level":43,"on":true,"brightness":43,"seq":2}\n'
        assert client.recv() == {"type": "state", "level": 43, "on": True, "brightness": 43, "seq": 2}
        error = run(recipe("curl-error", server))
        assert error.stdout == (
            '{"type":"error","code":"out_of_range","message":'
            '"level must be an integer from 0 to 100, got \\"150\\""}\nHTTP 400\n'
        )
        assert client.nothing_pending()
        power = run(recipe("curl-power", server)).stdout.splitlines()
        assert [json.loads(line) for line in power] == [
            {"level": 0, "on": False, "brightness": 43, "seq": 3},
            {"level": 43, "on": True, "brightness": 43, "seq": 4, "transition": 1.5},
            {"level": 33, "on": True, "brightness": 33, "seq": 5},
        ]
        assert [client.recv()["seq"] for _ in range(3)] == [3, 4, 5]


def test_the_effect_recipe(server):
    require("curl")
    flash, candle, none = recipe("curl-effect", server).strip().splitlines()
    with Client(server.ws_url) as watcher:
        watcher.recv()
        assert json.loads(run(flash).stdout) == {"level": 50, "on": True, "brightness": 50, "seq": 1, "effect": "flash"}
        assert watcher.recv()["effect"] == "flash"
        assert watcher.recv(timeout=10) == {"type": "state", "level": 50, "on": True, "brightness": 50, "seq": 2}
        assert json.loads(run(candle).stdout)["effect"] == "candle"
        assert json.loads(run(none).stdout) == {"level": 50, "on": True, "brightness": 50, "seq": 4}


def test_the_several_lights_recipes(start_server):
    require("websocat"), require("jq"), require("curl")
    server = start_server(env={"LIGHTS": "desk:21,shelf:20,status:16"})
    result = run(recipe("lights-one-shot", server))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        '{"type":"state","level":50,"on":true,"brightness":50,"seq":0}',
        '{"type":"state","light":"shelf","level":30,"on":true,"brightness":30,"seq":1}',
    ]
    watcher = started(recipe("lights-watch", server))
    try:
        assert [watcher.stdout.readline() for _ in range(3)] == ["desk 50\n", "shelf 30\n", "status 50\n"]
        curl_all, curl_one, curl_every = recipe("lights-curl", server).strip().splitlines()
        assert [(s["light"], s["level"]) for s in json.loads(run(curl_all).stdout)] == [
            ("desk", 50),
            ("shelf", 30),
            ("status", 50),
        ]
        assert json.loads(run(curl_one).stdout) == {
            "light": "status",
            "level": 70,
            "on": True,
            "brightness": 70,
            "seq": 1,
        }
        assert watcher.stdout.readline() == "status 70\n"
        assert [(s["light"], s["on"]) for s in json.loads(run(curl_every).stdout)] == [
            ("desk", False),
            ("shelf", False),
            ("status", False),
        ]
        assert [watcher.stdout.readline() for _ in range(3)] == ["desk 0\n", "shelf 0\n", "status 0\n"]
    finally:
        os.killpg(watcher.pid, 9)
        watcher.wait()


def test_the_colour_recipes(start_server):
    require("websocat"), require("curl")
    server = start_server(env={"LIGHTS": "desk:21,strip:rgb:17/27/22,bulb:cct:18/19"})
    result = run(recipe("colour-one-shot", server))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        '{"type":"state","level":50,"on":true,"brightness":50,"seq":0}',
        '{"type":"state","light":"strip","level":60,"on":true,"brightness":60,"color":"#ff8800","seq":1}',
    ]
    fade, warm, read = recipe("colour-curl", server).strip().splitlines()
    assert json.loads(run(fade).stdout) == {
        "light": "strip",
        "level": 60,
        "on": True,
        "brightness": 60,
        "color": "#0088ff",
        "seq": 2,
        "transition": 2,
    }
    assert json.loads(run(warm).stdout)["kelvin"] == 2700
    bulb = json.loads(run(read).stdout)
    assert bulb["channels"] == [
        {"pin": 18, "drives": "warm", "duty": 0.1125},
        {"pin": 19, "drives": "cold", "duty": 0.0},
    ]  # as the document says
    with Client(server.ws_url + "?watch=lights") as watcher:
        watcher.recv_until(lambda m: m.get("light") == "bulb")
        flash = json.loads(run(recipe("colour-flash", server)).stdout)
        assert (flash["effect"], flash["color"]) == ("flash", "#0088ff")  # the light's own colour, kept
        over, _ = watcher.recv_until(lambda m: m.get("light") == "strip" and m["seq"] > flash["seq"], timeout=10)
        assert "effect" not in over and over["color"] == "#0088ff"


# ------------------------------------------------------------------ C#


@pytest.fixture(scope="session")
def mono():
    """The tools the C# tests need; missing ones are a failure, never a skip."""
    for tool in ("mcs", "mono"):
        assert shutil.which(tool), f"{tool} is missing: `make test` installs Debian's mono-mcs"
    assert Path("/usr/lib/mono/4.5/System.Runtime.Serialization.dll").exists(), (
        "System.Runtime.Serialization is missing: `make test` installs Debian's "
        "libmono-system-runtime-serialization4.0-cil"
    )


@pytest.fixture(scope="session")
def led_client(mono, tmp_path_factory):
    """Build clients/csharp/LedClient.cs with the documented command, from a copy of the tree."""
    work = tmp_path_factory.mktemp("csharp")
    (work / "clients" / "csharp").mkdir(parents=True)
    shutil.copy(ROOT / "clients" / "csharp" / "LedClient.cs", work / "clients" / "csharp")
    build = recipes()["csharp-build"]
    result = subprocess.run(["sh", "-c", build], cwd=work, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return work


def led_client_run(work, *args, timeout=30):
    return subprocess.run(["mono", str(work / "LedClient.exe"), *args], capture_output=True, text=True, timeout=timeout)


def test_csharp_set_is_seen_by_a_python_client(led_client, server):
    with Client(server.ws_url) as python:
        python.recv()
        result = subprocess.run(
            ["sh", "-c", recipe("csharp-set", server)], cwd=led_client, capture_output=True, text=True, timeout=30
        )
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == {
            "type": "state",
            "level": 80,
            "on": True,
            "brightness": 80,
            "seq": 1,
            "id": "ledclient",
        }
        assert python.recv() == {"type": "state", "level": 80, "on": True, "brightness": 80, "seq": 1}
    result = led_client_run(led_client, "--url", server.ws_url, "get")
    assert (result.returncode, json.loads(result.stdout)) == (
        0,
        {"type": "state", "level": 80, "on": True, "brightness": 80, "seq": 1},
    )


def test_csharp_watch_sees_a_rest_change(led_client, server):
    watch = subprocess.Popen(
        ["mono", str(led_client / "LedClient.exe"), "--url", server.ws_url, "watch", "--count", "3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert json.loads(watch.stdout.readline()) == {
            "type": "state",
            "level": 50,
            "on": True,
            "brightness": 50,
            "seq": 0,
        }
        server.post("/led", "level=11", "application/x-www-form-urlencoded")
        server.post("/led", "level=12", "application/x-www-form-urlencoded")
        assert json.loads(watch.stdout.readline())["level"] == 11
        assert json.loads(watch.stdout.readline())["level"] == 12
        assert watch.wait(15) == 0
    finally:
        watch.kill()


def test_csharp_invalid_level_exits_1_with_the_server_message(led_client, server):
    result = led_client_run(led_client, "--url", server.ws_url, "set", "150")
    assert result.returncode == 1
    assert result.stderr.strip() == "ledclient: out_of_range: level must be an integer from 0 to 100, got 150"
    result = led_client_run(led_client, "--url", server.ws_url, "set", "\uff14\uff12")
    assert result.returncode == 1 and "invalid_message" in result.stderr
    assert server.led() == {"level": 50, "on": True, "brightness": 50, "seq": 0}


def test_csharp_effects_and_a_named_light(led_client, start_server):
    server = start_server(env={"LIGHTS": "desk:21,shelf:20"})

    def run(*args):
        result = led_client_run(led_client, "--url", server.ws_url, *args)
        return result.returncode, json.loads(result.stdout) if result.stdout else result.stderr.strip()

    assert run("effect", "breathe") == (
        0,
        {"type": "state", "level": 50, "on": True, "brightness": 50, "seq": 1, "effect": "breathe", "id": "ledclient"},
    )
    assert run("--light", "shelf", "effect", "candle")[1]["light"] == "shelf"
    code, state = run("--light", "shelf", "get")
    assert code == 0 and (state["light"], state["effect"]) == ("shelf", "candle")
    assert run("effect", "none")[1]["seq"] == 2 and "effect" not in server.led()
    assert run("effect", "rainbow") == (
        1,
        'ledclient: invalid_message: effect must be one of "breathe", "candle", '
        '"blink", "flash" (or null to stop it), got "rainbow"',
    )
    assert run("--light", "hall", "on")[0] == 1


def test_csharp_colour_and_white(led_client, start_server):
    server = start_server(env={"LIGHTS": "desk:21,strip:rgb:17/27/22,bulb:cct:18/19"})

    def run(*args):
        result = led_client_run(led_client, "--url", server.ws_url, *args)
        return result.returncode, json.loads(result.stdout) if result.stdout else result.stderr.strip()

    code, state = run("--light", "strip", "color", "#FF8800")
    assert code == 0 and (state["light"], state["color"], state["on"]) == ("strip", "#ff8800", True)
    code, state = run("--light", "bulb", "--fade", "2", "kelvin", "2700")
    assert code == 0 and (state["kelvin"], state["transition"]) == (2700, 2)
    assert server.get("/lights/strip")["color"] == "#ff8800" and server.get("/lights/bulb")["kelvin"] == 2700
    assert run("--light", "bulb", "kelvin", "9000") == (
        1,
        "ledclient: out_of_range: kelvin for light 'bulb' must be from 2700 to 6500, got 9000",
    )
    assert run("color", "#ff8800")[0] == 1  # the default light, desk, has one channel: not_supported
    assert run("--light", "strip", "color", "orange")[1].startswith("ledclient: invalid_message: color must be")


def test_csharp_saves_recalls_and_deletes_a_scene(led_client, start_server):
    server = start_server(env={"LIGHTS": "desk:21,strip:rgb:17/27/22"})

    def run(*args):
        result = led_client_run(led_client, "--url", server.ws_url, *args)
        lines = [json.loads(line) for line in result.stdout.splitlines()]
        return result.returncode, lines or result.stderr.strip()

    server.post("/lights/desk", '{"level": 30}')
    assert run("save-scene", "evening") == (
        0,
        [{"type": "scene", "name": "evening", "scene_lights": "desk,strip", "id": "ledclient"}],
    )
    assert run("--light", "desk", "save-scene", "desk only")[1][0]["scene_lights"] == "desk"
    server.post("/lights/desk", '{"level": 90}')
    code, states = run("--fade", "1.5", "scene", "evening")
    assert code == 0 and [(s["light"], s["level"], s["transition"]) for s in states] == [
        ("desk", 30, 1.5),
        ("strip", 50, 1.5),
    ]
    assert run("delete-scene", "evening") == (0, [{"type": "scene_deleted", "name": "evening", "id": "ledclient"}])
    assert run("scene", "evening") == (1, "ledclient: not_found: no scene 'evening'")


def test_csharp_power_toggle_step_and_fade(led_client, server):
    def run(*args):
        result = led_client_run(led_client, "--url", server.ws_url, *args)
        assert result.returncode == 0, result.stderr
        reply = json.loads(result.stdout)
        assert reply.pop("id") == "ledclient"
        return reply

    assert run("off") == {"type": "state", "level": 0, "on": False, "brightness": 50, "seq": 1}
    assert run("on") == {"type": "state", "level": 50, "on": True, "brightness": 50, "seq": 2}
    assert run("toggle")["on"] is False
    assert run("step", "20") == {"type": "state", "level": 20, "on": True, "brightness": 20, "seq": 4}
    assert run("step", "-5")["level"] == 15
    assert run("--fade", "0.5", "set", "90") == {
        "type": "state",
        "level": 90,
        "on": True,
        "brightness": 90,
        "seq": 6,
        "transition": 0.5,
    }
    bad = led_client_run(led_client, "--url", server.ws_url, "--fade", "-1", "set", "10")
    assert bad.returncode == 1 and "transition must be a number" in bad.stderr
    bad = led_client_run(led_client, "--url", server.ws_url, "step", "1000")
    assert bad.returncode == 1 and "out_of_range" in bad.stderr
    assert led_client_run(led_client, "step").returncode == 64  # usage: step needs N


def test_csharp_fade_recipe(led_client, server):
    result = subprocess.run(
        ["sh", "-c", recipe("csharp-fade", server)], cwd=led_client, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "type": "state",
        "level": 0,
        "on": False,
        "brightness": 50,
        "seq": 1,
        "transition": 2.0,
        "id": "ledclient",
    }


def test_csharp_cannot_connect_exits_2(led_client):
    result = led_client_run(led_client, "--url", f"ws://127.0.0.1:{free_port()}/ws", "get")
    assert result.returncode == 2 and "cannot connect" in result.stderr


def test_csharp_without_the_token_says_unauthorized_and_exits_3(led_client, start_server):
    server = start_server(env={"LED_TOKEN": "s3cret"})
    for url in (server.ws_url, server.ws_url + "?token=wrong"):
        result = led_client_run(led_client, "--url", url, "set", "5")
        assert result.returncode == 3, result.stderr
        assert result.stderr.startswith("ledclient: unauthorized: this service needs its token")
        assert "--url 'ws://HOST:5000/ws?token=TOKEN'" in result.stderr
    result = led_client_run(led_client, "--url", server.ws_url + "?token=s3cret", "set", "5")
    assert result.returncode == 0 and server.led()["level"] == 5


def test_csharp_closes_cleanly(led_client, server):
    for _ in range(5):
        result = led_client_run(led_client, "--url", server.ws_url, "set", "60")
        assert result.returncode == 0 and result.stderr == "", result.stderr
    server.wait_for(lambda h: h["clients"] == 0, what="C# clients gone")
    log = server.log()
    assert log.count("disconnected: client closed") == 5, log


def test_csharp_watch_ends_with_0_when_the_server_shuts_down(led_client, server):
    watch = subprocess.Popen(
        ["mono", str(led_client / "LedClient.exe"), "--url", server.ws_url, "watch"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        watch.stdout.readline()
        server.stop()
        assert watch.wait(15) == 0, watch.stderr.read()
    finally:
        watch.kill()


# ------------------------------------------------------------------ Unity


def compile_cs(out: Path, *sources, target="exe"):
    result = subprocess.run(
        [
            "mcs",
            f"-target:{target}",
            "-r:System.Runtime.Serialization",
            "-r:System.Xml",
            f"-out:{out}",
            *map(str, sources),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def test_unity_led_message_reads_every_kind_of_server_message(mono, start_server, tmp_path):
    harness = compile_cs(
        tmp_path / "harness.exe",
        ROOT / "tests" / "csharp" / "LedMessageHarness.cs",
        ROOT / "clients" / "unity" / "LedMessage.cs",
    )
    server = start_server(env={"LIGHTS": "desk:21,shelf:20,strip:rgb:17/27/22,bulb:cct:18/19"})
    with Client(server.ws_url) as client:
        messages = [client.conn.recv(5)]
        for request in (
            {"level": 70, "id": "u1"},
            {"level": 500, "id": "u2"},
            {"type": "ping", "id": "u3"},
            {"type": "ping"},
            '{"level": "\u00b2"}',
            {"on": False, "id": "u4"},
            {"level": 60, "transition": 0.5, "id": "u5"},
            {"type": "save_scene", "name": "evening", "lights": "desk,strip", "id": "u13"},
            {"type": "delete_scene", "name": "evening", "id": "u14"},
            {"type": "watch", "schedules": True, "id": "u6"},
            {"level": 30, "light": "shelf", "id": "u7"},
            {"effect": "candle", "id": "u8"},
            {"color": "#FF8800", "light": "strip", "id": "u10"},
            {"kelvin": 3000, "light": "bulb", "id": "u11"},
            {"kelvin": 9000, "light": "bulb", "id": "u12"},
            {"type": "watch", "lights": True, "id": "u9"},
        ):
            client.send(request)
            messages.append(client.conn.recv(5))
    result = subprocess.run(
        ["mono", str(harness)], input="\n".join(messages) + "\n", capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    expected = []
    for text in messages:
        m = json.loads(text)
        expected.append(
            "type={}|level={}|on={}|brightness={}|seq={}|transition={:g}|id={}|code={}|message={}|light={}"
            "|effect={}|color={}|kelvin={}".format(
                m["type"],
                m.get("level", 0),
                str(m.get("on", False)).lower(),
                m.get("brightness", 0),
                m.get("seq", 0),
                m.get("transition", 0),
                m.get("id", ""),
                m.get("code", ""),
                m.get("message", ""),
                m.get("light", ""),
                m.get("effect", ""),
                m.get("color", ""),
                m.get("kelvin", 0),
            )
        )
    assert result.stdout.splitlines() == expected
    kinds = [json.loads(t)["type"] for t in messages]
    assert kinds == [
        "state",
        "state",
        "error",
        "pong",
        "pong",
        "error",
        "state",
        "state",
        "scene",
        "scene_deleted",
        "watching",
        "state",
        "state",
        "state",
        "state",
        "error",
        "watching",
    ]
    lines = result.stdout.splitlines()
    assert "light=shelf" in lines[-6]
    assert lines[-5].endswith("|light=desk|effect=candle|color=|kelvin=0")  # named: this client names lights
    assert lines[-4].endswith("|light=strip|effect=|color=#ff8800|kelvin=0")
    assert lines[-3].endswith("|light=bulb|effect=|color=|kelvin=3000")
    assert "code=out_of_range" in lines[-2]
    assert "on=false|brightness=70" in result.stdout and "transition=0.5" in result.stdout


def test_the_harness_refuses_what_jsonutility_could_not_read(mono, tmp_path):
    harness = compile_cs(
        tmp_path / "harness.exe",
        ROOT / "tests" / "csharp" / "LedMessageHarness.cs",
        ROOT / "clients" / "unity" / "LedMessage.cs",
    )
    for bad in ('{"type":"state","level":"50"}', '{"type":"state","nested":{"a":1}}', '{"type":"state","seq":[1]}'):
        result = subprocess.run(["mono", str(harness)], input=bad + "\n", capture_output=True, text=True, timeout=60)
        assert result.returncode == 1 and result.stdout.startswith("FAILED"), result.stdout


def test_unity_led_socket_compiles_against_unity_and_websocketsharp_shapes(mono, tmp_path):
    compile_cs(
        tmp_path / "LedSocket.dll",
        ROOT / "tests" / "csharp" / "UnityStandIns.cs",
        ROOT / "clients" / "unity" / "LedSocket.cs",
        ROOT / "clients" / "unity" / "LedMessage.cs",
        target="library",
    )
