from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from domains.ai.models import ReplyStatus, StreamedReply
from realtime.streams import LOUNGE_REPLY, lounge_stream, reply_job_key


class LoungeAccess(models.TextChoices):
    OPEN = "open", "Open: anyone in the organisation can join"
    MEMBERS = "members", "Members only: moderators add members"
    INVITE = "invite", "Invite: hidden; join with the invite code"


class Lounge(models.Model):
    """A live room. Its coach persona answers when summoned; its moderators keep order."""

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.CASCADE, related_name="lounges")
    slug = models.SlugField(max_length=60)
    title = models.CharField(max_length=120)
    topic = models.CharField(max_length=300, blank=True)
    category = models.CharField(max_length=60, blank=True)
    access = models.CharField(max_length=10, choices=LoungeAccess.choices, default=LoungeAccess.OPEN)
    invite_code = models.CharField(max_length=32, blank=True, help_text="For invite-only lounges.")
    is_locked = models.BooleanField(default=False, help_text="Locked: only moderators can post.")
    slow_mode_seconds = models.PositiveIntegerField(default=0)
    coach_name = models.CharField(max_length=60, default="Coach")
    coach_system_prompt = models.TextField(
        default="You are a supportive, concise coach in a group chat. Answer the latest question, "
        "use the conversation for context, and say when you are unsure."
    )
    coach_provider = models.CharField(max_length=20, blank=True, help_text="Blank: the organisation's default.")
    coach_model = models.CharField(max_length=100, blank=True, help_text="Blank: the provider's default.")
    coach_temperature = models.FloatField(default=0.4)
    coach_max_tokens = models.PositiveIntegerField(default=600, help_text="The cap on one reply's output tokens.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["category", "title"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "slug"], name="lounges_lounge_slug_per_org"),
            models.CheckConstraint(
                condition=models.Q(slow_mode_seconds__lte=3600), name="lounges_lounge_slow_mode_max_hour"
            ),
            models.CheckConstraint(
                condition=models.Q(coach_max_tokens__gte=16, coach_max_tokens__lte=8000),
                name="lounges_lounge_coach_tokens_range",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def stream(self) -> str:
        return lounge_stream(self.pk)


class LoungeRole(models.TextChoices):
    MEMBER = "member", "Member"
    MODERATOR = "moderator", "Moderator"
    OWNER = "owner", "Owner"


class LoungeMembership(models.Model):
    lounge = models.ForeignKey(Lounge, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="lounge_memberships")
    role = models.CharField(max_length=10, choices=LoungeRole.choices, default=LoungeRole.MEMBER)
    muted_until = models.DateTimeField(null=True, blank=True)
    is_banned = models.BooleanField(default=False)
    last_posted_at = models.DateTimeField(null=True, blank=True)
    joined_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["lounge", "joined_at"]
        constraints = [models.UniqueConstraint(fields=["lounge", "user"], name="lounges_membership_once")]

    def __str__(self) -> str:
        return f"{self.user} in {self.lounge} ({self.role})"

    @property
    def is_moderator(self) -> bool:
        return self.role in (LoungeRole.MODERATOR, LoungeRole.OWNER) and not self.is_banned

    def muted_now(self) -> bool:
        return self.muted_until is not None and self.muted_until > timezone.now()


class AuthorKind(models.TextChoices):
    USER = "user", "User"
    COACH = "coach", "Coach"
    SYSTEM = "system", "System"


MessageStatus = ReplyStatus


class Message(StreamedReply):
    """A post in a lounge: a person's, a system notice, or the coach's streamed reply (the
    `StreamedReply` columns: status, usage, citations, error)."""

    lounge = models.ForeignKey(Lounge, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="lounge_messages"
    )
    author_kind = models.CharField(max_length=8, choices=AuthorKind.choices, default=AuthorKind.USER)
    # The StreamedReply text columns, kept with their help text (a change would be a migration).
    body = models.TextField(blank=True, help_text="Markdown, as written.")
    body_html = models.TextField(blank=True, help_text="Sanitised HTML rendered on the server.")
    reply_to = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replies")
    client_msg_id = models.CharField(max_length=64, blank=True)
    # A coach reply: who summoned it and with which request id (idempotency key).
    summoned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="coach_summons"
    )
    coach_request_id = models.CharField(max_length=64, blank=True)
    # Moderation
    hidden_at = models.DateTimeField(null=True, blank=True)
    hidden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    hidden_reason = models.CharField(max_length=300, blank=True)
    is_deleted = models.BooleanField(default=False)
    pinned_at = models.DateTimeField(null=True, blank=True)
    pinned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    edited_at = models.DateTimeField(null=True, blank=True)
    # The usage row of a coach reply (its tokens are the StreamedReply columns).
    ai_usage_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["lounge", "-created_at"], name="lounges_message_recent")]
        constraints = [
            models.UniqueConstraint(
                fields=["author", "client_msg_id"],
                condition=~models.Q(client_msg_id=""),
                name="lounges_message_client_id_per_author",
            ),
            models.UniqueConstraint(
                fields=["lounge", "summoned_by", "coach_request_id"],
                condition=~models.Q(coach_request_id=""),
                name="lounges_message_one_coach_reply_per_request",
            ),
            models.CheckConstraint(
                condition=models.Q(author_kind="user", author__isnull=False) | ~models.Q(author_kind="user"),
                name="lounges_message_user_has_author",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.lounge_id}/{self.pk} {self.author_kind}: {self.body[:40]}"

    @property
    def is_visible(self) -> bool:
        return self.hidden_at is None and not self.is_deleted

    @property
    def stream(self) -> str:
        return lounge_stream(self.lounge_id)

    @property
    def cancel_key(self) -> str:
        return reply_job_key(LOUNGE_REPLY, self.pk)


class MessageRevision(models.Model):
    """The text a message had before an edit, so a report always shows what was reported."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="revisions")
    body = models.TextField()
    edited_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["message", "created_at"]

    def __str__(self) -> str:
        return f"revision of {self.message_id} at {self.created_at:%Y-%m-%d %H:%M}"


class ReportStatus(models.TextChoices):
    OPEN = "open", "Open"
    DISMISSED = "dismissed", "Dismissed"
    ACTIONED = "actioned", "Actioned"


class Report(models.Model):
    lounge = models.ForeignKey(Lounge, on_delete=models.CASCADE, related_name="reports")
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="reports")
    reporter = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    reason = models.CharField(max_length=500)
    reported_body = models.TextField(help_text="The message as it read when reported.")
    status = models.CharField(max_length=10, choices=ReportStatus.choices, default=ReportStatus.OPEN)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    handled_at = models.DateTimeField(null=True, blank=True)
    resolution = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["message", "reporter"],
                condition=models.Q(status="open"),
                name="lounges_report_one_open_per_reporter",
            ),
        ]

    def __str__(self) -> str:
        return f"report {self.pk} on {self.message_id} ({self.status})"
