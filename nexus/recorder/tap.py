"""The hot path's only contact with recording: ``Tap.put_nowait`` never awaits and never raises.

Each exchange is appended to the spool (one ``writev``, before the client gets the end of its
response), then the recorder process is woken if it sleeps. No body is held in memory here: the
recorder reads them back from the spool, so the proxy's memory stays flat whatever the backlog.

A call Nexus refused before forwarding it without a team client key accepted (a bad key, malformed
JSON in pass-through) keeps only the first ``REFUSED_BODY_KEPT`` bytes of its body, with the size
and the start of the SHA-256 of the whole in its error: anyone who can reach the proxy could otherwise fill the
database without a valid key. A call refused after its team client key was accepted (a limit, a
model the policy does not allow, a malformed body) keeps its whole body: a named person sent it,
and its model and class are read from it like any call's (Claude Code resends the history, which
the store keeps once).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import time
from collections.abc import Callable

from nexus.numbers import tokens
from nexus.recorder.spool import Spool
from nexus.records import Exchange, Outcome

log = logging.getLogger("nexus.recorder")


_LOST_LOG_EVERY_S = 10.0  # a full disk fails every call: say so, not a traceback per request
REFUSED_BODY_KEPT = 1024  # DESIGN.md §4: "its first KB and a hash"
_DIGEST_SHOWN = 16  # hex digits of the whole body's SHA-256: enough to tell two bodies apart


class Tap:
    def __init__(self, spool: Spool, wake: Callable[[], None] = lambda: None) -> None:
        self.spool = spool
        self.wake = wake
        self.lost = 0  # exchanges the spool could not take (a full or failing disk)
        self._lost_logged = (0, -_LOST_LOG_EVERY_S)  # (count, monotonic time) at the last log

    def put_nowait(self, exchange: Exchange) -> None:
        if exchange.outcome is Outcome.REJECTED and exchange.auth_mode == "passthrough":
            exchange = bounded(exchange)  # no team client key was accepted
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


def bounded(exchange: Exchange) -> Exchange:
    """A refused exchange with its body cut to ``REFUSED_BODY_KEPT`` bytes; the error says how
    big the whole was and the start of its SHA-256, in few words (``nexus logs`` gives an error
    24 columns at 80: the whole hash took three lines of it)."""
    body = exchange.request_body
    if len(body) <= REFUSED_BODY_KEPT:
        return exchange
    digest = hashlib.sha256(body).hexdigest()[:_DIGEST_SHOWN]
    note = f"body cut to {REFUSED_BODY_KEPT // 1024} KB of {tokens(len(body))}B, sha256 {digest}"
    error = f"{exchange.error} ({note})" if exchange.error else note
    return dataclasses.replace(exchange, request_body=body[:REFUSED_BODY_KEPT], error=error)
