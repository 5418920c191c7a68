from tests.fakes.fixtures import fake_llm, fake_llm_session  # noqa: F401
