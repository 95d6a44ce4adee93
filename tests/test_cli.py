"""The command line as an operator meets it: --help, one-line errors with exit status 2, no traceback."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

import logtail
from logtail.config import OPTIONS, SHIP_ONLY, SHIP_OPTIONS


def run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "logtail", *args], capture_output=True, text=True, timeout=30,
                          cwd=cwd, env=env)


def test_version_is_the_installed_distributions() -> None:
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout == f"logtail {logtail.__version__}\n"
    assert logtail.__version__ == version("logtail-sse")


def test_help_lists_each_command_on_one_line() -> None:
    """`logtail --help` at a standard 80-column terminal: every subcommand, one line each with its summary."""
    result = run("--help", env={**os.environ, "COLUMNS": "80"})
    assert result.returncode == 0
    section = result.stdout.split("commands:\n", 1)[1]
    rows = [line for line in section.splitlines() if line.startswith("    ")]
    assert [row.split()[0] for row in rows] == ["serve", "ship", "demo", "hosts", "watches", "hash-password"]
    for row in rows:
        assert re.fullmatch(r"    [a-z-]+ +\S.{10,}", row), f"not a one-line summary: {row!r}"


def test_help_documents_every_option() -> None:
    out = run("serve", "--help").stdout
    for name in OPTIONS:
        assert (f"--{name.replace('_', '-')}" in out) is (name not in SHIP_ONLY), name
    assert "--config" in out and "NAME=PATH" in out and "LOGTAIL_" in out


def test_ship_help_documents_its_options() -> None:
    out = run("ship", "--help").stdout
    for name in SHIP_OPTIONS:
        assert f"--{name.replace('_', '-')}" in out
    assert "--config" in out and "NAME=PATH" in out and "--max-clients" not in out


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["serve", "--config", "/nonexistent/logtail.toml"], "config file /nonexistent/logtail.toml"),
        (["serve", "a=/x.log", "a=/y.log"], "duplicate log name 'a'"),
        (["serve", "bad name=/x.log"], "not URL-safe"),
        (["serve", "--root-path", "logs"], "root_path"),
        (["serve", "--rotate-wait", "7200"], "rotate_wait must be between 0 and 3600 seconds"),
    ],
)
def test_bad_configuration_is_one_line_and_exit_2(args: list[str], needle: str) -> None:
    result = run(*args)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and needle in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_key_in_config_file(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("colour = 'blue'\n")
    result = run("serve", "--config", str(cfg))
    assert result.returncode == 2 and "unknown key 'colour'" in result.stderr


def test_hash_password_reads_stdin() -> None:
    result = subprocess.run([sys.executable, "-m", "logtail", "hash-password"], input="s3cret\n",
                            capture_output=True, text=True, timeout=30)
    from logtail.web.middleware.auth import check_password

    assert result.returncode == 0 and check_password("s3cret", result.stdout.strip())
