"""Every error Nexus raises on purpose, and the Anthropic-shaped body the proxy sends for them.

    NexusError
    ├── ConfigError          bad settings or flags
    ├── CredentialError      unreadable credential file, hostile host name
    │   └── ClientAuthError  the client did not present a valid client key (401)
    ├── RequestRejected      bad input from a client: not JSON, too large, bad host (4xx)
    ├── LimitExceeded        a limit of the host's policy refuses the call (429, 403 for a model)
    ├── UpstreamError        the upstream could not be reached or answered badly
    │   ├── UpstreamUnreachable  (502)
    │   └── UpstreamTimeout      (504)
    ├── StoreUnavailable     the database is down or failing; records go to the spool
    ├── AnalysisError        the analysis model failed or answered badly
    ├── ApiError             a read-API client error (carries the HTTP status)
    ├── PromptError          a prompt file of the prompt library is invalid
    │   └── RenderError      a prompt could not be rendered (missing or unknown argument)
    └── ServerUnreachable    the read API could not be reached (CLI exit code 3)

Foreign exceptions are translated where they enter (one context manager per library), raised ``from``
the original. The class docstring is the default message.
"""

from __future__ import annotations

import orjson


class NexusError(Exception):
    """Nexus failed."""

    status: int = 500
    error_type: str = "api_error"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())

    @property
    def message(self) -> str:
        return str(self)

    @property
    def headers(self) -> list[tuple[str, str]]:
        """Headers the proxy adds when it refuses a call with this error."""
        return []


class ConfigError(NexusError):
    """The configuration is invalid."""


class CredentialError(NexusError):
    """The credentials for this host could not be used."""

    status = 401
    error_type = "authentication_error"


class ClientAuthError(CredentialError):
    """A valid client key is required: send it as x-api-key or Authorization: Bearer."""

    @property
    def headers(self) -> list[tuple[str, str]]:
        # Claude Code retries a 401 for minutes, silently in print mode; a wrong or revoked key
        # does not mend itself, so it is told to show the error at once.
        return [("x-should-retry", "false")]


class RequestRejected(NexusError):
    """The request is invalid."""

    status = 400
    error_type = "invalid_request_error"

    def __init__(self, message: str | None = None, *, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class LimitExceeded(NexusError):
    """A limit of this host's policy was reached."""

    status = 429
    error_type = "rate_limit_error"

    def __init__(
        self, message: str, *, retry_after_s: int | None = None, should_retry: bool = True
    ) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
        self.should_retry = should_retry

    @property
    def headers(self) -> list[tuple[str, str]]:
        """``retry-after`` as Anthropic sends it; ``x-should-retry: false`` tells Anthropic's SDKs
        (Claude Code) to show the error at once instead of retrying a limit hours away."""
        out = [] if self.retry_after_s is None else [("retry-after", str(self.retry_after_s))]
        if not self.should_retry:
            out.append(("x-should-retry", "false"))
        return out


class ModelNotAllowed(LimitExceeded):
    """This model is not allowed by the host's policy."""

    status = 403
    error_type = "permission_error"


class UpstreamError(NexusError):
    """The upstream API failed."""

    status = 502


class UpstreamUnreachable(UpstreamError):
    """The upstream API could not be reached."""

    status = 502


class UpstreamTimeout(UpstreamError):
    """The upstream API did not answer in time."""

    status = 504
    error_type = "timeout_error"


class StoreUnavailable(NexusError):
    """The database is unavailable."""


class AnalysisError(NexusError):
    """The analysis failed."""


class ApiError(NexusError):
    """The read API refused the call."""

    def __init__(self, message: str | None = None, *, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


# The error type Anthropic's body names for an HTTP status; Nexus's own answers (the proxy's and the
# read API's) use the same so one client parses both. 405 and 415 are a bad request to Anthropic.
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "request_too_large",
    415: "invalid_request_error",
    501: "not_implemented_error",
    503: "overloaded_error",
}


def error_type(status: int) -> str:
    """``ERROR_TYPES``' type for ``status``; ``api_error`` for any other."""
    return ERROR_TYPES.get(status, "api_error")


def anthropic_error_body(error_type: str, message: str) -> bytes:
    """The body Anthropic sends for an error, so clients parse Nexus's own errors the same way."""
    return orjson.dumps({"type": "error", "error": {"type": error_type, "message": message}})


class PromptError(NexusError):
    """The prompt file is invalid."""


class RenderError(PromptError):
    """The prompt could not be rendered with these arguments."""


class ServerUnreachable(NexusError):
    """The Nexus server could not be reached: is `nexus serve` running, and is --server right?"""

    status = 503
