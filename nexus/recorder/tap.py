"""The hot path's only contact with recording: ``Tap.put_nowait`` never awaits and never raises.

Each exchange is appended to the spool (one ``writev``, before the client gets the end of its
response), then the recorder process is woken if it sleeps. No body is held in memory here: the
recorder reads them back from the spool, so the proxy's memory stays flat whatever the backlog.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from nexus.recorder.spool import Spool
from nexus.records import Exchange

log = logging.getLogger("nexus.recorder")


class Tap:
    def __init__(self, spool: Spool, wake: Callable[[], None] = lambda: None) -> None:
        self.spool = spool
        self.wake = wake
        self.lost = 0  # exchanges the spool could not take (a full or failing disk)

    def put_nowait(self, exchange: Exchange) -> None:
        try:
            self.spool.append(exchange)
        except OSError:
            self.lost += 1
            log.exception("spool append failed: exchange %s is NOT recorded", exchange.id)
            return
        self.wake()
