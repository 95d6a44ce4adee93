"""The package's layers (pyproject.toml, [tool.importlinter]) are a checked contract, not a convention."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(package_parent: Path) -> subprocess.CompletedProcess[str]:
    """lint-imports over the `logtail` package found in `package_parent`, with the repository's contracts."""
    env = {**os.environ, "PYTHONPATH": str(package_parent)}
    return subprocess.run([str(LINT_IMPORTS), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
                          cwd=package_parent, env=env, capture_output=True, text=True, timeout=120)


def lint_with_import(tmp_path: Path, module: str, imported: str) -> subprocess.CompletedProcess[str]:
    """lint-imports over a copy of the package in which `module` (a path inside it) also imports `imported`."""
    shutil.copytree(ROOT / "logtail", tmp_path / "logtail", ignore=shutil.ignore_patterns("__pycache__"))
    path = tmp_path / "logtail" / module
    path.write_text(path.read_text() + f"\nimport {imported}  # noqa: E402,F401\n")
    return lint_imports(tmp_path)


def test_the_package_keeps_its_layers() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 3 kept, 0 broken." in result.stdout


def test_an_import_from_the_core_into_a_source_breaks_the_contract(tmp_path: Path) -> None:
    result = lint_with_import(tmp_path, "core/hub.py", "logtail.sources.files.table")
    assert result.returncode != 0
    assert "logtail.core.hub -> logtail.sources.files.table" in result.stdout


def test_an_import_of_a_concrete_source_into_the_web_layer_breaks_the_contract(tmp_path: Path) -> None:
    result = lint_with_import(tmp_path, "web/routes.py", "logtail.sources.redis.keys")
    assert result.returncode != 0
    assert "the web layer knows sources only through their interface BROKEN" in result.stdout


def test_an_import_from_the_settings_into_the_loading_breaks_the_contract(tmp_path: Path) -> None:
    result = lint_with_import(tmp_path, "config/settings.py", "logtail.config.load")
    assert result.returncode != 0
    assert "config's parts BROKEN" in result.stdout
