"""One way to write a quantity: the TUI, the exports and the CLI tables agree on every figure."""

from __future__ import annotations

import pytest

from nexus import numbers
from nexus.cli.usage_tables import cost_text
from nexus.export.figures import format_cost, format_duration, format_tokens
from nexus.tui import cells


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (None, "–"),
        (0, "0"),
        (999, "999"),
        (1000, "1.0k"),
        (1234, "1.2k"),
        (9_960, "10k"),
        (45_678, "46k"),
        (999_600, "1.0M"),
        (1_234_567, "1.2M"),
        (340_000_000, "340M"),
        (12_300_000_000, "12G"),
        (2_345_000_000_000, "2,345G"),
    ],
)
def test_tokens(n: int | None, text: str) -> None:
    assert numbers.tokens(n) == text


@pytest.mark.parametrize(
    ("micros", "text"),
    [
        (None, "–"),
        (0, "$0"),
        (4_200, "$0.0042"),
        (12_345, "$0.0123"),
        (123_456, "$0.1235"),
        (12_340_000, "$12.34"),
        (250_000_000, "$250"),
        (1_250_000_000, "$1,250"),
    ],
)
def test_cost(micros: int | None, text: str) -> None:
    assert numbers.cost(micros) == text


@pytest.mark.parametrize(
    ("ms", "text"),
    [(None, "–"), (850, "850ms"), (12_300, "12.3s"), (125_000, "2m05s"), (3_900_000, "1h05m")],
)
def test_duration(ms: int | None, text: str) -> None:
    assert numbers.duration(ms) == text


@pytest.mark.parametrize(
    ("fraction", "text"), [(None, "–"), (0.0, "0.0%"), (0.8734, "87.3%"), (1.0, "100.0%")]
)
def test_share(fraction: float | None, text: str) -> None:
    assert numbers.share(fraction) == text


@pytest.mark.parametrize("micros", [1, 4_200, 12_345, 123_456, 12_340_000, 1_250_000_000])
def test_the_tui_the_export_and_the_usage_table_write_a_cost_alike(micros: int) -> None:
    assert cells.cost(micros) == format_cost(micros) == cost_text(micros, 0)


@pytest.mark.parametrize("n", [7, 1234, 45_678, 1_234_567])
def test_the_tui_and_the_export_write_tokens_and_durations_alike(n: int) -> None:
    assert cells.tokens(n) == format_tokens(n)
    assert cells.duration(n) == format_duration(n)


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "0s ago"), (59, "59s ago"), (300, "5m ago"), (7200, "2h ago"),
                          (200_000, "2d ago"), (-5, "0s ago")],
)  # fmt: skip
def test_ago(seconds: int, text: str) -> None:
    assert numbers.ago(1_000_000, 1_000_000 + seconds * 1000) == text
    assert cells.ago(1_000_000, 1_000_000 + seconds * 1000) == text


def test_the_tui_and_the_export_total_a_conversation_alike() -> None:
    # One sum (nexus.usage.totals): the TUI once left out unpriced calls that had failed.
    from nexus.conversations.shape import build_view
    from nexus.export.figures import totals as export_totals
    from nexus.records import ConversationTree, TrafficClass, Usage
    from nexus.tui.shape import numbers as tui_numbers
    from tests.export.builders import make_summary

    rows = [
        make_summary(id=f"{i:032x}", started_at_ms=i, traffic_class=TrafficClass.TURN,
                     usage=Usage(10, 20, 3, 3, 0, 40), cost_usd_micros=cost, status=status)
        for i, (cost, status) in enumerate([(1_000, 200), (None, 200), (None, 529), (2_500, 200)])
    ]  # fmt: skip
    tree = ConversationTree(summary=None, nodes=rows, branches=[], subtasks=[])  # type: ignore[arg-type]
    (branch,) = tui_numbers(tree).branches
    exported = export_totals(build_view("c", tree.nodes, tree.branches))
    assert (branch.cost_usd_micros, branch.unpriced) == (3_500, 2)
    assert (exported.cost_usd_micros, exported.unpriced) == (3_500, 2)
    assert branch.input_tokens == exported.usage.input_tokens == 40


@pytest.mark.parametrize(
    ("n", "word", "plural", "text"),
    [
        (1, "request", "s", "1 request"),
        (0, "request", "s", "0 requests"),
        (2, "branch", "es", "2 branches"),
        (1, "branch", "es", "1 branch"),
        (12_345, "request", "s", "12,345 requests"),
    ],
)
def test_counted_says_one_without_a_plural(n: int, word: str, plural: str, text: str) -> None:
    assert numbers.counted(n, word, plural) == text
