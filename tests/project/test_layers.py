"""The layers of ARCHITECTURE.md §1 hold: `lint-imports` keeps every contract in pyproject.toml.

The contracts and the recorded debt are explained in docs/decisions/0009-layers.md. This runs in
`make test` so that a new import across a layer fails the suite, not only `make lint`.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# import-linter has no `python -m importlinter`; its console script `lint-imports` calls this click
# command, so running it under this interpreter is the same check without relying on the venv's bin/.
# --no-cache: the graph takes well under a second to build, and no cache directory is left in the tree.
LINT_IMPORTS = [
    sys.executable,
    "-c",
    "from importlinter.cli import lint_imports_command; lint_imports_command()",
    "--no-cache",
    "--no-logo",
]


def test_every_import_linter_contract_is_kept() -> None:
    """No module imports across a layer: interfaces above domains above the realtime kernel, domains
    importing only the kernel from realtime/, the kernel importing no product code, no domain
    importing another's views, URLs, API or admin, and no import cycle between domains."""
    # given the contracts in pyproject.toml [tool.importlinter] and the code as it is
    # when lint-imports checks the import graph (run from the root, where it finds pyproject.toml)
    result = subprocess.run(LINT_IMPORTS, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    # then every contract is kept (exit status 0); on failure the report names each broken chain
    assert result.returncode == 0, f"lint-imports failed:\n{result.stdout}\n{result.stderr}"
    assert "0 broken" in result.stdout, result.stdout
