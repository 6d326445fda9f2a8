"""A real browser on the dashboard: headless Chromium screenshots of finished studies.

Marked ``browser``; skipped with a reason when ``/usr/bin/chromium`` is absent
(``apt-get install -y chromium``). To look at the PNGs, set ``HPO_SCREENSHOT_DIR``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from hpo.artifacts import artifact_store_for
from hpo.inspect.dashboard import DashboardServer, dashboard_app
from hpo.spec.loader import load_study
from hpo.storage import open_storage
from tests.inspect.conftest import Built, RealStudy
from tests.inspect.test_dashboard import request

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="headless Chromium is not installed (/usr/bin/chromium; apt-get install chromium)",
    ),
]
# The app shell alone (header and side bar, nothing loaded) compresses to ~15 kB.
BLANK_PAGE_BYTES = 20_000


def chromium_flags(profile: Path, shot: Path, size: str) -> list[str]:
    """Headless, offline, sandbox-free; the JS app gets 8 s of virtual time to render."""
    return [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        f"--screenshot={shot}",
        f"--window-size={size}",
        "--virtual-time-budget=8000",
    ]


def screenshot(study_file: Path, page: str, tmp: Path, size: str = "1400,1000") -> bytes:
    """Serve the study's dashboard on loopback, point Chromium at ``page``, return the PNG."""
    study = load_study(study_file)
    app = dashboard_app(open_storage(study.storage_url, read_only=True), artifact_store_for(study))
    shot = tmp / "shot.png"
    with DashboardServer(app, port=0) as server:
        url = f"{server.url}/dashboard/studies/0{page}"
        status, html = request(url)
        assert status == 200 and b"<html" in html.lower()
        run = subprocess.run(
            [str(CHROMIUM), *chromium_flags(tmp / "profile", shot, size), url],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert run.returncode == 0, run.stderr[-2000:]
    png = shot.read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = (int.from_bytes(png[i : i + 4], "big") for i in (16, 20))
    assert f"{width},{height}" == size
    keep = os.environ.get("HPO_SCREENSHOT_DIR")
    if keep:
        shutil.copy(shot, Path(keep) / f"{study.spec.name}-{page.strip('/').split('?')[0]}.png")
    return png


@pytest.mark.slow
def test_trial_list_of_the_real_quickstart_study(real_study: RealStudy, tmp_path: Path) -> None:
    assert real_study.run.returncode == 0, real_study.run.stderr
    png = screenshot(real_study.study_file, "/trials", tmp_path)
    assert len(png) > BLANK_PAGE_BYTES * 2, len(png)


def test_trial_page_with_its_artifacts(finished: Built, tmp_path: Path) -> None:
    png = screenshot(finished.study_file, "/trials?numbers=1", tmp_path, size="1400,1400")
    assert len(png) > BLANK_PAGE_BYTES * 2, len(png)
