"""``/api/prompts`` on the API port: the library ``/mcp`` serves, listed, shown and rendered."""

from __future__ import annotations

import httpx

REVIEW = """\
name: review
description: Review the diff
arguments:
  - {name: focus, description: What to look at, required: true}
template: "Look at {{ focus }}."
"""


async def test_list_show_render_and_errors(start_nexus, tmp_path):
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    (prompts / "review.yaml").write_text(REVIEW)
    (prompts / "broken.yaml").write_text("name: [x\n")
    server = await start_nexus(prompts_dir=prompts)
    async with httpx.AsyncClient(base_url=server.endpoints.api_url) as api:
        listed = (await api.get("/api/prompts")).json()
        assert [p["name"] for p in listed["prompts"]] == ["review"]
        assert listed["prompts"][0]["arguments"][0] == {
            "name": "focus", "description": "What to look at", "required": True
        }  # fmt: skip
        assert listed["errors"][0]["path"].endswith("broken.yaml")
        shown = (await api.get("/api/prompts/review")).json()
        assert shown["template"] == "Look at {{ focus }}."
        rendered = await api.get("/api/prompts/review/render", params={"focus": "the tests"})
        assert rendered.json() == {"name": "review", "text": "Look at the tests."}
        missing = await api.get("/api/prompts/review/render")
        assert missing.status_code == 400
        assert "needs the argument 'focus'" in missing.json()["error"]["message"]
        unknown = await api.get("/api/prompts/nope")
        assert unknown.status_code == 404 and "no prompt named 'nope'" in unknown.text


async def test_the_client_reads_and_renders_prompts(start_nexus, tmp_path):
    import pytest

    from nexus.client import NexusClient
    from nexus.errors import ApiError

    prompts = tmp_path / "prompts"
    prompts.mkdir()
    (prompts / "review.yaml").write_text(REVIEW)
    server = await start_nexus(prompts_dir=prompts)
    async with NexusClient(server.endpoints.api_url) as client:
        assert [p["name"] for p in (await client.list_prompts())["prompts"]] == ["review"]
        assert (await client.get_prompt("review"))["template"] == "Look at {{ focus }}."
        assert await client.get_prompt("nope") is None
        assert await client.render_prompt("review", {"focus": "x y"}) == "Look at x y."
        with pytest.raises(ApiError, match="needs the argument 'focus'"):
            await client.render_prompt("review", {})
