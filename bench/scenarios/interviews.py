"""S4: interview sockets autosaving, against the real stack, beside raw psycopg doing the same writes.

- Seeding (bulk, before the clock): one bench template with open questions, `sockets` candidates with
  logged-in sessions, each with their own in-progress `InterviewSession` (deadline two hours out) and
  the first question opened, as `interview_session_start` leaves it (the `question.opened` event is
  not stored: nothing here resumes).
- Every candidate opens `/ws/interviews/<session_id>/` (paced, `rate` per second), then sends
  `answer.save` {question_id, revision, text} every `interval` seconds for `seconds`, revisions
  1, 2, 3 ... and a growing text, each socket starting at a random offset within the first interval
  (open loop: each save goes at its scheduled time, whatever the replies). Latency runs from the
  moment the frame is written to its `ack` (matched by `ref`).
- Late writes: `late_sessions` of the sessions get a deadline `late_at` seconds into the save
  phase (set just before it starts); they keep saving past it. Every save sent at or after its
  session's deadline must be refused (`deadline_passed`, then `session_closed`); any ack for one,
  or any ack whose `saved_at` is not before the deadline, is a late write accepted. Afterwards
  the database must hold no answer with `saved_at` at or after its session's deadline.
- Autosaves lost: afterwards every acked (session, question, revision) must be the stored revision
  with the text sent, or older than the stored one (`lost_autosaves`).
- Baseline: the same transaction the service runs (session row lock, answer row lock, UPDATE,
  the answered count, the stream's seq upsert and the event INSERT) through raw psycopg from this
  process: `sockets` writers at the same interval and jitter, over a pool of `raw_connections`
  connections; no Django, no socket, no Redis. Latency from the scheduled moment to COMMIT.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bench import seed
from bench.loadclient import Conn, close_all, open_paced, wait_until
from bench.registry import scenario
from bench.scenarios.realtime import base_url, connect_stats, saturated, start_target
from bench.stack import CpuMeter
from bench.stats import summary

Key = tuple[int, int]  # (session_id, question_id)
REFUSED_LATE = ("deadline_passed", "session_closed")
FILLER = (
    "I would start by clarifying the requirements, then sketch the data model, name the trade-offs "
    "between consistency and latency, and say how I would measure the result in production. "
)


# ---------------------------------------------------------------------------------------- pure parts
@dataclass
class Save:
    """One `answer.save` a socket sent, and what came back."""

    session_id: int
    question_id: int
    revision: int
    text: str
    sent: float = 0.0  # time.time() just before the frame was written
    late: bool = False  # sent at or after the session's deadline
    replied: float | None = None
    acked: bool = False
    duplicate: bool = False
    saved_at: float | None = None  # the server's stamp, epoch seconds
    error: str = ""

    @property
    def key(self) -> Key:
        return (self.session_id, self.question_id)

    @property
    def latency(self) -> float | None:
        return None if self.replied is None else self.replied - self.sent


def answer_text(session_id: int, revision: int, *, step: int = 120, cap: int = 1500) -> str:
    """The text a candidate has typed by `revision`: a marked, growing answer (at most `cap` chars)."""
    body = (FILLER * (1 + (step * revision) // len(FILLER)))[: min(cap, step * revision)]
    # no trailing space: the socket's schema strips whitespace (ClientMessage, str_strip_whitespace),
    # so the stored text is the stripped one and the lost-autosave check compares texts exactly
    return f"[[S{session_id} r{revision}]] {body}".strip()


def start_offsets(count: int, interval: float, seed_value: int = 4) -> list[float]:
    """A random first-save offset in [0, interval) per socket, so the saves spread over each interval."""
    rng = random.Random(seed_value)
    return [rng.uniform(0, interval) for _ in range(count)]


def lost_autosaves(
    acked: Iterable[tuple[Key, int, str]], stored: Mapping[Key, tuple[int, str]]
) -> list[dict[str, Any]]:
    """Every acked save the database does not keep: `acked` is (key, revision, text) of each save the
    server acked as stored, `stored` is {key: (revision, text)} read afterwards. An acked save is kept
    when its key's stored revision is newer, or is the same revision with the same text; it is lost
    when the stored revision is older, the text differs, or the key is missing."""
    lost = []
    for key, revision, text in acked:
        have = stored.get(key)
        if have is None:
            lost.append({"key": list(key), "revision": revision, "stored": None})
        elif have[0] < revision or (have[0] == revision and have[1] != text):
            lost.append({"key": list(key), "revision": revision, "stored": have[0]})
    return lost


def percentile_with_missing(samples: list[float], missing: int, p: float) -> float | None:
    """The nearest-rank p-th percentile of `samples` plus `missing` replies that never came (slower
    than any sample): None when that rank falls on a missing one, so a backlog cannot pass for speed."""
    total = len(samples) + missing
    if total == 0:
        return None
    rank = max(1, math.ceil(p / 100 * total))
    return sorted(samples)[rank - 1] if rank <= len(samples) else None


def late_accepted(saves: Iterable[Save], deadlines: Mapping[int, float]) -> list[Save]:
    """Acked saves that broke the deadline: sent at or after their session's deadline, or stamped
    (`saved_at`) at or after it. Both clocks are this machine's."""
    out = []
    for save in saves:
        deadline = deadlines.get(save.session_id)
        if deadline is None or not save.acked:
            continue
        if save.sent >= deadline or (save.saved_at is not None and save.saved_at >= deadline):
            out.append(save)
    return out


def late_stored(saves: Iterable[Save], stored: Mapping[Key, tuple[int, str]], deadlines: Mapping[int, float]) -> int:
    """Answers of sessions with a deadline whose stored revision was sent at or after that deadline
    (judged by what was sent, whatever came back): each one is a late write the server accepted."""
    first_late: dict[Key, int] = {}
    for save in saves:
        if save.session_id in deadlines and save.sent >= deadlines[save.session_id]:
            first_late[save.key] = min(first_late.get(save.key, save.revision), save.revision)
    return sum(1 for key, revision in first_late.items() if key in stored and stored[key][0] >= revision)


# ---------------------------------------------------------------------------------------- seeding
@dataclass
class Seeded:
    sessions: list[int]
    question_id: int
    cookies: dict[int, str]  # session_id -> cookie
    template_id: int
    seconds: float = 0.0
    extra: list[int] = field(default_factory=list)  # warm-up sessions


def seed_sessions(count: int, *, warm: int = 5, questions: int = 3) -> Seeded:
    """One template, `count + warm` candidates with logged-in sessions, each with an in-progress
    interview session of it (deadline 2 h out) and its first question opened. Bulk inserts."""
    from django.utils import timezone

    from domains.interviews.models import Answer, InterviewSession, InterviewTemplate, Question

    t0 = time.time()
    org = seed.organisation()
    tag = f"s4-{time.time_ns() % 10**9}"
    template = InterviewTemplate.objects.create(
        organisation=org,
        slug=tag,
        title=f"Bench {tag}",
        role="Backend engineer",
        interview_type="technical",
        difficulty="medium",
        level="mid",
        duration_minutes=120,
        question_count=questions,
        rubric="Clarity, trade-offs, measurement.",
    )
    made = Question.objects.bulk_create(
        [
            Question(template=template, position=i, question_type="open", prompt=f"Bench question {i}")
            for i in range(1, questions + 1)
        ]
    )
    people = seed.users(org, count + warm, prefix="s4c")
    keys = seed.sessions(people, org)
    now = timezone.now()
    rows = InterviewSession.objects.bulk_create(
        [
            InterviewSession(
                organisation=org,
                candidate=person,
                template=template,
                started_at=now,
                deadline=now + timedelta(hours=2),
                rubric_version=template.rubric_version,
            )
            for person in people
        ],
        batch_size=2000,
    )
    Answer.objects.bulk_create([Answer(session=row, question=made[0], opened_at=now) for row in rows], batch_size=2000)
    cookies = {row.pk: seed.cookie(keys[row.candidate_id]) for row in rows}
    ids = [row.pk for row in rows]
    return Seeded(
        sessions=ids[:count],
        extra=ids[count:],
        question_id=made[0].pk,
        cookies=cookies,
        template_id=template.pk,
        seconds=round(time.time() - t0, 2),
    )


def service_direct(session_id: int, question_id: int, *, calls: int = 50) -> dict[str, Any]:
    """The service alone: the SQL one `answer_save` runs (captured), and `calls` saves one after
    another in this process (no socket, no daphne; the ORM's own cost plus PostgreSQL's), on a
    warm-up session."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from domains.accounts.models import User
    from domains.interviews import services
    from domains.interviews.models import InterviewSession

    user = User.objects.get(pk=InterviewSession.objects.get(pk=session_id).candidate_id)
    services.answer_save(session_id=session_id, user=user, question_id=question_id, revision=1, text="warm")
    with CaptureQueriesContext(connection) as captured:
        services.answer_save(session_id=session_id, user=user, question_id=question_id, revision=2, text="warm up")
    statements = [q["sql"].split(" WHERE ")[0][:90] for q in captured.captured_queries]
    took = []
    for revision in range(3, 3 + calls):
        began = time.perf_counter()
        services.answer_save(
            session_id=session_id,
            user=user,
            question_id=question_id,
            revision=revision,
            text=answer_text(session_id, revision),
        )
        took.append(time.perf_counter() - began)
    return {"queries": len(statements), "statements": statements, "serial_ms": summary(took, scale=1000)}


# ---------------------------------------------------------------------------------------- the socket run
class _Run:
    def __init__(self, seeded: Seeded, *, interval: float, seconds: float) -> None:
        self.seeded = seeded
        self.interval, self.seconds = interval, seconds
        self.saves: dict[str, Save] = {}
        self.deadlines: dict[int, float] = {}
        self.events = 0  # answer.saved events received
        self.other_errors: Counter[str] = Counter()

    def on_frame(self, conn: Conn, raw: str, now: float) -> None:
        if '"ref"' not in raw:
            if '"answer.saved"' in raw:
                self.events += 1
            return
        frame = json.loads(raw)
        save = self.saves.get(frame.get("ref", ""))
        if save is None:
            self.other_errors[str(frame.get("code") or frame.get("type"))] += 1
            return
        save.replied = now
        if frame.get("type") == "ack":
            save.acked = True
            save.duplicate = bool(frame.get("duplicate"))
            if frame.get("saved_at"):
                save.saved_at = datetime.fromisoformat(frame["saved_at"]).timestamp()
        else:
            save.error = str(frame.get("code") or frame.get("type"))

    async def saver(self, conn: Conn, session_id: int, offset: float, t0: float) -> None:
        question_id = self.seeded.question_id
        revision = 0
        at = t0 + offset
        while at < t0 + self.seconds:
            await asyncio.sleep(max(0.0, at - time.time()))
            if conn.ws is None or conn.error:
                return
            revision += 1
            text = answer_text(session_id, revision)
            ref = f"{session_id}:{revision}"
            save = Save(session_id, question_id, revision, text)
            self.saves[ref] = save
            frame = json.dumps(
                {"type": "answer.save", "ref": ref, "question_id": question_id, "revision": revision, "text": text}
            )
            save.sent = time.time()
            save.late = session_id in self.deadlines and save.sent >= self.deadlines[session_id]
            try:
                await conn.send(frame)
            except Exception as error:  # noqa: BLE001 - counted
                save.error = f"send: {type(error).__name__}"
                return
            at += self.interval


def _set_deadlines(session_ids: list[int], at: float) -> dict[int, float]:
    """Move these sessions' deadlines to `at` (epoch seconds), in the database; returns them."""
    from django.db import connections

    from domains.interviews.models import InterviewSession

    deadline = datetime.fromtimestamp(at, tz=UTC)
    try:
        InterviewSession.objects.filter(pk__in=session_ids).update(deadline=deadline)
    finally:
        connections.close_all()
    return dict.fromkeys(session_ids, at)


def verify(session_ids: list[int], saves: list[Save], deadlines: Mapping[int, float]) -> dict[str, Any]:
    """What the database keeps: lost autosaves, answers stamped at or after their deadline, states."""
    from django.db.models import F

    from domains.interviews.models import Answer, InterviewSession

    rows = Answer.objects.filter(session_id__in=session_ids).values("session_id", "question_id", "revision", "text")
    stored = {(a["session_id"], a["question_id"]): (a["revision"], a["text"]) for a in rows}
    acked = [(s.key, s.revision, s.text) for s in saves if s.acked and not s.duplicate]
    lost = lost_autosaves(acked, stored)
    late_revisions = late_stored(saves, stored, deadlines)
    stamped_late = Answer.objects.filter(session_id__in=session_ids, saved_at__gte=F("session__deadline")).count()
    states = Counter(InterviewSession.objects.filter(pk__in=session_ids).values_list("state", flat=True))
    return {
        "lost": lost,
        "stamped_late": stamped_late,
        "late_revisions_stored": late_revisions,
        "states": dict(states),
        "answers": len(stored),
    }


def run_sockets(
    ctx: Any,
    target: dict[str, Any],
    *,
    sockets: int,
    interval: float,
    seconds: float,
    late_sessions: int,
    late_at: float,
    rate: float,
    drain: float = 10,
) -> tuple[dict[str, Any], Seeded]:
    start_target(ctx, target)
    seeded = seed_sessions(sockets)
    ctx.log(f"  S4 seeded {sockets} sessions (+{len(seeded.extra)} warm-up) in {seeded.seconds} s")
    direct = service_direct(seeded.extra[0], seeded.question_id)
    ctx.log(
        f"  S4 answer_save alone: {direct['queries']} queries, serial p50 {direct['serial_ms'].get('p50')} "
        f"p99 {direct['serial_ms'].get('p99')} ms"
    )
    late_ids = seeded.sessions[-late_sessions:] if late_sessions else []
    run = _Run(seeded, interval=interval, seconds=seconds)
    conns = [
        Conn(i, f"/ws/interviews/{sid}/", seeded.cookies[sid], {"session": sid})
        for i, sid in enumerate(seeded.sessions)
    ]
    warm = [
        Conn(-1 - i, f"/ws/interviews/{sid}/", seeded.cookies[sid], {"session": sid})
        for i, sid in enumerate(seeded.extra[1:])
    ]
    offsets = start_offsets(len(conns), interval)
    result: dict[str, Any] = {"service": direct, "seed_seconds": seeded.seconds}

    async def go() -> None:
        # warm-up: a few sockets on their own sessions, one save each (the capture above used extra[0])
        await open_paced(base_url(ctx), warm, 20, lambda *_: None, settle=10)
        for conn in warm:
            if conn.ws is not None:
                await conn.send(
                    json.dumps({"type": "answer.save", "question_id": seeded.question_id, "revision": 1, "text": "w"})
                )
        await asyncio.sleep(1)
        await close_all(warm)
        ctx.stack.profile_web(len(conns) / rate + 2, "s4-connect")
        took = await open_paced(base_url(ctx), conns, rate, run.on_frame, settle=30)
        result["connect"] = connect_stats(conns, took)
        ctx.log(
            f"  S4 connected {result['connect']['connected']}/{len(conns)} in {took:.1f} s, p99 "
            f"{result['connect']['latency_ms'].get('p99')} ms {result['connect']['errors']}"
        )
        ctx.stack.mark_logs()
        t0 = time.time() + 0.5
        if late_ids:
            run.deadlines = await asyncio.to_thread(_set_deadlines, late_ids, t0 + late_at)
        procs = ctx.stack.app_procs()
        meter = CpuMeter(procs).start()
        ctx.stack.profile_web(seconds + 1, "s4")
        await asyncio.gather(
            *(run.saver(c, c.meta["session"], offsets[c.idx], t0) for c in conns if c.first_frame is not None)
        )
        await wait_until(lambda: all(s.replied is not None or s.error for s in run.saves.values()), drain)
        result["cpu"] = meter.stop()
        result["save_seconds"] = round(time.time() - t0, 1)
        result["started"] = t0
        await close_all(conns)

    asyncio.run(go())
    # The database is checked once daphne has worked off what it still had queued (bounded).
    result["web_quiet_before_check"] = _wait_quiet(ctx.stack.app_procs(), timeout=drain)
    saves = list(run.saves.values())
    late_saves = [s for s in saves if s.late]
    on_time = [s for s in saves if not s.late]
    accepted_late = late_accepted(saves, run.deadlines)
    checked = verify(seeded.sessions, saves, run.deadlines)
    errors = Counter(s.error for s in saves if s.error)
    acked_ms = [1000 * s.latency for s in on_time if s.acked and s.latency is not None]
    unanswered_on_time = sum(1 for s in on_time if s.replied is None and not s.error)
    result.update(
        {
            "target": target,
            "sockets": sockets,
            "interval": interval,
            "seconds": seconds,
            "saves_sent": len(saves),
            "acks": sum(1 for s in saves if s.acked),
            "duplicates": sum(1 for s in saves if s.duplicate),
            "unanswered": sum(1 for s in saves if s.replied is None and not s.error),
            "errors": dict(errors),
            "refused_on_time": sum(
                1 for s in on_time if s.error and not s.error.startswith("send") and s.session_id not in run.deadlines
            ),
            "ack_ms": summary(acked_ms, scale=1),
            # Each socket's first save, second, ...: a backlog left by the connects shows in the first.
            "ack_ms_by_round": {
                str(n + 1): summary(
                    [1000 * s.latency for s in on_time if s.acked and s.latency is not None and s.revision == n + 1],
                    scale=1,
                )
                for n in range(4)
            },
            # p99 counting every save without a reply as slower than all: None when it falls on one
            "ack_p99_ms_counting_unanswered": _round(percentile_with_missing(acked_ms, unanswered_on_time, 99)),
            "late": {
                "sessions": len(late_ids),
                "deadline_after_s": late_at,
                "sent_after_deadline": len(late_saves),
                "refused": sum(1 for s in late_saves if s.error in REFUSED_LATE),
                "unanswered": sum(1 for s in late_saves if s.replied is None and not s.error),
                # sent before the deadline but run after it: refused, rightly
                "refused_sent_before": sum(
                    1
                    for s in on_time
                    if s.session_id in run.deadlines and s.error in ("deadline_passed", "session_closed")
                ),
                "accepted": len(accepted_late),
                "refusal_ms": summary([s.latency for s in late_saves if s.latency is not None], scale=1000),
            },
            "db": {
                "answers_checked": checked["answers"],
                "stamped_at_or_after_deadline": checked["stamped_late"],
                "late_revisions_stored": checked["late_revisions_stored"],
                "states": checked["states"],
            },
            "lost": len(checked["lost"]),
            "lost_examples": checked["lost"][:5],
            "answer_saved_events": run.events,
            "other_frames": dict(run.other_errors),
            "log_counts": ctx.stack.log_counts(),
            "log_errors": ctx.stack.log_errors(),
        }
    )
    result["drain_seconds"] = drain
    result["offered_saves_per_s"] = round(len(saves) / max(seconds, 1e-6), 1)
    # daphne runs every save in its one database thread (docs/stack-notes.md §17): at the serial
    # service time, this is how many saves per second that thread can run at most.
    serial = direct["serial_ms"].get("p50")
    result["db_thread_saves_per_s"] = round(1000 / serial, 1) if serial else None
    result["loadgen_saturated"] = saturated(result.get("cpu", {}))
    ctx.log(
        f"  S4 {target['name']}: {len(saves)} saves, {result['acks']} acks, ack p50 {result['ack_ms'].get('p50')} "
        f"p99 {result['ack_ms'].get('p99')} ms; late sent {len(late_saves)}, accepted {len(accepted_late)}, "
        f"db stamped late {checked['stamped_late']}; lost {len(checked['lost'])}; errors {dict(errors)}; "
        f"cpu {result.get('cpu')}"
    )
    return result, seeded


# ---------------------------------------------------------------------------------------- the raw baseline
_RAW_LOCK_SESSION = "SELECT state, deadline FROM interviews_interviewsession WHERE id = %s FOR UPDATE"
_RAW_LOCK_ANSWER = "SELECT id, revision FROM interviews_answer WHERE session_id = %s AND question_id = %s FOR UPDATE"
_RAW_UPDATE = (
    "UPDATE interviews_answer SET text = %s, choice_ids = '{}', revision = %s, saved_at = %s, updated_at = %s "
    "WHERE id = %s"
)
_RAW_COUNT = "SELECT count(*) FROM interviews_answer WHERE session_id = %s AND revision > 0"
_RAW_EVENT = "INSERT INTO realtime_streamevent (stream_key, seq, type, payload, created_at) VALUES (%s, %s, %s, %s, %s)"


async def _one(conn: Any, sql: str, params: list[Any]) -> tuple[Any, ...]:
    cur = await conn.execute(sql, params)
    row = await cur.fetchone()
    if row is None:
        raise LookupError(sql)
    return tuple(row)


async def _raw(
    url: str, sessions: list[int], question_id: int, *, interval: float, seconds: float, connections: int
) -> dict[str, Any]:
    from psycopg.types.json import Jsonb
    from psycopg_pool import AsyncConnectionPool

    from realtime.publish import _ALLOCATE_SEQ
    from realtime.streams import interview_session_stream

    latencies: list[float] = []
    outcome: Counter[str] = Counter()
    async with AsyncConnectionPool(url, min_size=connections, max_size=connections, open=False) as pool:
        await pool.wait()
        async with pool.connection() as conn:  # continue from the stored revisions
            cur = await conn.execute(
                "SELECT session_id, revision FROM interviews_answer WHERE session_id = ANY(%s) AND question_id = %s",
                [sessions, question_id],
            )
            # a margin above the stored revisions: a save the server took after the socket run's
            # check must not turn the baseline's writes into duplicates
            start_rev: dict[int, int] = {sid: rev + 1000 for sid, rev in await cur.fetchall()}

        async def save(session_id: int, revision: int) -> None:
            began = time.time()
            text = answer_text(session_id, revision)
            async with pool.connection() as conn, conn.transaction():
                state, deadline = await _one(conn, _RAW_LOCK_SESSION, [session_id])
                answer_id, stored = await _one(conn, _RAW_LOCK_ANSWER, [session_id, question_id])
                now = datetime.now(UTC)
                if state != "in_progress" or now >= deadline:
                    outcome["refused"] += 1
                    return
                if revision <= stored:
                    outcome["duplicate"] += 1
                    return
                await conn.execute(_RAW_UPDATE, [text, revision, now, now, answer_id])
                (answered,) = await _one(conn, _RAW_COUNT, [session_id])
                stream = interview_session_stream(session_id)
                (seq,) = await _one(conn, _ALLOCATE_SEQ, [stream])
                payload = {
                    "session_id": session_id,
                    "question_id": question_id,
                    "position": 1,
                    "revision": revision,
                    "saved_at": now.isoformat(),
                    "answered": answered,
                }
                await conn.execute(_RAW_EVENT, [stream, seq, "answer.saved", Jsonb(payload), now])
            latencies.append(time.time() - began)
            outcome["stored"] += 1

        async def writer(session_id: int, offset: float, t0: float) -> None:
            revision = start_rev.get(session_id, 0)
            at = t0 + offset
            while at < t0 + seconds:
                await asyncio.sleep(max(0.0, at - time.time()))
                revision += 1
                # open loop: a slow commit does not delay the next save's schedule
                tasks.append(asyncio.ensure_future(save(session_id, revision)))
                at += interval

        tasks: list[asyncio.Future[None]] = []
        t0 = time.time() + 0.2
        offsets = start_offsets(len(sessions), interval)
        await asyncio.gather(*(writer(sid, offsets[i], t0) for i, sid in enumerate(sessions)))
        await asyncio.gather(*tasks)
    return {
        "writers": len(sessions),
        "connections": connections,
        "interval": interval,
        "seconds": seconds,
        "writes": len(tasks),
        "outcome": dict(outcome),
        "commit_ms": summary(latencies, scale=1000),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _wait_quiet(procs: dict[str, Any], *, timeout: float, below: float = 10.0) -> bool:
    """Wait (bounded) until the web process uses under `below`% of a core over a second: the socket
    run's backlog must not share the machine with the baseline."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        meter = CpuMeter({"web": procs["web"]}).start() if "web" in procs else None
        if meter is None:
            return True
        time.sleep(1)
        if meter.stop().get("web", 0) < below:
            return True
    return False


def run_raw(
    ctx: Any, seeded: Seeded, *, exclude: set[int], interval: float, seconds: float, connections: int
) -> dict[str, Any]:
    sessions = [sid for sid in seeded.sessions if sid not in exclude]
    procs = ctx.stack.app_procs()
    quiet = _wait_quiet(procs, timeout=10)
    if not quiet:
        ctx.log("  S4 raw psycopg: the web process is still busy; the baseline shares the machine with it")
    meter = CpuMeter(procs).start()
    out = asyncio.run(
        _raw(
            ctx.stack.env["DATABASE_URL"],
            sessions,
            seeded.question_id,
            interval=interval,
            seconds=seconds,
            connections=connections,
        )
    )
    out["cpu"] = meter.stop()
    out["web_quiet_before"] = quiet
    ctx.log(
        f"  S4 raw psycopg: {out['writes']} writes by {len(sessions)} writers over {connections} connections, "
        f"commit p50 {out['commit_ms'].get('p50')} p99 {out['commit_ms'].get('p99')} ms {out['outcome']}"
    )
    return out


# ---------------------------------------------------------------------------------------- registry
@scenario("S4", "interview sockets autosaving: ack p99, late writes, lost autosaves", order=35)
def s4(ctx: Any) -> dict[str, Any]:
    p = ctx.profile["S4"]
    sockets_result, seeded = run_sockets(
        ctx,
        p["target"],
        sockets=p["sockets"],
        interval=p["interval"],
        seconds=p["seconds"],
        late_sessions=p["late_sessions"],
        late_at=p["late_at"],
        rate=p.get("rate", p["target"].get("rate", 40)),
    )
    late_ids = set(seeded.sessions[-p["late_sessions"] :]) if p["late_sessions"] else set()
    raw = run_raw(
        ctx,
        seeded,
        exclude=late_ids,
        interval=p["interval"],
        seconds=p["raw_seconds"],
        connections=p["raw_connections"],
    )
    return {"run": sockets_result, "raw": raw, "targets": {"ack_p99_ms": 150, "late_accepted": 0, "lost": 0}}
