"""The cyclic garbage collector in the recorder child, set once its start-up is done.

A batch's parsed bodies are young container objects (~500 dicts and lists per 200 KB Claude Code
body) that live until the batch is stored and linked, then go by reference counting: they hold no
cycles. With CPython's default threshold (a young collection per 700 net allocations) the
collector traverses them over and over while the batch lives and promotes them, so full
collections walk them again: 0.2-0.25 ms of CPU per record, a tenth of the recorder's
(benchmarks/recorder_cost.py). The young count falls again when objects are freed, so with a
threshold above a batch's peak a young collection runs only when something is really kept; what
start-up built (modules, the store, the linker) is frozen out of every collection.
"""

from __future__ import annotations

import gc

# Net container allocations before a young collection: above a 64-record batch's peak (~30 000).
YOUNG_THRESHOLD = 100_000


def tune_collector() -> None:
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
