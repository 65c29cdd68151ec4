"""How the recorder child competes for CPU: its scheduling policy, set once at start.

``batch`` (the default): SCHED_BATCH at nice 0. It gets its fair share of the CPU, so beside two
busy processes at normal priority (a build) records still appear within seconds, yet its wake-ups
never preempt the proxy. ``idle``: SCHED_IDLE, CPU time nobody else wants; a waking proxy preempts
it at once, but beside a build it starves. ``nice`` (19) starves the same way; ``nice:N`` and
``normal`` are there to measure with (benchmarks/recorder_cost.py --priority). Unprivileged, a
process can lower its priority but never raise it again, so the choice is made once, before any
thread starts (threads inherit it). docs/recorder.md has the measurements.
"""

from __future__ import annotations

import contextlib
import os

from nexus.recorder.protocol import Priority

NICENESS = 19  # the "nice" and "idle" policies where SCHED_IDLE is not available


def set_priority(policy: Priority) -> None:
    if policy == "normal":
        return
    if policy == "batch":
        with contextlib.suppress(AttributeError, OSError):
            os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
        return
    if policy.startswith("nice:"):
        with contextlib.suppress(OSError, ValueError):
            os.nice(int(policy.removeprefix("nice:")))
        return
    if policy == "idle":
        try:
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
            return
        except (AttributeError, OSError):  # not Linux
            pass
    with contextlib.suppress(OSError):
        os.nice(NICENESS)
