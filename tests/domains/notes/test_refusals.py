"""Notes refuse like every other service: with one `Refusal` naming every bad field, which each
interface maps one way (form errors on pages, field entries in the API's error shape)."""

from __future__ import annotations

import json

import pytest
from django import forms
from django.test import RequestFactory

from domains.common.errors import Refusal
from domains.common.forms import refusal_to_form
from domains.notes import services
from domains.notes.models import Note
from tests.domains.notes.helpers import World


def test_a_note_check_refuses_every_bad_field_at_once() -> None:
    """An empty title, a NUL in the body and two bad tags are one `invalid` refusal with each message."""
    # when a note with three bad fields is checked, then one refusal names them all
    with pytest.raises(Refusal) as refused:
        services.note_check(title="  ", body="a\x00b", tags=["!?!", "x" * 41])
    assert refused.value.code == "invalid"
    errors = refused.value.field_errors()
    assert list(errors) == ["title", "body", "tags"]
    assert errors["title"] == ["Give the note a title."]
    assert len(errors["tags"]) == 2
    assert all("a tag is 1 to 40" in text for text in errors["tags"])


@pytest.mark.django_db
def test_note_writes_refuse_outsiders_and_non_moderators_with_refusals(world: World) -> None:
    """A non-member may not write notes; a plain member may not share with a lounge (on `lounge`)."""
    with pytest.raises(Refusal) as outsider:
        services.note_create(user=world.foreigner, organisation=world.org, title="x")
    assert (outsider.value.code, outsider.value.field) == ("not_allowed", None)
    with pytest.raises(Refusal) as member:
        services.note_create(user=world.learner, organisation=world.org, title="x", lounge=world.lounge)
    assert (member.value.code, member.value.field) == ("not_allowed", "lounge")
    assert not Note.objects.exists()


class _TitleForm(forms.Form):
    title = forms.CharField()


def test_refusal_to_form_puts_each_message_beside_its_field_and_the_rest_above() -> None:
    """Messages for a field the form shows sit beside it; for any other input, and a refusal naming
    no field, they become non-field errors, so nothing is lost."""
    # given a bound form and a refusal of two inputs, one of which the form does not show
    form = _TitleForm(data={"title": "ok"})
    assert form.is_valid()
    refusal = Refusal("invalid", "Some fields are invalid.", fields={"title": "Too short.", "other": ["No."]})
    # when it is mapped, then each message lands where it belongs
    refusal_to_form(form, refusal)
    assert form.errors["title"] == ["Too short."]
    assert form.non_field_errors() == ["No."]
    plain = _TitleForm(data={"title": "ok"})
    plain.is_valid()
    refusal_to_form(plain, Refusal("not_allowed", "Members only."))
    assert plain.non_field_errors() == ["Members only."]


def test_the_api_maps_a_refusal_of_several_fields_to_one_entry_per_message() -> None:
    """A refusal with `fields` answers 422 with an entry per message, where the schema's errors sit."""
    from project.api import api_error

    refusal = Refusal("invalid", "Some fields are invalid.", fields={"title": "Empty.", "tags": ["A.", "B."]})
    response = api_error(RequestFactory().post("/api/v1/notes"), refusal)
    assert response.status_code == 422
    assert json.loads(response.content) == {
        "detail": "Some fields are invalid.",
        "errors": [
            {"loc": ["body", "payload", "title"], "msg": "Empty.", "type": "invalid"},
            {"loc": ["body", "payload", "tags"], "msg": "A.", "type": "invalid"},
            {"loc": ["body", "payload", "tags"], "msg": "B.", "type": "invalid"},
        ],
    }
