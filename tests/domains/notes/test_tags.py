"""Tags are slugified as people type them: "STAR Method" becomes `star-method`, not a refusal."""

from __future__ import annotations

import pytest

from domains.common.errors import Refusal
from domains.notes import services


@pytest.mark.parametrize(
    ("typed", "slug"),
    [
        ("STAR Method", "star-method"),
        ("star_method", "star-method"),
        ("  Salary   negotiation! ", "salary-negotiation"),
        ("Q&A: behavioural", "qa-behavioural"),
        ("Entrevista técnica", "entrevista-tecnica"),
        ("--system--design--", "system-design"),
        ("python3", "python3"),
    ],
)
def test_a_tag_is_slugified(typed: str, slug: str) -> None:
    """Lower case, spaces and underscores to single hyphens, other punctuation dropped, accents folded."""
    # when a note with the typed tag is checked, then the tag is its slug
    _, _, tags = services.note_check(title="Notes", body="", tags=[typed])
    assert tags == [slug]


def test_tags_that_slugify_alike_are_one_tag() -> None:
    """ "STAR Method", "star_method" and "star-method" are the same tag, kept once, first place first."""
    _, _, tags = services.note_check(
        title="Notes", body="", tags=["STAR Method", "interviews", "star_method", "star-method"]
    )
    assert tags == ["star-method", "interviews"]


@pytest.mark.parametrize("typed", ["!!!", "   ", "日本語", "x" * 41, "a " * 21])
def test_a_tag_empty_after_slugifying_or_too_long_is_refused(typed: str) -> None:
    """Nothing left after slugifying, or more than 40 characters of slug, is a field error on `tags`."""
    with pytest.raises(Refusal) as refused:
        services.note_check(title="Notes", body="", tags=[typed])
    assert refused.value.code == "invalid"
    (message,) = refused.value.field_errors()["tags"]
    assert "a tag is 1 to 40 lower-case letters or digits" in message
