"""The pipe between the proxy process and its recorder child, typed at both ends.

The supervisor (``supervisor.py``) writes one line of ``RecorderConfig`` to the child's stdin, then a
byte whenever the proxy appended something while the child was idle; end of file means the proxy
stopped (or died). The child (``__main__.py``) writes one line per report to its stdout:
``Progress`` (how far the proxy's folder is stored), ``Committed`` (events were committed: the live
feed wakes) or ``StoreDown`` (the store does not answer yet). This module owns the encoding of both
directions; neither end reads or writes a JSON dict of its own.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import orjson

from nexus.recorder.spool import Position

Priority = Literal["batch", "idle", "nice", "normal", "nice:5", "nice:10", "nice:15"]
PRIORITIES: tuple[Priority, ...] = (
    "batch",
    "idle",
    "nice",
    "normal",
    "nice:5",
    "nice:10",
    "nice:15",
)


class ProtocolError(ValueError):
    """A line on the recorder's pipe that is not one of the protocol's messages."""


@dataclass(frozen=True, slots=True)
class RecorderConfig:
    spool: Path  # the proxy's own spool folder (its siblings may be adopted as orphans)
    database_url: str
    price_book_path: Path | None = None
    retry_s: float = 1.0  # first wait after the store failed; doubles up to 15 s
    log_level: str = "INFO"
    priority: Priority = "batch"  # how the child competes for CPU (priority.py)
    alerts_config: Path | None = None  # alerts.json (nexus.alerts.config); None: no alerts
    replica: str = "recorder"  # names the limit counter rows it writes (the proxy process's id)

    def encode(self) -> bytes:
        book = str(self.price_book_path) if self.price_book_path else None
        alerts = str(self.alerts_config) if self.alerts_config else None
        fields = {
            **asdict(self), "spool": str(self.spool), "price_book_path": book,
            "alerts_config": alerts,
        }  # fmt: skip
        return orjson.dumps(fields) + b"\n"

    @classmethod
    def decode(cls, line: bytes) -> RecorderConfig:
        try:
            raw = orjson.loads(line)
            book = raw.get("price_book_path")
            priority = raw.get("priority", "batch")
            if priority not in PRIORITIES:
                raise ProtocolError(f"unknown priority {priority!r}")
            return cls(
                spool=Path(raw["spool"]),
                database_url=str(raw["database_url"]),
                price_book_path=Path(book) if book else None,
                retry_s=float(raw.get("retry_s", 1.0)),
                log_level=str(raw.get("log_level", "INFO")),
                priority=priority,
                alerts_config=Path(raw["alerts_config"]) if raw.get("alerts_config") else None,
                replica=str(raw.get("replica", "recorder")),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ProtocolError(f"bad recorder configuration: {exc}") from exc


@dataclass(frozen=True, slots=True)
class Progress:
    """The proxy's folder is stored up to ``at``."""

    at: Position
    idle: bool  # caught up: the next append must wake it
    adopted: int  # folders of earlier runs still to store
    written: int
    healthy: bool
    failures: int


@dataclass(frozen=True, slots=True)
class Committed:
    """A transaction with events committed: the live feed has something to read."""


@dataclass(frozen=True, slots=True)
class StoreDown:
    """The store does not answer (yet); records wait in the spool."""

    failures: int


Report = Progress | Committed | StoreDown


def encode_report(report: Report) -> bytes:
    if isinstance(report, Progress):
        fields = {"kind": "progress", **asdict(report), "at": list(report.at)}
    elif isinstance(report, Committed):
        fields = {"kind": "committed"}
    else:
        fields = {"kind": "store_down", "failures": report.failures}
    return orjson.dumps(fields) + b"\n"


def decode_report(line: bytes) -> Report:
    try:
        raw = orjson.loads(line)
        kind = raw.pop("kind")
        if kind == "progress":
            return Progress(**{**raw, "at": Position(*raw["at"])})
        if kind == "committed":
            return Committed()
        if kind == "store_down":
            return StoreDown(int(raw["failures"]))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ProtocolError(f"unreadable report {line[:200]!r}: {exc}") from exc
    raise ProtocolError(f"unknown report {line[:200]!r}")
