"""The spool: frames round-trip byte for byte, a torn tail is ignored, committed segments go away,
and what a previous process left behind is offered for replay."""

from __future__ import annotations

import dataclasses
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nexus.recorder import spool as spool_module
from nexus.recorder.spool import Spool, backlog, decode_all, encode
from nexus.records import Outcome
from tests.factories import make_record


def kill(spool: Spool) -> None:
    """What kill -9 leaves: no close(), no fsync (flushed bytes are in the page cache); the
    kernel drops the descriptors, and with them the folder's lock."""
    spool._file.close()
    os.close(spool._lock_fd)


def exchange(**overrides):
    return make_record(**overrides).exchange


ODD_BYTES = bytes(range(256)) + b'\nNXS1 {"fake": 1}\n' + "caf\u00e9 \U0001f600".encode()


@pytest.mark.parametrize(
    ("request_body", "response_body"),
    [
        (b"", b""),
        (ODD_BYTES, ODD_BYTES[::-1]),
        (b"{" + b"x" * (9 * 1024 * 1024) + b"}", b"data: " + b"y" * (3 * 1024 * 1024) + b"\n\n"),
        (b'{"a":1}', b""),
    ],
    ids=["empty", "binary", "huge", "no-response"],
)
def test_a_frame_decodes_to_the_same_exchange(request_body, response_body):
    original = exchange(
        request_body=request_body,
        response_body=response_body,
        status=None,
        outcome=Outcome.UPSTREAM_RESET,
        error="upstream stream broke off: caf\u00e9\nsecond line",
        account_id="acct-\u00e9",
        request_headers=(("x-odd", "a\tb"), ("x-api-key", "[redacted]")),
    )
    (decoded,) = decode_all(encode(original))
    assert decoded == original
    assert type(decoded.outcome) is Outcome


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    bodies=st.lists(
        st.tuples(st.binary(max_size=300), st.binary(max_size=300)), min_size=1, max_size=5
    ),
    cut=st.integers(min_value=1),
)
def test_a_torn_tail_is_ignored_and_every_whole_frame_before_it_survives(bodies, cut):
    records = [exchange(request_body=req, response_body=resp) for req, resp in bodies]
    frames = [encode(r) for r in records]
    data = b"".join(frames)
    last_start = len(data) - len(frames[-1])
    # Cut somewhere inside the last frame: the process died in the middle of writing it.
    torn = data[: last_start + cut % len(frames[-1])]
    assert list(decode_all(torn)) == records[:-1]
    assert list(decode_all(data)) == records


def test_garbage_after_whole_frames_stops_decoding_there():
    records = [exchange(), exchange()]
    data = b"".join(encode(r) for r in records) + b"\x00\x00garbage"
    assert list(decode_all(data)) == records


def segment_files(directory):
    return sorted(p.name for p in directory.glob("*.spool"))


def test_appended_exchanges_read_back_in_order(tmp_path):
    spool = Spool(tmp_path)
    records = [exchange(user_text=f"turn {i}") for i in range(5)]
    segments = {spool.append(r) for r in records}
    assert segments == {1}
    assert spool.read(1) == records
    spool.close()


def test_segments_roll_over_and_are_deleted_once_every_record_is_committed(tmp_path):
    spool = Spool(tmp_path, segment_bytes=4096)
    records = [exchange(request_body=b"x" * 1500) for _ in range(8)]
    numbers = [spool.append(r) for r in records]
    assert len(set(numbers)) > 2, numbers
    first, last = numbers[0], numbers[-1]
    spool.committed([n for n in numbers if n == first][:-1])
    assert f"{first:012d}.spool" in segment_files(tmp_path)  # one record is not in the store yet
    spool.committed(numbers[len([n for n in numbers if n == first]) - 1 :])
    # Every closed segment is gone; the live one stays open for appends until close().
    assert segment_files(tmp_path) == [f"{last:012d}.spool"]
    assert spool.stats().pending_records == 0
    spool.close()
    assert segment_files(tmp_path) == []


def test_a_segment_left_for_replay_is_kept_even_when_its_queued_records_were_committed(tmp_path):
    spool = Spool(tmp_path, segment_bytes=1)  # every append opens a new segment
    a, b = spool.append(exchange()), spool.append(exchange())
    spool.mark_needs_replay(a)
    spool.committed([a, b])
    assert spool.replayable() == [a]
    assert f"{a:012d}.spool" in segment_files(tmp_path)
    spool.replayed(a)
    assert f"{a:012d}.spool" not in segment_files(tmp_path)
    spool.close()


def test_what_a_killed_process_left_is_replayable_at_start_up(tmp_path):
    dead = Spool(tmp_path, segment_bytes=2048)
    records = [exchange(request_body=b"y" * 900, user_text=str(i)) for i in range(6)]
    for r in records:
        dead.append(r)
    dead.committed([1])  # the first record reached the store before the kill
    kill(dead)
    with open(dead._path(dead._current.number), "ab") as f:
        f.write(encode(exchange())[:50])  # a frame torn by the kill

    spool = Spool(tmp_path, segment_bytes=2048)
    replay = spool.replayable()
    assert replay == sorted(replay) and len(replay) >= 2
    got = [ex for n in replay for ex in spool.read(n)]
    assert got == records  # the committed one too: replay is idempotent, order is kept
    new = spool.append(exchange())
    assert new > replay[-1]  # new records never go into a recovered segment
    for n in replay:
        spool.replayed(n)
    assert segment_files(tmp_path) == [f"{new:012d}.spool"]
    spool.close()


def test_reading_the_live_segment_rolls_over_so_later_appends_are_not_lost(tmp_path):
    spool = Spool(tmp_path)
    first = spool.append(exchange())
    spool.mark_needs_replay(first)
    assert len(spool.read(first)) == 1
    later = exchange()
    second = spool.append(later)
    assert second == first + 1
    spool.replayed(first)
    assert spool.read(second) == [later]
    spool.close()


def test_sync_fsyncs_every_segment_that_waits_for_replay(tmp_path, monkeypatch):
    spool = Spool(tmp_path)
    first = spool.append(exchange())
    spool.mark_needs_replay(first)
    spool.read(first)  # rolled over: the first segment is no longer the open file
    second = spool.append(exchange())
    synced: list[str] = []
    real_fsync = os.fsync

    def fsync(fd):
        synced.append(os.path.basename(os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    monkeypatch.setattr(spool_module.os, "fsync", fsync)
    spool.sync()
    assert f"{first:012d}.spool" in synced
    assert f"{second:012d}.spool" in synced
    spool.close()


def test_backlog_counts_files_and_bytes_of_every_port(tmp_path):
    assert backlog(tmp_path / "missing") == (0, 0)
    one, two = Spool(tmp_path / "3000"), Spool(tmp_path / "3002")
    one.append(exchange())
    two.append(exchange())
    two.append(exchange())
    files, size = backlog(tmp_path)
    assert files == 2
    assert size == one.stats().bytes + two.stats().bytes > 0
    for s in (one, two):
        s.committed([1] * s._segments[1].appended)
        s.close()
    assert backlog(tmp_path) == (0, 0)


def test_stats_count_records_not_yet_in_the_store(tmp_path):
    spool = Spool(tmp_path)
    numbers = [spool.append(exchange()) for _ in range(3)]
    assert dataclasses.astuple(spool.stats())[:2] == (1, 3)
    spool.committed(numbers[:2])
    assert spool.stats().pending_records == 1
    spool.close()
