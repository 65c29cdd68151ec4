"""The floor a content-addressed store is measured against: each distinct message, system prompt,
tool list and rest of a request body counted once (the test of the search index's size and
``benchmarks/storage_growth.py`` both compare with it)."""

from __future__ import annotations

from collections.abc import Iterable

import orjson


def distinct_body_bytes(bodies: Iterable[bytes]) -> int:
    seen: set[bytes] = set()
    total = 0
    for body in bodies:
        parsed = orjson.loads(body)
        parts = [orjson.dumps(m) for m in parsed.pop("messages")]
        parts += [orjson.dumps(parsed.pop(k)) for k in ("system", "tools") if k in parsed]
        parts.append(orjson.dumps(parsed))
        for part in parts:
            if part not in seen:
                seen.add(part)
                total += len(part)
    return total
