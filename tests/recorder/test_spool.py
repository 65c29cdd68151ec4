"""The spool: frames round-trip byte for byte, a torn tail is ignored; the follower reads what the
proxy appends, in order, deletes finished segments, and picks up what a killed process left."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nexus.recorder import spool as spool_module
from nexus.recorder.follow import SpoolFollower
from nexus.recorder.spool import (
    Position,
    Spool,
    SpoolBusy,
    backlog,
    decode_all,
    encode,
    sync_folder,
)
from nexus.records import Outcome
from tests.factories import kill_spool, make_record


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


def read_all(follower: SpoolFollower, max_items: int = 1000):
    got = []
    while (batch := follower.read(max_items, 64 * 1024 * 1024)).exchanges:
        got += batch.exchanges
        follower.advance(batch)
    return got


def test_appended_exchanges_are_read_back_in_order_and_positions_grow(tmp_path):
    spool = Spool(tmp_path)
    records = [exchange(user_text=f"turn {i}") for i in range(5)]
    positions = [spool.append(r) for r in records]
    assert positions == sorted(positions) and {p.segment for p in positions} == {1}
    assert spool.position() == positions[-1]
    follower = SpoolFollower(tmp_path)
    batch = follower.read(3, 1 << 30)
    assert batch.exchanges == records[:3]
    assert batch.end == positions[2]
    assert follower.read(3, 1 << 30).exchanges == records[:3]  # not advanced: read again
    follower.advance(batch)
    rest = follower.read(10, 1 << 30)
    assert rest.exchanges == records[3:] and rest.end == positions[-1]
    spool.close()


def test_a_batch_holds_at_least_one_frame_and_stops_at_the_byte_budget(tmp_path):
    spool = Spool(tmp_path)
    records = [exchange(request_body=b"z" * 1000) for _ in range(4)]
    for r in records:
        spool.append(r)
    follower = SpoolFollower(tmp_path)
    assert len(follower.read(10, 1).exchanges) == 1
    assert len(follower.read(10, 1500).exchanges) == 2
    spool.close()


def test_a_frame_being_written_is_not_read_until_it_is_whole(tmp_path):
    spool = Spool(tmp_path)
    first = exchange()
    spool.append(first)
    frame = encode(exchange())
    path = tmp_path / "000000000001.spool"
    with open(path, "ab") as f:
        f.write(frame[:-10])  # the proxy's writev is still on its way
    follower = SpoolFollower(tmp_path)
    batch = follower.read(10, 1 << 30)
    assert batch.exchanges == [first]
    follower.advance(batch)
    assert follower.read(10, 1 << 30).exchanges == []
    with open(path, "ab") as f:
        f.write(frame[-10:])
    (late,) = follower.read(10, 1 << 30).exchanges
    assert encode(late) == frame
    assert segment_files(tmp_path) == ["000000000001.spool"]  # the live segment is kept
    spool.close()


def test_finished_segments_are_deleted_once_read_past_and_the_live_one_is_kept(tmp_path):
    spool = Spool(tmp_path, segment_bytes=4096)
    records = [exchange(request_body=b"x" * 1500) for _ in range(8)]
    positions = [spool.append(r) for r in records]
    assert len({p.segment for p in positions}) > 2
    follower = SpoolFollower(tmp_path)
    assert read_all(follower) == records
    follower.read(10, 1 << 30)  # nothing new: finished segments behind the position go away
    assert segment_files(tmp_path) == [f"{positions[-1].segment:012d}.spool"]
    assert follower.position == positions[-1]
    final = spool.close()
    follower.finish()  # the proxy stopped: the last segment is finished too
    assert follower.read(10, 1 << 30).exchanges == []
    assert segment_files(tmp_path) == []
    assert final == positions[-1]


def test_what_a_killed_process_left_is_read_first_and_its_torn_tail_skipped(tmp_path):
    dead = Spool(tmp_path, segment_bytes=2048)
    records = [exchange(request_body=b"y" * 900, user_text=str(i)) for i in range(6)]
    for r in records:
        last = dead.append(r)
    kill_spool(dead)
    with open(tmp_path / f"{last.segment:012d}.spool", "ab") as f:
        f.write(encode(exchange())[:50])  # a frame torn by the kill

    spool = Spool(tmp_path, segment_bytes=2048)  # the next run on this port
    later = exchange()
    new = spool.append(later)
    assert new.segment == last.segment + 1  # new records never go into a recovered segment
    follower = SpoolFollower(tmp_path)
    assert read_all(follower) == [*records, later]
    assert segment_files(tmp_path) == [f"{new.segment:012d}.spool"]
    spool.close()


def test_a_folder_has_one_appender(tmp_path):
    spool = Spool(tmp_path)
    with pytest.raises(SpoolBusy):
        Spool(tmp_path)
    spool.close()
    Spool(tmp_path).close()  # released by close (and by the kernel on kill -9)


def test_sync_folder_fsyncs_every_segment(tmp_path, monkeypatch):
    spool = Spool(tmp_path, segment_bytes=1)  # every append opens a new segment
    positions = [spool.append(exchange()) for _ in range(3)]
    synced: list[str] = []
    real_fsync = os.fsync

    def fsync(fd):
        synced.append(os.path.basename(os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    monkeypatch.setattr(spool_module.os, "fsync", fsync)
    sync_folder(tmp_path)
    assert synced == [f"{p.segment:012d}.spool" for p in positions]
    spool.close()


def test_backlog_counts_files_and_bytes_of_every_port(tmp_path):
    assert backlog(tmp_path / "missing") == (0, 0)
    one, two = Spool(tmp_path / "3000"), Spool(tmp_path / "3002")
    one.append(exchange())
    two.append(exchange())
    end = two.append(exchange())
    files, size = backlog(tmp_path)
    assert files == 2
    assert size == one.position().offset + end.offset > 0
    for s in (one, two):
        s.close()
        follower = SpoolFollower(s.directory)
        follower.finish()
        read_all(follower)
    assert backlog(tmp_path) == (0, 0)


def test_positions_order_by_segment_then_offset():
    assert Position(1, 900) < Position(2, 0) < Position(2, 1)


def test_a_new_proxys_segment_is_not_finished_by_the_old_recorder(tmp_path):
    old = Spool(tmp_path)
    left = [old.append(exchange()) for _ in range(2)]
    kill_spool(old)
    follower = SpoolFollower(tmp_path)  # the old recorder, still storing when a new proxy starts
    new = Spool(tmp_path)
    later = exchange()
    at = new.append(later)
    follower.finish()
    assert follower.final == left[-1].segment
    got = read_all(follower)
    assert len(got) == 3 and got[-1] == later  # it may store the new proxy's records (idempotent)
    assert f"{at.segment:012d}.spool" in segment_files(tmp_path)  # but never deletes its segment
    new.close()


def test_a_write_cut_short_leaves_no_torn_frame_before_the_next(tmp_path, monkeypatch):
    """A full disk: writev writes part of a frame, the rest fails. The segment is cut back to its
    last whole frame, so the frames appended once the disk frees up are read (issue 14, item 4)."""
    spool = Spool(tmp_path)
    first = exchange()
    spool.append(first)
    real_writev = os.writev

    def disk_full_midway(fd, parts):
        real_writev(fd, [b"".join(parts)[:100]])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(spool_module.os, "writev", disk_full_midway)
    with pytest.raises(OSError):
        spool.append(exchange(user_text="lost"))
    monkeypatch.setattr(spool_module.os, "writev", real_writev)
    later = [exchange(user_text=f"later {i}") for i in range(3)]
    for r in later:
        spool.append(r)
    assert read_all(SpoolFollower(tmp_path)) == [first, *later]
    spool.close()


def test_frames_after_a_torn_one_in_a_finished_segment_are_read(tmp_path):
    """A spool of an older Nexus may hold a torn frame mid-segment: the frames after it are read,
    not dropped with the segment (issue 14, item 4)."""
    before, torn, after = exchange(), exchange(request_body=b"z" * 500), exchange()
    (tmp_path / "000000000001.spool").write_bytes(
        encode(before) + encode(torn)[:300] + encode(after)
    )
    follower = SpoolFollower(tmp_path)
    follower.finish()
    assert read_all(follower) == [before, after]
    assert segment_files(tmp_path) == []


def test_a_segment_that_cannot_be_created_never_closes_a_reused_descriptor(tmp_path):
    """The old segment's descriptor is forgotten before the new one is opened: a failed open
    leaves nothing to close twice (its number may be a client's socket by then; item 5)."""
    spool = Spool(tmp_path, segment_bytes=100)
    spool.append(exchange(request_body=b"x" * 200))
    blocked = tmp_path / "000000000002.spool"
    blocked.symlink_to(tmp_path / "missing" / "segment")
    with pytest.raises(OSError):
        spool.append(exchange())
    reused = os.open(os.devnull, os.O_RDONLY)  # takes the lowest free number: the old segment's
    try:
        with pytest.raises(OSError):
            spool.append(exchange())
        os.fstat(reused)  # still open
    finally:
        os.close(reused)
    blocked.unlink()
    later = exchange()
    assert spool.append(later).segment == 2
    assert read_all(SpoolFollower(tmp_path))[-1] == later
    spool.close()


def test_live_segments_are_the_newest_of_folders_a_proxy_holds_not_of_adopted_ones(tmp_path):
    from nexus.recorder.spool import live_segments, lock, segment_path

    live = Spool(tmp_path / "3000-a")  # a running proxy's folder
    live.append(make_record().exchange)
    adopted = Spool(tmp_path / "3001-a")
    adopted.append(make_record().exchange)
    adopted.close()
    fds = [lock(tmp_path / "3001-a" / ".lock"), lock(tmp_path / "3001-a" / ".recorder.lock")]
    try:
        files, size = live_segments(tmp_path)
        assert files == 1 and size == segment_path(tmp_path / "3000-a", 1).stat().st_size
    finally:
        for fd in fds:
            os.close(fd)
        live.close()
    assert live_segments(tmp_path) == (0, 0)  # nobody holds anything any more


def test_a_frame_of_another_nexus_version_never_stops_the_reader(tmp_path):
    """A field this version does not know is left out; a frame it cannot read at all is skipped
    with the bytes it holds (logged), and the frames after it are read."""
    import orjson

    first, later = exchange(), exchange()
    frame = encode(exchange())
    line_end = frame.index(b"\n")
    header = orjson.loads(frame[len(spool_module.MAGIC) : line_end])
    newer = spool_module.MAGIC + orjson.dumps({**header, "a_newer_field": 1}) + frame[line_end:]
    header.pop("method")  # a field this version needs
    unreadable = spool_module.MAGIC + orjson.dumps(header) + frame[line_end:]
    (tmp_path / "000000000001.spool").write_bytes(
        encode(first) + newer + unreadable + encode(later)
    )
    follower = SpoolFollower(tmp_path)
    follower.finish()
    got = read_all(follower)
    assert [e.id for e in got] == [first.id, decode_all(frame)[0].id, later.id]
