"""The mentor's live view in a real browser against the live stack (offline provider, as in
`make run`): while the mentor watches, the candidate's follow-up streams in and each saved
response appears, and a reload renders both from the server."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from domains.interviews import followups
from tests.domains.interviews.helpers import world_make
from tests.domains.interviews.test_followups import answered_session, followup_template

pytestmark = [pytest.mark.e2e, pytest.mark.live, pytest.mark.django_db(transaction=True)]


def test_a_mentor_sees_the_followup_and_each_saved_response_live(page: Any, login_browser: Any) -> None:
    """Given a mentor on the live view of a running session with follow-ups, when the candidate
    asks the interviewer and then saves a response twice, then the page shows the follow-up
    question (labelled offline) and each response as it is saved, without a reload; after a
    reload the server renders the same."""
    world = world_make()
    template = followup_template(world, minutes=10)
    session, question = answered_session(world, template)
    login_browser(world.mentor)

    page.goto(f"/interviews/sessions/{session.pk}/watch/")
    expect(page.locator("[data-interview-watch] [data-conn-status]")).to_have_attribute("data-state", "live")
    expect(page.locator("[data-followups-empty]")).to_be_visible()

    followup, _ = followups.followup_request(session_id=session.pk, user=world.candidate, question_id=question.pk)
    item = page.locator(f'[data-followup-id="{followup.pk}"]')
    expect(item.locator("[data-followup-body]")).to_contain_text("Offline interviewer")
    expect(item.locator("[data-followup-body]")).to_contain_text("caching")
    expect(item.locator("[data-followup-label]")).to_have_text("(offline interviewer)")
    expect(item.locator("[data-followup-prompt]")).to_have_text(question.prompt)
    expect(item.locator("[data-followup-saved]")).to_have_text("nothing saved yet")
    expect(page.locator("[data-followups-empty]")).to_be_hidden()
    # the worker's stream has ended (nothing is still writing when the database is flushed after the test)
    expect(item).to_have_attribute("data-status", "complete", timeout=30_000)

    for revision, text in ((1, "Readers see the old value"), (2, "Readers see the old value until the TTL ends.")):
        followups.followup_save(
            session_id=session.pk, user=world.candidate, followup_id=followup.pk, revision=revision, text=text
        )
        expect(item.locator("[data-followup-response]")).to_have_text(text)
        expect(item.locator("[data-followup-saved]")).to_contain_text(f"revision {revision}, saved ")

    page.reload()
    item = page.locator(f'[data-followup-id="{followup.pk}"]')
    expect(item.locator("[data-followup-body]")).to_contain_text("caching")
    expect(item.locator("[data-followup-response]")).to_have_text("Readers see the old value until the TTL ends.")
    expect(item.locator("[data-followup-saved]")).to_contain_text("revision 2, saved ")
