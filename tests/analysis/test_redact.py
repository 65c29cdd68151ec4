from __future__ import annotations

import pytest

from nexus.analysis.redact import redact_text

SECRETS = [
    "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUv_wxyz-0123456789",
    "cnp_live_9f8e7d6c5b4a3210",
    "sk-proj-abcdefghijklmnopqrstuvwxyz0123",
    "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
    "AKIAIOSFODNN7EXAMPLE",
    "AIzaSyA1234567890abcdefghijklmnopqrstu",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N",
]


@pytest.mark.parametrize("secret", SECRETS)
def test_known_key_formats_are_redacted(secret: str) -> None:
    out = redact_text(f"here it is: {secret} ok")
    assert secret not in out
    assert "[REDACTED" in out and out.endswith(" ok")


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("Authorization: Bearer abcdef0123456789xyz", "abcdef0123456789xyz"),
        ('{"api_key": "hunter2hunter2"}', "hunter2hunter2"),
        ("DB_PASSWORD=correct-horse-battery", "correct-horse-battery"),
        ("client_secret: 'v3ry-s3cret-value'", "v3ry-s3cret-value"),
        ("postgres://bob:pa55word@db.internal/app", "pa55word"),
        (
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\n"
            "-----END OPENSSH PRIVATE KEY-----",
            "b3BlbnNzaC1rZXk",
        ),
    ],
)
def test_generic_secret_shapes_are_redacted(text: str, secret: str) -> None:
    assert secret not in redact_text(text)


@pytest.mark.parametrize(
    "text",
    [
        '"input_tokens": 1234567,',
        "max_tokens: 64000",
        "tokenizer = load_tokenizer()",
        "the password field is validated",
        "def get_token(self):",
    ],
)
def test_ordinary_code_and_token_counts_survive(text: str) -> None:
    assert redact_text(text) == text


def test_long_unbroken_text_is_redacted_in_linear_time() -> None:
    import time

    started = time.perf_counter()
    text = "x" * 300_000 + " token=abcdefgh " + "y_" * 100_000
    assert "abcdefgh" not in redact_text(text)
    assert time.perf_counter() - started < 2.0  # quadratic backtracking took minutes here
