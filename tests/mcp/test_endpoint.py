"""``/mcp`` of a real ``nexus serve``, spoken to by the MCP SDK's own client, on each store."""

from __future__ import annotations

import os

import httpx
import orjson
import pytest
from mcp.shared.exceptions import McpError

from tests.fakes.serve_process import free_port, raw_http
from tests.mcp.conftest import linked, mcp_session, say, structured

SECRET = "sk-ant-api03-pasted-by-mistake-0123456789"


async def test_prompts_and_tools_over_the_sdk_client(database_url, prompts_dir, nexus_process):
    nexus = await nexus_process(database_url, extra_env={"NEXUS_PROMPTS_DIR": str(prompts_dir)})
    await say(nexus.proxy_url, "how do we fix the flaky migration test?")
    await say(nexus.proxy_url, f"unrelated: bake bread, my key is {SECRET}")
    rows = await linked(nexus.api_url, 2)
    flaky = next(r for r in rows if "flaky" in r["user_preview"])

    async with mcp_session(nexus.proxy_url + "/mcp") as mcp:
        prompts = (await mcp.list_prompts()).prompts
        assert [(p.name, [(a.name, a.required) for a in p.arguments]) for p in prompts] == [
            ("review", [("focus", True), ("tone", False)])
        ]
        got = await mcp.get_prompt("review", {"focus": "the migrations", "tone": "brief"})
        assert got.messages[0].role == "user"
        assert got.messages[0].content.text.strip() == (
            "Review the diff. Look at the migrations first. Be brief."
        )
        with pytest.raises(McpError, match="needs the argument 'focus'"):
            await mcp.get_prompt("review", {"tone": "kind"})
        with pytest.raises(McpError, match="no prompt named 'nope'.*review"):
            await mcp.get_prompt("nope", {})

        tools = (await mcp.list_tools()).tools
        assert {t.name for t in tools} == {"search_conversations", "get_conversation", "usage_now"}
        assert all(t.annotations.readOnlyHint for t in tools)

        found = structured(
            await mcp.call_tool("search_conversations", {"query": "flaky migration"})
        )
        assert [r["id"] for r in found["results"]] == [flaky["conversation_id"]]
        hit = found["results"][0]
        assert "flaky migration" in hit["title"] and hit["started"].endswith("+00:00")
        assert "flaky migration" in hit["snippets"][0]["text"]
        none = structured(
            await mcp.call_tool("search_conversations", {"query": "flaky", "since": "1s"})
        )
        # a second ago may still hold the request on a fast machine: the filter must not error
        assert isinstance(none["results"], list)

        convo = structured(
            await mcp.call_tool("get_conversation", {"id": flaky["conversation_id"]})
        )
        assert convo["conversation"]["id"] == flaky["conversation_id"]
        assert "user: how do we fix the flaky migration test?" in convo["transcript"]
        assert "assistant: You said: how do we fix the flaky migration test?" in convo["transcript"]

        bread = structured(await mcp.call_tool("search_conversations", {"query": "bread"}))
        bread_id = bread["results"][0]["id"]
        text = orjson.dumps(bread).decode()
        text += orjson.dumps(
            structured(await mcp.call_tool("get_conversation", {"id": bread_id}))
        ).decode()
        assert SECRET not in text and "[redacted]" in text

        missing = await mcp.call_tool("get_conversation", {"id": "no-such-id"})
        assert missing.isError and "no conversation with id 'no-such-id'" in missing.content[0].text
        bad_branch = await mcp.call_tool(
            "get_conversation", {"id": flaky["conversation_id"], "branch": "branch-9"}
        )
        assert bad_branch.isError and "no branch 'branch-9'" in bad_branch.content[0].text

        usage = structured(await mcp.call_tool("usage_now", {}))
        assert usage["today_utc"]["requests"] == 2
        assert usage["today_utc"]["tokens"]["output"] > 0

    # MCP calls are not API traffic: still exactly the two requests sent through the proxy.
    async with httpx.AsyncClient() as client:
        items = (await client.get(nexus.api_url + "/api/requests")).json()["items"]
    assert len(items) == 2 and not any(i["path"].startswith("/mcp") for i in items)


async def test_malformed_and_oversized_requests_get_json_rpc_errors(
    tmp_path, prompts_dir, nexus_process
):
    nexus = await nexus_process(
        f"sqlite:///{tmp_path / 'n.db'}", extra_env={"NEXUS_PROMPTS_DIR": str(prompts_dir)}
    )
    headers = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
    async with httpx.AsyncClient(timeout=10) as client:
        broken = await client.post(nexus.proxy_url + "/mcp", content=b"{not json", headers=headers)
        assert broken.status_code == 400
        assert broken.json()["error"]["code"] == -32700  # parse error
        huge = await client.post(
            nexus.proxy_url + "/mcp",
            content=b"[" + b" " * (2 * 1024 * 1024) + b"]",
            headers=headers,
        )
        assert huge.status_code == 413 and "limit" in huge.json()["error"]["message"]

        async def chunked():  # no Content-Length: the limit holds as the body arrives
            yield b"["
            for _ in range(40):
                yield b" " * 65536
            yield b"]"

        streamed = await client.post(nexus.proxy_url + "/mcp", content=chunked(), headers=headers)
        assert streamed.status_code == 413 and "limit" in streamed.json()["error"]["message"]
        assert not any("Traceback" in line for line in nexus.log)
        # /mcpx is not /mcp: it goes to the proxy, which refuses a path outside /v1
        other = await client.post(nexus.proxy_url + "/mcpx", content=b"{}")
        assert other.json().get("type") == "error"


def _write_credentials(folder, host: str, account: str, client_key: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{host}.credentials.json"
    data = {
        "type": "api_key",
        "accountId": account,
        "api_key": f"sk-ant-api03-{account}-secret-0000000000",
        "client_api_key": client_key,
    }
    path.write_bytes(orjson.dumps(data))
    os.chmod(path, 0o600)


async def test_team_mode_needs_the_hosts_key_and_sees_only_its_host(
    tmp_path, prompts_dir, nexus_process
):
    port = free_port()
    ours, theirs = "cnp_live_ours0123456789abcdefghij", "cnp_live_theirs0123456789abcdefg"
    _write_credentials(tmp_path / "credentials", f"127.0.0.1:{port}", "acct-ours", ours)
    _write_credentials(tmp_path / "credentials", "other.example", "acct-theirs", theirs)
    nexus = await nexus_process(
        f"sqlite:///{tmp_path / 'n.db'}",
        proxy_port=port,
        extra_env={"NEXUS_PROMPTS_DIR": str(prompts_dir)},
    )
    await say(nexus.proxy_url, "our deploy script", headers={"x-api-key": ours})
    await say(
        nexus.proxy_url,
        "their deploy script",
        headers={"x-api-key": theirs, "host": "other.example"},
    )
    await linked(nexus.api_url, 2)
    url = nexus.proxy_url + "/mcp"

    async with httpx.AsyncClient(timeout=10) as client:
        init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}
        for headers in (
            {},
            {"authorization": "Bearer cnp_live_wrong"},
            {"authorization": f"Bearer {theirs}"},
        ):
            answer = await client.post(url, json=init, headers=headers)
            assert answer.status_code == 401, headers
            error = answer.json()["error"]
            assert answer.json()["jsonrpc"] == "2.0" and error["code"] == -32001
            assert "client key" in error["message"]

    async with mcp_session(url, {"authorization": f"Bearer {ours}"}) as mcp:
        assert [p.name for p in (await mcp.list_prompts()).prompts] == ["review"]
        found = structured(await mcp.call_tool("search_conversations", {"query": "deploy script"}))
        assert [r["title"] for r in found["results"]] == ["our deploy script"]
        usage = structured(await mcp.call_tool("usage_now", {}))
        assert usage["today_utc"]["requests"] == 1
        assert {a["account"] for a in usage["accounts"]} <= {"acct-ours"}

    async with mcp_session(
        url, {"authorization": f"Bearer {theirs}", "host": "other.example"}
    ) as mcp:
        found = structured(await mcp.call_tool("search_conversations", {"query": "deploy script"}))
        assert [r["title"] for r in found["results"]] == ["their deploy script"]
        ours_id = await linked(nexus.api_url, 2)
        ours_conv = next(r["conversation_id"] for r in ours_id if r["host"] != "other.example")
        hidden = await mcp.call_tool("get_conversation", {"id": ours_conv})
        assert hidden.isError and "no conversation" in hidden.content[0].text


async def test_pass_through_answers_local_clients_only(tmp_path, prompts_dir, nexus_process):
    nexus = await nexus_process(
        f"sqlite:///{tmp_path / 'n.db'}", extra_env={"NEXUS_PROMPTS_DIR": str(prompts_dir)}
    )
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}
    async with httpx.AsyncClient(timeout=10) as client:
        # a DNS-rebinding page, or a request relayed by a reverse proxy, is not a local client
        for headers in ({"host": "evil.example"}, {"x-forwarded-for": "203.0.113.9"}):
            answer = await client.post(nexus.proxy_url + "/mcp", json=init, headers=headers)
            assert answer.status_code == 403, headers
            assert "only local clients" in answer.json()["error"]["message"]
    async with mcp_session(nexus.proxy_url + "/mcp") as mcp:
        assert (await mcp.list_tools()).tools


async def test_header_names_in_any_case_reach_the_sdk(tmp_path, prompts_dir, nexus_process):
    """The proxy port keeps header names in the client's case (Claude Code sends
    ``Content-Type``); the SDK must still see them (it refused such a POST before)."""
    nexus = await nexus_process(
        f"sqlite:///{tmp_path / 'n.db'}", extra_env={"NEXUS_PROMPTS_DIR": str(prompts_dir)}
    )
    body = orjson.dumps(
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "raw", "version": "1"},
            },
        }
    )
    host = nexus.proxy_url.removeprefix("http://")
    request = (
        f"POST /mcp HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Accept: application/json, text/event-stream\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode() + body
    status, answer = await raw_http(nexus.proxy_url, request)
    assert status == 200, answer
    assert b'"serverInfo":{"name":"nexus"' in answer


async def test_pass_through_with_a_read_api_key_needs_that_key(
    tmp_path, prompts_dir, nexus_process
):
    """/mcp never opens what the read API keeps shut: with DASHBOARD_API_KEY set, a local caller
    must present it too."""
    key = "dashboard-secret-0123456789"
    nexus = await nexus_process(
        f"sqlite:///{tmp_path / 'n.db'}",
        extra_env={"NEXUS_PROMPTS_DIR": str(prompts_dir), "DASHBOARD_API_KEY": key},
    )
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}
    async with httpx.AsyncClient(timeout=10) as client:
        for headers in ({}, {"authorization": "Bearer wrong-key-000000000"}):
            answer = await client.post(nexus.proxy_url + "/mcp", json=init, headers=headers)
            assert answer.status_code == 401
            assert "DASHBOARD_API_KEY" in answer.json()["error"]["message"]
    async with mcp_session(nexus.proxy_url + "/mcp", {"authorization": f"Bearer {key}"}) as mcp:
        assert [p.name for p in (await mcp.list_prompts()).prompts] == ["review"]
