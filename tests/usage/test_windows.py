from __future__ import annotations

from dataclasses import dataclass

import pytest

from nexus.records import Headers, Usage
from nexus.usage.windows import account_windows, attribute_rises, estimate_windows, series

H = 3_600_000
T0 = 1_764_000_000_000
RESET_5H = (T0 + 4 * H) // 1000
RESET_7D = (T0 + 100 * H) // 1000


@dataclass(frozen=True)
class R:
    request_id: str
    at_ms: int
    account: str
    client_key_id: str | None
    session_id: str | None
    ratelimit: Headers


@dataclass(frozen=True)
class P:
    request_id: str
    at_ms: int
    account: str
    client_key_id: str | None
    session_id: str | None
    usage: Usage
    cost_usd_micros: int | None


def unified(u5: float, u7: float, reset5: int = RESET_5H, claim: str = "five_hour") -> Headers:
    return (
        ("anthropic-ratelimit-unified-status", "allowed"),
        ("anthropic-ratelimit-unified-5h-utilization", str(u5)),
        ("anthropic-ratelimit-unified-5h-reset", str(reset5)),
        ("anthropic-ratelimit-unified-5h-status", "allowed"),
        ("anthropic-ratelimit-unified-7d-utilization", str(u7)),
        ("anthropic-ratelimit-unified-7d-reset", str(RESET_7D)),
        ("anthropic-ratelimit-unified-representative-claim", claim),
    )


def test_latest_reading_per_account_is_the_current_state() -> None:
    readings = [
        R("r2", T0 + 2000, "team", "k1", "s1", unified(0.20, 0.50)),
        R("r1", T0 + 1000, "team", "k1", "s1", unified(0.10, 0.40)),
        R("r3", T0 + 3000, "other", "k9", "s9", unified(0.70, 0.95, claim="seven_day")),
    ]
    states = {a.account: a for a in account_windows(readings, [], now_ms=T0 + 5000)}
    team = states["team"]
    assert team.source == "headers" and team.request_id == "r2"
    five, seven = team.windows
    assert (five.name, five.utilization, five.reset_at_ms) == ("5h", 0.20, RESET_5H * 1000)
    assert five.is_binding and not seven.is_binding
    assert states["other"].windows[1].is_binding
    assert not five.is_expired(T0 + 5000) and five.is_expired(RESET_5H * 1000)


def test_series_lists_every_reading_oldest_first() -> None:
    readings = [
        R("r2", T0 + 2000, "team", None, None, unified(0.20, 0.50)),
        R("r1", T0 + 1000, "team", None, None, unified(0.10, 0.40)),
    ]
    points = [(p.window, p.request_id, p.utilization) for p in series(readings)]
    assert points == [
        ("5h", "r1", 0.10),
        ("7d", "r1", 0.40),
        ("5h", "r2", 0.20),
        ("7d", "r2", 0.50),
    ]


def _point(rid: str, at: int, session: str, key: str, cost: int | None, tokens: int = 100) -> P:
    return P(rid, at, "team", key, session, Usage(input_tokens=tokens), cost)


def test_rises_are_shared_by_cost_among_requests_between_readings() -> None:
    readings = [
        R("a", T0 + 1_000, "team", "alice", "s-a", unified(0.10, 0.40)),
        R("b", T0 + 9_000, "team", "bob", "s-b", unified(0.40, 0.46)),
    ]
    points = [
        _point("a", T0 + 500, "s-a", "alice", 100),  # before the first reading: no share
        _point("x", T0 + 2_000, "s-a", "alice", 200),
        _point("b", T0 + 8_000, "s-b", "bob", 100),
    ]
    got = {(a.window, a.session_id): a for a in attribute_rises(readings, points)}
    assert got[("5h", "s-a")].utilization == pytest.approx(0.20)  # 2/3 of 0.30
    assert got[("5h", "s-b")].utilization == pytest.approx(0.10)
    assert got[("7d", "s-a")].utilization == pytest.approx(0.04)
    assert got[("5h", "s-a")].requests == 1 and got[("5h", "s-a")].client_key_id == "alice"


def test_tokens_weigh_the_share_when_a_request_is_unpriced() -> None:
    readings = [
        R("a", T0, "team", "k", "s1", unified(0.0, 0.0)),
        R("b", T0 + 10, "team", "k", "s2", unified(0.4, 0.0)),
    ]
    points = [
        _point("x", T0 + 5, "s1", "k", None, tokens=300),
        _point("b", T0 + 8, "s2", "k", 9, 100),
    ]
    got = {
        a.session_id: a.utilization for a in attribute_rises(readings, points) if a.window == "5h"
    }
    assert got == pytest.approx({"s1": 0.3, "s2": 0.1})


def test_a_window_reset_counts_from_zero_and_a_fall_attributes_nothing() -> None:
    later_reset = RESET_5H + 5 * 3600
    readings = [
        R("a", T0, "team", "k", "s1", unified(0.90, 0.50)),
        R("b", T0 + 10, "team", "k", "s1", unified(0.05, 0.49, reset5=later_reset)),
    ]
    points = [_point("b", T0 + 8, "s1", "k", 10)]
    got = attribute_rises(readings, points)
    assert [(a.window, a.reset_at_ms, a.utilization) for a in got] == [
        ("5h", later_reset * 1000, pytest.approx(0.05))
    ]


def test_a_rise_with_no_recorded_request_goes_to_the_reading_request() -> None:
    readings = [
        R("a", T0, "team", "k1", "s1", unified(0.1, 0.1)),
        R("b", T0 + 10, "team", "k2", "s2", unified(0.3, 0.1)),
    ]
    got = attribute_rises(readings, [])
    assert [(a.session_id, a.client_key_id) for a in got] == [("s2", "k2")]
    assert got[0].utilization == pytest.approx(0.2)


def test_accounts_without_subscription_headers_get_labelled_estimates() -> None:
    now = T0 + 10 * 24 * H
    points = [
        P("old", now - 8 * 24 * H, "api", None, None, Usage(input_tokens=1_000), 10),
        P(
            "week",
            now - 2 * 24 * H,
            "api",
            None,
            None,
            Usage(input_tokens=100, output_tokens=5),
            20,
        ),
        P("hour", now - H, "api", None, None, Usage(cache_read_input_tokens=50), None),
    ]
    readings = [
        R(
            "hour",
            now - H,
            "api",
            None,
            None,
            (
                ("anthropic-ratelimit-requests-limit", "50"),
                ("anthropic-ratelimit-requests-remaining", "49"),
            ),
        )
    ]
    (state,) = account_windows(readings, points, now)
    assert state.source == "estimate"
    five, seven = state.windows
    assert (five.name, five.source, five.requests, five.tokens, five.unpriced_requests) == (
        "5h",
        "estimate",
        1,
        50,
        1,
    )
    assert (seven.requests, seven.tokens, seven.cost_usd_micros) == (2, 155, 20)
    assert five.utilization is None
    assert state.api_limits[0].utilization == pytest.approx(0.02)


def test_estimates_for_an_account_never_seen_with_headers() -> None:
    points = [P("x", T0, "solo", None, None, Usage(output_tokens=7), 3)]
    (state,) = account_windows([], points, T0 + 1)
    assert state.source == "estimate" and state.at_ms is None
    assert estimate_windows(points, T0 + 1)[0].output_tokens == 7
