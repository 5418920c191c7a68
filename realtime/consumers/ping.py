"""`/ws/ping/`: an echo for a signed-in user; the smallest socket that exercises the whole base."""

from __future__ import annotations

from typing import Any

from realtime.consumers.base import ClientMessage, StreamConsumer


class EchoMessage(ClientMessage):
    data: Any = None


class PingConsumer(StreamConsumer):
    messages = {"echo": EchoMessage}

    async def handle_echo(self, message: EchoMessage) -> None:
        await self.send_json({"type": "echo", "data": message.data, "ref": message.ref})
