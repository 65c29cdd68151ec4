"""The html export opens in headless Chromium, runs its script to the end and shows the tree."""

from __future__ import annotations

import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from nexus.export import ExportFormat, ExportOptions, run_export
from tests.export.builders import MemorySource, scenario

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium)"
)
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-dev-shm-usage",
    "--no-first-run",
]


class _Dom(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.nodes: list[str] = []
        self.ready = False
        self.articles = 0
        self._in_nav_link = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "body" and a.get("data-ready") == "1":
            self.ready = True
        if tag == "article":
            self.articles += 1
        if tag == "a" and (a.get("href") or "").startswith("#t-"):
            self.nodes.append(a["href"] or "")


async def _write_html(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    records, ids = scenario()
    chunks: list[bytes] = []
    await run_export(
        MemorySource(records), ExportOptions(ExportFormat.HTML, "conv-1"), chunks.append
    )
    page = tmp_path / "conversation.html"
    page.write_bytes(b"".join(chunks))
    return page, ids


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_chromium_runs_the_page_and_shows_every_turn_in_the_tree(tmp_path: Path) -> None:
    page, ids = await _write_html(tmp_path)
    done = _chromium(tmp_path, "--dump-dom", page.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    dom = _Dom()
    dom.feed(done.stdout)
    assert dom.ready, "the page's script did not run to its end"
    assert dom.articles == 10
    assert len(dom.nodes) == 10
    for key in ("t1", "s1", "b1", "after_compaction"):
        assert f"#t-{ids[key]}" in dom.nodes
    assert "Branch branch-2" in done.stdout
    # The script gave the tree's sub-agent entry the task title the transcript has.
    assert "Sub-agent: agent-1" not in done.stdout
    assert done.stdout.count("Sub-agent: Investigate flake (general-purpose)") == 2


async def test_chromium_renders_a_screenshot(tmp_path: Path) -> None:
    page, _ = await _write_html(tmp_path)
    shot = tmp_path / "shot.png"
    done = _chromium(tmp_path, "--window-size=1280,1600", f"--screenshot={shot}", page.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG") and len(data) > 30_000  # a blank page is ~9 KB
