"""Tables that fit the terminal by leaving out their least important columns first, and say so.

Rich would otherwise squeeze every column into ellipses or cut the last ones off silently (the
money, in ``nexus usage``). A command lists its columns from least to most important; the ones it
must keep are never in that list.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

_MEASURE = Console(width=10_000, force_terminal=False, color_system=None)


def fit_table(
    build: Callable[[frozenset[str]], Table], drop_order: Sequence[str], width: int
) -> tuple[Table, list[str]]:
    """``build(left_out)`` with as few of ``drop_order`` left out as lets it fit in ``width``
    columns; returns the table and what was left out. A table fits when its widest rendering does
    (a column that may wrap gets a ``max_width`` from its builder), so nothing is squeezed."""
    for count in range(len(drop_order) + 1):
        left_out = list(drop_order[:count])
        table = build(frozenset(left_out))
        if Measurement.get(_MEASURE, _MEASURE.options, table).maximum <= width:
            return table, left_out
    return table, left_out


def left_out_note(left_out: list[str]) -> str:
    return f"left out to fit the terminal: {', '.join(left_out)} (widen it, or use --json)"
