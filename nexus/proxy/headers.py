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
_NOT_FORWARDED_DOWN = HOP_BY_HOP | {"content-length", "date", "server"}
_BETA = "anthropic-beta"
_SPECIAL_UP = HOP_BY_HOP | {"host"}


def upstream_headers(
    client: Iterable[tuple[str, str]],
    *,
    upstream_host: str,
    drop: frozenset[str] = frozenset(),
    set_headers: Headers = (),
    extra_betas: tuple[str, ...] = (),
) -> list[tuple[str, str]]:
    """The client's headers as they go upstream, in the client's order and case.

    Hop-by-hop headers leave; ``Host`` keeps its name but carries the upstream's; in team mode the
    account's credential takes the place of the first credential header the client sent (its name
    in the client's case when the client used the same one). ``Content-Length`` stays: the body goes
    up byte for byte, so the client's value is still right. Nothing is added (DESIGN.md §3).
    """
    credential_names = drop.union(name.lower() for name, _ in set_headers)
    special = _SPECIAL_UP | credential_names if credential_names else _SPECIAL_UP
    credential_slot_used = False
    out: list[tuple[str, str]] = []
    for name, value in client:
        lname = name.lower()
        if lname not in special:  # nearly every header: one set look-up
            out.append((name, value))
        elif lname == "host":
            out.append((name, upstream_host))
        elif lname in credential_names and not credential_slot_used:
            credential_slot_used = True
            out.extend(_in_client_case(name, set_headers))
    if not credential_slot_used:
        out.extend(set_headers)
    return merge_betas(out, extra_betas) if extra_betas else out


def _in_client_case(client_name: str, set_headers: Headers) -> Headers:
    lname = client_name.lower()
    return tuple((client_name if k.lower() == lname else k, v) for k, v in set_headers)


def merge_betas(headers: list[tuple[str, str]], extra: tuple[str, ...]) -> list[tuple[str, str]]:
    """Add the betas the client did not send to its first ``anthropic-beta`` header, after its own
    value (whose bytes stay as they were); a new header at the end when the client sent none."""
    present: set[str] = set()
    first: int | None = None
    for i, (k, v) in enumerate(headers):
        if k.lower() == _BETA:
            first = i if first is None else first
            present.update(b.strip() for b in v.split(","))
    missing = [b for b in dict.fromkeys(extra) if b not in present]
    if not missing:
        return headers
    out = list(headers)
    if first is None:
        out.append((_BETA, ",".join(missing)))
    else:
        name, value = out[first]
        out[first] = (name, ",".join([value, *missing]) if value.strip() else ",".join(missing))
    return out


def downstream_headers(upstream: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Upstream response headers as they go back to the client (rate limits, request-id, ...)."""
    return [(k, v) for k, v in upstream if k.lower() not in _NOT_FORWARDED_DOWN]
