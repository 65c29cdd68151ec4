"""Limits and budgets enforced at the proxy (docs/limits.md).

``policy`` (the format), ``buckets`` (fixed windows), ``counters`` (the proxy's in-memory book),
``subject`` (who a call is: its scopes and their checks), ``limiter`` (admission on the hot path),
``runaway`` (a repeated tool call in a request), ``tally`` (the recorder's counter increments),
``feed`` (counter rows → book), ``alerting`` (the alert seam).
Knows nothing of the proxy, the store's drivers, the API or the TUI.
"""

from __future__ import annotations

from nexus.limits.policy import Limits, Policy, parse_policy

__all__ = ["Limits", "Policy", "parse_policy"]
