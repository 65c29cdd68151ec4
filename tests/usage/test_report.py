from __future__ import annotations

from typing import Any

from nexus.records import RequestFilter, Usage
from nexus.usage.report import thin_series, usage_report_json, windows_json, windows_report
from nexus.usage.windows import SeriesPoint
from tests.factories import make_record

T0 = 1_764_000_000_000
H = 3_600_000
RESET = (T0 + 4 * H) // 1000


def unified(u5: float, u7: float) -> tuple[tuple[str, str], ...]:
    return (
        ("anthropic-ratelimit-unified-status", "allowed"),
        ("anthropic-ratelimit-unified-5h-utilization", str(u5)),
        ("anthropic-ratelimit-unified-5h-reset", str(RESET)),
        ("anthropic-ratelimit-unified-7d-utilization", str(u7)),
        ("anthropic-ratelimit-unified-7d-reset", str(RESET + 86400)),
        ("anthropic-ratelimit-unified-representative-claim", "five_hour"),
    )


def records() -> list[Any]:
    """Three calls on the team account (each with its 5h / 7d utilization), one pass-through."""
    team = [  # (ms after T0, session, person, cost µ$, 5h, 7d)
        (0, "s1", "alice", 100, 0.10, 0.50),
        (60_000, "s2", "bob", 300, 0.30, 0.52),
        (120_000, "s1", "alice", 100, 0.40, 0.53),
    ]
    calls = [
        make_record(
            started_at_ms=T0 + at,
            account_id="team",
            session_id=session,
            client_key_id=person,
            cost_usd_micros=cost,
            ratelimit=unified(u5, u7),
        )
        for at, session, person, cost, u5, u7 in team
    ]
    passthrough = make_record(
        started_at_ms=T0 + 30_000,
        account_id=None,
        client_key_id="k-pass",
        host="localhost:3000",
        usage=Usage(input_tokens=1000, output_tokens=10),
        cost_usd_micros=7,
        ratelimit=(),
    )
    return [*calls, passthrough]


async def test_windows_report_from_a_sequence_of_recorded_headers(usage_store: Any) -> None:
    await usage_store.write_batch(records())
    now = T0 + H
    body = windows_json(await windows_report(usage_store, now, since_ms=T0 - 1))
    accounts = {a["account"]: a for a in body["accounts"]}
    team = accounts["team"]
    assert team["source"] == "headers" and team["representative_claim"] == "five_hour"
    five = team["windows"][0]
    assert (five["name"], five["utilization"], five["is_binding"]) == ("5h", 0.40, True)
    assert five["resets_in_s"] == (RESET * 1000 - now) // 1000
    assert [p["utilization"] for p in team["series"] if p["window"] == "5h"] == [0.10, 0.30, 0.40]
    shares = {(s["window"], s["session_id"]): s["utilization"] for s in team["attribution"]}
    assert round(shares[("5h", "s2")], 6) == 0.2
    assert round(shares[("5h", "s1")], 6) == 0.1
    passthrough = accounts["key:k-pass"]
    assert passthrough["source"] == "estimate"
    est = {w["name"]: w for w in passthrough["windows"]}
    assert est["5h"]["tokens"] == 1010 and est["5h"]["cost_usd_micros"] == 7
    assert est["5h"]["utilization"] is None and est["5h"]["source"] == "estimate"


async def test_windows_report_for_one_account_without_series(usage_store: Any) -> None:
    await usage_store.write_batch(records())
    report = await windows_report(
        usage_store, T0 + H, account="team", with_series=False, with_attribution=False
    )
    assert [a.account for a in report.accounts] == ["team"]
    assert report.series == () and report.attributions == ()


async def test_usage_json_has_rows_and_a_total(usage_store: Any) -> None:
    await usage_store.write_batch(records())
    body = await usage_report_json(usage_store, RequestFilter(), ["account"])
    assert body["group_by"] == ["account"]
    assert [r["group"]["account"] for r in body["rows"]] == ["team", "key:k-pass"]
    assert body["total"]["requests"] == 4 and body["total"]["cost_usd_micros"] == 507
    assert body["total"]["tokens"]["total"] == 3 * (12 + 34) + 1010


def test_long_series_are_thinned_keeping_resets_and_the_newest() -> None:
    points = [
        SeriesPoint("a", "5h", i, str(i).zfill(6), i / 2000, 1 if i < 1000 else 2, "allowed")
        for i in range(2000)
    ]
    thin = thin_series(points, limit=100)
    assert len(thin) <= 100
    ids = {p.request_id for p in thin}
    assert "001999" in ids and "000999" in ids  # newest, and the peak before the reset


async def test_attribution_defaults_to_the_current_period(usage_store: Any) -> None:
    later = (T0 + 10 * H) // 1000
    recs = records()
    recs.append(
        make_record(
            started_at_ms=T0 + 6 * H,
            account_id="team",
            session_id="s3",
            cost_usd_micros=100,
            ratelimit=tuple(
                (
                    k,
                    str(later)
                    if k.endswith("5h-reset")
                    else ("0.05" if k.endswith("5h-utilization") else v),
                )
                for k, v in unified(0.0, 0.6)
            ),
        )
    )
    await usage_store.write_batch(recs)
    current = await windows_report(usage_store, T0 + 7 * H, since_ms=T0 - 1)
    every = await windows_report(usage_store, T0 + 7 * H, since_ms=T0 - 1, every_period=True)
    assert {(a.window, a.session_id) for a in current.attributions if a.window == "5h"} == {
        ("5h", "s3")
    }
    assert {a.session_id for a in every.attributions if a.window == "5h"} == {"s1", "s2", "s3"}


class _CountingStore:
    """The usage store, counting the grouped sums it is asked for."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.report_calls: list[RequestFilter] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    async def usage_report(self, flt: RequestFilter, *args: Any, **kwargs: Any) -> Any:
        self.report_calls.append(flt)
        return await self.store.usage_report(flt, *args, **kwargs)


async def test_one_account_with_server_windows_needs_no_estimate_sums(usage_store: Any) -> None:
    """/mcp's usage_now asks for one account: when its newest reading carries the server's own
    windows, the rolling 5h/7d sums (the slow part on a large store) are not computed."""
    await usage_store.write_batch(records())
    counting = _CountingStore(usage_store)
    report = await windows_report(
        counting, T0 + H, account="team", with_series=False, with_attribution=False
    )
    assert (
        report.accounts[0].source == "headers" and report.accounts[0].windows[0].utilization == 0.40
    )
    assert counting.report_calls == []
    # an account without server windows still gets its estimates, summed over its rows only
    other = await windows_report(
        counting, T0 + H, account="key:k-pass", with_series=False, with_attribution=False
    )
    assert other.accounts[0].source == "estimate" and other.accounts[0].windows[0].tokens == 1010
    assert len(counting.report_calls) == 2


async def test_windows_carry_a_forecast_at_the_current_burn_rate(usage_store: Any) -> None:
    await usage_store.write_batch(records())
    now = T0 + 120_000
    for kwargs in ({}, {"with_series": False, "with_attribution": False}):  # both reading paths
        body = windows_json(await windows_report(usage_store, now, **kwargs))  # type: ignore[arg-type]
        [team] = [a for a in body["accounts"] if a["account"] == "team"]
        five = team["windows"][0]["forecast"]
        # The 5-hour period began at reset - 5 h = T0 - 1 h, from 0: 40 % in about 62 minutes.
        seen = five["reading_at_ms"]
        assert T0 + 120_000 <= seen < T0 + 130_000
        rate = 0.40 / (seen - (T0 - H)) * H
        full_at = seen + int(0.60 / rate * H)
        assert five["burn_per_hour"] == round(rate, 6)
        assert abs(five["full_at_ms"] - full_at) <= 1
        assert five["full_in_s"] == (five["full_at_ms"] - now) // 1000
        assert five["is_full_before_reset"] is True and five["since_ms"] == T0 - H
    [passthrough] = [a for a in body["accounts"] if a["account"] == "key:k-pass"]
    assert all(w["forecast"] is None for w in passthrough["windows"])  # estimates: no forecast
    later = windows_json(await windows_report(usage_store, RESET * 1000 + 1))
    [team] = [a for a in later["accounts"] if a["account"] == "team"]
    assert team["windows"][0]["forecast"] is None  # the window reset since: nothing to forecast
