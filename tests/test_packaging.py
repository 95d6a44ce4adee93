"""A non-editable install works from any directory: templates, static files and samples ship in the wheel."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import httpx
import pytest

from tests.support import free_port, wait_for

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_wheel_carries_resources_and_serves_from_another_directory(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"),
                    str(ROOT)], check=True, timeout=300, capture_output=True)
    wheel = next((tmp_path / "dist").glob("logtail-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for needed in ("logtail/templates/base.html", "logtail/templates/dashboard.html", "logtail/static/app.js",
                   "logtail/static/app.css", "logtail/sample_logs/app.log"):
        assert needed in names, f"{needed} missing from the wheel"

    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
                   check=True, timeout=300, capture_output=True)
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
