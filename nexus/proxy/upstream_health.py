"""Whether the upstream answers, as the operator reads it in the server log: one line when it stops
answering, one when it answers again (how long, how many calls failed). Clients see each failure as
a 502/504; this is the operator's view.

The hot path pays one attribute check per call (``answered`` returns at once while the upstream is
up). Lines are rate-limited: an upstream that flaps logs an outage at most once per ``quiet_s``; the
outages in between are counted into the next line.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

log = logging.getLogger("nexus.proxy")


class UpstreamHealth:
    def __init__(
        self, url: str, *, quiet_s: float = 10.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.url = url
        self.quiet_s = quiet_s
        self.clock = clock
        self.is_down = False
        self._failed_calls = 0
        self._down_since = 0.0
        self._last_line = -quiet_s
        self._logged_down = False
        self._unlogged_outages = 0

    def failed(self, reason: str) -> None:
        """A call could not reach the upstream (connect error, timeout, broken answer)."""
        self._failed_calls += 1
        if self.is_down:
            return
        now = self.clock()
        self.is_down, self._down_since, self._failed_calls = True, now, 1
        self._logged_down = now - self._last_line >= self.quiet_s
        if not self._logged_down:
            self._unlogged_outages += 1
            return
        self._last_line = now
        more = self._unlogged_outages
        self._unlogged_outages = 0
        log.error(
            "upstream %s is unreachable: %s; calls get 502/504 until it answers%s",
            self.url, reason, f" ({more} shorter outages since the last line)" if more else "",
        )  # fmt: skip

    def answered(self) -> None:
        """The upstream sent a response (any status): it is reachable."""
        if not self.is_down:
            return
        self.is_down = False
        if self._logged_down:
            self._last_line = self.clock()
            log.warning(
                "upstream %s answers again after %.1f s (%d calls failed meanwhile)",
                self.url, self._last_line - self._down_since, self._failed_calls,
            )  # fmt: skip
