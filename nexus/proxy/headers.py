"""Header rules of the proxy, as pure functions: what goes upstream, what comes back, beta merging."""

from __future__ import annotations

from collections.abc import Iterable

from nexus.records import Headers

# RFC 9110 §7.6.1 connection-specific headers, plus what the HTTP client sets itself.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
_NOT_FORWARDED_UP = HOP_BY_HOP | {"host", "content-length"}
_NOT_FORWARDED_DOWN = HOP_BY_HOP | {"content-length", "date", "server"}


def upstream_headers(
    client: Iterable[tuple[str, str]],
    *,
    drop: frozenset[str] = frozenset(),
    set_headers: Headers = (),
    extra_betas: tuple[str, ...] = (),
) -> list[tuple[str, str]]:
    """The client's headers as they go upstream: hop-by-hop removed, credentials swapped."""
    replaced = {name.lower() for name, _ in set_headers}
    skip = _NOT_FORWARDED_UP | drop | replaced
    out = [(k, v) for k, v in client if k.lower() not in skip]
    out.extend(set_headers)
    if extra_betas:
        out = merge_betas(out, extra_betas)
    return out


def merge_betas(headers: list[tuple[str, str]], extra: tuple[str, ...]) -> list[tuple[str, str]]:
    """Add betas to ``anthropic-beta`` (one header, comma list, first occurrence order, no dupes)."""
    betas: list[str] = []
    rest: list[tuple[str, str]] = []
    for k, v in headers:
        if k.lower() == "anthropic-beta":
            betas.extend(b.strip() for b in v.split(",") if b.strip())
        else:
            rest.append((k, v))
    merged = list(dict.fromkeys([*betas, *extra]))
    rest.append(("anthropic-beta", ",".join(merged)))
    return rest


def downstream_headers(upstream: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Upstream response headers as they go back to the client (rate limits, request-id, ...)."""
    return [(k, v) for k, v in upstream if k.lower() not in _NOT_FORWARDED_DOWN]
