"""Pytest fixtures for the fake LLM server. Import them into a conftest:

from tests.fakes.fixtures import fake_llm, fake_llm_session  # noqa: F401
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.llm_server import FakeLLMServer


@pytest.fixture(scope="session")
def fake_llm_session() -> Iterator[FakeLLMServer]:
    server = FakeLLMServer().start()
    yield server
    server.stop()


@pytest.fixture
def fake_llm(fake_llm_session: FakeLLMServer) -> Iterator[FakeLLMServer]:
    """The session's fake server, with an empty scenario queue and request log."""
    fake_llm_session.reset()
    yield fake_llm_session
    fake_llm_session.reset()
