"""Virtual paging: only pages near the viewport are loaded, old ones are evicted, indices hold."""

from __future__ import annotations

from nexus.tui.paging import PagedRows
from tests.tui import data


def page_of(start: int, size: int, total: int) -> tuple[list, str | None]:
    rows = [data.summary(total - 1 - i) for i in range(start, min(total, start + size))]
    return rows, (str(start + size) if start + size < total else None)


def load(rows: PagedRows, first: int, last: int, total: int = 1000) -> int:
    """Answer every page the viewport asks for; returns how many were fetched."""
    fetched = 0
    while requests := rows.needed(first, last):
        for request in requests:
            rows.add_page(request, *page_of(int(request.cursor or 0), rows.page_size, total))
            fetched += 1
    return fetched


def test_the_first_viewport_loads_one_page() -> None:
    rows = PagedRows(page_size=100)
    assert load(rows, 0, 38) == 1
    assert len(rows) == 100 and not rows.is_exhausted
    assert rows.row(0).id == data.rid(999)


def test_scrolling_to_the_end_fetches_the_next_page_ahead() -> None:
    rows = PagedRows(page_size=100)
    load(rows, 0, 38)
    assert load(rows, 60, 98) == 1  # within 20 rows of the end: prefetch
    assert len(rows) == 200
    assert rows.row(150).id == data.rid(999 - 150)


def test_memory_stays_bounded_while_indices_stay_put() -> None:
    rows = PagedRows(page_size=100, max_pages=3)
    for top in range(0, 1000, 40):
        load(rows, top, top + 38)
    assert len(rows) == 1000 and rows.is_exhausted
    assert rows.loaded_rows <= 300
    assert rows.row(5) is None  # evicted…
    assert load(rows, 0, 38) == 1  # …and fetched again with its cursor
    assert rows.row(5).id == data.rid(994)


def test_live_rows_go_in_front_and_are_never_shown_twice() -> None:
    rows = PagedRows(page_size=100)
    newer = [data.summary(1000), data.summary(1001)]
    load(rows, 0, 38)
    assert rows.prepend(newer) == 2
    assert [rows.row(0).id, rows.row(1).id, rows.row(2).id] == [
        data.rid(1001),
        data.rid(1000),
        data.rid(999),
    ]
    assert rows.prepend([data.summary(1001, traffic_class="subagent")]) == 0
    assert rows.row(0).traffic_class == "subagent"


def test_a_reset_drops_answers_to_older_requests() -> None:
    rows = PagedRows(page_size=100)
    (request,) = rows.needed(0, 38)
    rows.reset()
    assert not rows.add_page(request, *page_of(0, 100, 1000))
    assert len(rows) == 0
