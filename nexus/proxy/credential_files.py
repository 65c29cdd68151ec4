"""On-disk credential files: host keys, the file format, atomic writes and the cross-process lock.

Sole owner of ``credentials/<host>.credentials.json`` (format in DESIGN.md §2). ``host_key`` turns
a Host header into a file key and is the only gate between client input and a path, so no name it
accepts can leave the credentials folder. Writes go through a temp file and ``os.replace`` with
mode 0600 and keep every field Nexus does not manage. A sidecar ``.lock`` file (``fcntl.flock``)
serialises read-modify-write cycles between processes; the raw JSON never leaves this module.
What to do with a file at request time (client keys, refresh) lives in ``nexus.proxy.credentials``.

Longer than ~400 lines on purpose: the file format, the atomic write and the lock are the one
owner of the raw JSON; splitting them would let the raw JSON leave this module.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import ipaddress
import logging
import os
import re
import secrets
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import orjson

from nexus.errors import ConfigError, CredentialError, RequestRejected
from nexus.limits.policy import Policy, parse_policy
from nexus.proxy.client_keys import NamedClient, parse_clients

if TYPE_CHECKING:
    from nexus.proxy.oauth import TokenSet

FILE_SUFFIX = ".credentials.json"
POLICY_SUFFIX = ".policy.json"
CLIENT_KEY_PREFIX = "cnp_live_"
MAX_HOST_CHARS = 260
MAX_FILE_BYTES = 1 << 20
LOCK_TIMEOUT_S = 60.0
LOCK_POLL_S = 0.02
FILE_MODE = 0o600

log = logging.getLogger("nexus.credentials")

AuthKind = Literal["api_key", "oauth"]
Signature = tuple[int, ...]
"""(inode, mtime_ns, size) of the credential file and of its policy file (zeros without one):
changes whenever either is rewritten, replaced or edited."""

_HOST_CHARS = re.compile(r"[A-Za-z0-9.:-]+")
_IPV6_HOST = re.compile(r"\[([0-9A-Fa-f:.]+)\](?::(\d{1,5}))?")
_PORT = re.compile(r"\d{1,5}")
_NUMERIC_LABEL = re.compile(r"\d+|0x[0-9a-f]*")
_DEFAULT_PORTS = frozenset({80, 443})


class PolicyInvalid(CredentialError):
    """The limits policy of a credential file is invalid (``nexus serve`` refuses to start)."""


def host_key(host: str) -> str:
    """The credential file key for a Host header value, or ``RequestRejected`` (400).

    The one normalisation of a Host, done before any credential lookup so that no spelling of a
    team host falls through to pass-through: lower-cased, one trailing dot dropped
    (``team.example.`` is ``team.example``), a port's leading zeros and the default ports 80 and
    443 dropped. The port is kept for ``localhost`` and IP literals (several local Nexus instances
    differ only by port) and dropped for DNS names. Only ``[A-Za-z0-9.:-]`` is accepted, labels of
    1 to 63 characters, plus the bracketed form of an IPv6 literal (``[::1]:3000``) checked by
    ``ipaddress``. A numeric name that is not a dotted-quad IPv4 address (``127.1``, ``0x7f.1``)
    is refused: resolvers read it as an address under another spelling.
    """
    if not host or len(host) > MAX_HOST_CHARS:
        raise RequestRejected("Invalid Host header: empty or too long.")
    if host.startswith("["):
        return _ipv6_key(host)
    if not _HOST_CHARS.fullmatch(host) or ".." in host or host.startswith((".", "-", ":")):
        raise RequestRejected("Invalid Host header: only letters, digits, '.', ':' and '-'.")
    name, sep, port = host.lower().partition(":")
    name = name.removesuffix(".")
    if not name or len(name) > 253 or any(len(label) > 63 for label in name.split(".")):
        raise RequestRejected("Invalid Host header: a name label is empty or too long.")
    if _NUMERIC_LABEL.fullmatch(name.rsplit(".", 1)[-1]) and not _is_ipv4(name):
        raise RequestRejected("Invalid Host header: a numeric name that is not an IPv4 address.")
    kept = _port(port) if sep else None
    if kept is None or not _keeps_port(name):
        return name
    return f"{name}:{kept}"


def _port(port: str) -> str | None:
    """The port without leading zeros; None for a default port; ``RequestRejected`` if bad."""
    if not _PORT.fullmatch(port) or int(port) > 65535:
        raise RequestRejected("Invalid Host header: bad port.")
    return None if int(port) in _DEFAULT_PORTS else str(int(port))


def _is_ipv4(name: str) -> bool:
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        return False
    return True


def _keeps_port(name: str) -> bool:
    return name == "localhost" or _is_ipv4(name)


def _ipv6_key(host: str) -> str:
    match = _IPV6_HOST.fullmatch(host)
    try:
        address = ipaddress.IPv6Address(match.group(1)) if match else None
    except ValueError:
        address = None
    if match is None or address is None:
        raise RequestRejected("Invalid Host header: bad IPv6 literal.")
    port = _port(match.group(2)) if match.group(2) else None
    return f"[{address.compressed}]" + (f":{port}" if port else "")


def local_proxy_urls(proxy_url: str) -> list[str]:
    """The URLs a client on this machine can reach a proxy by: its bound URL, then
    ``http://localhost:PORT``. The client sends the URL's host as Host, and that picks the
    credential file: ``127.0.0.1:3000`` and ``localhost:3000`` are different files."""
    port = proxy_url.rsplit(":", 1)[1]
    return list(dict.fromkeys((proxy_url, f"http://localhost:{port}")))


def team_url(proxy_url: str, hosts: list[str]) -> str | None:
    """Of ``local_proxy_urls``, the first whose host has a credential file among ``hosts``."""
    for url in local_proxy_urls(proxy_url):
        if host_key(url.removeprefix("http://")) in hosts:
            return url
    return None


def credential_path(directory: Path, key: str) -> Path:
    return directory / f"{key}{FILE_SUFFIX}"


def policy_path(path: Path) -> Path:
    """The policy file beside a credential file: ``<host>.policy.json``."""
    return path.with_name(path.name.removesuffix(FILE_SUFFIX) + POLICY_SUFFIX)


def lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


def list_credential_files(directory: Path) -> list[tuple[str, Path]]:
    """(key, path) of every credential file in ``directory``, sorted by key."""
    if not directory.is_dir():
        return []
    found = [(p.name.removesuffix(FILE_SUFFIX), p) for p in directory.glob(f"*{FILE_SUFFIX}")]
    return sorted(item for item in found if not item[0].startswith("."))


def generate_client_key() -> str:
    """A new client key: ``cnp_live_`` + 32 random bytes, URL-safe base64."""
    return CLIENT_KEY_PREFIX + secrets.token_urlsafe(32)


def client_key_id(key: str) -> str:
    """A non-secret fingerprint of a key, safe to store and show: ``ck_`` + 12 hex of SHA-256."""
    return "ck_" + hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:12]


@dataclass(frozen=True, slots=True)
class CredentialFile:
    """One parsed credential file. Secret fields stay out of ``repr`` so they never reach a log."""

    key: str
    kind: AuthKind
    account_id: str | None
    client_api_key: str | None = field(default=None, repr=False)
    api_key: str | None = field(default=None, repr=False)
    access_token: str | None = field(default=None, repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    expires_at_ms: int | None = None
    scopes: tuple[str, ...] = ()
    clients: tuple[NamedClient, ...] = ()  # named client keys, stored hashed
    policy: Policy | None = None  # limits (nexus.limits.policy), from the file or beside it

    @property
    def account_label(self) -> str:
        return self.account_id or f"(no accountId, host {self.key})"

    def needs_refresh(self, now_ms: int, margin_ms: int) -> bool:
        return (
            self.kind == "oauth"
            and self.expires_at_ms is not None
            and self.expires_at_ms - now_ms <= margin_ms
        )

    def is_expired(self, now_ms: int) -> bool:
        return self.expires_at_ms is not None and now_ms >= self.expires_at_ms

    def with_tokens(self, tokens: TokenSet) -> CredentialFile:
        return replace(
            self,
            access_token=tokens.access_token,
            refresh_token=tokens.refresh_token or self.refresh_token,
            expires_at_ms=tokens.expires_at_ms,
            scopes=tokens.scopes or self.scopes,
        )


def parse_credential_file(raw: bytes, key: str, policy_raw: bytes | None = None) -> CredentialFile:
    """Validate a file's bytes (and its policy file's). Error messages name the host and the
    field, never a value."""
    file, data = _parse_auth(raw, key)
    policy = None
    try:
        if policy_raw is not None:
            if "policy" in data:
                raise ConfigError(
                    f"{key} has a policy both in its credential file and in {key}{POLICY_SUFFIX}; "
                    "keep one."
                )
            policy = parse_policy(
                _json(policy_raw, f"{key}{POLICY_SUFFIX}"), f"{key}{POLICY_SUFFIX}"
            )
        elif "policy" in data:
            policy = parse_policy(data["policy"], f"the credential file for {key}")
    except ConfigError as exc:
        raise PolicyInvalid(exc.message) from exc
    return replace(file, clients=parse_clients(data.get("clients"), key), policy=policy)


def _json(raw: bytes, name: str) -> object:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ConfigError(f"{name} is not valid JSON: {exc}") from exc


def _parse_auth(raw: bytes, key: str) -> tuple[CredentialFile, dict[str, Any]]:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise CredentialError(f"Credential file for {key} is not valid JSON.") from exc
    if not isinstance(data, dict):
        raise CredentialError(f"Credential file for {key} must hold a JSON object.")
    kind = data.get("type") or ("oauth" if "oauth" in data else "api_key")
    account_id = _optional_str(data, "accountId", key)
    client_api_key = _optional_str(data, "client_api_key", key)
    if kind == "api_key":
        api_key = _optional_str(data, "api_key", key)
        if not api_key:
            raise CredentialError(f"Credential file for {key}: type api_key needs an api_key.")
        return CredentialFile(key, "api_key", account_id, client_api_key, api_key=api_key), data
    if kind != "oauth":
        raise CredentialError(f"Credential file for {key}: type must be 'api_key' or 'oauth'.")
    block = data.get("oauth")
    if not isinstance(block, dict):
        raise CredentialError(f"Credential file for {key}: type oauth needs an oauth object.")
    access = _optional_str(block, "accessToken", key)
    if not access:
        raise CredentialError(f"Credential file for {key}: oauth.accessToken is missing.")
    expires = block.get("expiresAt")
    if expires is not None and (isinstance(expires, bool) or not isinstance(expires, int | float)):
        raise CredentialError(f"Credential file for {key}: oauth.expiresAt must be epoch ms.")
    scopes = block.get("scopes") or []
    if isinstance(scopes, str):
        scopes = scopes.split()
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        raise CredentialError(f"Credential file for {key}: oauth.scopes must be a list.")
    return CredentialFile(
        key,
        "oauth",
        account_id,
        client_api_key,
        access_token=access,
        refresh_token=_optional_str(block, "refreshToken", key),
        expires_at_ms=int(expires) if expires is not None else None,
        scopes=tuple(scopes),
    ), data


def _optional_str(data: dict[str, Any], name: str, key: str) -> str | None:
    value = data.get(name)
    if value is None or isinstance(value, str):
        return value or None
    raise CredentialError(f"Credential file for {key}: {name} must be a string.")


def read_credential_file(path: Path, key: str) -> tuple[CredentialFile, Signature]:
    """Read and parse one file and its policy file if any; ``FileNotFoundError`` passes through
    (no credential file: pass-through)."""
    raw, info = _read_limited(path, key)
    try:
        policy_raw, policy_info = _read_limited(policy_path(path), key)
    except FileNotFoundError:
        policy_raw, policy_info = None, None
    return parse_credential_file(raw, key, policy_raw), _combined(info, policy_info)


def _read_limited(path: Path, key: str) -> tuple[bytes, os.stat_result]:
    with open(path, "rb") as handle:
        info = os.fstat(handle.fileno())
        if info.st_size > MAX_FILE_BYTES:
            raise CredentialError(f"{path.name} for {key} is too large.")
        return handle.read(MAX_FILE_BYTES + 1), info


def files_signature(path: Path) -> Signature:
    """The signature of a credential file and its policy file; ``FileNotFoundError`` without the
    credential file."""
    info = path.stat()
    try:
        policy = policy_path(path).stat()
    except FileNotFoundError:
        policy = None
    return _combined(info, policy)


def _combined(info: os.stat_result, policy: os.stat_result | None) -> Signature:
    return signature_of(info) + (signature_of(policy) if policy is not None else (0, 0, 0))


def signature_of(info: os.stat_result) -> Signature:
    return (info.st_ino, info.st_mtime_ns, info.st_size)


def is_loose(path: Path) -> bool:
    """True when anyone but the owner may read or write the file (looser than 0600)."""
    return bool(path.stat().st_mode & 0o077)


# --- writing ---------------------------------------------------------------------------------


def write_json_atomic(path: Path, data: dict[str, Any]) -> Signature:
    """Replace ``path`` with ``data`` in one step, mode 0600; returns the new file's signature."""
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "wb") as handle:
            handle.write(orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    _fsync_directory(path.parent)
    return signature_of(path.stat())


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def update_file(path: Path, change: Callable[[dict[str, Any]], None]) -> Signature:
    """Read-modify-write keeping unknown fields. The caller holds the file lock."""
    try:
        data = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        data = {}
    except orjson.JSONDecodeError as exc:
        raise CredentialError(f"{path.name} is not valid JSON; fix or remove it first.") from exc
    if not isinstance(data, dict):
        raise CredentialError(f"{path.name} must hold a JSON object; fix or remove it first.")
    change(data)
    write_json_atomic(path, data)
    return files_signature(path)


def store_tokens(path: Path, tokens: TokenSet, *, account_id: str | None = None) -> Signature:
    """Write OAuth tokens into a file (created if missing); other fields are kept.

    ``account_id`` is set only when the file has none. The caller holds ``file_lock(path)``.
    """

    def change(data: dict[str, Any]) -> None:
        data["type"] = "oauth"
        if account_id and not data.get("accountId"):
            data["accountId"] = account_id
        existing = data.get("oauth")
        block: dict[str, Any] = existing if isinstance(existing, dict) else {}
        block["accessToken"] = tokens.access_token
        if tokens.refresh_token:
            block["refreshToken"] = tokens.refresh_token
        block["expiresAt"] = tokens.expires_at_ms
        if tokens.scopes:
            block["scopes"] = list(tokens.scopes)
        data["oauth"] = block

    return update_file(path, change)


def store_client_key(path: Path, client_key: str) -> Signature:
    """Set ``client_api_key`` in an existing file. The caller holds ``file_lock(path)``."""
    if not path.exists():
        raise CredentialError(f"{path.name} does not exist; run `nexus auth login` first.")

    def change(data: dict[str, Any]) -> None:
        data["client_api_key"] = client_key

    return update_file(path, change)


# --- the cross-process lock ---------------------------------------------------------------------


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold the sidecar lock of a credential file (blocking; for the CLI and worker threads)."""
    fd = os.open(lock_path(path), os.O_RDWR | os.O_CREAT, FILE_MODE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


@contextlib.asynccontextmanager
async def file_lock_async(path: Path, timeout_s: float = LOCK_TIMEOUT_S) -> AsyncIterator[None]:
    """The same lock without blocking the event loop.

    Polls with ``LOCK_NB``: a thread blocked in ``flock`` could not be cancelled, and a few of them
    would fill the default executor that the lock holder itself needs to finish its write.
    """
    fd = os.open(lock_path(path), os.O_RDWR | os.O_CREAT, FILE_MODE)
    try:
        deadline, waited = time.monotonic() + timeout_s, False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not waited:
                    log.debug("waiting for the lock of %s held by another process", path.name)
                    waited = True
                if time.monotonic() >= deadline:
                    message = f"{path.name} stayed locked by another process."
                    raise CredentialError(message) from None
                await asyncio.sleep(LOCK_POLL_S)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
