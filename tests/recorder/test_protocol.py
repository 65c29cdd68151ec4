"""The recorder pipe's messages: what one end writes, the other reads back the same; anything
else is refused with a ProtocolError, never half-read."""

from __future__ import annotations

from pathlib import Path

import pytest

from nexus.recorder.protocol import (
    Committed,
    Progress,
    ProtocolError,
    RecorderConfig,
    StoreDown,
    decode_report,
    encode_report,
)
from nexus.recorder.spool import Position


def test_a_config_crosses_the_pipe_unchanged():
    config = RecorderConfig(
        spool=Path("/data/spool/3000-abc"),
        database_url="postgresql://u@h/db",
        price_book_path=Path("/etc/prices.toml"),
        retry_s=0.25,
        log_level="DEBUG",
        priority="idle",
    )
    line = config.encode()
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert RecorderConfig.decode(line) == config
    bare = RecorderConfig(spool=Path("s"), database_url="sqlite:///x.db")
    assert RecorderConfig.decode(bare.encode()) == bare


@pytest.mark.parametrize(
    "report",
    [
        Progress(Position(3, 4096), idle=True, adopted=0, written=17, healthy=True, failures=0),
        Progress(Position(0, 0), idle=False, adopted=2, written=0, healthy=False, failures=5),
        Committed(),
        StoreDown(failures=3),
    ],
)
def test_a_report_crosses_the_pipe_unchanged(report):
    line = encode_report(report)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert decode_report(line) == report


@pytest.mark.parametrize(
    "line",
    [
        b"not json\n",
        b"{}\n",
        b'{"kind": "gossip"}\n',
        b'{"kind": "progress", "at": [1]}\n',
        b"[]\n",
    ],
)
def test_an_unknown_report_is_refused(line):
    with pytest.raises(ProtocolError):
        decode_report(line)


@pytest.mark.parametrize(
    "line", [b"{}\n", b'{"spool": "s", "database_url": "x", "priority": "turbo"}\n', b"nope\n"]
)
def test_a_bad_config_is_refused(line):
    with pytest.raises(ProtocolError):
        RecorderConfig.decode(line)
