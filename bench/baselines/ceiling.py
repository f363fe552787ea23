"""Reference (b): the pure-Python ceiling, a minimal asyncio server on ``websockets``.

It speaks ledsock's protocol v1 for the benchmark's purposes (``{"level": N}`` in, a
state with ``seq`` out, the state on connect) and fans each change out with
``websockets.broadcast``, which writes to every connection without waiting for any.
No validation beyond what the benchmark sends, no hardware, no logging per change:
the least work a Python server can do for this workload.
"""

import argparse
import asyncio
import json

from websockets.asyncio.server import broadcast, serve

CLIENTS = set()
state = {"level": 50, "seq": 0}


def state_message() -> str:
    return f'{{"type":"state","level":{state["level"]},"seq":{state["seq"]}}}'


async def handler(websocket):
    CLIENTS.add(websocket)
    try:
        await websocket.send(state_message())
        async for message in websocket:
            level = json.loads(message)["level"]
            if level != state["level"]:
                state["level"], state["seq"] = level, state["seq"] + 1
                broadcast(CLIENTS, state_message())
    finally:
        CLIENTS.discard(websocket)


async def main(port: int) -> None:
    # The same accept queue as ledsock's gunicorn (asyncio's default is 100).
    async with serve(handler, "127.0.0.1", port, max_queue=None, backlog=2048) as server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=5002)
    asyncio.run(main(parser.parse_args().port))
