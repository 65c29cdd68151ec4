"""Checks shared by the hand-written JSON configuration files (``alerts.json``, limits policies):
one wording for what a person reads when a field is wrong. Each raises ``ConfigError`` naming
``where`` (the field's path in the file); the caller adds the file.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from nexus.errors import ConfigError


def json_object(raw: Any, where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected an object")
    return raw


def no_unknown(obj: Mapping[str, Any], known: Collection[str], where: str) -> None:
    unknown = sorted(set(obj) - set(known))
    if unknown:
        raise ConfigError(
            f"{where}: unknown field {unknown[0]!r} (known: {', '.join(sorted(known))})"
        )
