"""Notes and the private coach in a real browser against the live stack (daphne + both Celery pools):
a learner writes a note through the form, the real `ai` worker embeds it, the learner asks the
coach about it, the offline coach's answer streams in citing the note, and the citation opens the
note at the cited passage."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from playwright.sync_api import expect

from domains.accounts.models import User
from domains.notes.models import Note, NoteChunk

pytestmark = [pytest.mark.e2e, pytest.mark.live, pytest.mark.django_db(transaction=True)]

EMBED_DEADLINE_SECONDS = 30
NOTE_BODY = """# Answering with STAR

Use the STAR method for behavioural questions: describe the Situation, the Task, the Action you took and the Result.

## Practice

Rehearse three STAR stories out loud before every interview, and time each answer to two minutes.
"""


def wait_for_chunks(note: Note, deadline_seconds: float = EMBED_DEADLINE_SECONDS) -> int:
    """Poll until the worker wrote the note's chunks (a bounded wait, not a sleep-and-hope)."""
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        count = NoteChunk.objects.filter(note=note).count()
        if count:
            return count
        time.sleep(0.1)
    raise AssertionError(f"note {note.pk} was not embedded within {deadline_seconds}s")


def test_a_learner_asks_the_coach_about_a_note_and_follows_its_citation(
    page: Any, login_browser: Any, learner: User
) -> None:
    login_browser(learner)

    # Write the note through the form, with its live preview.
    page.goto("/notes/new/")
    page.get_by_label("Title").fill("Interview answers")
    page.get_by_label("Tags").fill("interviews, star")
    page.get_by_label("Text").fill(NOTE_BODY)
    expect(page.locator("#note-preview h1")).to_have_text("Answering with STAR")
    expect(page.locator("[data-note-bytes]")).to_contain_text(f"{len(NOTE_BODY.encode())} / 100,000 bytes")
    page.screenshot(path="/tmp/notes-form.png", full_page=True)
    page.get_by_role("button", name="Save note").click()

    expect(page.locator(".note-head h1")).to_have_text("Interview answers")
    note = Note.objects.get(owner=learner)
    assert re.search(rf"/notes/{note.pk}/$", page.url)
    assert note.tags == ["interviews", "star"]
    wait_for_chunks(note)

    # The list finds it as the person types (htmx), with the words marked.
    page.goto("/notes/")
    expect(page.locator(f'[data-note-id="{note.pk}"]')).to_contain_text("Interview answers")
    page.get_by_label("Search notes").press_sequentially("rehearse stories")
    hit = page.locator(".note-hit").first
    expect(hit).to_contain_text("Interview answers")
    expect(hit.locator("mark").first).to_be_visible()
    expect(page).to_have_url(re.compile(r"/notes/\?q=rehearse\+stories$"))
    page.screenshot(path="/tmp/notes-search.png", full_page=True)

    # Ask the coach about it: a private thread opens and the offline coach answers from the note.
    page.goto(f"/notes/{note.pk}/")
    page.screenshot(path="/tmp/notes-detail.png", full_page=True)
    page.get_by_role("button", name="Ask the coach about this note").click()
    expect(page).to_have_url(re.compile(r"/coach/\d+/$"))
    thread = page.locator("[data-coach-thread]")
    expect(thread).to_have_attribute("data-state", "ready")
    expect(page.locator("[data-conn-status]")).to_have_attribute("data-state", "live")
    expect(page.locator("[data-thread-title]")).to_contain_text("Interview answers")

    reply = page.locator("li.msg-coach").first
    expect(reply).to_have_attribute("data-status", "complete")
    expect(reply.locator("[data-provider]")).to_have_text("offline coach")
    expect(reply.locator("[data-body] p").first).to_be_visible()  # the server's HTML, not raw text
    citation = reply.locator("[data-citations] a.citation-link").first
    expect(citation).to_contain_text("Interview answers")
    expect(citation).to_have_attribute("href", re.compile(rf"^/notes/{note.pk}/\?passage=\d+-\d+$"))
    inline = reply.locator("[data-body] a.cite-ref").first
    expect(inline).to_have_attribute("href", re.compile(r"#msg-\d+-cite-\d+$"))

    # A follow-up from the composer streams in as text, then completes as HTML.
    box = page.locator("[data-composer-body]")
    box.fill("How long should each STAR answer take?")
    box.press("Enter")
    expect(box).to_have_value("")
    answers = page.locator("li.msg-coach")
    expect(answers).to_have_count(2)
    second = answers.nth(1)
    expect(second).to_have_attribute("data-status", "complete")
    history = second.get_attribute("data-history").split()
    assert history[-1].startswith("complete:"), history
    expect(second.locator("[data-citations] a.citation-link").first).to_be_visible()
    expect(page.locator("[data-regenerate]")).to_have_count(1)  # on the last answer only
    expect(second.locator("[data-regenerate]")).to_have_count(1)

    # Regenerate the last answer: a second version, and a pager back to the first.
    second.get_by_role("button", name="Regenerate the last answer").click()
    expect(page.locator("li.msg-coach")).to_have_count(2)  # versions share one place
    last = page.locator("li.msg-coach").nth(1)
    expect(last.locator("[data-version-label]")).to_have_text("2/2")
    expect(last).to_have_attribute("data-status", "complete")
    last.get_by_role("button", name="Previous version").click()
    expect(page.locator("li.msg-coach").nth(1).locator("[data-version-label]")).to_have_text("1/2")
    page.screenshot(path="/tmp/thread-answer.png", full_page=True)
    page.emulate_media(color_scheme="dark")
    page.screenshot(path="/tmp/thread-answer-dark.png", full_page=True)
    page.emulate_media(color_scheme="light")

    # The citation opens the note with exactly the cited passage shown above it.
    href = page.locator("li.msg-coach").first.locator("[data-citations] a.citation-link").first.get_attribute("href")
    cited = re.search(r"passage=(\d+)-(\d+)", href or "")
    assert cited is not None
    start, end = (int(n) for n in cited.groups())
    page.locator("li.msg-coach").first.locator("[data-citations] a.citation-link").first.click()
    expect(page).to_have_url(re.compile(rf"/notes/{note.pk}/\?passage={start}-{end}$"))
    box = page.locator("[data-cited-passage]")
    expect(box).to_contain_text("Cited passage")
    expect(page.locator("[data-note-body] mark.cited").first).to_be_visible()
    expect(box).not_to_contain_text("Characters")
    page.screenshot(path="/tmp/notes-cited.png", full_page=True)

    # The thread is listed, and can be renamed inline on its page.
    page.get_by_role("link", name="Coach", exact=True).click()
    row = page.locator("[data-threads] li.thread-row").first
    expect(row).to_contain_text("Interview answers")
    page.screenshot(path="/tmp/thread-list.png", full_page=True)
    row.locator("a.thread-row-title").click()
    expect(page.locator("[data-coach-thread]")).to_have_attribute("data-state", "ready")
    page.get_by_text("Rename", exact=True).click()
    page.get_by_label("New title").fill("STAR practice")
    page.get_by_label("New title").press("Enter")
    expect(page.locator("[data-thread-title]")).to_have_text("STAR practice")
    expect(page).to_have_title(re.compile("^STAR practice"))
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path="/tmp/thread-narrow.png", full_page=True)
    page.goto(f"/notes/{note.pk}/?passage={start}-{end}")
    page.screenshot(path="/tmp/notes-cited-narrow.png", full_page=True)
