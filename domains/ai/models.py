"""Per-organisation AI configuration, and one usage row per AI call."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class AIFeature(models.TextChoices):
    LOUNGE = "lounge", "Lounge coach"
    COACH = "coach", "Private coach"
    INTERVIEW = "interview", "Interview questions"
    EVALUATION = "evaluation", "Evaluation"
    SENTIMENT = "sentiment", "Sentiment"
    SUMMARY = "summary", "Summary"
    OTHER = "other", "Other"


class AIProviderName(models.TextChoices):
    OPENAI = "openai", "OpenAI (or an OpenAI-compatible server)"
    ANTHROPIC = "anthropic", "Anthropic"
    OFFLINE = "offline", "Offline coach (no model)"


class AIOutcome(models.TextChoices):
    OK = "ok", "OK"
    CANCELLED = "cancelled", "Cancelled"
    QUOTA_REFUSED = "quota_refused", "Refused by quota"
    OVERLOADED = "overloaded", "Provider overloaded"
    RATE_LIMITED = "rate_limited", "Provider rate limit"
    SPEND_CAPPED = "spend_capped", "Provider spend cap"
    CONTEXT_TOO_LONG = "context_too_long", "Context too long"
    PROVIDER_DOWN = "provider_down", "Provider down"
    STREAM_BROKEN = "stream_broken", "Stream broken"
    REJECTED = "rejected", "Rejected by provider"
    ERROR = "error", "Other error"


class AIFeatureConfig(models.Model):
    """Staff settings for one organisation: for one feature, or (blank feature) for all its features.

    Blank or null fields inherit: feature row → the organisation's blank-feature row → settings.
    A quota of 0 means unlimited. Billing plans will write these rows.
    """

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.CASCADE, related_name="ai_configs")
    feature = models.CharField(
        max_length=32, choices=AIFeature.choices, blank=True, help_text="Blank: the default for every feature."
    )
    provider = models.CharField(max_length=16, choices=AIProviderName.choices, blank=True, help_text="Blank: inherit.")
    model = models.CharField(max_length=100, blank=True, help_text="Blank: the provider's default model.")
    temperature = models.DecimalField(max_digits=3, decimal_places=2, null=True, blank=True)
    max_tokens = models.PositiveIntegerField(null=True, blank=True)
    requests_per_hour_per_user = models.PositiveIntegerField(
        null=True, blank=True, help_text="Requests per user per hour for this feature. Empty: inherit; 0: unlimited."
    )
    tokens_per_day_per_org = models.PositiveBigIntegerField(
        null=True,
        blank=True,
        help_text="Tokens (in + out) the whole organisation may spend per UTC day. Empty: inherit; 0: unlimited.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["organisation", "feature"]
        verbose_name = "AI feature configuration"
        constraints = [
            models.UniqueConstraint(fields=["organisation", "feature"], name="ai_featureconfig_unique_feature"),
            models.CheckConstraint(
                condition=models.Q(temperature__isnull=True) | models.Q(temperature__gte=0, temperature__lte=2),
                name="ai_featureconfig_temperature_range",
            ),
            models.CheckConstraint(
                condition=models.Q(feature__in=[*AIFeature.values, ""]), name="ai_featureconfig_feature_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(provider__in=[*AIProviderName.values, ""]), name="ai_featureconfig_provider_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.organisation} · {self.get_feature_display() if self.feature else 'all features'}"


class AIUsage(models.Model):
    """One AI call (or one refusal): who, for what, on which model, what it cost and how it ended. Append-only."""

    organisation = models.ForeignKey(
        "accounts.Organisation", on_delete=models.SET_NULL, null=True, blank=True, related_name="ai_usage"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="ai_usage"
    )
    feature = models.CharField(max_length=32, choices=AIFeature.choices)
    provider = models.CharField(max_length=16, blank=True)
    model = models.CharField(max_length=100, blank=True)
    tokens_in = models.PositiveIntegerField(default=0)
    tokens_out = models.PositiveIntegerField(default=0)
    tokens_estimated = models.BooleanField(
        default=False, help_text="The provider reported no usage; counted from the text."
    )
    ttft_ms = models.PositiveIntegerField(null=True, blank=True, help_text="Time to first token.")
    total_ms = models.PositiveIntegerField(default=0)
    attempts = models.PositiveSmallIntegerField(default=0)
    outcome = models.CharField(max_length=20, choices=AIOutcome.choices)
    detail = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "AI usage"
        verbose_name_plural = "AI usage"
        indexes = [
            models.Index(fields=["organisation", "created_at"], name="ai_usage_org_created"),
            models.Index(fields=["user", "created_at"], name="ai_usage_user_created"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(outcome__in=AIOutcome.values), name="ai_usage_outcome_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.feature} · {self.provider}/{self.model} · {self.outcome}"

    @property
    def tokens_total(self) -> int:
        return self.tokens_in + self.tokens_out


class ReplyStatus(models.TextChoices):
    STREAMING = "streaming", "Streaming"
    COMPLETE = "complete", "Complete"
    STOPPED = "stopped", "Stopped"
    INTERRUPTED = "interrupted", "Interrupted"


class StreamedReply(models.Model):
    """The columns every streamed AI reply shares (a lounge coach message, a private coach reply, and
    later the interviewer's and the evaluator's), so one kit (`domains.ai.replies`) finishes and sweeps
    them all. A concrete row names the stream its events go to and the key of its job."""

    body = models.TextField(blank=True)
    body_html = models.TextField(blank=True)
    status = models.CharField(max_length=12, choices=ReplyStatus.choices, default=ReplyStatus.COMPLETE)
    # The notes that grounded the reply: [{"n", "title", "source", "snippet"}], numbered as cited.
    citations = models.JSONField(default=list, blank=True)
    provider = models.CharField(max_length=20, blank=True)
    model = models.CharField(max_length=100, blank=True)
    provider_label = models.CharField(max_length=40, blank=True)
    tokens_in = models.PositiveIntegerField(default=0)
    tokens_out = models.PositiveIntegerField(default=0)
    error_code = models.CharField(max_length=40, blank=True)
    error_message = models.CharField(max_length=300, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True

    @property
    def stream(self) -> str:
        """The stream its deltas and its completion event go to."""
        raise NotImplementedError

    @property
    def cancel_key(self) -> str:
        """The key of its job: the run lock, the cancel flag and the live text all hang off it."""
        raise NotImplementedError
