"""The fake Anthropic API (``tests.fakes.upstream``) for benchmarks: same server, same flags, but it
keeps only its last 64 requests. The test fake remembers every request it saw (tests assert on
them); under a benchmark that is ~190 KB per call, gigabytes in a soak.

    python benchmarks/fake_upstream.py --port 0 [--delay-ms N] [--event-delay-ms N]
"""

from __future__ import annotations

import collections
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fakes import upstream  # noqa: E402

_init = upstream.FakeUpstream.__init__


def _bounded_init(self: upstream.FakeUpstream, *args: Any, **kwargs: Any) -> None:
    _init(self, *args, **kwargs)
    self.requests = collections.deque(maxlen=64)  # type: ignore[assignment]


upstream.FakeUpstream.__init__ = _bounded_init  # type: ignore[method-assign]

if __name__ == "__main__":
    upstream.main(sys.argv[1:])
