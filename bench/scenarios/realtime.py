# ruff: noqa: RUF002
"""S1–S3 (idle sockets, coach streaming, mentor broadcast) and their baselines B1 (bare ASGI) and B3
(the same consumers on InMemoryChannelLayer in one process).

A *target* says what serves the sockets: {"name", "server": daphne|uvicorn|b1, "layer": redis|
redis-pubsub|inmemory, "coalesce_ms"}. Each run starts the target from a flushed Valkey, seeds fresh
lounges (so no earlier run's group members linger), warms up, measures, closes every socket, and
counts the channel layer's "over capacity" log lines.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import time
from collections import defaultdict
from typing import Any

from bench import seed
from bench.loadclient import Conn, close_all, open_paced, wait_until
from bench.registry import scenario
from bench.stack import CpuMeter, fake_post, fake_requests
from bench.stats import summary

TOKEN = re.compile(r"w(\d{4})")
LOUNGE_MARK = re.compile(r"\[\[L(\d+)\]\]")
SEND_MARK = re.compile(r"\[\[M(\d+)\]\]")


def numbered_text(n: int) -> str:
    return "".join(f"w{i:04d} " for i in range(n))


# ---------------------------------------------------------------------------------------- plumbing
def start_target(ctx: Any, target: dict[str, Any], *, workers: bool = True, fresh: bool = False) -> None:
    """Start `target` unless it already runs (every run seeds fresh lounges, so no group is shared)."""
    import redis

    want = {
        "server": target["server"],
        "layer": target.get("layer", "redis"),
        "coalesce_ms": target.get("coalesce_ms", 50),
        "fanout": target.get("fanout", "process"),
    }
    if (
        not fresh
        and ctx.stack.processes.get("web") is not None
        and all(ctx.stack.app_desc.get(key) == value for key, value in want.items())
    ):
        ctx.stack.mark_logs()
        return
    ctx.stack.stop_app()
    redis.Redis.from_url(ctx.stack.env["REDIS_URL"]).flushall()
    ctx.stack.start_app(
        server=target["server"],
        layer=target.get("layer", "redis"),
        coalesce_ms=target.get("coalesce_ms", 50),
        fanout=target.get("fanout", "process"),
        workers=workers and target["server"] != "b1" and target.get("layer") != "inmemory",
    )
    ctx.stack.mark_logs()


def base_url(ctx: Any) -> str:
    return f"ws://127.0.0.1:{ctx.stack.port}"


def lounge_conns(
    ctx: Any, *, lounges: int, per_lounge: int, per_user: int, coach: bool, label: str, b1: bool
) -> tuple[list[Conn], list[dict[str, Any]]]:
    """Connections spread over `lounges` lounges, `per_user` sockets per person (presence is per person)."""
    conns: list[Conn] = []
    rooms: list[dict[str, Any]] = []
    if b1:
        for k in range(lounges):
            rooms.append({"k": k, "path": f"/ws/b1/{label}{k}/"})
            conns += [Conn(len(conns) + j, f"/ws/b1/{label}{k}/", meta={"room": k}) for j in range(per_lounge)]
        return conns, rooms
    org = seed.organisation()
    people_per_lounge = max(1, math.ceil(per_lounge / per_user))
    owner = seed.users(org, 1, role="mentor", prefix="owner")[0]
    everyone = seed.users(org, lounges * people_per_lounge, prefix=label)
    keys = seed.sessions([owner, *everyone], org)
    for k in range(lounges):
        lounge = seed.lounge(org, owner, f"{label} lounge [[L{k}]]", coach=coach)
        people = everyone[k * people_per_lounge : (k + 1) * people_per_lounge]
        seed.members(lounge, people)
        rooms.append(
            {
                "k": k,
                "path": f"/ws/lounges/{lounge.slug}/",
                "owner_cookie": seed.cookie(keys[owner.pk]),
                "id": lounge.pk,
            }
        )
        for j in range(per_lounge):
            person = people[j % len(people)]
            conns.append(Conn(len(conns), f"/ws/lounges/{lounge.slug}/", seed.cookie(keys[person.pk]), {"room": k}))
    return conns, rooms


def warm_up(ctx: Any, conns: list[Conn]) -> None:
    """Open and close a few sockets, so imports, pools and caches are warm before we measure."""
    sample = [Conn(-1 - i, c.path, c.cookie, dict(c.meta)) for i, c in enumerate(conns[:10])]

    async def run() -> None:
        await open_paced(base_url(ctx), sample, 50, lambda *_: None, settle=10)
        await asyncio.sleep(0.3)
        await close_all(sample)

    asyncio.run(run())
    time.sleep(0.5)


def connect_stats(conns: list[Conn], took: float | None = None) -> dict[str, Any]:
    ok = [c.connect_latency for c in conns if c.connect_latency is not None]
    failed = [c for c in conns if c.first_frame is None]
    return {
        "attempted": len(conns),
        "connected": len(ok),
        "failed": len(failed),
        "errors": sorted({c.error for c in failed if c.error})[:5],
        "latency_ms": summary(ok, scale=1000),
        "handshake_ms": summary([c.handshake_latency for c in conns if c.handshake_latency is not None], scale=1000),
        "achieved_per_s": round(len(ok) / took, 1) if took else None,
    }


def saturated(cpu: dict[str, float]) -> bool:
    return cpu.get("loadgen", 0) >= 90


# ---------------------------------------------------------------------------------------- S1
def run_s1(
    ctx: Any,
    target: dict[str, Any],
    levels: list[int],
    *,
    rate: float,
    per_lounge: int,
    per_user: int,
    idle_seconds: float,
) -> dict[str, Any]:
    b1 = target["server"] == "b1"
    rate = target.get("rate", rate)
    start_target(ctx, target, fresh=True)  # a fresh process: its RSS is the baseline
    conns, _ = lounge_conns(
        ctx,
        lounges=math.ceil(max(levels) / per_lounge),
        per_lounge=per_lounge,
        per_user=per_user,
        coach=False,
        label="s1",
        b1=b1,
    )
    warm_up(ctx, conns)
    time.sleep(1)
    rss0 = ctx.stack.web_rss()
    procs = ctx.stack.app_procs()
    steps: list[dict[str, Any]] = []

    async def run() -> None:
        opened = 0
        idle0 = CpuMeter(procs).start()
        await asyncio.sleep(idle_seconds)
        steps.append({"sockets": 0, "rss_mib": round(rss0 / 2**20, 1), "idle_cpu": idle0.stop()})
        for level in levels:
            batch = conns[opened:level]
            ramp = CpuMeter(procs).start()
            ctx.stack.profile_web(len(batch) / rate + 2, f"s1-{target['name']}-{level}")
            took = await open_paced(base_url(ctx), batch, rate, lambda *_: None, settle=60)
            ramp_cpu = ramp.stop()
            opened = level
            await asyncio.sleep(2)
            alive = sum(
                1 for c in conns[:level] if c.first_frame is not None and c.ws is not None and c.ws.close_code is None
            )
            rss = ctx.stack.web_rss()
            idle = CpuMeter(procs).start()
            await asyncio.sleep(idle_seconds)
            steps.append(
                {
                    "sockets": level,
                    "alive": alive,
                    "ramp_seconds": round(took, 1),
                    "connect": connect_stats(batch, took),
                    "rss_mib": round(rss / 2**20, 1),
                    "kib_per_socket": round((rss - rss0) / 1024 / max(alive, 1), 1),
                    "idle_cpu": idle.stop(),
                    "ramp_cpu": ramp_cpu,
                    "loadgen_saturated": saturated(ramp_cpu),
                }
            )
            ctx.log(
                f"  S1 {target['name']}: {level} sockets, {alive} alive, "
                f"{steps[-1]['kib_per_socket']} KiB/socket, connect p99 "
                f"{steps[-1]['connect']['latency_ms'].get('p99')} ms, ramp cpu {ramp_cpu}"
            )
            if alive < 0.95 * level:
                ctx.log(f"  S1 {target['name']}: stopping the ramp, only {alive}/{level} alive")
                break
        await close_all(conns)

    asyncio.run(run())
    return {
        "target": target,
        "levels": levels,
        "rate": rate,
        "ramp_cut_short": len(steps) - 1 < len(levels),
        "per_lounge": per_lounge,
        "per_user": per_user,
        "steps": steps,
        "over_capacity": ctx.stack.over_capacity(),
    }


# ---------------------------------------------------------------------------------------- S2
class _S2Received:
    """What S2's sockets received in one window: each socket's live text rebuilt from the coach
    deltas (a gap is a lost delta), every token's arrival, and the final bodies."""

    def __init__(self) -> None:
        self.last_any = time.time()
        self.reset()

    def reset(self) -> None:
        self.samples: list[tuple[Any, int, float]] = []
        self.live: defaultdict[int, str] = defaultdict(str)
        self.gaps: defaultdict[int, int] = defaultdict(int)
        self.final: dict[int, str] = {}
        self.frames = 0
        self.seen: defaultdict[int, set[int]] = defaultdict(set)
        self.duplicates = 0

    def on_frame(self, conn: Conn, raw: str, now: float) -> None:
        self.last_any = now
        if '"coach.delta"' in raw:
            self.frames += 1
            self._delta(conn, json.loads(raw)["data"], now)
        elif '"message.completed"' in raw:
            self.final[conn.idx] = json.loads(raw)["data"]["message"]["body"]

    def _delta(self, conn: Conn, data: dict[str, Any], now: float) -> None:
        text, offset = data["text"], data["offset"]
        have = self.live[conn.idx]
        if offset > len(have):
            self.gaps[conn.idx] += 1  # a lost delta; a browser would ask coach.text — we count it
            have = have + "?" * (offset - len(have))
        if offset + len(text) > len(have):
            self.live[conn.idx] = have[:offset] + text
        seen = self.seen[conn.idx]
        for match in TOKEN.finditer(text):
            index = int(match.group(1))
            if index not in seen:
                seen.add(index)
                self.samples.append((conn.meta["room"], index, now))
            else:
                self.duplicates += 1

    def ok_ratios(self, live_conns: list[Conn], expected: str) -> tuple[float, float]:
        """The share of live sockets whose final body, and whose live text, is exactly `expected`."""
        count = max(len(live_conns), 1)
        final_ok = sum(1 for c in live_conns if self.final.get(c.idx) == expected) / count
        live_ok = sum(1 for c in live_conns if self.live.get(c.idx) == expected) / count
        return round(final_ok, 4), round(live_ok, 4)


def _delta_frame(offset: int, text: str, now: float) -> str:
    return json.dumps(
        {
            "type": "event",
            "stream": "lounge.1",
            "event": "coach.delta",
            "data": {"id": 1, "offset": offset, "text": text},
            "at": now,
        }
    )


class _S2:
    """One S2 run: the sockets, connected once, then one coach stream per coalescing window."""

    def __init__(
        self, ctx: Any, target: dict[str, Any], *, lounges: int, members: int, tokens: int, tps: float, rate: float
    ) -> None:
        self.ctx = ctx
        self.target = target
        self.lounges, self.members, self.tokens, self.tps = lounges, members, tokens, tps
        self.b1 = target["server"] == "b1"
        self.rate = target.get("rate", rate)
        self.windows = target.get("windows") or [target.get("coalesce_ms", 50)]
        start_target(ctx, dict(target, coalesce_ms=self.windows[0]))
        self.label = f"s2x{lounges}x{members}"
        self.conns, self.rooms = lounge_conns(
            ctx, lounges=lounges, per_lounge=members, per_user=1, coach=True, label=self.label, b1=self.b1
        )
        warm_up(ctx, self.conns)
        self.expected = numbered_text(tokens)
        self.received = _S2Received()
        self.results: list[dict[str, Any]] = []
        self.connect: dict[str, Any] = {}

    async def publish_b1(self, room: dict[str, Any], t0: float, coalesce: float) -> None:
        """B1's publisher: the same numbered tokens, at the same pace, coalesced over the same window."""
        tokens, tps = self.tokens, self.tps
        pub = Conn(-1000 - room["k"], room["path"])
        await open_paced(base_url(self.ctx), [pub], 1, lambda *_: None, settle=10)
        words = [f"w{i:04d} " for i in range(tokens)]
        sent, offset = 0, 0
        last_sent = None
        while sent < tokens:
            now = time.time()
            due = 0 if now < t0 else min(tokens, int((now - t0) * tps) + 1)
            if due > sent and (last_sent is None or now - last_sent >= coalesce):
                text = "".join(words[sent:due])
                await pub.send(_delta_frame(offset, text, now))
                offset += len(text)
                sent, last_sent = due, now
                continue
            # the next moment a send is possible: the next token is due and the window has passed
            wake = max(t0 + sent / tps, (last_sent or 0) + coalesce)
            await asyncio.sleep(max(0.0005, wake - time.time()))
        await pub.send(
            json.dumps(
                {
                    "type": "event",
                    "stream": "lounge.1",
                    "seq": 2,
                    "event": "message.completed",
                    "data": {"message": {"id": 1, "body": self.expected}},
                }
            )
        )
        await asyncio.sleep(1)
        await close_all([pub])

    async def start_streams(self, window: int, round_: int, starts: dict[int, float]) -> list[Any]:
        """Start one stream per lounge: B1's own publishers, or a coach summoned by the lounge's first
        live socket against the fake LLM. Returns the publishers to wait for (B1 only)."""
        if self.b1:
            t0 = time.time() + 0.5
            for room in self.rooms:
                starts[room["k"]] = t0
            return [asyncio.ensure_future(self.publish_b1(room, t0, window / 1000)) for room in self.rooms]
        fake_port = self.ctx.stack.fake_port
        fake_post(fake_port, "/_fake/reset", {})
        fake_post(
            fake_port,
            "/_fake/scenarios",
            {"text": self.expected, "tokens_per_second": self.tps, "match": "openai", "times": self.lounges},
        )
        first: dict[Any, Conn] = {}
        for conn in self.conns:
            if conn.ws is not None and conn.first_frame is not None:
                first.setdefault(conn.meta["room"], conn)
        await asyncio.gather(
            *(
                c.send(json.dumps({"type": "coach.summon", "request_id": f"{self.label}-{k}-{round_}"}))
                for k, c in first.items()
            )
        )
        return []

    def llm_starts(self, starts: dict[int, float]) -> None:
        """When the fake LLM started each lounge's stream (the clock the token delays are measured on)."""
        for request in fake_requests(self.ctx.stack.fake_port):
            mark = LOUNGE_MARK.search(json.dumps(request.get("body")))
            if mark and request.get("started_at"):
                starts[int(mark.group(1))] = float(request["started_at"])

    def window_name(self, window: int) -> str:
        if len(self.windows) == 1:
            return self.target["name"]
        return f"{self.target['name']} {'per-token' if window == 0 else f'coalesce {window}'}"

    async def stream(self, window: int, round_: int) -> dict[str, Any]:
        ctx, tokens, tps, received = self.ctx, self.tokens, self.tps, self.received
        out: dict[str, Any] = {}
        starts: dict[int, float] = {}
        ctx.stack.mark_logs()
        meter = CpuMeter(ctx.stack.app_procs()).start()  # worker-ai may have restarted
        t_go = time.time()
        pubs = await self.start_streams(window, round_, starts)
        live_conns = [c for c in self.conns if c.first_frame is not None]
        await wait_until(lambda: len(received.final) >= len(live_conns), tokens / tps + 10)
        out["cpu"] = meter.stop()
        out["stream_seconds"] = round(time.time() - t_go, 2)
        if pubs:
            await asyncio.gather(*pubs)
        if not self.b1:
            self.llm_starts(starts)
        samples = received.samples
        delays = [now - (starts[room] + index / tps) for room, index, now in samples if room in starts]
        expected_tokens = tokens * len(live_conns)
        name = self.window_name(window)
        final_ok, live_ok = received.ok_ratios(live_conns, self.expected)
        out.update(
            {
                "target": dict(self.target, name=name, coalesce_ms=window),
                "lounges": self.lounges,
                "members": self.members,
                "tokens": tokens,
                "tps": tps,
                "sockets": len(self.conns),
                "connect": self.connect,
                "streams_started": len(starts),
                "delay_ms": summary(delays, scale=1000),
                "frames_received": received.frames,
                "tokens_received": len(samples),
                "tokens_expected": expected_tokens,
                "delivery_ratio": round(len(samples) / expected_tokens, 4) if expected_tokens else None,
                "duplicate_tokens": received.duplicates,
                "sockets_with_gaps": sum(1 for v in received.gaps.values() if v),
                "final_ok_ratio": final_ok,
                "live_text_ok_ratio": live_ok,
                "delivered_frames_per_s": round(received.frames / max(tokens / tps, 1e-6), 1),
                "over_capacity": ctx.stack.over_capacity(),
                "log_errors": ctx.stack.log_errors(),
                "log_counts": ctx.stack.log_counts(),
            }
        )
        out["loadgen_saturated"] = saturated(out.get("cpu", {}))
        ctx.log(
            f"  S2 {name} {self.lounges}x{self.members}: delay p50 {out['delay_ms'].get('p50')} p99 "
            f"{out['delay_ms'].get('p99')} ms, delivery {out['delivery_ratio']}, final ok "
            f"{out['final_ok_ratio']}, streams {len(starts)}/{self.lounges}, cpu {out.get('cpu')}, "
            f"over capacity {out['over_capacity']}"
        )
        return out

    async def run(self) -> None:
        ctx, conns, connect = self.ctx, self.conns, self.connect
        took = await open_paced(base_url(ctx), conns, self.rate, self.received.on_frame, settle=60)
        connect.update(connect_stats(conns, took))
        ctx.log(
            f"  S2 {self.target['name']}: connected {connect['connected']}/{len(conns)} in {took:.1f} s, p99 "
            f"{connect['latency_ms'].get('p99')} ms {connect['errors']}"
        )
        await asyncio.sleep(1)
        for round_, window in enumerate(self.windows):
            if round_ and not self.b1:
                await asyncio.to_thread(ctx.stack.restart_worker_ai, window)
            self.received.reset()
            self.results.append(await self.stream(window, round_))
            # let a saturated server drain before the next window (bounded): quiet for 1.5 s
            await wait_until(lambda: time.time() - self.received.last_any > 1.5, 20)
        await close_all(conns)


def run_s2(
    ctx: Any, target: dict[str, Any], *, lounges: int, members: int, tokens: int, tps: float, rate: float
) -> list[dict[str, Any]]:
    """One connect phase, then one stream per coalescing window in `target["windows"]` (only worker-ai
    restarts between windows: it reads REALTIME_COALESCE_MS). Returns one result per window."""
    s2 = _S2(ctx, target, lounges=lounges, members=members, tokens=tokens, tps=tps, rate=rate)
    asyncio.run(s2.run())
    return s2.results


# ---------------------------------------------------------------------------------------- S3
def run_s3(
    ctx: Any,
    target: dict[str, Any],
    *,
    sockets: int,
    per_user: int,
    sends: int,
    interval: float,
    rate: float,
    body_chars: int = 200,
) -> dict[str, Any]:
    b1 = target["server"] == "b1"
    rate = target.get("rate", rate)
    start_target(ctx, target)
    conns, rooms = lounge_conns(ctx, lounges=1, per_lounge=sockets, per_user=per_user, coach=False, label="s3", b1=b1)
    warm_up(ctx, conns)
    received: dict[int, list[float]] = defaultdict(list)  # send k -> receive times
    counted: dict[int, int] = defaultdict(int)

    def on_frame(conn: Conn, raw: str, now: float) -> None:
        if "[[M" in raw and ('"message.created"' in raw or b1):
            mark = SEND_MARK.search(raw)
            if mark:
                k = int(mark.group(1))
                received[k].append(now)
                counted[conn.idx] += 1

    mentor = Conn(-1, rooms[0]["path"], rooms[0].get("owner_cookie", ""))
    procs = ctx.stack.app_procs()
    intended: dict[int, float] = {}
    acks: list[float] = []
    filler = ("Mentor note: " + "practice the answer out loud, then tighten it. " * 10)[: max(0, body_chars - 12)]

    def on_mentor(conn: Conn, raw: str, now: float) -> None:
        if '"ack"' in raw:
            acks.append(now)

    result: dict[str, Any] = {}

    async def run() -> None:
        await open_paced(base_url(ctx), conns, rate, on_frame, settle=60)
        result["connect"] = connect_stats(conns)
        await open_paced(base_url(ctx), [mentor], 1, on_mentor, settle=10)
        await asyncio.sleep(2)  # let the presence burst of the ramp drain
        live = [c for c in conns if c.first_frame is not None]
        meter = CpuMeter(procs).start()
        t0 = time.time() + 0.2
        for k in range(sends):
            intended[k] = t0 + k * interval
            await asyncio.sleep(max(0.0, intended[k] - time.time()))
            body = f"[[M{k}]] {filler}"
            if b1:
                frame = {
                    "type": "event",
                    "stream": "lounge.1",
                    "seq": k + 2,
                    "event": "message.created",
                    "data": {"message": {"id": k, "body": body, "html": f"<p>{body}</p>", "author_kind": "user"}},
                }
                await mentor.send(json.dumps(frame))
            else:
                await mentor.send(json.dumps({"type": "message.post", "client_msg_id": f"s3-{k}-{t0}", "body": body}))
        await wait_until(lambda: all(len(received[k]) >= len(live) for k in range(sends)), 15)
        result["cpu"] = meter.stop()
        result["live"] = len(live)
        await close_all([*conns, mentor])

    asyncio.run(run())
    live_n = result.get("live", 0)
    last = [max(received[k]) - intended[k] for k in range(sends) if received[k]]
    each = [t - intended[k] for k in range(sends) for t in received[k]]
    deliveries = sum(len(received[k]) for k in range(sends))
    result.update(
        {
            "target": target,
            "sockets": sockets,
            "per_user": per_user,
            "sends": sends,
            "interval": interval,
            "last_receiver_ms": summary(last, scale=1000),
            "each_receiver_ms": summary(each, scale=1000),
            "deliveries": deliveries,
            "expected": live_n * sends,
            "delivery_ratio": round(deliveries / max(live_n * sends, 1), 4),
            "over_capacity": ctx.stack.over_capacity(),
            "log_errors": ctx.stack.log_errors(),
            "log_counts": ctx.stack.log_counts(),
        }
    )
    result["loadgen_saturated"] = saturated(result.get("cpu", {}))
    ctx.log(
        f"  S3 {target['name']} {sockets}: last receiver p50 {result['last_receiver_ms'].get('p50')} p99 "
        f"{result['last_receiver_ms'].get('p99')} ms, delivery {result['delivery_ratio']}, cpu {result.get('cpu')}"
    )
    return result


# ---------------------------------------------------------------------------------------- registry
@scenario("S1", "idle sockets: memory per connection, idle CPU, connect p99", order=10)
def s1(ctx: Any) -> dict[str, Any]:
    p = ctx.profile["S1"]
    runs = [
        run_s1(
            ctx,
            t,
            p["levels"],
            rate=p["rate"],
            per_lounge=p["per_lounge"],
            per_user=p["per_user"],
            idle_seconds=p["idle_seconds"],
        )
        for t in p["targets"]
    ]
    return {"runs": runs}


@scenario("S2", "coach streaming in every lounge at once: token delay, delivery", order=20)
def s2(ctx: Any) -> dict[str, Any]:
    p = ctx.profile["S2"]
    runs = []
    for position, (lounges, members) in enumerate(p["shapes"]):
        targets = p["targets"]
        if position > 0 and p.get("second_shape_targets"):
            targets = [
                dict(t, windows=(t.get("windows") or [t.get("coalesce_ms", 50)])[:1])
                for t in targets
                if t["name"] in p["second_shape_targets"]
            ]
        for t in targets:
            runs.extend(
                run_s2(ctx, t, lounges=lounges, members=members, tokens=p["tokens"], tps=p["tps"], rate=p["rate"])
            )
    return {"runs": runs}


@scenario("S3", "a mentor's message to N sockets in one lounge: last receiver", order=30)
def s3(ctx: Any) -> dict[str, Any]:
    p = ctx.profile["S3"]
    runs = [
        run_s3(
            ctx,
            t,
            sockets=p["sockets"],
            per_user=p["per_user"],
            sends=p["sends"],
            interval=p["interval"],
            rate=p["rate"],
        )
        for t in p["targets"]
    ]
    return {"runs": runs}
