"""How a table fits a narrow terminal: each column has a width and a drop rank; the least needed
(rank 1, then 2, …) give way until the one flexible column keeps its minimum. Rank 0 is never
dropped: in every table of the TUI that is the time, what was asked and the money. The one rule
for the Live table and the Conversations list."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar


class Fits(Protocol):
    @property
    def width(self) -> int: ...  # 0: the flexible column

    @property
    def drop(self) -> int: ...  # 1 goes first, then 2…; 0: always shown


C = TypeVar("C", bound=Fits)


def fit_columns(columns: Sequence[C], width: int, *, min_flex: int, gap: int = 1) -> list[C]:
    """The columns that fit ``width`` leaving ``min_flex`` for the flexible one (``gap``: the cells
    around each column)."""
    shown = list(columns)
    for doomed in sorted((c for c in columns if c.drop), key=lambda c: c.drop):
        if fixed_width(shown, gap) + min_flex <= width:
            break
        shown.remove(doomed)
    return shown


def fixed_width(columns: Sequence[Fits], gap: int = 1) -> int:
    """The width the fixed columns take, with ``gap`` cells each (and one before the first)."""
    return sum(c.width + gap for c in columns) + 1
