"""The base of every Coachwire socket: identity, groups, close codes, size cap, rate limit, resume.

A subclass names its primary stream (`authorise`), builds its snapshot (`snapshot_data`), and adds
message handlers (`handle_<type>`), each of which validates and calls one service.
See docs/realtime-protocol.md for the wire format.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any, ClassVar
from urllib.parse import parse_qs

import structlog
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.http import Http404
from pydantic import BaseModel, ConfigDict, ValidationError

from domains.accounts.selectors import ORGANISATION_SESSION_KEY, organisation_for_session
from domains.common.errors import Refusal
from realtime.publish import CONTROL_MESSAGE, envelope
from realtime.ratelimit import Bucket, atake
from realtime.replay import replay_after, snapshot_transaction, stream_cursors
from realtime.streams import session_group, user_stream

log = structlog.get_logger(__name__)


class CloseCode:
    """Application close codes (docs/realtime-protocol.md, "Close codes")."""

    NO_SESSION = 4401
    NOT_FOUND = 4404  # also "not allowed": the two are indistinguishable on purpose
    ORGANISATION_CHANGED = 4409
    RATE_LIMITED = 4429
    TOO_BIG = 1009


class NotAllowed(Exception):  # noqa: N818 - reads as the refusal it is
    """Raised by `authorise` for a stream the user may not follow, or that does not exist."""


class ClientMessage(BaseModel):
    """Base for inbound message schemas: unknown fields are refused, not ignored."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    type: str
    ref: str | None = None  # echoed in any error about this message


class ResumeMessage(ClientMessage):
    cursors: dict[str, int]


class PingMessage(ClientMessage):
    pass


class StreamConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]
    """Subclasses override `authorise`, `snapshot_data` and, for rights, `rights_data`."""

    messages: ClassVar[dict[str, type[ClientMessage]]] = {}
    _base_messages: ClassVar[dict[str, type[ClientMessage]]] = {"resume": ResumeMessage, "ping": PingMessage}

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
        self.strikes = 0
        self.connection_id = uuid.uuid4().hex
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
        # Join before reading state: whatever commits after the snapshot arrives live.
        for group in dict.fromkeys([*self.streams, self.session_group]):
            await self.channel_layer.group_add(group, self.channel_name)
            self.groups_joined.append(group)
        await self.accept()
        requested = self._cursors_from_query()
        if requested:
            await self._resume(requested, snapshot_missing=True)
        else:
            await self.send_json(await self._snapshot_frame("snapshot"))
        self.is_connected = True
        await self.connected()

    async def disconnect(self, code: int) -> None:
        if getattr(self, "is_connected", False):
            self.is_connected = False
            await self.disconnected()
        # Always leave groups: a dead channel in a group costs capacity on every send (STACK-NOTES 2).
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

    async def _snapshot_frame(self, kind: str, streams: list[str] | None = None) -> dict[str, Any]:
        wanted = streams or self.streams
        cursors, data, rights = await database_sync_to_async(self._build_snapshot)(wanted)
        self.cursors.update(cursors)
        return {
            "type": kind,
            "v": settings.REALTIME_PROTOCOL_VERSION,
            "stream": self.primary or self.personal,
            "cursors": cursors,
            "data": data,
            "rights": rights,
            "heartbeat": settings.REALTIME_HEARTBEAT_SECONDS,
        }

    async def _resume(self, requested: dict[str, int], *, snapshot_missing: bool = False) -> None:
        """Replay each stream after its cursor; a stream that cannot be replayed gets `resync`."""
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
            await self.send_json({"type": "resumed", "stream": stream, "seq": self.cursors[stream]})
        missing = [stream for stream in self.streams if stream not in requested] if snapshot_missing else []
        primary = self.primary or self.personal
        if primary in missing or resync:
            await self.send_json(await self._snapshot_frame("resync" if resync else "snapshot"))
            return
        if missing:
            # A secondary stream the client had no cursor for (the personal stream, say) is followed
            # from now on: its earlier events were never this page's to replay.
            cursors = await database_sync_to_async(stream_cursors)(missing)
            for stream, seq in cursors.items():
                self.cursors[stream] = seq
                await self.send_json({"type": "resumed", "stream": stream, "seq": seq})
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
        if self.visible(envelope):
            await self.send(text_data=envelope["text"])
        else:
            await self.send_json({"type": "event", "stream": stream, "seq": seq, "event": "redacted", "data": {}})
        await self.after_event(envelope)

    # ------------------------------------------------------------------ channel-layer handlers
    async def stream_event(self, message: dict[str, Any]) -> None:
        if message.get("seq") is None:
            await self.send(text_data=message["text"])  # ephemeral: encoded once for the group
        else:
            await self._deliver(message)

    async def stream_control(self, message: dict[str, Any]) -> None:
        assert message["type"] == CONTROL_MESSAGE
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
        raw = text_data if text_data is not None else (bytes_data or b"").decode("utf-8", "replace")
        if len(raw.encode("utf-8")) > settings.REALTIME_MAX_FRAME_BYTES:
            await self.close(code=CloseCode.TOO_BIG)
            return
        try:
            content = json.loads(raw)
        except ValueError:
            content = None
        ref = content.get("ref") if isinstance(content, dict) else None
        if not await self._within_rate(ref):
            return
        if content is None:
            await self.send_error("bad_json", "Frames must be JSON objects.")
            return
        if not isinstance(content, dict) or not isinstance(content.get("type"), str):
            await self.send_error("bad_message", 'A frame is a JSON object with a string "type".')
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
        await handler(message)

    async def send_error(self, code: str, message: str, *, ref: Any = None, **extra: Any) -> None:
        frame: dict[str, Any] = {"type": "error", "code": code, "message": message, **extra}
        if isinstance(ref, str):
            frame["ref"] = ref
        await self.send_json(frame)

    async def run_action(self, message: ClientMessage, action: Callable[[], dict[str, Any] | None]) -> None:
        """Run one service call in the database thread and answer with its reply, or an `error` frame:
        a `Refusal` says why; a missing object is `not_found`; anything else is `server_error`, and
        the socket stays open (the service's transaction rolled back, so nothing changed)."""
        try:
            reply = await database_sync_to_async(action)()
        except Refusal as refusal:
            extra: dict[str, Any] = {}
            if refusal.retry_after is not None:
                extra["retry_after"] = round(refusal.retry_after, 1)
            if refusal.field:
                extra["fields"] = {refusal.field: refusal.message}
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
            await self.send_json({**reply, "ref": message.ref})

    async def handle_ping(self, message: PingMessage) -> None:
        await self.send_json({"type": "pong", "ref": message.ref})

    async def handle_resume(self, message: ResumeMessage) -> None:
        await self._resume({stream: seq for stream, seq in message.cursors.items() if stream in self.streams})
