"""Per-request authentication: which credentials a request goes upstream with, kept fresh.

``Credentials.grant`` is called on every proxied request. No credential file for the Host → a
pass-through ``Grant`` (the client's own key goes upstream untouched). A file → team mode: the
client must present the file's ``client_api_key`` (``x-api-key`` or ``Authorization: Bearer``,
compared in constant time) and the request goes upstream with the account's API key or OAuth token.
Parsed files are cached and re-read only when their signature changes (checked at most once per
``recheck_s``), so the common path is a few dict look-ups. OAuth tokens close to expiry, or refused
upstream, are refreshed once per file however many requests wait (single-flight task in this
process, ``flock`` across processes). The file format itself belongs to ``credential_files``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from nexus.aio import spawn
from nexus.alerts import NO_ALERTS, AlertKind, AlertSink, make_alert
from nexus.errors import ClientAuthError, ConfigError, CredentialError
from nexus.proxy import oauth
from nexus.proxy.client_keys import ClientIndex
from nexus.proxy.credential_files import (
    CredentialFile,
    PolicyInvalid,
    Signature,
    credential_path,
    file_lock_async,
    files_signature,
    host_key,
    is_loose,
    list_credential_files,
    read_credential_file,
    store_tokens,
)
from nexus.proxy.grants import (
    Grant,
    authenticate,
    bearer_of,
    passthrough_grant,
    presented_keys,
    team_grants,
)
from nexus.redact import remember_secrets

if TYPE_CHECKING:
    import aiohttp


__all__ = ["Credentials", "Grant"]
log = logging.getLogger("nexus.credentials")

REFRESH_MARGIN_S = 300.0
"""Refresh an OAuth token this long before it expires (Claude Code uses the same margin)."""
RETRY_AFTER_FAILURE_S = 30.0
"""After a failed refresh, wait this long before asking the token endpoint again for that file."""
_CACHE_LIMIT = 4096


@dataclass(slots=True)
class _Slot:
    """What ``grant`` knows about one host's file: its parsed state or why it cannot be used."""

    checked_at: float
    signature: Signature | None
    file: CredentialFile | None = None
    grants: dict[str, Grant] = field(default_factory=dict)  # by client name, LEGACY for the old key
    clients: ClientIndex | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class _Failure:
    at: float
    access_token: str | None
    message: str


class Credentials:
    """The credential files of one folder, as the proxy uses them."""

    def __init__(
        self,
        directory: Path,
        *,
        token_url: str,
        http: aiohttp.ClientSession | None = None,
        clock: Callable[[], float] = time.time,
        recheck_s: float = 1.0,
        refresh_margin_s: float = REFRESH_MARGIN_S,
        retry_after_failure_s: float = RETRY_AFTER_FAILURE_S,
        alerts: AlertSink = NO_ALERTS,
    ) -> None:
        self.directory = directory
        self._alerts = alerts
        self._token_url = token_url
        self._http = http
        self._owns_http = http is None
        self._clock = clock
        self._recheck_s = recheck_s
        self._margin_ms = int(refresh_margin_s * 1000)
        self._retry_s = retry_after_failure_s
        self._hosts: dict[str, str] = {}
        self._slots: dict[str, _Slot] = {}
        self._inflight: dict[str, asyncio.Task[_Slot | CredentialError]] = {}
        self._failures: dict[str, _Failure] = {}
        self._forced_at: dict[str, float] = {}

    # --- the hot path ------------------------------------------------------------------------

    def check_host(self, host: str) -> str:
        """The file key for a Host header; ``RequestRejected`` (400) for a hostile or bad one."""
        key = self._hosts.get(host)
        if key is None:
            key = host_key(host)
            if len(self._hosts) >= _CACHE_LIMIT:
                self._hosts.clear()
            self._hosts[host] = key
        return key

    async def grant(self, host: str, headers: Mapping[str, str]) -> Grant:
        """Decide how this request goes upstream.

        ``headers`` must look names up case-insensitively (werkzeug/multidict headers) or hold
        lower-case names. Raises ``RequestRejected`` (bad Host), ``ClientAuthError`` (missing or
        wrong client key) or ``CredentialError`` (unusable file, failed refresh of expired token).
        """
        key = self.check_host(host)
        slot = self._slot(key)
        if slot.file is None:
            if slot.error is not None:
                raise CredentialError(slot.error)
            return passthrough_grant(presented_keys(headers))
        name = authenticate(slot.file, slot.grants, slot.clients, headers)
        if slot.file.kind == "oauth":
            now_ms = int(self._clock() * 1000)
            if slot.file.needs_refresh(now_ms, self._margin_ms):
                slot = await self._refresh_due(key, slot, now_ms)
        grant = slot.grants.get(name)
        if grant is None:  # the key was revoked while its token was refreshed
            raise ClientAuthError()
        return grant

    def identify(self, host: str, headers: Mapping[str, str]) -> Grant:
        """Who a request is, for callers that need an identity rather than an upstream token
        (``/mcp``): the host's team grant when the client key matches (``ClientAuthError``
        otherwise), a pass-through grant when the host has no file. Never refreshes a token."""
        slot = self._slot(self.check_host(host))
        if slot.file is None:
            if slot.error is not None:
                raise CredentialError(slot.error)
            return passthrough_grant(presented_keys(headers))
        return slot.grants[authenticate(slot.file, slot.grants, slot.clients, headers)]

    async def on_upstream_unauthorized(self, grant: Grant) -> bool:
        """After upstream answered 401 to an OAuth grant: refresh (single-flight).

        True when a different token is now available and the caller should call ``grant`` again
        and retry once; False when retrying cannot help (not OAuth, or a token refreshed moments
        ago was refused too). A failed refresh raises ``CredentialError`` naming account and fix.
        """
        key = grant.credential_key
        if grant.auth_mode != "oauth" or key is None:
            return False
        slot = self._slot(key)
        if slot.file is None or slot.file.kind != "oauth":
            return False
        stale = bearer_of(grant)
        if slot.file.access_token != stale:
            return True  # someone refreshed since this grant was handed out
        now = time.monotonic()
        forced_at = self._forced_at.get(key)
        if key not in self._inflight:
            if forced_at is not None and now - forced_at < self._retry_s:
                return False  # this token is itself fresh from a forced refresh: don't loop
            self._forced_at[key] = now
        fresh = await self._single_flight(key, slot, force=True)
        return fresh.file is not None and fresh.file.access_token != stale

    # --- refresh -------------------------------------------------------------------------------

    async def refresh(self, host: str, *, force: bool = False) -> CredentialFile:
        """Refresh one host's OAuth token now if due (or always with ``force``); for the CLI."""
        key = self.check_host(host)
        slot = self._slot(key, recheck=True)
        if slot.error is not None:
            raise CredentialError(slot.error)
        if slot.file is None:
            raise CredentialError(f"No credential file for {key} in {self.directory}.")
        if slot.file.kind != "oauth":
            raise CredentialError(f"{key} uses an API key; there is no token to refresh.")
        if force or slot.file.needs_refresh(int(self._clock() * 1000), self._margin_ms):
            slot = await self._single_flight(key, slot, force=force)
        assert slot.file is not None
        return slot.file

    async def _refresh_due(self, key: str, slot: _Slot, now_ms: int) -> _Slot:
        assert slot.file is not None
        failure = self._failures.get(key)
        recent = failure is not None and time.monotonic() - failure.at < self._retry_s
        if failure is not None and recent and failure.access_token == slot.file.access_token:
            if not slot.file.is_expired(now_ms):
                return slot
            raise CredentialError(failure.message)
        try:
            return await self._single_flight(key, slot, force=False)
        except CredentialError:
            if not slot.file.is_expired(now_ms):
                return slot  # the old token still works for a while; the warning is logged
            raise

    async def _single_flight(self, key: str, slot: _Slot, *, force: bool) -> _Slot:
        task = self._inflight.get(key)
        if task is None:
            assert slot.file is not None
            task = spawn(
                self._refresh_file(key, slot.file, force=force), name=f"oauth-refresh:{key}"
            )
            self._inflight[key] = task
            task.add_done_callback(partial(self._forget, key))
        # shield: a client that hangs up must not cancel the refresh the others are waiting for
        outcome = await asyncio.shield(task)
        if isinstance(outcome, CredentialError):
            raise CredentialError(outcome.message)
        return outcome

    def _forget(self, key: str, task: asyncio.Task[_Slot | CredentialError]) -> None:
        if self._inflight.get(key) is task:
            del self._inflight[key]

    async def _refresh_file(
        self, key: str, seen: CredentialFile, *, force: bool
    ) -> _Slot | CredentialError:
        """Refresh under the file lock; returns the failure instead of raising (no task noise)."""
        path = credential_path(self.directory, key)
        try:
            async with file_lock_async(path):
                try:
                    current, sig = await asyncio.to_thread(read_credential_file, path, key)
                except FileNotFoundError as exc:
                    raise CredentialError("the credential file was removed") from exc
                now_ms = int(self._clock() * 1000)
                moved_on = current.access_token != seen.access_token
                due = current.needs_refresh(now_ms, self._margin_ms)
                if current.kind == "oauth" and not (moved_on and not due) and (force or due):
                    current, sig = await self._call_token_endpoint(path, current, sig, now_ms)
            slot = self._install(key, current, sig)
        except CredentialError as exc:
            message = (
                f"OAuth token refresh failed for account {seen.account_label}: {exc.message}. "
                f"Fix: run `nexus auth login {key}`."
            )
            log.warning("%s", message)
            self._alerts.notify(
                make_alert(
                    AlertKind.OAUTH_REFRESH_FAILED, key, message,
                    subject=seen.account_label, fields={"fix": f"nexus auth login {key}"},
                    dedup_key=f"oauth_refresh_failed:{key}",
                )
            )  # fmt: skip
            self._failures[key] = _Failure(time.monotonic(), seen.access_token, message)
            return CredentialError(message)
        self._failures.pop(key, None)
        return slot

    async def _call_token_endpoint(
        self, path: Path, current: CredentialFile, sig: Signature, now_ms: int
    ) -> tuple[CredentialFile, Signature]:
        if not current.refresh_token:
            raise CredentialError("the file has no refresh token")
        tokens = await oauth.refresh_tokens(
            self._session(), self._token_url, current.refresh_token, now_ms=now_ms
        )
        fresh = current.with_tokens(tokens)
        try:
            sig = await asyncio.to_thread(store_tokens, path, tokens)
        except OSError as exc:
            # The new token still serves requests from memory; a restart would need a new login.
            log.error("could not write refreshed tokens for %s: %s", current.key, exc.strerror)
        log.info("refreshed the OAuth token of %s", fresh.account_label)
        return fresh, sig

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None:
            import aiohttp

            self._http = aiohttp.ClientSession()
        return self._http

    # --- the file cache ----------------------------------------------------------------------

    def _slot(self, key: str, *, recheck: bool = False) -> _Slot:
        slot = self._slots.get(key)
        now = time.monotonic()
        if slot is not None and not recheck and now - slot.checked_at < self._recheck_s:
            return slot
        path = credential_path(self.directory, key)
        try:
            sig: Signature | None = files_signature(path)
        except FileNotFoundError:
            sig = None
        if slot is not None and sig == slot.signature:
            slot.checked_at = now
            return slot
        if sig is None:
            return self._remember(key, _Slot(now, None))
        try:
            file, sig = read_credential_file(path, key)
        except FileNotFoundError:
            return self._remember(key, _Slot(now, None))
        except CredentialError as exc:
            log.error("%s", exc.message)
            return self._remember(key, _Slot(now, sig, error=exc.message))
        except OSError as exc:
            message = f"Credential file for {key} cannot be read: {exc.strerror}."
            log.error("%s", message)
            return self._remember(key, _Slot(now, sig, error=message))
        return self._install(key, file, sig)

    def _install(self, key: str, file: CredentialFile, sig: Signature) -> _Slot:
        remember_secrets(file.api_key, file.client_api_key, file.access_token, file.refresh_token)
        grants = team_grants(file)
        slot = _Slot(time.monotonic(), sig, file, grants, ClientIndex(file.clients))
        return self._remember(key, slot)

    def _remember(self, key: str, slot: _Slot) -> _Slot:
        if key not in self._slots and len(self._slots) >= _CACHE_LIMIT:
            self._slots.clear()
        self._slots[key] = slot
        return slot

    # --- start-up and shutdown ------------------------------------------------------------------

    def hosts(self) -> list[str]:
        """The keys of every credential file (team-mode hosts), for the start-up banner."""
        return [key for key, _ in list_credential_files(self.directory)]

    def check_policies(self) -> None:
        """Read every credential file now; ``ConfigError`` listing each invalid policy (at start:
        a limit that cannot be enforced must not be silently ignored)."""
        problems = []
        for key, path in list_credential_files(self.directory):
            try:
                read_credential_file(path, key)
            except PolicyInvalid as exc:
                problems.append(exc.message)
            except (CredentialError, OSError):
                continue  # other problems are logged and answered per request, as before
        if problems:
            raise ConfigError("invalid limits policy: " + " ".join(problems))

    def warn_loose_permissions(self) -> list[str]:
        """Log (and return) a warning for every credential file others may read or write."""
        warnings = []
        for _key, path in list_credential_files(self.directory):
            try:
                loose = is_loose(path)
            except OSError:
                continue
            if loose:
                mode = oct(path.stat().st_mode & 0o777)[2:]
                warnings.append(
                    f"{path} has mode {mode}; others may read its secrets. Run: chmod 600 {path}"
                )
        for message in warnings:
            log.warning("%s", message)
        return warnings

    async def close(self) -> None:
        """Cancel refreshes in flight and close the HTTP session this object opened."""
        tasks = list(self._inflight.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._owns_http and self._http is not None:
            await self._http.close()
            self._http = None
