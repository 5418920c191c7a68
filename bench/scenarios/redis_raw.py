"""B2: raw Redis pub/sub from Python (redis-py asyncio), the ceiling on what any Redis channel layer
can move per publishing process. Same machine, same Valkey, payloads the size of a coach delta frame."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

import redis.asyncio as aioredis

from bench.registry import scenario
from bench.stats import summary

PAYLOAD = json.dumps(
    {
        "type": "stream.event",
        "frame": {
            "type": "event",
            "stream": "lounge.12",
            "event": "coach.delta",
            "data": {"id": 123, "offset": 456, "text": "w0001 w0002 w0003 "},
            "at": "2026-11-22T06:00:00",
        },
    }
)


async def _publish(publisher: aioredis.Redis, channel: str, *, messages: int, pipeline: int) -> None:
    """Publish `messages` timestamped payloads, `pipeline` per round trip."""
    sent = 0
    while sent < messages:
        batch = min(pipeline, messages - sent)
        if batch == 1:
            await publisher.publish(channel, f"{time.time():20.6f}{PAYLOAD}")
        else:
            async with publisher.pipeline(transaction=False) as pipe:
                for _ in range(batch):
                    pipe.publish(channel, f"{time.time():20.6f}{PAYLOAD}")
                await pipe.execute()
        sent += batch


async def _pubsub(url: str, *, messages: int, subscribers: int, pipeline: int) -> dict[str, Any]:
    channel = f"b2-{time.time_ns()}"
    subs = []
    received = [0] * subscribers
    latencies: list[float] = []
    done = asyncio.Event()
    subscribed = [0]

    async def listen(i: int, client: aioredis.Redis) -> None:
        pubsub = client.pubsub()
        await pubsub.subscribe(channel)
        subscribed[0] += 1
        if subscribed[0] == subscribers and not ready.done():
            ready.set_result(None)
        async for msg in pubsub.listen():
            if msg.get("type") != "message":
                continue
            received[i] += 1
            if i == 0 and received[i] % 10 == 0:
                latencies.append(time.time() - float(msg["data"][:20]))
            if received[i] >= messages:
                break
        await pubsub.aclose()
        if all(r >= messages for r in received):
            done.set()

    ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    for _ in range(subscribers):
        subs.append(aioredis.Redis.from_url(url))
    tasks = [asyncio.ensure_future(listen(i, c)) for i, c in enumerate(subs)]
    await asyncio.wait_for(ready, 10)
    await asyncio.sleep(0.2)
    publisher = aioredis.Redis.from_url(url)
    start = time.time()
    await _publish(publisher, channel, messages=messages, pipeline=pipeline)
    publish_seconds = time.time() - start
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(done.wait(), 30)
    total = time.time() - start
    for task in tasks:
        task.cancel()
    await publisher.aclose()
    for client in subs:
        await client.aclose()
    delivered = sum(received)
    return {
        "messages": messages,
        "subscribers": subscribers,
        "pipeline": pipeline,
        "payload_bytes": len(PAYLOAD) + 20,
        "publish_per_s": round(messages / publish_seconds),
        "delivered": delivered,
        "delivered_per_s": round(delivered / total),
        "latency_ms": summary(latencies, scale=1000),
    }


@scenario("B2", "raw Redis pub/sub throughput from Python", order=5)
def b2(ctx: Any) -> dict[str, Any]:
    url = ctx.stack.env["REDIS_URL"]
    runs = []
    for subscribers, pipeline in ctx.profile["B2"]["shapes"]:
        run = asyncio.run(
            _pubsub(url, messages=ctx.profile["B2"]["messages"], subscribers=subscribers, pipeline=pipeline)
        )
        ctx.log(
            f"  B2 subs={subscribers} pipeline={pipeline}: publish {run['publish_per_s']}/s, delivered "
            f"{run['delivered_per_s']}/s, p99 {run['latency_ms'].get('p99')} ms"
        )
        runs.append(run)
    return {"runs": runs}
