"""The production static build rewrites ES-module imports to their hashed names."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_collectstatic_rewrites_module_imports_to_hashed_files(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update(
        DJANGO_SETTINGS_MODULE="project.settings.production",
        SECRET_KEY="x" * 64,
        ALLOWED_HOSTS="coachwire.example",
        DATABASE_URL="postgres://u:p@db.invalid:5432/x",
        REDIS_URL="redis://cache.invalid:6379/0",
        SITE_DOMAIN="coachwire.example",
    )
    script = (
        "import django, sys; django.setup(); from django.conf import settings; "
        f"settings.STATIC_ROOT = {str(tmp_path)!r}; "
        "from django.core.management import call_command; call_command('collectstatic', '--no-input', verbosity=0)"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    lounge = next(tmp_path.glob("js/lounge.*.js"))
    imports = re.findall(r"""from\s+["']([^"']+)["']""", lounge.read_text())
    assert imports, "lounge.js imports its helpers"
    for path in imports:
        assert re.search(r"\.[0-9a-f]{12}\.js$", path), f"{path} is not a hashed name"
