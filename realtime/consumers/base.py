"""The base of every Coachwire socket: identity, groups, close codes, size cap, rate limit, resume.

A subclass names its primary stream (`authorise`), builds its snapshot (`snapshot_data`), and adds
message handlers (`handle_<type>`), each of which validates and calls one service.
See docs/realtime-protocol.md for the wire format.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import re
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, ClassVar
from urllib.parse import parse_qs

import structlog
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.http import Http404
from pydantic import ConfigDict, ValidationError

from domains.accounts.selectors import ORGANISATION_SESSION_KEY, organisation_for_session
from domains.common.errors import Refusal
from domains.common.validation import StorableSchema
from realtime.fanout import process_fanout
from realtime.pressure import droppable, merge_into, mergeable, own_copy, settled
from realtime.publish import CONTROL_MESSAGE, envelope
from realtime.ratelimit import Bucket, atake
from realtime.replay import replay_after, snapshot_transaction, stream_cursors
from realtime.streams import session_group, user_stream

log = structlog.get_logger(__name__)


class CloseCode:
    """Application close codes (docs/realtime-protocol.md, "Close codes").

    All in 4000-4999: daphne (autobahn) refuses to send any code but 1000 and 3000-4999 from an
    application, so 1009 or 1003 would raise inside the consumer and reach the client as 1011."""

    NO_SESSION = 4401
    NOT_FOUND = 4404  # also "not allowed": the two are indistinguishable on purpose
    ORGANISATION_CHANGED = 4409
    TOO_BIG = 4413  # a frame over REALTIME_MAX_FRAME_BYTES (HTTP 413, Content Too Large)
    BINARY_FRAME = 4415  # frames are JSON text (HTTP 415, Unsupported Media Type)
    RATE_LIMITED = 4429


class NotAllowed(Exception):  # noqa: N818 - reads as the refusal it is
    """Raised by `authorise` for a stream the user may not follow, or that does not exist."""


class ClientMessage(StorableSchema):
    """Base for inbound message schemas: unknown fields are refused, not ignored, and every string
    field (nested ones, dict keys included) must be text PostgreSQL can store: no NUL, no lone
    surrogate (`StorableSchema`). Refused as `invalid` with the field, before any handler runs, so
    a new message type cannot forget it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    type: str
    ref: str | None = None  # echoed in every reply and error about this message


def with_ref(frame: dict[str, Any], ref: Any) -> dict[str, Any]:
    """`frame` as a reply to a message whose `ref` was `ref`: it carries `ref` when that is a string."""
    if isinstance(ref, str):
        frame["ref"] = ref
    return frame


# Brackets and the characters that decide whether a bracket is inside a string.
_JSON_STRUCTURE = re.compile(r'[\[\]{}"\\]')


def nested_deeper_than(text: str, limit: int) -> bool:
    """Would `text`, parsed as JSON, nest arrays/objects more than `limit` deep? Decided before parsing:
    `json.loads` recurses per level and raises RecursionError near 1,000 levels (8,000 fit in a 16 KiB
    frame), and pydantic and `json.dumps` recurse again. Linear; most frames never reach the loop."""
    if text.count("[") + text.count("{") <= limit:
        return False
    depth = 0
    in_string = False
    escaped = -1  # the index a backslash escapes
    for match in _JSON_STRUCTURE.finditer(text):
        index, char = match.start(), match.group()
        if in_string:
            if index == escaped:
                continue
            if char == "\\":
                escaped = index + 1
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False


async def dispatch_until_stopped(
    receivers: list[Callable[[], Awaitable[dict[str, Any]]]],
    dispatch: Callable[[dict[str, Any]], Awaitable[None]],
    *,
    teardown_seconds: float,
) -> None:
    """`channels.utils.await_many_dispatch`, with a bounded teardown.

    Channels cancels each pending receive and awaits it without a bound. A channels-redis
    `receive()` sometimes swallows that cancellation (about 1 in 20 when other sockets of the process
    receive meanwhile) and goes back to waiting for a message that never comes to a closed socket's
    channel: the instance never returns, and daphne kills it after its application close timeout
    ("took too long to shut down"). A second `cancel()` lands; so cancel until done, within
    `teardown_seconds`."""
    tasks = [asyncio.ensure_future(receiver()) for receiver in receivers]
    try:
        while True:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for index, task in enumerate(tasks):
                if task.done():
                    result = task.result()
                    await dispatch(result)
                    tasks[index] = asyncio.ensure_future(receivers[index]())
    finally:
        await _cancel_until_done(tasks, teardown_seconds)


async def _cancel_until_done(tasks: Sequence[asyncio.Future[Any]], timeout: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    pending = {task for task in tasks if not task.done()}
    while pending:
        for task in pending:
            task.cancel()
        remaining = deadline - loop.time()
        if remaining <= 0:
            log.warning("socket.receive_not_cancelled", tasks=len(pending))
            break
        _, pending = await asyncio.wait(pending, timeout=min(0.2, remaining))
    for task in tasks:
        if task.done() and not task.cancelled():
            task.exception()  # retrieved: a receive that failed as it was cancelled is not news


class ResumeMessage(ClientMessage):
    cursors: dict[str, int]


class PingMessage(ClientMessage):
    pass


class StreamConsumer(AsyncJsonWebsocketConsumer):
    """Subclasses override `authorise`, `snapshot_data` and, for rights, `rights_data`."""

    messages: ClassVar[dict[str, type[ClientMessage]]] = {}
    _base_messages: ClassVar[dict[str, type[ClientMessage]]] = {"resume": ResumeMessage, "ping": PingMessage}
    # Set by the first server-initiated close (or the disconnect): from then on no frame still queued
    # behind it, no handler waiting for the delivery lock and no queued delivery may act or send.
    closing: bool = False

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Channels' `AsyncConsumer.__call__`, but dispatching through `dispatch_until_stopped`, whose
        teardown is bounded (see there). Async consumers only, as every StreamConsumer is."""
        self.scope = scope
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        receivers = [receive]
        if self.channel_layer is not None:
            self.channel_name = await self.channel_layer.new_channel()
            self.channel_receive = functools.partial(self.channel_layer.receive, self.channel_name)
            receivers.append(self.channel_receive)
        self.base_send = send
        with contextlib.suppress(StopConsumer):  # the consumer's way of saying it is done
            await dispatch_until_stopped(
                receivers, self.dispatch, teardown_seconds=settings.REALTIME_DISCONNECT_SECONDS
            )

    async def close(self, code: int | bool | None = None, reason: str | None = None) -> None:
        """Close from the server end. Marks the socket closing first: frames the client sent before
        it saw the close are still queued here (a flood of them after a 4429), and must change nothing."""
        self.closing = True
        await super().close(code=code, reason=reason)

    # ------------------------------------------------------------------ hooks for subclasses
    async def authorise(self) -> str | None:
        """Return the primary stream key, or None for a socket that only follows the personal stream.
        Raise NotAllowed for anything the user may not see (answered 4404)."""
        return None

    def snapshot_data(self, stream: str) -> dict[str, Any]:
        """The state of `stream` now, run inside `snapshot_transaction` (sync, in the DB thread)."""
        return {}

    def rights_data(self) -> dict[str, Any]:
        """What this user may do on this socket now (sync, in the DB thread). Raise NotAllowed to close."""
        return {}

    def visible(self, envelope: dict[str, Any]) -> bool:
        """May this user read this durable event (live or replayed)? Events they may not read keep
        their `seq` but lose their content (`redacted`), so cursors stay contiguous."""
        return True

    async def connected(self) -> None:
        """Called once the first snapshot or replay has gone out."""

    async def disconnected(self) -> None:
        """Called on disconnect, before the groups are left."""

    async def after_event(self, envelope: dict[str, Any]) -> None:
        """Called after a durable event was sent (to react to events `about` this very user)."""

    async def after_resume(self) -> None:
        """Called after a replay: send whatever ephemeral state the replay cannot carry."""

    # ------------------------------------------------------------------ connect / disconnect
    async def connect(self) -> None:
        self.user = self.scope.get("user")
        self.cursors: dict[str, int] = {}
        self.groups_joined: list[str] = []
        self.streams_followed: list[str] = []
        self.strikes = 0
        self.connection_id = uuid.uuid4().hex
        # Durable events are applied under this lock, in arrival order: the connect snapshot, a
        # resume and a gap repair hold it while they await the database (see `fanout_event`).
        self._delivery = asyncio.Lock()
        self._queued: set[asyncio.Task[None]] = set()
        self._queued_tail: dict[str, Any] | None = None  # the newest queued delta, still open to merging
        if self.user is None or not self.user.is_authenticated:
            await self.accept()
            await self.close(code=CloseCode.NO_SESSION)
            return
        session = self.scope["session"]
        self.session_group = session_group(session.session_key or "")
        self.organisation = await database_sync_to_async(organisation_for_session)(
            user=self.user, organisation_id=session.get(ORGANISATION_SESSION_KEY)
        )
        try:
            self.primary = await self.authorise()
        except NotAllowed:
            await self.accept()
            await self.close(code=CloseCode.NOT_FOUND)
            return
        self.personal = user_stream(self.user.pk)
        self.streams = [stream for stream in (self.primary, self.personal) if stream is not None]
        async with self._delivery:
            # Follow before reading state: whatever commits after the snapshot arrives live, and
            # waits for the snapshot's cursors under the lock.
            await self._follow()
            await self.accept()
            requested = self._cursors_from_query()
            if requested:
                await self._resume(requested, snapshot_missing=True)
            else:
                await self.send_json(await self._snapshot_frame("snapshot"))
        self.is_connected = True
        await self.connected()

    async def _follow(self) -> None:
        """Join the streams' groups: through the process fan-out, or one channel per socket."""
        if settings.REALTIME_FANOUT == "process":
            fanout = process_fanout(self.channel_layer)
            for stream in dict.fromkeys(self.streams):
                await fanout.join(stream, self)
                self.streams_followed.append(stream)
            groups = [self.session_group]
        else:
            groups = [*self.streams, self.session_group]
        for group in dict.fromkeys(groups):
            await self.channel_layer.group_add(group, self.channel_name)
            self.groups_joined.append(group)

    async def disconnect(self, code: int) -> None:
        self.closing = True
        if getattr(self, "is_connected", False):
            self.is_connected = False
            try:
                # Presence and its broadcast are best effort (entries expire by themselves); the
                # leaves below are not, and daphne kills an instance that takes too long.
                async with asyncio.timeout(settings.REALTIME_DISCONNECT_SECONDS):
                    await self.disconnected()
            except TimeoutError:
                log.warning("socket.disconnected_hook_timeout", consumer=type(self).__name__)
        for task in getattr(self, "_queued", set()):
            task.cancel()
        # Always leave: a dead channel in a group costs capacity on every send (docs/stack-notes.md §2).
        followed, self.streams_followed = getattr(self, "streams_followed", []), []
        for stream in followed:
            await process_fanout(self.channel_layer).leave(stream, self)
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)
        self.groups_joined = []

    def _cursors_from_query(self) -> dict[str, int]:
        """`?resume=lounge.4:17,user.7:3` on connect asks for replay instead of a snapshot."""
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        cursors: dict[str, int] = {}
        for value in query.get("resume", []):
            for item in value.split(","):
                stream, _, seq = item.rpartition(":")
                if stream in self.streams and seq.isdigit():
                    cursors[stream] = int(seq)
        return cursors

    # ------------------------------------------------------------------ snapshots and replay
    def _build_snapshot(self, streams: list[str]) -> tuple[dict[str, int], dict[str, Any], dict[str, Any]]:
        with snapshot_transaction():
            cursors = stream_cursors(streams)
            data = self.snapshot_data(self.primary or self.personal)
            rights = self.rights_data()
        return cursors, data, rights

    async def _snapshot_frame(self, kind: str, streams: list[str] | None = None, *, ref: Any = None) -> dict[str, Any]:
        wanted = streams or self.streams
        cursors, data, rights = await database_sync_to_async(self._build_snapshot)(wanted)
        self.cursors.update(cursors)
        frame = {
            "type": kind,
            "v": settings.REALTIME_PROTOCOL_VERSION,
            "stream": self.primary or self.personal,
            "cursors": cursors,
            "data": data,
            "rights": rights,
            "heartbeat": settings.REALTIME_HEARTBEAT_SECONDS,
        }
        return with_ref(frame, ref)

    async def _resume(self, requested: dict[str, int], *, snapshot_missing: bool = False, ref: Any = None) -> None:
        """Replay each stream after its cursor; a stream that cannot be replayed gets `resync`.
        `ref`: the `resume` message's, carried by the `resumed`, `resync` and `snapshot` frames."""
        resync: list[str] = []
        for stream in self.streams:
            if stream not in requested:
                continue
            replay = await database_sync_to_async(replay_after)(stream, requested[stream])
            if replay.resync:
                resync.append(stream)
                continue
            self.cursors[stream] = requested[stream]
            for frame in replay.frames:
                await self._deliver(envelope(frame))
            await self.send_json(with_ref({"type": "resumed", "stream": stream, "seq": self.cursors[stream]}, ref))
        missing = [stream for stream in self.streams if stream not in requested] if snapshot_missing else []
        primary = self.primary or self.personal
        if primary in missing or resync:
            await self.send_json(await self._snapshot_frame("resync" if resync else "snapshot", ref=ref))
            return
        if missing:
            # A secondary stream the client had no cursor for (the personal stream, say) is followed
            # from now on: its earlier events were never this page's to replay.
            cursors = await database_sync_to_async(stream_cursors)(missing)
            for stream, seq in cursors.items():
                self.cursors[stream] = seq
                await self.send_json(with_ref({"type": "resumed", "stream": stream, "seq": seq}, ref))
        await self.after_resume()

    async def _deliver(self, envelope: dict[str, Any]) -> None:
        """Send a durable event exactly once and in order; repair a gap from the database."""
        stream, seq = str(envelope["stream"]), int(envelope["seq"])
        cursor = self.cursors.get(stream)
        if cursor is None or seq <= cursor:
            return  # not followed yet (the snapshot will cover it), or a duplicate
        if seq > cursor + 1:
            await self._resume({stream: cursor})
            return
        self.cursors[stream] = seq
        await self._send_event(envelope)
        await self.after_event(envelope)

    # ------------------------------------------------------------------ delivery
    async def fanout_event(self, message: dict[str, Any]) -> None:
        """One group message from the process fan-out (realtime/fanout.py). The common case, the next
        event of a stream for a socket that is not busy, is sent here at once; anything else (a
        duplicate, a gap, a socket still connecting or resuming, an event about this very user)
        queues behind the delivery lock and goes through `_deliver`, in arrival order."""
        if self.closing:
            return
        busy = bool(self._queued) or self._delivery.locked()
        seq = message.get("seq")
        if seq is None:
            if not busy:
                await self.send(text_data=message["text"])  # ephemeral: encoded once for the group
            else:
                self._queue_ephemeral(message)
            return
        cursor = self.cursors.get(message["stream"])
        if (
            busy
            or seq is None
            or cursor is None
            or seq != cursor + 1
            or (message.get("about") is not None and message.get("about") == self.user.pk)
        ):
            self._queue(self._deliver_in_order(message))
            return
        self.cursors[message["stream"]] = seq
        await self._send_event(message)

    def fanout_control(self, message: dict[str, Any]) -> None:
        """A control frame from the process fan-out: handled in its own task (it may close the
        socket or read the database), after the events queued before it."""
        self._queue(self._control_in_order(message))

    def _queue_ephemeral(self, message: dict[str, Any]) -> None:
        """An ephemeral event for a busy socket: a piece of streamed text joins the piece queued just
        before it, typing and presence are dropped behind a long queue (realtime/pressure.py). So a
        socket that falls behind gets fewer, larger deltas, and its queue stays short."""
        if self._queued_tail is not None and merge_into(self._queued_tail, message):
            return
        if droppable(message) and len(self._queued) >= settings.REALTIME_PRESSURE_QUEUE:
            return
        if mergeable(message):
            message = own_copy(message)
            self._queue(self._deliver_in_order(message), tail=message)
        else:
            self._queue(self._deliver_in_order(message))

    def _queue(self, coroutine: Coroutine[Any, Any, None], *, tail: dict[str, Any] | None = None) -> None:
        """Run `coroutine` behind everything queued before it. `tail`: the delta it sends, which later
        pieces of the same text may join until it starts."""
        task = asyncio.create_task(coroutine)
        self._queued.add(task)
        self._queued_tail = tail
        task.add_done_callback(self._queued.discard)

    async def _deliver_in_order(self, message: dict[str, Any]) -> None:
        async with self._delivery:
            if self._queued_tail is message:
                self._queued_tail = None  # going out now: nothing more may join it
            if not self.closing:
                await self.stream_event(settled(message), locked=True)

    async def _control_in_order(self, message: dict[str, Any]) -> None:
        async with self._delivery:
            pass  # wait for the events that arrived before it
        if not self.closing:
            await self.stream_control(message)

    async def _send_event(self, message: dict[str, Any]) -> None:
        if self.visible(message):
            await self.send(text_data=message["text"])
        else:
            await self.send_json(
                {"type": "event", "stream": message["stream"], "seq": message["seq"], "event": "redacted", "data": {}}
            )

    # ------------------------------------------------------------------ channel-layer handlers
    async def stream_event(self, message: dict[str, Any], *, locked: bool = False) -> None:
        if self.closing:
            return
        if message.get("seq") is None:
            await self.send(text_data=message["text"])  # ephemeral: encoded once for the group
        elif locked:
            await self._deliver(message)
        else:
            async with self._delivery:
                await self._deliver(message)

    async def stream_control(self, message: dict[str, Any]) -> None:
        if message.get("type") != CONTROL_MESSAGE:  # a caller's bug, never a client's input: fail loudly
            raise TypeError(f"stream_control got a {message.get('type')!r} message, not {CONTROL_MESSAGE!r}")
        if self.closing:
            return
        if message["action"] == "force_close":
            code = message.get("code") or CloseCode.NO_SESSION
            await self.send_json({"type": "force_close", "reason": message["reason"], "code": code})
            await self.close(code=code)
            return
        await self._rights_changed(message["reason"])

    async def _rights_changed(self, reason: str) -> None:
        session = self.scope["session"]
        await database_sync_to_async(session.load)()  # the session may have been rewritten elsewhere
        organisation = await database_sync_to_async(organisation_for_session)(
            user=self.user, organisation_id=session.get(ORGANISATION_SESSION_KEY)
        )
        bound = self.organisation.pk if self.organisation is not None else None
        if (organisation.pk if organisation is not None else None) != bound:
            await self.send_json({"type": "force_close", "reason": "organisation_changed", "code": 4409})
            await self.close(code=CloseCode.ORGANISATION_CHANGED)
            return
        try:
            rights = await database_sync_to_async(self._checked_rights)()
        except NotAllowed:
            await self.send_json({"type": "force_close", "reason": reason, "code": CloseCode.NOT_FOUND})
            await self.close(code=CloseCode.NOT_FOUND)
            return
        await self.send_json({"type": "rights_changed", "reason": reason, "rights": rights})

    def _checked_rights(self) -> dict[str, Any]:
        self.user.refresh_from_db()
        if not self.user.is_active:
            raise NotAllowed
        return self.rights_data()

    # ------------------------------------------------------------------ inbound
    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any) -> None:
        if self.closing:
            return  # queued behind a close: the client's frames no longer act (docs: "Close codes")
        if text_data is None:
            await self.send_error("binary_frame", "Frames are JSON text, not binary.")
            await self.close(code=CloseCode.BINARY_FRAME)
            return
        cap = settings.REALTIME_MAX_FRAME_BYTES
        if len(text_data) > cap or len(text_data.encode("utf-8", "surrogatepass")) > cap:
            await self.send_error("too_big", f"A frame may be at most {cap} bytes of UTF-8.")
            await self.close(code=CloseCode.TOO_BIG)
            return
        depth = settings.REALTIME_MAX_JSON_DEPTH
        too_deep = nested_deeper_than(text_data, depth)
        content: Any = None
        if not too_deep:
            try:
                content = json.loads(text_data)
            except ValueError:
                content = None
        ref = content.get("ref") if isinstance(content, dict) else None
        if not await self._within_rate(ref):
            return
        if too_deep:
            fields = {"frame": f"Nested deeper than {depth} levels."}
            await self.send_error("invalid", "The message is not valid.", fields=fields)
            return
        if content is None:
            await self.send_error("bad_json", "Frames must be JSON objects.")
            return
        if not isinstance(content, dict) or not isinstance(content.get("type"), str):
            await self.send_error("bad_message", 'A frame is a JSON object with a string "type".', ref=ref)
            return
        await self.receive_json(content)

    async def _within_rate(self, ref: Any = None) -> bool:
        bucket = Bucket(settings.REALTIME_RATE_CAPACITY, settings.REALTIME_RATE_REFILL_PER_SECOND)
        decision = await atake(f"ws:{self.connection_id}", bucket)
        if decision.allowed:
            self.strikes = 0
            return True
        self.strikes += 1
        if self.strikes >= settings.REALTIME_RATE_STRIKES:
            await self.close(code=CloseCode.RATE_LIMITED)
        else:
            await self.send_error(
                "rate_limited", "Too many messages; slow down.", ref=ref, retry_after=decision.retry_after
            )
        return False

    async def receive_json(self, content: dict[str, Any], **kwargs: Any) -> None:
        message_type = content["type"]
        schema = self._base_messages.get(message_type) or self.messages.get(message_type)
        handler = getattr(self, f"handle_{message_type.replace('.', '_')}", None)
        if schema is None or handler is None:
            await self.send_error("unknown_type", f"Unknown message type {message_type!r}.", ref=content.get("ref"))
            return
        try:
            message = schema.model_validate(content)
        except ValidationError as error:
            fields = {".".join(str(p) for p in e["loc"]) or "frame": e["msg"] for e in error.errors()}
            await self.send_error("invalid", "The message is not valid.", ref=content.get("ref"), fields=fields)
            return
        # Events arriving meanwhile wait, so the socket that acted gets its reply before the events
        # its action published (as with one channel per socket, where handlers run one at a time).
        async with self._delivery:
            if self.closing:
                return  # closed (kicked, force-closed) while this message waited for the lock
            await handler(message)

    async def send_error(self, code: str, message: str, *, ref: Any = None, **extra: Any) -> None:
        await self.send_json(with_ref({"type": "error", "code": code, "message": message, **extra}, ref))

    async def run_action(
        self, message: ClientMessage, action: Callable[[], dict[str, Any] | None], *, shared_thread: bool = True
    ) -> None:
        """Run one service call in the database thread and answer with its reply, or an `error` frame:
        a `Refusal` says why; a missing object is `not_found`; anything else is `server_error`, and
        the socket stays open (the service's transaction rolled back, so nothing changed). Nothing
        runs once the socket is closing.

        `shared_thread=False` runs it on the loop's thread pool instead of the one thread every
        `database_sync_to_async` call shares (docs/stack-notes.md §17): for frequent, self-contained
        writes (autosaves) whose service takes its own row lock, so they overlap their round trips."""
        if self.closing:
            return
        try:
            reply = await database_sync_to_async(action, thread_sensitive=shared_thread)()
        except Refusal as refusal:
            extra: dict[str, Any] = {}
            if refusal.retry_after is not None:
                extra["retry_after"] = round(refusal.retry_after, 1)
            if by_field := refusal.field_errors():
                extra["fields"] = {name: " ".join(texts) for name, texts in by_field.items()}
            await self.send_error(refusal.code, refusal.message, ref=message.ref, **extra)
            return
        except (Http404, ObjectDoesNotExist):
            await self.send_error("not_found", "No such thing here.", ref=message.ref)
            return
        except Exception:
            log.exception("socket.action_failed", message_type=message.type, consumer=type(self).__name__)
            await self.send_error("server_error", "Something went wrong; nothing was changed.", ref=message.ref)
            return
        if reply is not None:
            await self.send_json(with_ref(dict(reply), message.ref))

    async def handle_ping(self, message: PingMessage) -> None:
        await self.send_json(with_ref({"type": "pong"}, message.ref))
        if settings.REALTIME_FANOUT == "channel" and settings.REALTIME_TAIL_CHECK_SECONDS > 0:
            self._queue(self._repair_tails())

    def repair_behind(self, stream: str, head: int) -> bool:
        """The process fan-out's tail check found `stream`'s event `head` lost on its way here: if
        this socket has not seen it, replay from the database (behind what is queued). True if so."""
        cursor = self.cursors.get(stream)
        if self.closing or cursor is None or cursor >= head:
            return False
        self._queue(self._repair_stream(stream, head))
        return True

    async def _repair_stream(self, stream: str, head: int) -> None:
        async with self._delivery:
            cursor = self.cursors.get(stream)
            if not self.closing and cursor is not None and cursor < head:
                await self._resume({stream: cursor})

    async def _repair_tails(self) -> None:
        """The tail check without the process fan-out (REALTIME_FANOUT=channel, the bench's
        comparison): on each ping, compare the heads of the streams this socket follows with its
        cursors and replay what it missed. One query per ping. Runs behind the events already
        queued, so it sees the cursors they advanced."""
        async with self._delivery:
            if self.closing or not self.cursors:
                return
            heads = await database_sync_to_async(stream_cursors)(list(self.cursors))
            behind = {stream: cursor for stream, cursor in self.cursors.items() if heads.get(stream, 0) > cursor}
            if behind:
                log.info("socket.tail_repaired", streams=sorted(behind), consumer=type(self).__name__)
                await self._resume(behind)

    async def handle_resume(self, message: ResumeMessage) -> None:
        cursors = {stream: seq for stream, seq in message.cursors.items() if stream in self.streams}
        await self._resume(cursors, ref=message.ref)
