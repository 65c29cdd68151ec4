"""Signing of webhook bodies, and its check for receivers written in Python.

A webhook request carries ``X-Nexus-Timestamp`` (unix seconds when it was sent) and
``X-Nexus-Signature: v1=<hex>``, the HMAC-SHA256 with the destination's secret over
``<timestamp>.<body bytes>``. Binding the timestamp into the signature lets a receiver refuse
replays: a captured request cannot be re-sent later with a fresh timestamp.
"""

from __future__ import annotations

import hashlib
import hmac

TIMESTAMP_HEADER = "X-Nexus-Timestamp"
SIGNATURE_HEADER = "X-Nexus-Signature"
ALERT_ID_HEADER = "X-Nexus-Alert-Id"
VERSION = "v1"
DEFAULT_TOLERANCE_S = 300


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Nexus-Signature`` value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"{VERSION}={mac.hexdigest()}"


def verify(
    secret: str,
    body: bytes,
    timestamp: str | None,
    signature: str | None,
    now_s: float,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
) -> bool:
    """Whether a received webhook is genuine and fresh (compared in constant time)."""
    if not timestamp or not signature or not timestamp.isdigit():
        return False
    if abs(now_s - int(timestamp)) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, int(timestamp), body), signature)
