from __future__ import annotations

from typing import Any

import pytest

from tests.fakes.fixtures import fake_llm, fake_llm_session  # noqa: F401


@pytest.fixture
def world(db: None) -> Any:
    """See `tests.domains.notes.helpers.World`."""
    from tests.domains.notes.helpers import build_world

    return build_world()
