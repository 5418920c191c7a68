"""Timed interviews: templates and their questions, assignments, sessions with a server-owned
clock, autosaved answers, and stored evaluations (docs/interviews.md)."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q

from domains.ai.models import ReplyStatus, StreamedReply
from realtime.streams import INTERVIEW_FOLLOWUP, interview_session_stream, reply_job_key


class InterviewType(models.TextChoices):
    TECHNICAL = "technical", "Technical"
    BEHAVIOURAL = "behavioural", "Behavioural"
    SYSTEM_DESIGN = "system_design", "System design"
    CASE_STUDY = "case_study", "Case study"
    CULTURAL_FIT = "cultural_fit", "Cultural fit"
    MIXED = "mixed", "Mixed"


class Difficulty(models.TextChoices):
    EASY = "easy", "Easy"
    MEDIUM = "medium", "Medium"
    HARD = "hard", "Hard"


class Level(models.TextChoices):
    JUNIOR = "junior", "Junior"
    MID = "mid", "Mid-level"
    SENIOR = "senior", "Senior"


class QuestionType(models.TextChoices):
    """How a question is answered and scored. Coding (a sandboxed runner) is the next issue's: it
    adds its value here and a runner in `domains/interviews/runners.py`."""

    MULTIPLE_CHOICE = "multiple_choice", "Multiple choice"
    OPEN = "open", "Open answer"
    BEHAVIOURAL = "behavioural", "Behavioural"
    SYSTEM_DESIGN = "system_design", "System design"


class QuestionStatus(models.TextChoices):
    DRAFT = "draft", "Draft (waiting for review)"
    APPROVED = "approved", "In the bank"
    REJECTED = "rejected", "Rejected"


class QuestionSource(models.TextChoices):
    SEED = "seed", "Demo seed"
    STAFF = "staff", "Written by staff"
    AI = "ai", "Drafted by the AI"


class InterviewTemplate(models.Model):
    """What an interview asks and for how long. `organisation` NULL: a public, read-only template."""

    organisation = models.ForeignKey(
        "accounts.Organisation", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    slug = models.SlugField(max_length=80)
    title = models.CharField(max_length=160)
    role = models.CharField(max_length=120, help_text="The job the interview is for, e.g. Backend engineer.")
    interview_type = models.CharField(max_length=16, choices=InterviewType.choices)
    difficulty = models.CharField(max_length=8, choices=Difficulty.choices)
    level = models.CharField(max_length=8, choices=Level.choices)
    duration_minutes = models.PositiveSmallIntegerField()
    question_seconds = models.PositiveIntegerField(
        null=True, blank=True, help_text="A limit per question, or none: only the whole duration counts."
    )
    question_count = models.PositiveSmallIntegerField()
    rubric = models.TextField(help_text="What good answers show; the evaluator scores against it.")
    rubric_version = models.PositiveIntegerField(default=1)
    follow_ups = models.BooleanField(
        default=False,
        help_text="The AI interviewer may ask one follow-up question per written answer, on the candidate's request.",
    )
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title", "id"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "slug"], name="interviews_template_slug_per_org"),
            models.UniqueConstraint(
                fields=["slug"], condition=Q(organisation__isnull=True), name="interviews_template_public_slug"
            ),
            models.CheckConstraint(
                condition=Q(duration_minutes__gte=1, duration_minutes__lte=480), name="interviews_template_duration"
            ),
            models.CheckConstraint(
                condition=Q(question_count__gte=1, question_count__lte=50), name="interviews_template_count"
            ),
            models.CheckConstraint(
                condition=Q(interview_type__in=InterviewType.values), name="interviews_template_type_valid"
            ),
            models.CheckConstraint(
                condition=Q(difficulty__in=Difficulty.values), name="interviews_template_difficulty_valid"
            ),
            models.CheckConstraint(condition=Q(level__in=Level.values), name="interviews_template_level_valid"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_public(self) -> bool:
        return self.organisation_id is None


class Question(models.Model):
    """One question of a template, in order. The prompt and choices are the candidate's; the
    reference answer, rubric bands and key are never sent to a candidate (selectors build the
    candidate's payloads field by field: `question_payload`)."""

    template = models.ForeignKey(InterviewTemplate, on_delete=models.CASCADE, related_name="questions")
    position = models.PositiveSmallIntegerField()
    question_type = models.CharField(max_length=24, choices=QuestionType.choices)
    prompt = models.TextField()
    choices = models.JSONField(
        default=list, blank=True, help_text='Multiple choice only: [{"id": "a", "text": "…"}, …].'
    )
    answer_key = ArrayField(
        models.CharField(max_length=8), default=list, blank=True, help_text="Multiple choice: the correct choice ids."
    )
    reference_answer = models.TextField(blank=True)
    rubric_bands = models.JSONField(
        default=list,
        blank=True,
        help_text='[{"band": "strong", "min": 80, "max": 100, "descriptor": "…"}, …] from the top band down.',
    )
    topics = ArrayField(models.CharField(max_length=40), default=list, blank=True)
    seconds = models.PositiveIntegerField(
        null=True, blank=True, help_text="Overrides the template's per-question limit."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["template", "position"]
        constraints = [
            models.UniqueConstraint(fields=["template", "position"], name="interviews_question_position"),
            models.CheckConstraint(
                condition=Q(question_type__in=QuestionType.values), name="interviews_question_type_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.template} · {self.position}"


class QuestionDraft(models.Model):
    """A question the AI (or the offline drafter) proposed for an organisation's template: it waits
    in the staff review queue and enters the template only when approved."""

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.CASCADE, related_name="+")
    template = models.ForeignKey(InterviewTemplate, on_delete=models.CASCADE, related_name="drafts")
    status = models.CharField(max_length=10, choices=QuestionStatus.choices, default=QuestionStatus.DRAFT)
    source = models.CharField(max_length=8, choices=QuestionSource.choices, default=QuestionSource.AI)
    provider = models.CharField(max_length=40, blank=True, help_text='Who drafted it ("offline" says so).')
    question_type = models.CharField(max_length=24, choices=QuestionType.choices)
    prompt = models.TextField()
    choices = models.JSONField(default=list, blank=True)
    answer_key = ArrayField(models.CharField(max_length=8), default=list, blank=True)
    reference_answer = models.TextField(blank=True)
    rubric_bands = models.JSONField(default=list, blank=True)
    topics = ArrayField(models.CharField(max_length=40), default=list, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["organisation", "status", "-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=QuestionStatus.values), name="interviews_draft_status_valid"),
        ]

    def __str__(self) -> str:
        return f"draft for {self.template} ({self.status})"


class Accommodation(models.Model):
    """A standing extra-time percentage for one candidate in one organisation, set by staff."""

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    extra_time_percent = models.PositiveSmallIntegerField()
    reason = models.CharField(max_length=200, blank=True)
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["organisation", "user"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "user"], name="interviews_accommodation_one"),
            models.CheckConstraint(
                condition=Q(extra_time_percent__gte=0, extra_time_percent__lte=200),
                name="interviews_accommodation_range",
            ),
        ]

    def __str__(self) -> str:
        return f"+{self.extra_time_percent}% for {self.user}"


class InterviewAssignment(models.Model):
    """An assessment: this candidate takes this template within a window, reviewed by a mentor.
    `candidate` is empty while the invitation that carries it waits (domains/invitations)."""

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.CASCADE, related_name="+")
    template = models.ForeignKey(InterviewTemplate, on_delete=models.PROTECT, related_name="assignments")
    candidate = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    invited_email = models.EmailField(blank=True, help_text="Set while the candidate is invited, not yet a member.")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    opens_at = models.DateTimeField()
    closes_at = models.DateTimeField()
    attempts_allowed = models.PositiveSmallIntegerField(default=1)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["organisation", "-opens_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(closes_at__gt=models.F("opens_at")), name="interviews_assignment_window"
            ),
            models.CheckConstraint(
                condition=Q(attempts_allowed__gte=1, attempts_allowed__lte=10), name="interviews_assignment_attempts"
            ),
            models.CheckConstraint(
                condition=Q(candidate__isnull=False) | ~Q(invited_email=""), name="interviews_assignment_someone"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.template} for {self.candidate or self.invited_email}"


class SessionState(models.TextChoices):
    IN_PROGRESS = "in_progress", "In progress"
    SUBMITTED = "submitted", "Submitted"
    EXPIRED = "expired", "Expired (the time ran out)"
    GRADED = "graded", "Graded"


class InterviewSession(models.Model):
    """One attempt. The server owns the clock: `deadline` is fixed at start (duration plus the
    candidate's accommodation) and moves only by an audited `ExtraTimeGrant`; every write after it
    is refused, and the session is submitted at it (`finished_at` = the deadline)."""

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.CASCADE, related_name="+")
    candidate = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    template = models.ForeignKey(InterviewTemplate, on_delete=models.PROTECT, related_name="sessions")
    assignment = models.ForeignKey(
        InterviewAssignment, null=True, blank=True, on_delete=models.SET_NULL, related_name="sessions"
    )
    state = models.CharField(max_length=12, choices=SessionState.choices, default=SessionState.IN_PROGRESS)
    started_at = models.DateTimeField()
    deadline = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    extra_seconds = models.PositiveIntegerField(
        default=0, help_text="Granted since the start (accommodation excluded)."
    )
    accommodation_percent = models.PositiveSmallIntegerField(default=0)
    current_position = models.PositiveSmallIntegerField(default=1)
    rubric_version = models.PositiveIntegerField(help_text="The template's, when the session started.")
    integrity_consent = models.BooleanField(default=False)
    paste_count = models.PositiveIntegerField(default=0)
    focus_loss_count = models.PositiveIntegerField(default=0)
    recording_url = models.URLField(blank=True, help_text="Where a recording is kept (we do not record).")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(state__in=SessionState.values), name="interviews_session_state_valid"),
            models.CheckConstraint(
                condition=Q(deadline__gt=models.F("started_at")), name="interviews_session_deadline"
            ),
            # Start is idempotent: one session in progress per candidate and template.
            models.UniqueConstraint(
                fields=["candidate", "template"],
                condition=Q(state="in_progress"),
                name="interviews_session_one_in_progress",
            ),
        ]
        indexes = [models.Index(fields=["state", "deadline"], name="interviews_session_due")]

    def __str__(self) -> str:
        return f"{self.candidate} · {self.template} ({self.state})"

    def is_open_at(self, now: datetime) -> bool:
        return self.state == SessionState.IN_PROGRESS and now < self.deadline


class ExtraTimeGrant(models.Model):
    """Time a mentor or reviewer added to a running session, and why (also in the audit log)."""

    session = models.ForeignKey(InterviewSession, on_delete=models.CASCADE, related_name="grants")
    seconds = models.PositiveIntegerField()
    reason = models.CharField(max_length=200)
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["session", "created_at"]

    def __str__(self) -> str:
        return f"+{self.seconds}s on {self.session_id}"


class Answer(models.Model):
    """The candidate's answer to one question of a session: the last autosave wins, by revision
    (a save whose revision is not newer than the stored one changes nothing)."""

    session = models.ForeignKey(InterviewSession, on_delete=models.CASCADE, related_name="answers")
    question = models.ForeignKey(Question, on_delete=models.PROTECT, related_name="answers")
    text = models.TextField(blank=True)
    choice_ids = ArrayField(models.CharField(max_length=8), default=list, blank=True)
    revision = models.PositiveIntegerField(default=0)
    saved_at = models.DateTimeField(null=True, blank=True, help_text="Server time of the stored revision.")
    deadline = models.DateTimeField(null=True, blank=True, help_text="This question's own limit, where set.")
    opened_at = models.DateTimeField(null=True, blank=True)
    evaluation = models.ForeignKey(
        "Evaluation",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The stored score this answer was graded with (evaluation.session_grade).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["session", "question__position"]
        constraints = [models.UniqueConstraint(fields=["session", "question"], name="interviews_answer_one")]

    def __str__(self) -> str:
        return f"answer {self.session_id}/{self.question_id} r{self.revision}"


FollowUpStatus = ReplyStatus


class FollowUp(StreamedReply):
    """The AI interviewer's follow-up question on one answer (the `StreamedReply` columns: `body` is
    the question), asked once per answer on the candidate's request, and the candidate's response.
    The response is autosaved like an answer: the last revision wins, stamped with server time."""

    session = models.ForeignKey(InterviewSession, on_delete=models.CASCADE, related_name="followups")
    answer = models.OneToOneField(Answer, on_delete=models.CASCADE, related_name="followup")
    answer_revision = models.PositiveIntegerField(help_text="The answer's revision the interviewer read.")
    response_text = models.TextField(blank=True)
    response_revision = models.PositiveIntegerField(default=0)
    response_saved_at = models.DateTimeField(null=True, blank=True, help_text="Server time of the stored revision.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["session", "created_at", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=ReplyStatus.values), name="interviews_followup_status_valid"),
        ]

    def __str__(self) -> str:
        return f"follow-up {self.session_id}/{self.answer_id} ({self.status})"

    @property
    def stream(self) -> str:
        return interview_session_stream(self.session_id)

    @property
    def cancel_key(self) -> str:
        return reply_job_key(INTERVIEW_FOLLOWUP, self.pk)


class Evaluation(models.Model):
    """A stored score, keyed by what decides it: the same answer (by hash), rubric version, prompt
    version and model always reuse it; a new rubric version scores again."""

    answer_hash = models.CharField(max_length=64)
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="+")
    rubric_version = models.PositiveIntegerField()
    prompt_version = models.CharField(max_length=20)
    model = models.CharField(max_length=80)
    score = models.PositiveSmallIntegerField()
    band = models.CharField(max_length=40)
    explanation = models.TextField()
    tip = models.TextField(blank=True)
    correct = models.BooleanField(null=True)
    sentiment = models.CharField(max_length=16, blank=True)
    confidence = models.FloatField()
    offline = models.BooleanField(default=False, help_text="Scored by the offline evaluator (rubric coverage).")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["answer_hash", "question", "rubric_version", "prompt_version", "model"],
                name="interviews_evaluation_key",
            ),
            models.CheckConstraint(condition=Q(score__lte=100), name="interviews_evaluation_score"),
        ]

    def __str__(self) -> str:
        return f"{self.score} ({self.band})"


class ScoreOverride(models.Model):
    """A reviewer replaced the score of one answer, with a reason (also audited)."""

    answer = models.ForeignKey(Answer, on_delete=models.CASCADE, related_name="overrides")
    score = models.PositiveSmallIntegerField()
    reason = models.CharField(max_length=300)
    overridden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["answer", "-created_at"]
        constraints = [models.CheckConstraint(condition=Q(score__lte=100), name="interviews_override_score")]

    def __str__(self) -> str:
        return f"{self.score} by override"


class SessionReport(models.Model):
    """The session's evaluation, once graded: the four scores, confidence, readiness and topics."""

    session = models.OneToOneField(InterviewSession, on_delete=models.CASCADE, related_name="report")
    overall = models.PositiveSmallIntegerField()
    # Null: no question of the session counts towards it (docs/interviews.md "Evaluation and reports").
    technical = models.PositiveSmallIntegerField(null=True, blank=True)
    communication = models.PositiveSmallIntegerField(null=True, blank=True)
    problem_solving = models.PositiveSmallIntegerField(null=True, blank=True)
    confidence = models.FloatField()
    readiness = models.CharField(max_length=20)
    reasons = models.JSONField(default=list)
    study_topics = ArrayField(models.CharField(max_length=40), default=list, blank=True)
    offline = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"report {self.session_id}: {self.overall}"
