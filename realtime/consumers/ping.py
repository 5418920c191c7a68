"""`/ws/ping/`: an echo for a signed-in user; the smallest socket that exercises the whole base."""

from __future__ import annotations

from typing import Any

from realtime.consumers.base import ClientMessage, StreamConsumer, with_ref


class EchoMessage(ClientMessage):
    data: Any = None


class PingConsumer(StreamConsumer):
    messages = {"echo": EchoMessage}

    async def handle_echo(self, message: EchoMessage) -> None:
        await self.send_json(with_ref({"type": "echo", "data": message.data}, message.ref))
