"""What `pip install logtail-sse` gets: the sdist and the wheel built from it, their metadata, and a
non-editable install that works from any directory (templates, static files and samples ship in the wheel)."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from dataclasses import dataclass
from email.message import Message
from email.parser import Parser
from importlib.metadata import version as metadata_version
from pathlib import Path
from typing import Any

import httpx
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

import logtail
from tests.support import free_port, wait_for

ROOT = Path(__file__).resolve().parent.parent
NAME = "logtail-sse"  # on the package index; the import package and the command are `logtail`
STEM = f"logtail_sse-{logtail.__version__}"


@dataclass(frozen=True)
class Built:
    sdist: Path
    wheel: Path


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """`python -m build`: the sdist, then the wheel built from the unpacked sdist (so the sdist must be
    complete). No build isolation: hatchling comes from the locked test environment."""
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), str(ROOT)],
                   check=True, timeout=300, capture_output=True)
    return Built(sdist=dist / f"{STEM}.tar.gz", wheel=dist / f"{STEM}-py3-none-any.whl")


def pyproject() -> dict[str, Any]:
    project: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return project


def wheel_metadata(wheel: Path) -> Message:
    with zipfile.ZipFile(wheel) as z:
        return Parser().parsestr(z.read(f"{STEM}.dist-info/METADATA").decode())


@pytest.mark.slow
def test_sdist_carries_docs_deploy_license_and_locks(built: Built) -> None:
    with tarfile.open(built.sdist) as tar:
        names = {name.removeprefix(f"{STEM}/") for name in tar.getnames()}
    for needed in ("PKG-INFO", "pyproject.toml", "README.md", "LICENSE", "docs/deploy.md", "docs/history.md",
                   "docs/api.md", "docs/architecture.md", "docs/configuration.md", "docs/dashboard.md",
                   "docs/development.md", "docs/many-hosts.md", "docs/security.md",
                   "bench/README.md", "bench/RESULTS.md",
                   "deploy/nginx/logtail.conf", "deploy/systemd/logtail.service", "deploy/logtail.example.toml",
                   "requirements/test.lock", "requirements/runtime.lock", "logtail/cli.py",
                   "templates/base.html", "static/app.js", "sample_logs/app.log", "tests/test_packaging.py"):
        assert needed in names, f"{needed} missing from the sdist"
    assert not [n for n in names if n.startswith((".venv", ".git/")) or "__pycache__" in n]


@pytest.mark.slow
def test_wheel_metadata_names_the_distribution_license_and_requirements(built: Built) -> None:
    meta = wheel_metadata(built.wheel)
    assert meta["Name"] == NAME
    assert meta["Version"] == logtail.__version__
    assert meta["License-Expression"] == "MIT"
    assert meta.get_all("License-File") == ["LICENSE"]
    assert meta["Requires-Python"] == ">=3.11"

    requires = [Requirement(r) for r in meta.get_all("Requires-Dist") or []]
    runtime = {str(r) for r in requires if "extra ==" not in str(r.marker)}
    assert runtime == {str(Requirement(r)) for r in pyproject()["dependencies"]}
    by_name = {r.name: r for r in requires if "extra ==" not in str(r.marker)}
    # uvicorn without [standard]: uvloop and httptools directly, no websockets, python-dotenv or PyYAML.
    assert by_name["uvicorn"].extras == set()
    assert {"uvloop", "httptools", "starlette"} <= by_name.keys()
    assert not {"websockets", "python-dotenv", "pyyaml"} & by_name.keys()
    assert not by_name["starlette"].specifier.contains(Version("0.49.0"))  # GHSA-7f5h-v6xp-fcq8
    assert set(meta.get_all("Provides-Extra") or []) == {"test", "dev"}

    with zipfile.ZipFile(built.wheel) as z:
        names = z.namelist()
        entry_points = z.read(f"{STEM}.dist-info/entry_points.txt").decode()
    assert f"{STEM}.dist-info/licenses/LICENSE" in names
    assert "logtail = logtail.cli:main" in entry_points
    for needed in ("logtail/templates/base.html", "logtail/templates/dashboard.html", "logtail/static/app.js",
                   "logtail/static/app.css", "logtail/sample_logs/app.log"):
        assert needed in names, f"{needed} missing from the wheel"


@pytest.mark.slow
def test_installed_wheel_serves_from_another_directory(built: Built, tmp_path: Path) -> None:
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site),
                    str(built.wheel)], check=True, timeout=300, capture_output=True)
    assert (site / f"{STEM}.dist-info").is_dir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "x.log").write_text("hello\n")
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(site)}
    proc = subprocess.Popen([sys.executable, "-m", "logtail", "serve", "x.log", "--port", str(port)],
                            cwd=elsewhere, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"

        def up() -> bool:
            try:
                return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(up, 20, what="installed logtail to answer")
        origin = httpx.get(f"{base}/api/logs").json()
        assert origin[0]["name"] == "x.log"
        assert httpx.get(f"{base}/").status_code == 200
        assert httpx.get(f"{base}/static/app.js").status_code == 200
        # The code really ran from the installed copy, not from the checkout.
        check = subprocess.run([sys.executable, "-c", "import logtail, sys; print(logtail.__file__)"], cwd=elsewhere,
                               env=env, capture_output=True, text=True, timeout=30)
        assert check.stdout.startswith(str(site))
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(10)


def locked(lock: Path) -> dict[str, Requirement]:
    """The pins of a lock file written by scripts/lock: `name==version [; marker] \\` lines."""
    pins = [Requirement(line.rstrip(" \\")) for line in lock.read_text().splitlines() if "==" in line]
    return {canonicalize_name(r.name): r for r in pins}


@pytest.mark.parametrize(("lock", "extras"), [("runtime.lock", ()), ("test.lock", ("test", "dev"))])
def test_lock_pins_every_declared_dependency_within_its_floor(lock: str, extras: tuple[str, ...]) -> None:
    """A dependency added to pyproject.toml without rerunning scripts/lock would be missing from a fresh
    setup (which installs from the lock), or pinned below its new floor."""
    pins = locked(ROOT / "requirements" / lock)
    project = pyproject()
    declared = [*project["dependencies"], *(d for extra in extras for d in project["optional-dependencies"][extra])]
    for requirement in map(Requirement, declared):
        pin = pins.get(canonicalize_name(requirement.name))
        assert pin is not None, f"{requirement.name} is not in requirements/{lock}: run scripts/lock"
        (version,) = [spec.version for spec in pin.specifier]
        assert requirement.specifier.contains(version, prereleases=True), \
            f"requirements/{lock} pins {pin}, outside {requirement}: run scripts/lock"


def test_environment_matches_the_test_lock() -> None:
    """scripts/setup installed exactly the locked versions (a stale .venv or a hand-installed package
    would test something else than CI)."""
    for name, pin in locked(ROOT / "requirements" / "test.lock").items():
        if pin.marker is None or pin.marker.evaluate():
            (version,) = [spec.version for spec in pin.specifier]
            assert metadata_version(name) == version, f"{name} {metadata_version(name)} installed, {pin} locked"
