"""How Nexus writes a quantity for people: tokens (``12k``), dollars (``$0.0123``), durations
(``4.2s``) and ages (``5m ago``). The TUI, the exports and the CLI tables all format through here, so the same cost or
count reads the same everywhere (an export once said ``$0.0123`` where the TUI said ``$0.01``).
Pure functions over plain values; ``None`` (unknown) is a dash, never a zero.
"""

from __future__ import annotations

UNKNOWN = "–"
UNPRICED = "unpriced"  # a cost the price book cannot give (the model is not in it)
_UNITS = ((1_000, "k"), (1_000_000, "M"), (1_000_000_000, "G"))


def counted(n: int, word: str, plural: str = "s") -> str:
    """``1 request``, ``2 requests``, ``0 branches`` (``plural`` is the ending after ``word``)."""
    return f"{n:,} {word}{plural * (n != 1)}"


def tokens(n: int | None) -> str:
    """``999``, ``1.2k``, ``46k``, ``1.2M``, ``340M``, ``1.2G``: three significant figures at
    most, rounded to nearest (never ``1000k``)."""
    if n is None:
        return UNKNOWN
    if n < 1000:
        return str(n)
    for size, unit in _UNITS:
        value = n / size
        if value < 9.95:
            return f"{value:.1f}{unit}"
        if value < 999.5:
            return f"{value:.0f}{unit}"
    return f"{n / 1_000_000_000:,.0f}G"


def cost(micros: int | None) -> str:
    """Dollars from micro-dollars: ``$0``, ``$0.0042``, ``$0.1235`` (under a dollar, to a
    hundredth of a cent), ``$12.34``, ``$1,250`` (from $100, whole dollars)."""
    if micros is None:
        return UNKNOWN
    usd = micros / 1_000_000
    if usd == 0:
        return "$0"
    if usd < 1:
        return f"${usd:.4f}"
    if usd < 100:
        return f"${usd:.2f}"
    return f"${usd:,.0f}"


def share(fraction: float | None) -> str:
    """``87.3%``: a part of a whole (cache efficiency), to a tenth of a percent."""
    if fraction is None:
        return UNKNOWN
    return f"{fraction:.1%}"


def duration(ms: int | None) -> str:
    """``850ms``, ``12.3s``, ``2m05s``, ``1h05m``."""
    if ms is None:
        return UNKNOWN
    if ms < 1000:
        return f"{ms}ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f}s"
    minutes, seconds = divmod(ms // 1000, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def ago(at_ms: int, now_ms: int) -> str:
    """How long before ``now_ms``: ``42s ago``, ``5m ago``, ``3h ago``, ``2d ago``."""
    seconds = max(0, now_ms - at_ms) // 1000
    if seconds < 60:
        return f"{seconds}s ago"
    if seconds < 3600:
        return f"{seconds // 60}m ago"
    if seconds < 86400:
        return f"{seconds // 3600}h ago"
    return f"{seconds // 86400}d ago"
