"""One rule for "this call failed", in Python (``is_error``) and in both dialects' SQL: the
``status=error`` filter and the usage report's error count agree with it for every status and
outcome, a 200 that ended in ``event: error`` (``stream_error``) included."""

from __future__ import annotations

import itertools
from typing import Any

from nexus.records import Outcome, RequestFilter, is_error
from tests.factories import make_record

T0 = 1_790_000_000_000
STATUSES = (None, 200, 301, 429, 529)


def every_case() -> list[Any]:
    cases = itertools.product(STATUSES, Outcome)
    return [
        make_record(started_at_ms=T0 + i, status=status, outcome=outcome)
        for i, (status, outcome) in enumerate(cases)
    ]


def test_a_200_that_ended_in_an_error_event_failed_and_a_plain_200_did_not():
    assert is_error(200, Outcome.STREAM_ERROR)
    assert is_error(200, Outcome.UPSTREAM_RESET)
    assert not is_error(200, Outcome.COMPLETE)
    assert not is_error(200, Outcome.CLIENT_DISCONNECTED)
    assert is_error(None, Outcome.COMPLETE) and is_error(529, Outcome.COMPLETE)


async def test_the_error_filter_and_the_usage_error_count_say_what_is_error_says(store):
    records = every_case()
    await store.write_batch(records)
    failed = {r.id for r in records if is_error(r.exchange.status, r.exchange.outcome)}
    assert len(failed) < len(records)
    page = await store.list_requests(RequestFilter(status="error"), None, 500)
    assert {row.id for row in page.items} == failed
    (total,) = await store.usage_report(RequestFilter())
    assert (total.requests, total.errors) == (len(records), len(failed))
