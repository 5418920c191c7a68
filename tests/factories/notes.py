from __future__ import annotations

import factory

from domains.notes.models import Note, NoteVisibility
from tests.factories.accounts import OrganisationFactory, UserFactory


class NoteFactory(factory.django.DjangoModelFactory[Note]):
    """A private note; pass `lounge=` (and the lounge's organisation) for a shared one.

    Chunks are not written: call `domains.notes.services.note_embed(note_id=...)`."""

    class Meta:
        model = Note

    organisation = factory.SubFactory(OrganisationFactory)
    owner = factory.SubFactory(UserFactory)
    title = factory.Sequence(lambda n: f"Note {n}")
    body = factory.Faker("paragraph", nb_sentences=6)
    tags = factory.LazyFunction(list)
    visibility = factory.LazyAttribute(lambda note: NoteVisibility.LOUNGE if note.lounge else NoteVisibility.PRIVATE)
    lounge = None
