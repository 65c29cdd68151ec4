"""``NexusClient`` against a real API server: typed records out, the right errors, every route."""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import pytest

from nexus.client import NexusClient, filter_params
from nexus.conversations.worker import ConversationLinker
from nexus.errors import ApiError, ServerUnreachable
from nexus.records import (
    ConversationTree,
    Link,
    Outcome,
    RequestFilter,
    RequestRecord,
    RequestSummary,
    StoredRequest,
    TrafficClass,
)
from tests.factories import BASH_TOOL, make_record
from tests.fakes.api_server import Api, ApiFactory, LiveServer

T0 = 1_760_000_000_000
Serve = Callable[[Api], Awaitable[LiveServer]]


@pytest.fixture
async def served(make_api: ApiFactory, serve_api: Serve) -> tuple[Api, LiveServer]:
    api = make_api()
    return api, await serve_api(api)


def follow_up(previous: RequestRecord, user_text: str, offset_ms: int) -> RequestRecord:
    """The next turn of ``previous``'s conversation: its messages and reply, then a new prompt."""
    body = orjson.loads(previous.exchange.request_body)
    reply = orjson.loads(previous.response_message or b"{}")
    history = body["messages"] + [{"role": "assistant", "content": reply["content"]}]
    return make_record(
        started_at_ms=previous.exchange.started_at_ms + offset_ms,
        history=history,
        user_text=user_text,
        session_id=previous.session_id,
        tools=[BASH_TOOL],
    )


async def test_lists_and_reads_typed_records(served: tuple[Api, LiveServer]) -> None:
    api, server = served
    records = [make_record(started_at_ms=T0 + i, account_id=f"acct-{i % 2}") for i in range(5)]
    await api.write(records)
    await api.store.write_links([Link(records[0].id, TrafficClass.TURN, conversation_id="c")])
    async with NexusClient(server.url) as client:
        page = await client.list_requests(limit=2)
        assert all(isinstance(item, RequestSummary) for item in page.items)
        assert [i.id for i in page.items] == [records[4].id, records[3].id]
        rest = await client.list_requests(None, page.next_cursor, 100)
        assert [i.id for i in rest.items] == [r.id for r in reversed(records[:3])]
        assert rest.next_cursor is None
        linked = rest.items[-1]
        assert linked.traffic_class is TrafficClass.TURN and linked.outcome is Outcome.COMPLETE
        assert linked.usage.output_tokens == 34
        assert await client.count_requests(RequestFilter(account_id="acct-0")) == 3
        filtered = await client.list_requests(RequestFilter(account_id="acct-1", text="failing"))
        assert {i.id for i in filtered.items} == {records[1].id, records[3].id}


async def test_get_request_reproduces_the_stored_record_exactly(
    served: tuple[Api, LiveServer],
) -> None:
    api, server = served
    record = make_record(started_at_ms=T0, response_body=b"\xff\xfe raw, not utf-8")
    await api.write([record])
    expected = await api.store.get_request(record.id)
    async with NexusClient(server.url) as client:
        got = await client.get_request(record.id)
        assert isinstance(got, StoredRequest)
        assert got.request_body == record.exchange.request_body
        assert got.response_body == record.exchange.response_body
        assert got.summary == expected.summary
        assert got.request_headers == expected.request_headers
        assert got.ratelimit == expected.ratelimit
        assert orjson.loads(got.response_message or b"") == orjson.loads(
            expected.response_message or b""
        )
        assert (got.query, got.auth_mode, got.first_byte_at_ms) == (
            expected.query,
            expected.auth_mode,
            expected.first_byte_at_ms,
        )
        assert await client.raw_request_body(record.id) == record.exchange.request_body
        assert await client.raw_response_body(record.id) == record.exchange.response_body
        assert await client.get_request("no-such-id") is None


async def test_conversations_list_and_tree(served: tuple[Api, LiveServer]) -> None:
    api, server = served
    first = make_record(
        started_at_ms=T0, user_text="start the refactor", session_id="s-1", tools=[BASH_TOOL]
    )
    second = follow_up(first, "now run the tests", 1000)
    await api.write([first, second])
    links = await ConversationLinker(api.store).link_batch([first, second])
    await api.store.write_links(links)
    async with NexusClient(server.url) as client:
        page = await client.list_conversations()
        assert [c.id for c in page.items] == [first.id]
        assert page.items[0].request_count == 2
        tree = await client.get_conversation(first.id)
        assert isinstance(tree, ConversationTree)
        assert [n.id for n in tree.nodes] == [first.id, second.id]
        assert tree.nodes[1].parent_request_id == first.id
        assert tree.branches[0].name == "main"
        assert await client.get_conversation("nope") is None


async def test_refusals_raise_api_error_with_the_server_message(
    make_api: ApiFactory, serve_api: Serve
) -> None:
    server = await serve_api(make_api(api_key="k1"))
    async with NexusClient(server.url, api_key="wrong") as client:
        with pytest.raises(ApiError) as refused:
            await client.list_requests()
        assert refused.value.status == 401 and "Bearer" in refused.value.message
        with pytest.raises(ApiError):
            await anext(aiter(client.events()))  # a refused feed is not retried forever
    async with NexusClient(server.url, api_key="k1") as client:
        assert (await client.list_requests()).items == []
        with pytest.raises(ApiError) as bad:
            await client.list_requests(RequestFilter(status="teapot"))
        assert bad.value.status == 400 and "'status'" in bad.value.message


async def test_no_server_raises_server_unreachable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: connections are refused
        async with NexusClient(f"http://127.0.0.1:{port}", timeout=2) as client:
            with pytest.raises(ServerUnreachable) as exc:
                await client.list_requests()
            assert str(port) in str(exc.value)
            with pytest.raises(ServerUnreachable):
                await anext(aiter(client.events(reconnect=False)))


def test_filter_params_are_the_api_parameters() -> None:
    flt = RequestFilter(
        since_ms=1,
        until_ms=2,
        host="h",
        account_id="a",
        model="m",
        status="5xx",
        traffic_class="turn",
        session_id="s",
        conversation_id="c",
        text="hello world",
    )
    assert filter_params(flt) == {
        "since": "1",
        "until": "2",
        "host": "h",
        "account": "a",
        "model": "m",
        "status": "5xx",
        "class": "turn",
        "session": "s",
        "conversation_id": "c",
        "q": "hello world",
    }
    assert filter_params(None) == {} and filter_params(RequestFilter()) == {}


def test_client_satisfies_what_the_tui_and_export_read() -> None:
    from nexus.export.source import ExportSource
    from nexus.tui.source import Source

    names = [n for n in dir(Source) if not n.startswith("_")]
    client: Any = NexusClient("http://127.0.0.1:1")
    assert all(hasattr(client, name) for name in names), names
    assert isinstance(client, ExportSource)


async def test_window_forecasts_are_typed_from_api_windows(served: tuple[Api, LiveServer]) -> None:
    from nexus.records import WindowForecast, now_ms

    api, server = served
    now = now_ms()
    reset_s = (now + 4 * 3_600_000) // 1000  # the 5-hour period began an hour ago

    def reading(ago_ms: int, used: float) -> RequestRecord:
        return make_record(
            started_at_ms=now - ago_ms, ttfb_ms=0, account_id="acct-team",
            ratelimit=(
                ("anthropic-ratelimit-unified-5h-utilization", str(used)),
                ("anthropic-ratelimit-unified-5h-reset", str(reset_s)),
            ),
        )  # fmt: skip

    await api.write([reading(30 * 60_000, 0.2), reading(60_000, 0.6)])
    async with NexusClient(server.url) as client:
        [forecast] = await client.window_forecasts()
        assert await client.window_forecasts(account="nobody") == []
    assert isinstance(forecast, WindowForecast)
    assert (forecast.account, forecast.window, forecast.utilization) == ("acct-team", "5h", 0.6)
    assert forecast.at_ms == now - 60_000 and forecast.reset_at_ms == reset_s * 1000
    # From the period's start (an hour ago, 0 %) to 60 % a minute ago: 61 %/h; 40 % left.
    assert forecast.since_ms == reset_s * 1000 - 5 * 3_600_000
    assert (
        forecast.burn_per_hour is not None and abs(forecast.burn_per_hour - 0.6 / (59 / 60)) < 0.01
    )
    assert forecast.is_full_before_reset


async def test_certificates_are_verified_for_https_and_no_tls_is_set_up_for_plain_http() -> None:
    import ssl

    for url, verifies in (("https://team-host:3001", True), ("HTTPS://team-host", True),
                          ("http://127.0.0.1:3001", False)):  # fmt: skip
        async with NexusClient(url) as client:
            pool = client._http._transport._pool  # type: ignore[attr-defined]
            context: ssl.SSLContext = pool._ssl_context
            assert (context.verify_mode == ssl.CERT_REQUIRED) is verifies, url
