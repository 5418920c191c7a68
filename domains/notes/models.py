"""Notes and their passages (chunks with embeddings and a full-text vector)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.db import models
from pgvector.django import HnswIndex, VectorField

from domains.ai.embedders import DIMENSIONS

TITLE_MAX = 200
TAG_MAX = 40
TAGS_MAX = 20
BODY_MAX_BYTES = 100_000
HEADING_PATH_MAX = 300
SEARCH_CONFIG = "english"


class NoteVisibility(models.TextChoices):
    PRIVATE = "private", "Private: only its owner"
    LOUNGE = "lounge", "Shared with a lounge: its knowledge base"


class Note(models.Model):
    """A Markdown note. Private notes are their owner's alone; a shared note belongs to a lounge's
    knowledge base and its moderators maintain it. Deleting the owner deletes their notes (erasure)."""

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.CASCADE, related_name="notes")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notes")
    visibility = models.CharField(max_length=10, choices=NoteVisibility.choices, default=NoteVisibility.PRIVATE)
    lounge = models.ForeignKey(
        "lounges.Lounge",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notes",
        help_text="The lounge whose knowledge base holds this note; empty for a private note.",
    )
    title = models.CharField(max_length=TITLE_MAX)
    body = models.TextField(blank=True, help_text="Markdown, as written.")
    tags = ArrayField(models.CharField(max_length=TAG_MAX), default=list, blank=True, size=TAGS_MAX)
    pinned = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-pinned", "-updated_at", "-pk"]
        indexes = [
            models.Index(fields=["organisation", "owner", "visibility"], name="notes_note_owner"),
            models.Index(fields=["lounge"], name="notes_note_lounge", condition=models.Q(lounge__isnull=False)),
            GinIndex(fields=["tags"], name="notes_note_tags"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(visibility=NoteVisibility.PRIVATE, lounge__isnull=True)
                | models.Q(visibility=NoteVisibility.LOUNGE, lounge__isnull=False),
                name="notes_note_visibility_matches_lounge",
            ),
            models.CheckConstraint(condition=~models.Q(title=""), name="notes_note_title_not_empty"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_shared(self) -> bool:
        return self.visibility == NoteVisibility.LOUNGE


class NoteChunk(models.Model):
    """A passage of a note: its exact span of the body, its heading path, its embedding and a
    generated full-text vector. Rebuilt by `note_embed`; unchanged chunks (same hash) are kept."""

    note = models.ForeignKey(Note, on_delete=models.CASCADE, related_name="chunks")
    # Denormalised from the note so that every ranking query filters on the chunk row first.
    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.CASCADE, related_name="+")
    ordinal = models.PositiveIntegerField()
    text = models.TextField()
    heading_path = models.CharField(max_length=HEADING_PATH_MAX, blank=True)
    char_start = models.PositiveIntegerField(help_text="Offset of the first character in the note's body.")
    char_end = models.PositiveIntegerField(help_text="Offset just past the last character.")
    embedding = VectorField(dimensions=DIMENSIONS)
    embedder = models.CharField(max_length=20)
    embedder_version = models.CharField(max_length=80)
    content_hash = models.CharField(max_length=64, help_text="sha256 of the embedder and its exact input.")
    search_vector = models.GeneratedField(
        expression=SearchVector("heading_path", weight="A", config=SEARCH_CONFIG)
        + SearchVector("text", weight="B", config=SEARCH_CONFIG),
        output_field=SearchVectorField(),
        db_persist=True,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["note", "ordinal"]
        indexes = [
            HnswIndex(
                name="notes_chunk_embedding",
                fields=["embedding"],
                m=16,
                ef_construction=128,  # chosen by bench S6 (docs/decisions/0004): stable recall across builds
                opclasses=["vector_cosine_ops"],
            ),
            GinIndex(fields=["search_vector"], name="notes_chunk_search"),
            models.Index(fields=["organisation", "embedder", "embedder_version"], name="notes_chunk_org"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["note", "ordinal"],
                name="notes_chunk_ordinal_once",
                deferrable=models.Deferrable.DEFERRED,  # ordinals shift when a paragraph is inserted
            ),
            models.CheckConstraint(
                condition=models.Q(char_end__gt=models.F("char_start")), name="notes_chunk_span_not_empty"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.note_id}#{self.ordinal} [{self.char_start}:{self.char_end}]"
