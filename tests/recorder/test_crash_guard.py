"""The crash guard's count on disk: what the next process reads is the last count written."""

from __future__ import annotations

from nexus.recorder.crash_guard import CrashGuard
from nexus.recorder.spool import Position


def test_a_shorter_count_written_over_a_longer_one_reads_back_as_written(tmp_path):
    guard = CrashGuard(tmp_path)
    guard.begin(Position(123456, 987654321), Position(123456, 987654999))
    guard.begin(Position(123456, 987654999), Position(123457, 0))
    guard.enter_danger(Position(7, 8), Position(7, 9))  # a much shorter text than the last
    # the next process: the batch from (7, 8) killed one already, and (7, 8)..(7, 9) is dangerous
    after = CrashGuard(tmp_path)
    assert after.in_danger(Position(7, 8)) and not after.in_danger(Position(7, 9))
    assert after.begin(Position(7, 8), Position(7, 9)) == 2


def test_a_cleared_guard_leaves_no_count_and_counts_again_after(tmp_path):
    guard = CrashGuard(tmp_path)
    guard.begin(Position(1, 10), Position(1, 20))
    guard.clear()
    assert not (tmp_path / ".attempt").exists()
    guard.begin(Position(1, 20), Position(1, 30))  # written again, to a new file
    assert CrashGuard(tmp_path).begin(Position(1, 20), Position(1, 30)) == 2
