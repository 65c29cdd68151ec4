"""What reaches the upstream, byte for byte: the client's headers in its order and case, nothing added.

The client is a raw socket (so the test decides the exact bytes) and the upstream a raw recorder
(so the test sees the exact bytes). Only hop-by-hop headers leave, ``Host`` carries the upstream's
name, and team mode swaps the credential in place (DESIGN.md §3).
"""

from __future__ import annotations

import asyncio

from nexus.records import RequestFilter
from tests.factories import oauth_credentials
from tests.proxy.test_team_mode import ACCOUNT_SECRET, CLIENT_KEY, OAUTH_TOKEN, write_credentials

BODY = b'{"model":"claude-opus-4-8","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}'


def client_headers(host: str, *, key: str = "sk-ant-client-0123456789") -> list[tuple[str, str]]:
    """Claude Code's mix of cases, in an order no framework would choose."""
    return [
        ("Host", host),
        ("X-Api-Key", key),
        ("anthropic-version", "2023-06-01"),
        ("Anthropic-Beta", "claude-code-20250219,interleaved-thinking-2025-05-14"),
        ("accept", "application/json"),
        ("User-Agent", "claude-cli/2.1.197 (external, cli)"),
        ("x-stainless-lang", "js"),
        ("Connection", "keep-alive"),
        ("X-Claude-Code-Session-Id", "3f1e6c1a-0000-4000-8000-000000000001"),
        ("accept-encoding", "gzip, deflate, br, zstd"),
        ("content-type", "application/json"),
        ("Content-Length", str(len(BODY))),
    ]


async def send_raw(proxy_url: str, headers: list[tuple[str, str]], body: bytes = BODY) -> bytes:
    host, port = proxy_url.removeprefix("http://").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    head = "POST /v1/messages?beta=true HTTP/1.1\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
    writer.write(head.encode("latin-1") + body)
    await writer.drain()
    answer = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    writer.close()
    return answer


def expected_upstream(headers: list[tuple[str, str]], upstream_url: str) -> list[tuple[str, str]]:
    netloc = upstream_url.removeprefix("http://")
    return [(k, netloc if k == "Host" else v) for k, v in headers if k != "Connection"]


async def test_upstream_gets_the_clients_headers_in_order_and_case_and_nothing_more(
    start_nexus, raw_upstream
):
    server = await start_nexus(upstream_url=raw_upstream.url)
    proxy = server.endpoints.proxy_url
    sent = client_headers(proxy.removeprefix("http://"))
    answer = await send_raw(proxy, sent)
    assert answer.startswith(b"HTTP/1.1 200")
    (seen,) = raw_upstream.requests
    assert seen.request_line == "POST /v1/messages?beta=true HTTP/1.1"
    assert seen.headers == expected_upstream(sent, raw_upstream.url)
    assert seen.body == BODY


async def test_the_record_holds_the_clients_headers_not_the_frameworks(start_nexus, raw_upstream):
    server = await start_nexus(upstream_url=raw_upstream.url)
    proxy = server.endpoints.proxy_url
    sent = client_headers(proxy.removeprefix("http://"))
    await send_raw(proxy, sent)
    await server.flush()
    (row,) = (await server.store.list_requests(RequestFilter(), None, 5)).items
    stored = await server.store.get_request(row.id)
    assert [k for k, _ in stored.request_headers] == [k for k, _ in sent]
    assert dict(stored.request_headers)["X-Api-Key"] == "[redacted]"


async def test_team_mode_swaps_the_key_in_place_and_adds_nothing_else(
    start_nexus, raw_upstream, tmp_path
):
    server = await start_nexus(upstream_url=raw_upstream.url)
    host = server.endpoints.proxy_url.removeprefix("http://")
    write_credentials(tmp_path / "credentials", host, {
        "type": "api_key", "accountId": "acct", "api_key": ACCOUNT_SECRET, "client_api_key": CLIENT_KEY,
    })  # fmt: skip
    sent = client_headers(host, key=CLIENT_KEY)
    assert (await send_raw(server.endpoints.proxy_url, sent)).startswith(b"HTTP/1.1 200")
    (seen,) = raw_upstream.requests
    expected = expected_upstream(sent, raw_upstream.url)
    assert seen.headers == [(k, ACCOUNT_SECRET if k == "X-Api-Key" else v) for k, v in expected]


async def test_oauth_team_mode_puts_the_bearer_where_the_client_key_was_and_only_adds_the_beta(
    start_nexus, raw_upstream, tmp_path
):
    server = await start_nexus(upstream_url=raw_upstream.url)
    host = server.endpoints.proxy_url.removeprefix("http://")
    write_credentials(
        tmp_path / "credentials", host, oauth_credentials("acct-max", CLIENT_KEY, OAUTH_TOKEN)
    )
    sent = client_headers(host, key=CLIENT_KEY)
    assert (await send_raw(server.endpoints.proxy_url, sent)).startswith(b"HTTP/1.1 200")
    (seen,) = raw_upstream.requests
    replaced = {
        "X-Api-Key": ("authorization", f"Bearer {OAUTH_TOKEN}"),
        "Anthropic-Beta": (
            "Anthropic-Beta",
            "claude-code-20250219,interleaved-thinking-2025-05-14,oauth-2025-04-20",
        ),
    }
    assert seen.headers == [
        replaced.get(k, (k, v)) for k, v in expected_upstream(sent, raw_upstream.url)
    ]
