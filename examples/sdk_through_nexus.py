"""Send one message through Nexus with the Anthropic SDK, then find the call in Nexus's read API.

    nexus serve                                   # in another terminal
    python examples/sdk_through_nexus.py "Say hello in French"

The SDK only needs ``base_url`` pointed at the proxy; its key (``ANTHROPIC_API_KEY``, or the team's
client key in team mode) goes upstream as usual. Nexus records beside the traffic, so the record
shows up in the API a moment after the reply.
"""

from __future__ import annotations

import asyncio
import os
import sys

import anthropic

from nexus import numbers
from nexus.client import NexusClient

PROXY = os.environ.get("NEXUS_PROXY_URL", "http://127.0.0.1:3000")
API = os.environ.get("NEXUS_API_URL", "http://127.0.0.1:3001")


async def main(prompt: str) -> None:
    sdk = anthropic.AsyncAnthropic(base_url=PROXY)
    reply = await sdk.messages.create(
        model=os.environ.get("MODEL", "claude-sonnet-4-5"),
        max_tokens=256,
        messages=[{"role": "user", "content": prompt}],
    )
    print("reply:", "".join(b.text for b in reply.content if b.type == "text"))

    # The upstream's request-id (the SDK's ``_request_id``) is in every Nexus record.
    async with NexusClient(API, os.environ.get("DASHBOARD_API_KEY")) as nexus:
        for _ in range(100):
            page = await nexus.list_requests(limit=20)
            found = [s for s in page.items if s.upstream_request_id == reply._request_id]
            if found:
                s = found[0]
                print(
                    f"recorded: {s.id}  {s.model}  {s.status}  in {s.usage.input_tokens} / "
                    f"out {s.usage.output_tokens} tokens  {numbers.cost(s.cost_usd_micros)}"
                )
                return
            await asyncio.sleep(0.1)
    sys.exit("the call never showed up in Nexus's API")


if __name__ == "__main__":
    asyncio.run(main(" ".join(sys.argv[1:]) or "Say hello"))
