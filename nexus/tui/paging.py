"""Virtual paging of a newest-first list read through the API's cursor: the list a table shows
without holding every row in memory.

``PagedRows`` knows where each loaded row sits, which pages a viewport still needs, and which pages
to forget when too many are loaded. A page keeps its cursor and row count after eviction, so row
indices stay put and the page can be fetched again (cursor pages are stable while new records
arrive). Rows that arrive live, newer than the first page, sit in a small ``head`` in front of the
pages. Pure: no I/O, no Textual; the widget asks, a worker fetches, ``add_page`` files the answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Generic, Protocol, TypeVar

PAGE_SIZE = 100
"""Rows per page the tables ask for (and ``nexus tui`` prefetches at launch)."""


class HasId(Protocol):
    @property
    def id(self) -> str: ...


R = TypeVar("R", bound=HasId)


@dataclass(slots=True)
class _Slot(Generic[R]):
    cursor: str | None  # what fetches this page (None: the first page)
    count: int = 0  # rows it held when last loaded (kept after eviction)
    items: list[R] | None = None  # None: not loaded, or evicted
    next_cursor: str | None = None
    tick: int = 0  # when it was last read, for eviction


@dataclass(frozen=True, slots=True)
class PageRequest:
    """A page the viewport needs: fetch ``cursor`` and file the answer as page ``index``."""

    index: int
    cursor: str | None
    generation: int  # answers for an older generation (before a reset) are dropped


@dataclass(slots=True)
class PagedRows(Generic[R]):
    page_size: int = PAGE_SIZE
    max_pages: int = 12  # loaded pages kept; the rest are evicted (counts and cursors stay)
    max_head: int = 1000  # live rows kept in front before a reset is due
    head: list[R] = field(default_factory=list)
    _slots: list[_Slot[R]] = field(default_factory=list)
    _exhausted: bool = False
    _pending: set[int] = field(default_factory=set)
    _tick: int = 0
    generation: int = 0

    def __post_init__(self) -> None:
        if not self._slots:
            self._slots.append(_Slot(cursor=None))

    # -- size and rows ----------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.head) + sum(slot.count for slot in self._slots)

    @property
    def is_loaded(self) -> bool:
        """The first page has answered (the list may still be empty)."""
        return self._slots[0].items is not None or self._slots[0].count > 0 or self._exhausted

    @property
    def is_exhausted(self) -> bool:
        """No page is left to fetch past the last loaded one."""
        return self._exhausted

    @property
    def loaded_rows(self) -> int:
        return len(self.head) + sum(len(s.items) for s in self._slots if s.items is not None)

    def row(self, index: int) -> R | None:
        """The row at ``index``; None when its page is not loaded or ``index`` is past the end."""
        if index < 0:
            return None
        if index < len(self.head):
            return self.head[index]
        offset = index - len(self.head)
        for slot in self._slots:
            if offset < slot.count:
                if slot.items is None:
                    return None
                self._tick += 1
                slot.tick = self._tick
                return slot.items[offset] if offset < len(slot.items) else None
            offset -= slot.count
        return None

    def index_of(self, row_id: str) -> int | None:
        for index, row in enumerate(self.head):
            if row.id == row_id:
                return index
        start = len(self.head)
        for slot in self._slots:
            if slot.items is not None:
                for offset, row in enumerate(slot.items):
                    if row.id == row_id:
                        return start + offset
            start += slot.count
        return None

    def __iter__(self) -> Iterator[R]:
        """Rows in memory, in order (unloaded pages skipped)."""
        yield from self.head
        for slot in self._slots:
            if slot.items is not None:
                yield from slot.items

    # -- what to fetch ----------------------------------------------------------------------
    def needed(self, first: int, last: int, *, prefetch: int = 20) -> list[PageRequest]:
        """Pages to fetch so rows ``first..last`` (inclusive) can be drawn; also the next page when
        the viewport is within ``prefetch`` rows of the end of what is known."""
        wanted: list[int] = []
        start = len(self.head)
        for index, slot in enumerate(self._slots):
            end = start + slot.count
            overlaps = start <= last and end > first
            if slot.items is None and (overlaps or (index == 0 and slot.count == 0)):
                wanted.append(index)
            start = end
        tail = self._slots[-1]
        near_end = last + prefetch >= len(self)
        if near_end and not self._exhausted and tail.items is not None:
            if tail.next_cursor is None:
                self._exhausted = True
            else:
                self._slots.append(_Slot(cursor=tail.next_cursor))
                wanted.append(len(self._slots) - 1)
        requests = []
        for index in wanted:
            if index in self._pending:
                continue
            self._pending.add(index)
            requests.append(PageRequest(index, self._slots[index].cursor, self.generation))
        return requests

    def add_page(self, request: PageRequest, items: Iterable[R], next_cursor: str | None) -> bool:
        """File a fetched page. Returns False when it answers an older generation (dropped)."""
        if request.generation != self.generation or request.index >= len(self._slots):
            return False
        self._pending.discard(request.index)
        slot = self._slots[request.index]
        rows = list(items)
        if request.index == 0 and self.head:
            # Rows already shown live are not shown twice.
            seen = {row.id for row in self.head}
            rows = [row for row in rows if row.id not in seen]
        self._tick += 1
        slot.items, slot.count, slot.next_cursor, slot.tick = (
            rows,
            len(rows),
            next_cursor,
            self._tick,
        )
        is_last = request.index == len(self._slots) - 1
        if is_last and next_cursor is None:
            self._exhausted = True
        self._evict(keep=request.index)
        return True

    def is_pending(self, index: int) -> bool:
        """Page ``index`` was asked for and has not answered (nor failed)."""
        return index in self._pending

    def fetch_failed(self, request: PageRequest) -> None:
        self._pending.discard(request.index)

    def _evict(self, keep: int) -> None:
        loaded = [i for i, s in enumerate(self._slots) if s.items is not None and i != keep]
        excess = len(loaded) + 1 - self.max_pages
        if excess <= 0:
            return
        for index in sorted(loaded, key=lambda i: self._slots[i].tick)[:excess]:
            self._slots[index].items = None

    # -- live changes -----------------------------------------------------------------------
    def prepend(self, rows: Iterable[R]) -> int:
        """Put rows newer than everything in front (newest first). Returns how many were new;
        a row already present is updated in place instead."""
        added: list[R] = []
        for row in rows:
            if not self.update(row):
                added.append(row)
        if added:
            added.reverse()  # rows come oldest first from the feed; the list is newest first
            self.head[:0] = added
        return len(added)

    def update(self, row: R) -> bool:
        """Replace the loaded row with the same id. Returns whether it was present."""
        for index, old in enumerate(self.head):
            if old.id == row.id:
                self.head[index] = row
                return True
        for slot in self._slots:
            if slot.items is None:
                continue
            for index, old in enumerate(slot.items):
                if old.id == row.id:
                    slot.items[index] = row
                    return True
        return False

    @property
    def head_is_full(self) -> bool:
        return len(self.head) > self.max_head

    def reset(self) -> None:
        """Forget everything: the next ``needed`` asks for the first page again."""
        self.head.clear()
        self._slots = [_Slot(cursor=None)]
        self._exhausted = False
        self._pending.clear()
        self.generation += 1

    def replace_rows(self, rows: Iterable[R]) -> None:
        """Reset to a known list (tests and small fixed lists): one exhausted page."""
        self.reset()
        items = list(rows)
        self._slots[0] = replace(self._slots[0], items=items, count=len(items))
        self._exhausted = True
