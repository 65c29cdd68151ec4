"""The hot path's only contact with recording: ``Tap.put_nowait`` never awaits and never raises.

Each exchange is appended to the spool (one ``writev``, before the client gets the end of its
response), then the recorder process is woken if it sleeps. No body is held in memory here: the
recorder reads them back from the spool, so the proxy's memory stays flat whatever the backlog.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from nexus.recorder.spool import Spool
from nexus.records import Exchange

log = logging.getLogger("nexus.recorder")


_LOST_LOG_EVERY_S = 10.0  # a full disk fails every call: say so, not a traceback per request


class Tap:
    def __init__(self, spool: Spool, wake: Callable[[], None] = lambda: None) -> None:
        self.spool = spool
        self.wake = wake
        self.lost = 0  # exchanges the spool could not take (a full or failing disk)
        self._lost_logged = (0, -_LOST_LOG_EVERY_S)  # (count, monotonic time) at the last log

    def put_nowait(self, exchange: Exchange) -> None:
        try:
            self.spool.append(exchange)
        except OSError as exc:
            self.lost += 1
            self._log_lost(exchange, exc)
            return
        self.wake()

    def _log_lost(self, exchange: Exchange, exc: OSError) -> None:
        count, at = self._lost_logged
        now = time.monotonic()
        if now - at < _LOST_LOG_EVERY_S:
            return
        log.error("the spool in %s cannot be written (%s): exchange %s and %d more since the last "
                  "message are NOT recorded; the proxy keeps serving", self.spool.directory, exc,
                  exchange.id, self.lost - count - 1)  # fmt: skip
        self._lost_logged = (self.lost, now)
