"""The dated price book: what each Claude model family costs per million tokens, and since when.

This module owns reading the book (``prices.json`` shipped in this package, optionally overlaid by a
user file) and finding the price that applied to a model at an instant. It does not do arithmetic
on usage (``cost.py``) and never guesses: a model no entry covers has no price, and callers must
show it as unpriced rather than free.

Model ids are matched by family and version, not by exact string: ``claude-opus-4-5-20251101``,
``claude-opus-4-5``, ``us.anthropic.claude-opus-4-5-20251101-v1:0``, ``claude-opus-4-5@20251101``
and ``claude-opus-4-5[1m]`` are one model. An entry's ``match`` names a family and the first
version it covers; it covers later minor versions of the same major version until another entry
takes over, so Opus 4.8 is priced by the ``claude-opus-4-5`` entry and Opus 4.1 by
``claude-opus-4``.
A ``match`` that is not a Claude model id (a user's own name) is a plain prefix.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from nexus.errors import ConfigError

__all__ = [
    "LongContext",
    "ModelKey",
    "Price",
    "PriceBook",
    "PriceEntry",
    "Rates",
    "builtin_price_book",
    "load_price_book",
    "parse_model_id",
]

_RATE_FIELDS = ("input", "cache_write_5m", "cache_write_1h", "cache_read", "output")


@dataclass(frozen=True, slots=True, order=True)
class ModelKey:
    """A Claude model id reduced to what prices depend on: family and version."""

    family: str  # opus | sonnet | haiku | fable | mythos | ...
    major: int
    minor: int = 0


@dataclass(frozen=True, slots=True)
class Rates:
    """USD per million tokens of each kind."""

    input: Decimal
    cache_write_5m: Decimal
    cache_write_1h: Decimal
    cache_read: Decimal
    output: Decimal


@dataclass(frozen=True, slots=True)
class LongContext:
    """Rates for every token of a request whose prompt exceeds ``above_tokens``."""

    above_tokens: int
    rates: Rates


@dataclass(frozen=True, slots=True)
class Price:
    effective: date
    effective_ms: int
    rates: Rates
    long_context: LongContext | None = None


@dataclass(frozen=True, slots=True)
class PriceEntry:
    match: str
    name: str
    prices: tuple[Price, ...]  # oldest first
    key: ModelKey | None  # None: ``match`` is a plain prefix

    def price_at(self, at_ms: int) -> Price:
        """The newest price in effect at ``at_ms``; before the first date, the first price
        (a clock that runs behind must not turn a known model into an unpriced one)."""
        chosen = self.prices[0]
        for price in self.prices[1:]:
            if price.effective_ms <= at_ms:
                chosen = price
        return chosen


@dataclass(frozen=True, slots=True)
class PriceBook:
    entries: tuple[PriceEntry, ...]
    checked: str = ""
    source: str = ""
    digest: str = ""  # sha256 of the files it was built from: says which book priced a record
    _lookups: dict[str, PriceEntry | None] = field(
        default_factory=dict, compare=False, hash=False, repr=False
    )

    def entry_for(self, model: str | None) -> PriceEntry | None:
        if not model:
            return None
        try:
            return self._lookups[model]
        except KeyError:
            entry = self._lookups[model] = _entry_for(self, model)
            return entry

    def price_at(self, model: str | None, at_ms: int) -> Price | None:
        entry = self.entry_for(model)
        return None if entry is None else entry.price_at(at_ms)


# -- model ids -----------------------------------------------------------------------------------

# claude-opus-4-5, claude-sonnet-4, claude-haiku-5-5 (family first, since Claude 4)
_NEW_STYLE = re.compile(r"^claude-([a-z]+)-(\d{1,2})(?:-(\d{1,2}))?(?=-|$)")
# claude-3-5-sonnet, claude-3-opus (version first, Claude 3.x)
_OLD_STYLE = re.compile(r"^claude-(\d{1,2})(?:-(\d{1,2}))?-([a-z]+)(?=-|$)")
# Bedrock "us.anthropic.claude-…-v1:0", "anthropic.claude-…"; Vertex "claude-…@20250514"
_PROVIDER_PREFIX = re.compile(r"^(?:[a-z]{2,4}\.)?anthropic\.")


@lru_cache(maxsize=4096)
def parse_model_id(model: str) -> ModelKey | None:
    """Family and version of a Claude model id, ignoring dates, aliases and provider wrapping."""
    name = _normalise(model)
    found = _NEW_STYLE.match(name)
    if found and not found.group(1).isdigit():
        return ModelKey(found.group(1), int(found.group(2)), int(found.group(3) or 0))
    found = _OLD_STYLE.match(name)
    if found:
        return ModelKey(found.group(3), int(found.group(1)), int(found.group(2) or 0))
    return None


def _normalise(model: str) -> str:
    name = model.strip().lower()
    name = _PROVIDER_PREFIX.sub("", name)
    for cut in ("[", "@", ":"):
        name = name.split(cut, 1)[0]
    return name


def _entry_for(book: PriceBook, model: str) -> PriceEntry | None:
    name = _normalise(model)
    best: PriceEntry | None = None
    for entry in book.entries:  # a user's own names win over families
        if entry.key is None and name.startswith(entry.match):
            if best is None or len(entry.match) > len(best.match):
                best = entry
    if best is not None:
        return best
    key = parse_model_id(model)
    if key is None:
        return None
    for entry in book.entries:
        ekey = entry.key
        if ekey is None or ekey.family != key.family or ekey.major != key.major:
            continue
        if ekey.minor <= key.minor and (best is None or best.key is None or ekey > best.key):
            best = entry
    return best


# -- loading -------------------------------------------------------------------------------------


def builtin_price_book() -> PriceBook:
    """The book shipped with Nexus."""
    return _builtin()


@lru_cache(maxsize=1)
def _builtin() -> PriceBook:
    raw = resources.files("nexus.usage").joinpath("prices.json").read_bytes()
    return _book_from(raw, origin="nexus/usage/prices.json")


def load_price_book(path: Path | None = None) -> PriceBook:
    """The shipped book, overlaid by the user's file when given (``Settings.price_book_path``,
    env ``NEXUS_PRICE_BOOK``). A user entry replaces the shipped entry with the same ``match``
    (its whole price history); new ``match`` values are added."""
    base = _builtin()
    if path is None:
        return base
    try:
        raw = Path(path).expanduser().read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the price book {path}: {exc.strerror}") from exc
    user = _book_from(raw, origin=str(path))
    replaced = {entry.match for entry in user.entries}
    entries = tuple(e for e in base.entries if e.match not in replaced) + user.entries
    digest = hashlib.sha256((base.digest + user.digest).encode()).hexdigest()
    return PriceBook(entries, user.checked or base.checked, user.source or base.source, digest)


def _book_from(raw: bytes, *, origin: str) -> PriceBook:
    try:
        doc = json.loads(raw, parse_float=Decimal, parse_int=Decimal)
        entries = tuple(_entry(item) for item in doc["models"])
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(f"the price book {origin} is not valid: {exc!r}") from exc
    return PriceBook(
        entries=entries,
        checked=str(doc.get("checked", "")),
        source=str(doc.get("source", "")),
        digest=hashlib.sha256(raw).hexdigest(),
    )


def _entry(item: dict[str, Any]) -> PriceEntry:
    match = str(item["match"]).strip().lower()
    if not match:
        raise ValueError("an entry has an empty 'match'")
    prices = tuple(sorted((_price(p) for p in item["prices"]), key=lambda p: p.effective_ms))
    if not prices:
        raise ValueError(f"{match}: no prices")
    return PriceEntry(match, str(item.get("name", match)), prices, parse_model_id(match))


def _price(item: dict[str, Any]) -> Price:
    effective = date.fromisoformat(str(item["from"]))
    at = datetime(effective.year, effective.month, effective.day, tzinfo=UTC)
    long_context = None
    if "long_context" in item:
        lc = item["long_context"]
        long_context = LongContext(int(lc["above_tokens"]), _rates(lc))
    return Price(effective, int(at.timestamp() * 1000), _rates(item), long_context)


def _rates(item: dict[str, Any]) -> Rates:
    values = {}
    for name in _RATE_FIELDS:
        value = Decimal(str(item[name]))
        if value < 0:
            raise ValueError(f"negative price {name}={value}")
        values[name] = value
    return Rates(**values)
