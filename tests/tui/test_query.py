"""The filter bar's language: parsing into API filters, errors that name the key, live matching."""

from __future__ import annotations

import pytest

from nexus.records import Outcome, RequestFilter
from nexus.tui import cells
from nexus.tui.query import QueryError, describe, matches, parse_query
from tests.tui import data


def test_keys_map_onto_the_api_filters() -> None:
    query = parse_query('model:opus status:5xx class:turn q:"migration test" host:h account:a')
    assert query.filter == RequestFilter(
        model="opus",
        status="5xx",
        traffic_class="turn",
        text="migration test",
        host="h",
        account_id="a",
    )


def test_words_without_a_key_are_full_text_search() -> None:
    assert parse_query("cache hit rate").filter == RequestFilter(text="cache hit rate")
    assert parse_query('q:cache "hit rate"').filter.text == "cache hit rate"


def test_ages_become_epoch_milliseconds() -> None:
    assert parse_query("since:2h", at_ms=10_000_000).filter.since_ms == 10_000_000 - 7_200_000
    assert parse_query("until:1700000000000").filter.until_ms == 1_700_000_000_000


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("status:600", "status"),
        ("class:chat", "class"),
        ("since:yesterday", "since"),
        ("colour:red", "colour"),
        ("model:", "model"),
        ('q:"unclosed', "quotes"),
    ],
)
def test_a_mistake_is_reported_naming_the_key(text: str, named: str) -> None:
    with pytest.raises(QueryError, match=named):
        parse_query(text)


def test_describe_is_the_inverse_of_parse() -> None:
    flt = parse_query('model:opus status:429 q:"two words"').filter
    assert parse_query(describe(flt)).filter == flt


def test_live_rows_are_matched_like_the_server_filters() -> None:
    row = data.summary(12)  # opus, a 529
    assert matches(row, parse_query("status:5xx model:opus").filter)
    assert not matches(row, parse_query("status:2xx").filter)
    assert not matches(row, parse_query("class:subagent").filter)
    assert matches(row, parse_query("q:migration").filter) == ("migration" in row.user_preview)


def test_status_error_matches_what_the_server_counts_as_an_error_a_failed_200_stream_too() -> None:
    error = parse_query("status:error").filter
    overloaded_mid_stream = data.summary(
        1, status=200, outcome=Outcome.STREAM_ERROR, error="overloaded_error: Overloaded"
    )
    assert matches(overloaded_mid_stream, error)
    assert matches(data.summary(12), error)  # a 529
    assert matches(data.summary(2, status=None, outcome=Outcome.UPSTREAM_UNREACHABLE), error)
    assert not matches(data.summary(1), error)
    assert cells.status_text(overloaded_mid_stream).style == "bold red"
    assert cells.status_text(data.summary(1)).style == "green"
