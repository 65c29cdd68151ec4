"""The `nexus serve` banner tells a team user the base URL whose host has a credential file: the
Host header picks the file, so following the banner must reach team mode, not pass-through."""

from __future__ import annotations

import re

from nexus.cli.serve import use_it_lines
from nexus.proxy.credential_files import host_key


def _base_url(lines: list[str]) -> str:
    match = re.search(r"ANTHROPIC_BASE_URL=(\S+)", lines[0])
    assert match is not None, lines
    return match.group(1)


def test_team_mode_on_localhost_names_the_localhost_url_not_the_bound_address() -> None:
    lines = use_it_lines("http://127.0.0.1:3111", ["localhost:3111"])
    url = _base_url(lines)
    assert host_key(url.removeprefix("http://")) == "localhost:3111"  # the file's host
    assert "ANTHROPIC_API_KEY" in lines[0]
    text = "\n".join(lines)
    assert "http://127.0.0.1:3111 has no credential file" in text


def test_team_mode_on_the_bound_address_keeps_it_and_warns_of_nothing() -> None:
    lines = use_it_lines("http://127.0.0.1:3111", ["127.0.0.1:3111"])
    assert _base_url(lines) == "http://127.0.0.1:3111"
    assert "no credential file" not in "\n".join(lines)


def test_team_mode_under_a_dns_name_says_which_host_the_client_must_use() -> None:
    lines = use_it_lines("http://127.0.0.1:3111", ["team.example"])
    url = _base_url(lines)
    assert host_key(url.removeprefix("http://")) == "team.example"
    assert "team.example must reach this machine" in lines[0]


def test_pass_through_names_the_bound_url() -> None:
    (line,) = use_it_lines("http://127.0.0.1:3111", [])
    assert _base_url([line]) == "http://127.0.0.1:3111" and "API_KEY" not in line
