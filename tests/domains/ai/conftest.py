from __future__ import annotations

from typing import Any

import pytest

from tests.fakes.fixtures import fake_llm, fake_llm_session  # noqa: F401
from tests.fakes.llm_server import FakeLLMServer


class SleepRecorder:
    """An injected `sleep`: records the delays the retry layer asked for, and never sleeps."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def ai_settings(settings: Any, fake_llm: FakeLLMServer) -> Any:  # noqa: F811
    """Both providers keyed and pointed at the fake server; short timeouts; generous quotas."""
    settings.OPENAI_API_KEY = "sk-test"
    settings.OPENAI_BASE_URL = fake_llm.openai_base_url
    settings.ANTHROPIC_API_KEY = "sk-ant-test"
    settings.ANTHROPIC_BASE_URL = fake_llm.anthropic_base_url
    settings.AI_DEFAULT_PROVIDER = "openai"
    settings.AI_CONNECT_TIMEOUT = 2.0
    settings.AI_IDLE_TIMEOUT = 0.5  # a scripted stall is noticed quickly
    settings.AI_MAX_RETRIES = 2
    settings.AI_RETRY_AFTER_MAX = 20.0
    settings.AI_QUOTA_REQUESTS_PER_HOUR = 0
    settings.AI_QUOTA_TOKENS_PER_DAY = 0
    return settings


@pytest.fixture
def org() -> Any:
    from tests.factories import OrganisationFactory

    return OrganisationFactory.create()


@pytest.fixture
def learner(org: Any) -> Any:
    from tests.factories import MembershipFactory

    return MembershipFactory.create(organisation=org).user
