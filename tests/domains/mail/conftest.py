from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def mail_templates(settings: Any) -> None:
    """The test templates under tests/domains/mail/templates (`mailtest/…`)."""
    templates = copy.deepcopy(settings.TEMPLATES)
    templates[0]["DIRS"] = [*templates[0]["DIRS"], Path(__file__).with_name("templates")]
    settings.TEMPLATES = templates
