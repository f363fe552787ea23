"""Reference (a): the textbook design ledsock replaces, for the fan-out benchmark only.

Flask-SocketIO in threading mode on Werkzeug's server, one event ``led`` whose payload
is ``{"level": "N"}`` (a string, as an HTML range input sends it), answered with
``emit(..., broadcast=True)`` to every client. Kept as the textbook wrote it, apart
from the LED itself (a variable here) and ``debug=True`` (left out, since the reloader
would double the processes).
"""

import argparse

from flask import Flask
from flask_socketio import SocketIO, emit

app = Flask(__name__)
socketio = SocketIO(app, async_mode="threading")
state = {"level": "0"}


@socketio.on("connect")
def on_connect():
    emit("led", state)


@socketio.on("led")
def on_led(message):
    level = message.get("level", "")
    if isinstance(level, str) and level.isdigit() and 0 <= int(level) <= 100:
        state["level"] = level
    emit("led", state, broadcast=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=5001)
    args = parser.parse_args()
    socketio.run(app, host="127.0.0.1", port=args.port, allow_unsafe_werkzeug=True, log_output=False)
