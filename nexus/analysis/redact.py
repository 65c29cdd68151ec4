"""Secret redaction for text that leaves Nexus for the analysis model.

Conversations carry whatever the user pasted or a tool printed: API keys, bearer tokens, private
keys, ``.env`` lines. Everything sent to Gemini passes through ``redact_text`` first; the patterns
err on the side of hiding too much: a lost token costs the analysis nothing, a leaked one a lot.
They add to ``nexus.redact`` (the project-wide rule, applied last) the shapes free text carries:
``name=value`` secrets, private-key blocks, JWTs, URL passwords, other vendors' keys.
"""

from __future__ import annotations

import re

from nexus.redact import redact_text as redact_known_secrets

# Order matters: specific formats first, so their label wins over the generic key=value rule.
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(
            r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)",
            re.S,
        ),
        "[REDACTED:private-key]",
    ),
    (re.compile(r"sk-ant-[A-Za-z0-9_\-]{8,}"), "[REDACTED:anthropic-key]"),
    (re.compile(r"cnp_(?:live|test)_[A-Za-z0-9_\-]{6,}"), "[REDACTED:client-key]"),
    (re.compile(r"\bsk-(?:proj-)?[A-Za-z0-9_\-]{20,}"), "[REDACTED:api-key]"),
    (re.compile(r"\bAIza[0-9A-Za-z_\-]{30,}"), "[REDACTED:google-key]"),
    (re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), "[REDACTED:aws-key]"),
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{20,}"), "[REDACTED:github-token]"),
    (re.compile(r"\bgithub_pat_[A-Za-z0-9_]{20,}"), "[REDACTED:github-token]"),
    (re.compile(r"\bxox[abposr]-[A-Za-z0-9\-]{10,}"), "[REDACTED:slack-token]"),
    (
        re.compile(r"\beyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"),
        "[REDACTED:jwt]",
    ),
    (
        re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=\-]{8,}"),
        r"\1 [REDACTED]",
    ),
    (
        re.compile(r"(?i)(://[^\s:/@]+:)[^\s@/]{3,}@"),
        r"\1[REDACTED]@",
    ),
    # name = value, name: value, "name": "value", NAME=value in .env files and shell exports.
    (
        re.compile(
            r"""(?ix)
            (
              (?<![\w.\-])[\w.\-]{0,40}?  # from a word start only: linear on long words
              (?:api[_\-]?key|apikey|secret|token|passw(?:or)?d|pwd|credential|private[_\-]?key
                 |access[_\-]?key|auth[_\-]?key|client[_\-]?secret|session[_\-]?key)
              s?(?:[_\-]?key)?  # GITHUB_TOKEN, secret_key; but not tokenizer
              ["']?\s*[:=]\s*["']?
            )
            (?!\[REDACTED)(?![\d.]+(?![^\s"'`,;}{)(\]\[<>]))  # token counts are not secrets
            ([^\s"'`,;}{)(\]\[<>]{6,}+)(?!\()  # a call such as load_token() is code
            """
        ),
        r"\1[REDACTED]",
    ),
)


def redact_text(text: str) -> str:
    """``text`` with every recognised secret replaced by a ``[REDACTED…]`` marker."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return redact_known_secrets(text)  # and whatever the project-wide rule knows that these miss
