"""Private coach threads: a learner's conversations with their own coach."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from domains.ai.models import ReplyStatus, StreamedReply
from domains.notes.models import TITLE_MAX
from realtime.streams import THREAD_REPLY, coach_thread_stream, reply_job_key


class CoachThread(models.Model):
    """A private conversation between one learner and the coach."""

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.CASCADE, related_name="coach_threads")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="coach_threads")
    title = models.CharField(max_length=TITLE_MAX)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at", "-pk"]
        indexes = [models.Index(fields=["owner", "organisation", "-updated_at"], name="coach_thread_recent")]

    def __str__(self) -> str:
        return self.title

    @property
    def stream(self) -> str:
        return coach_thread_stream(self.pk)


class ThreadRole(models.TextChoices):
    USER = "user", "Learner"
    COACH = "coach", "Coach"


ThreadMessageStatus = ReplyStatus


class ThreadMessage(StreamedReply):
    """A learner's message or a coach reply (the `StreamedReply` columns). Regenerating adds a sibling
    reply to the same parent; the earlier versions stay viewable."""

    thread = models.ForeignKey(CoachThread, on_delete=models.CASCADE, related_name="messages")
    role = models.CharField(max_length=8, choices=ThreadRole.choices)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="replies")
    client_msg_id = models.CharField(max_length=64, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["thread", "client_msg_id"],
                condition=~models.Q(client_msg_id=""),
                name="coach_thread_message_client_id_once",
            ),
            models.UniqueConstraint(
                fields=["thread", "request_id"],
                condition=~models.Q(request_id=""),
                name="coach_thread_reply_request_once",
            ),
            models.CheckConstraint(
                condition=models.Q(role="user") | models.Q(parent__isnull=False),
                name="coach_thread_reply_has_parent",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.thread_id}/{self.pk} {self.role}"

    @property
    def stream(self) -> str:
        return coach_thread_stream(self.thread_id)

    @property
    def cancel_key(self) -> str:
        return reply_job_key(THREAD_REPLY, self.pk)
