"""The window share limit: a person may use at most a share of the account's 5-hour window, read
from the utilisation Anthropic reports on each response and the person's part of the account's
cost in the window."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from nexus.errors import ConfigError
from nexus.limits.policy import parse_policy
from nexus.limits.window_share import WindowReading, WindowWatch, person_share
from nexus.records import Usage
from tests.fakes.upstream import Reply
from tests.limits.helpers import call, write_team_host


def test_a_share_is_the_utilisation_times_the_persons_part_of_the_cost() -> None:
    reading = WindowReading(0.8, 10 * 3_600_000)
    assert person_share(reading, 3_000, 4_000) == pytest.approx(0.6)
    assert person_share(reading, 0, 0) == 0.0
    watch = WindowWatch()
    watch.observe("acct", {"anthropic-ratelimit-unified-5h-utilization": "0.42",
                           "anthropic-ratelimit-unified-5h-reset": "7200"})  # fmt: skip
    assert watch.reading("acct", 1_000) == WindowReading(0.42, 7_200_000)
    assert watch.reading("acct", 7_200_000) is None  # reset: nothing known of the new window


def test_window_share_is_a_limit_per_person() -> None:
    with pytest.raises(ConfigError, match="host: window_share is a limit per person"):
        parse_policy({"host": {"window_share": 0.5}}, "f")
    with pytest.raises(ConfigError, match="window_share must be a fraction"):
        parse_policy({"client": {"window_share": 50}}, "f")


async def test_a_person_over_their_share_of_the_window_is_refused_and_others_go_on(
    start_nexus, fake_upstream, tmp_path
):
    reset_s = int(time.time()) + 2 * 3600
    fake_upstream.responder = lambda request: Reply(
        text="ok",
        usage=Usage(input_tokens=20_000, output_tokens=2_000),
        headers=(
            ("anthropic-ratelimit-unified-5h-utilization", "0.8"),
            ("anthropic-ratelimit-unified-5h-reset", str(reset_s)),
        ),
    )
    write_team_host(tmp_path / "credentials", {"client": {"window_share": 0.5}})
    server = await start_nexus()
    url = server.endpoints.proxy_url
    async with httpx.AsyncClient(timeout=10) as client:
        for who in ("alice", "alice", "alice", "bob"):
            assert (await call(client, url, who)).status_code == 200
        await server.flush()
        await asyncio.sleep(1.2)  # the counters are read at least once a second
        alice = await call(client, url, "alice")  # 0.8 × 3/4 = 60 % of the window
        bob = await call(client, url, "bob")  # 0.8 × 1/4 = 20 %
    assert alice.status_code == 429, alice.text
    message = alice.json()["error"]["message"]
    assert "share of the 5-hour window for client alice@team.example (60% of account " in message
    assert "limit 50%" in message
    assert int(alice.headers["retry-after"]) > 3600 and alice.headers["x-should-retry"] == "false"
    assert bob.status_code == 200
