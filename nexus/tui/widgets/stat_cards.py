"""``StatCards``: the numbers of a period at a glance above the conversations list — conversations,
people and accounts active, requests, tokens, cost and cache efficiency — as the original's
overview had. Two lines (values, labels) so the list keeps the room; it only draws an ``Overview``
(``usage_data.py``), the screen loads it."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from nexus.tui import cells
from nexus.tui.usage_data import Overview


class StatCards(Static):
    DEFAULT_CSS = """
    StatCards { height: 2; padding: 0 1; background: $boost; }
    """

    def show(self, numbers: Overview | None, period: str) -> None:
        self.update(cards(numbers, period))


def cards(numbers: Overview | None, period: str) -> Table:
    grid = Table.grid(expand=True, padding=(0, 1))
    values: list[Text] = [Text(period, style="bold magenta")]
    labels: list[Text] = [Text("p: period", style="dim")]
    for label, value in card_values(numbers):
        values.append(Text(value, style="bold", justify="right"))
        labels.append(Text(label, style="dim", justify="right"))
    for _ in values:
        grid.add_column(no_wrap=True, overflow="ellipsis")
    grid.add_row(*values)
    grid.add_row(*labels)
    return grid


def card_values(numbers: Overview | None) -> list[tuple[str, str]]:
    """(label, value) per card; dashes while loading, or where there is nothing to count."""
    if numbers is None:
        return [(label, "…") for label in _LABELS]
    share = numbers.cache_read_share
    cost = cells.cost(numbers.cost_usd_micros) + ("*" if numbers.unpriced else "")
    return list(
        zip(
            _LABELS,
            (
                f"{numbers.conversations:,}",
                f"{numbers.people:,}" if numbers.people else "–",
                f"{numbers.accounts:,}" if numbers.accounts else "–",
                f"{numbers.requests:,}",
                cells.tokens(numbers.tokens),
                cost,
                f"{share:.0%}" if share is not None else "–",
            ),
            strict=True,
        )
    )


_LABELS = ("convs", "people", "accounts", "requests", "tokens", "cost", "cache hit")
