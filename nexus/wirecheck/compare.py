"""What the client sent against what reached the upstream, request by request. Pure.

The only differences allowed are the ones docs/wire.md lists for pass-through: hop-by-hop headers
leave, ``Host`` names the upstream and comes first, and a body the client sent in chunks goes up
with a ``Content-Length``. Everything else (an added header, a lost one, a changed value, name,
case or order, one differing body byte) is reported, naming the call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from nexus.proxy.headers import HOP_BY_HOP
from nexus.redact import is_secret_header
from nexus.wirecheck.fake_api import ArrivedRequest
from nexus.wirecheck.tee import SentRequest

Headers = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Difference:
    call: str  # "#3 POST /v1/messages?beta=true"
    detail: str


def compare(
    sent: Sequence[SentRequest], arrived: Sequence[ArrivedRequest], upstream_host: str
) -> list[Difference]:
    """Pair each sent request with the one that reached the upstream and list every difference."""
    pairs, lost, extra = pair_requests(sent, arrived)
    found: list[Difference] = []
    for index, (client, upstream) in pairs:
        call = f"#{index + 1} {client.method} {client.target}"
        found.extend(Difference(call, d) for d in _differences(client, upstream, upstream_host))
    for index, client in lost:
        call = f"#{index + 1} {client.method} {client.target}"
        found.append(Difference(call, "never reached the upstream"))
    for upstream in extra:
        call = f"{upstream.method} {upstream.target}"
        found.append(Difference(call, "reached the upstream, but the client never sent it"))
    return found


def pair_requests(
    sent: Sequence[SentRequest], arrived: Sequence[ArrivedRequest]
) -> tuple[
    list[tuple[int, tuple[SentRequest, ArrivedRequest]]],
    list[tuple[int, SentRequest]],
    list[ArrivedRequest],
]:
    """Match by method, target and body first (concurrent calls may arrive in another order),
    then by method and target in order, so a changed body still pairs and is reported as such."""
    left = list(arrived)
    pairs: dict[int, ArrivedRequest] = {}
    for exact in (True, False):
        for i, client in enumerate(sent):
            if i in pairs:
                continue
            for j, upstream in enumerate(left):
                same_call = (client.method, client.target) == (upstream.method, upstream.target)
                if same_call and (not exact or client.body == upstream.body):
                    pairs[i] = left.pop(j)
                    break
    matched = [(i, (sent[i], pairs[i])) for i in sorted(pairs)]
    lost = [(i, client) for i, client in enumerate(sent) if i not in pairs]
    return matched, lost, left


def expected_headers(client: SentRequest, upstream_host: str) -> Headers:
    """The headers docs/wire.md says reach the upstream in pass-through mode."""
    kept = [(k, v) for k, v in client.headers if k.lower() not in HOP_BY_HOP]
    host = [(k, upstream_host) for k, _ in kept if k.lower() == "host"][:1] or [
        ("Host", upstream_host)
    ]
    rest = [(k, v) for k, v in kept if k.lower() != "host"]
    if not any(k.lower() == "content-length" for k, _ in rest) and (
        client.body or client.method in ("POST", "PUT", "PATCH")
    ):
        rest.append(("Content-Length", str(len(client.body))))
    return tuple(host + rest)


def _differences(client: SentRequest, upstream: ArrivedRequest, upstream_host: str) -> list[str]:
    found: list[str] = []
    if client.body != upstream.body:
        at = next(
            (i for i, (a, b) in enumerate(zip(client.body, upstream.body, strict=False)) if a != b),
            min(len(client.body), len(upstream.body)),
        )
        found.append(
            f"body differs from byte {at} (client {len(client.body)} bytes, "
            f"upstream {len(upstream.body)})"
        )
    expected = expected_headers(client, upstream_host)
    if expected == upstream.headers:
        return found
    want = _by_name(expected)
    got = _by_name(upstream.headers)
    changes = [f"header added: {_show(n, got[n])}" for n in sorted(got.keys() - want.keys())]
    changes += [f"header lost: {_show(n, want[n])}" for n in sorted(want.keys() - got.keys())]
    changes += [
        f"header changed: {_show(n, want[n])} → {_show(n, got[n])}"
        for n in sorted(want.keys() & got.keys())
        if want[n] != got[n]
    ]
    if not changes:  # same names and values: only the spelling or the order moved
        changes.append(
            "header names re-cased or re-ordered: client "
            + ", ".join(k for k, _ in expected)
            + " / upstream "
            + ", ".join(k for k, _ in upstream.headers)
        )
    return found + changes


def _by_name(headers: Headers) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, value in headers:
        out.setdefault(name.lower(), []).append(value)
    return out


def _show(name: str, values: list[str]) -> str:
    if is_secret_header(name):
        return f"{name} (secret)"
    return f"{name}: {' | '.join(values)}"
