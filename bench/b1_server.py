"""Baseline B1: a bare ASGI websocket broadcast server (no Django, no channel layer), run by uvicorn.

`/ws/b1/<room>/`: accept, send a small snapshot frame, join the room. Any text frame received is
broadcast verbatim to every other socket in the room (the sender included unless it starts with "!").
It is the floor the product's stack is compared with in S1-S3: same load client, same frames.
"""

from __future__ import annotations

from typing import Any

ROOMS: dict[str, set[Any]] = {}


async def _lifespan(scope: dict[str, Any], receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _http(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await receive()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok"})


async def _broadcast(room: set[Any], sender: Any, text: str) -> None:
    frame = {"type": "websocket.send", "text": text}
    for member in list(room):
        if member is not sender:
            try:
                await member(frame)
            except Exception:  # noqa: BLE001 - a closing member; the disconnect removes it
                room.discard(member)


async def _websocket(scope: dict[str, Any], receive: Any, send: Any) -> None:
    room_name = scope["path"].strip("/").split("/")[-1]
    room = ROOMS.setdefault(room_name, set())
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.send", "text": '{"type": "snapshot", "v": 1, "cursors": {}}'})
    room.add(send)
    try:
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is not None:
                await _broadcast(room, send, text)
    finally:
        room.discard(send)


_HANDLERS = {"lifespan": _lifespan, "http": _http, "websocket": _websocket}


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    handler = _HANDLERS.get(scope["type"])
    if handler is not None:
        await handler(scope, receive, send)
