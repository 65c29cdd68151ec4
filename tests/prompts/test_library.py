"""The library reloads what changed on disk: an edited, added, removed and broken file."""

from __future__ import annotations

import asyncio
import os

from nexus.aio import spawn
from nexus.prompts import PromptLibrary, render


def write(path, name: str, text: str) -> None:
    path.write_text(f"name: {name}\ntemplate: {text!r}\n")
    # a later write in the same mtime tick must still look changed: move the mtime on
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10_000_000))


def test_edit_add_remove_and_broken_files(tmp_path):
    write(tmp_path / "a.yaml", "a", "first")
    lib = PromptLibrary([tmp_path])
    assert lib.refresh() is True and list(lib.prompts) == ["a"]
    assert lib.refresh() is False  # nothing changed: nothing re-read

    write(tmp_path / "a.yaml", "a", "second")
    write(tmp_path / "b.yml", "b", "bee")
    assert lib.refresh() is True
    assert render(lib.prompts["a"], {}) == "second" and list(lib.prompts) == ["a", "b"]

    (tmp_path / "b.yml").write_text("name: b\ntemplate: '{% broken'\n")
    (tmp_path / "c.yaml").write_text(": not yaml [")
    assert lib.refresh() is True
    assert render(lib.prompts["b"], {}) == "bee"  # the last good version keeps serving
    assert set(lib.errors) == {tmp_path / "b.yml", tmp_path / "c.yaml"}
    assert "last good version" in lib.errors[tmp_path / "b.yml"]

    (tmp_path / "b.yml").unlink()
    (tmp_path / "c.yaml").unlink()
    assert lib.refresh() is True
    assert list(lib.prompts) == ["a"] and lib.errors == {}


def test_a_new_broken_file_is_reported_and_the_others_keep_serving(tmp_path):
    write(tmp_path / "a.yaml", "a", "x")
    (tmp_path / "bad.yaml").write_text("name: 'no good'\ntemplate: y\n")
    lib = PromptLibrary([tmp_path])
    lib.refresh()
    assert list(lib.prompts) == ["a"] and list(lib.errors) == [tmp_path / "bad.yaml"]


def test_first_folder_wins_and_a_duplicate_in_one_folder_is_an_error(tmp_path):
    local, synced = tmp_path / "local", tmp_path / "git"
    local.mkdir(), synced.mkdir()
    write(local / "r.yaml", "review", "local")
    write(synced / "r.yaml", "review", "synced")
    write(synced / "s.yaml", "ship", "ship it")
    write(synced / "t.yaml", "ship", "twice")
    (synced / ".git").mkdir()
    write(synced / ".git" / "x.yaml", "hidden", "never read")
    lib = PromptLibrary([local, synced])
    lib.refresh()
    assert render(lib.prompts["review"], {}) == "local"
    assert list(lib.prompts) == ["review", "ship"]
    assert (
        list(lib.errors) == [synced / "t.yaml"] and "already used" in lib.errors[synced / "t.yaml"]
    )


async def test_watch_picks_up_a_new_file_within_a_poll(tmp_path):
    lib = PromptLibrary([tmp_path])
    stop = asyncio.Event()
    task = spawn(lib.watch(stop, interval_s=0.05), name="watch")
    try:
        await asyncio.sleep(0.1)
        write(tmp_path / "n.yaml", "new", "hello")
        async with asyncio.timeout(5):
            while "new" not in lib.prompts:
                await asyncio.sleep(0.02)
    finally:
        stop.set()
        await task
