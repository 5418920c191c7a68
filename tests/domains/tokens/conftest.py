from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def world(db: None) -> Any:
    from tests.domains.tokens.helpers import world_make

    return world_make()
