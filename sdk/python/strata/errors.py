"""The SDK's exceptions: one class per problem type of the API, plus connection and job errors.

Every error the server answers is RFC 9457 problem+json with a stable ``type`` URI
(``urn:strata:problem:...``); :func:`from_response` turns it into the matching class. All of them
derive from :class:`APIError` (and :class:`StrataError`), so ``except strata.StrataError`` catches
everything the SDK raises on purpose.
"""
from __future__ import annotations

import json
from typing import Any, Dict, List, Mapping, Optional, Type

PROBLEM_PREFIX = "urn:strata:problem:"


class StrataError(Exception):
    """The base of every error the SDK raises."""


class StrataConnectionError(StrataError):
    """The server could not be reached, or the connection broke, even after the retries."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"could not reach {url}: {reason}")
        #: The URL that was requested.
        self.url = url
        #: Why, in words.
        self.reason = reason


class APIError(StrataError):
    """An error answer of the API (a problem+json document).

    Attributes: ``status`` (HTTP status), ``type`` (the problem type URI), ``title``, ``detail``,
    ``trace_id`` (quote it to the operator) and ``body`` (the whole problem as a dict).
    """

    #: The problem type this class stands for (None: chosen by status only).
    problem_type: Optional[str] = None

    def __init__(self, status: int, body: Mapping[str, Any], retry_after: Optional[float] = None) -> None:
        self.status = status
        self.body: Dict[str, Any] = dict(body)
        self.type: str = str(body.get("type") or "about:blank")
        self.title: Optional[str] = body.get("title")
        self.detail: Optional[str] = body.get("detail")
        self.trace_id: Optional[str] = body.get("trace_id") or body.get("traceId")
        #: Seconds the server asked to wait (``Retry-After``), when it said.
        self.retry_after = retry_after
        message = self.detail or self.title or f"HTTP {status}"
        super().__init__(f"{status} {message}" + (f" (trace {self.trace_id})" if self.trace_id else ""))


class ValidationError(APIError):
    """400: fields of the request are invalid. ``errors`` maps each field to its messages."""

    problem_type = PROBLEM_PREFIX + "validation"

    @property
    def errors(self) -> Dict[str, List[str]]:
        """The messages by field name (``compute.gpu_type``, ``hyperparameters.num_leaves``)."""
        raw = self.body.get("errors") or {}
        return {str(k): [str(m) for m in (v if isinstance(v, list) else [v])] for k, v in raw.items()}


class MalformedRequestError(APIError):
    """400: the request could not be read (not JSON, wrong shape)."""

    problem_type = PROBLEM_PREFIX + "malformed-request"


class AuthenticationError(APIError):
    """401: the token is missing, invalid or expired."""

    problem_type = PROBLEM_PREFIX + "unauthenticated"


class PermissionDeniedError(APIError):
    """403: the token's role may not do this."""

    problem_type = PROBLEM_PREFIX + "forbidden"


class NotFoundError(APIError):
    """404: there is no such resource in the caller's tenant (another tenant's is 404 too)."""

    problem_type = PROBLEM_PREFIX + "not-found"


class MethodNotAllowedError(APIError):
    """405: the resource does not support that HTTP method."""

    problem_type = PROBLEM_PREFIX + "method-not-allowed"


class ConflictError(APIError):
    """409: the request conflicts with the resource's state (a name in use, a request in flight)."""

    problem_type = PROBLEM_PREFIX + "conflict"


class AmbiguousReferenceError(ConflictError):
    """409: a job reference (an id prefix or a name) names several jobs; use a longer prefix or the full id.

    ``candidates`` lists them (dicts of ``id``, ``name``, ``status``, ``created_at``; the newest 10 at most) and
    ``count`` says how many there are.
    """

    problem_type = PROBLEM_PREFIX + "ambiguous-reference"

    @property
    def candidates(self) -> List[Dict[str, Any]]:
        """The jobs the reference names, newest first."""
        return list(self.body.get("candidates") or [])

    @property
    def count(self) -> int:
        """How many jobs it names."""
        return int(self.body.get("count") or len(self.candidates))


class PayloadTooLargeError(APIError):
    """413: the body is larger than the route accepts."""

    problem_type = PROBLEM_PREFIX + "payload-too-large"


class UnsupportedMediaTypeError(APIError):
    """415: the body's content type is not one the route reads."""

    problem_type = PROBLEM_PREFIX + "unsupported-media-type"


class UnprocessableError(APIError):
    """422 without a more specific type."""


class IdempotencyKeyReusedError(UnprocessableError):
    """422: an ``Idempotency-Key`` was sent again with a different request; a new request needs a new key."""

    problem_type = PROBLEM_PREFIX + "idempotency-key-reused"


class IdempotencyKeyInFlightError(ConflictError):
    """409: the first request with this ``Idempotency-Key`` is still running; the SDK retries it after ``Retry-After``."""

    problem_type = PROBLEM_PREFIX + "idempotency-key-in-flight"


class QuotaExceededError(APIError):
    """429: the request would take the tenant over its quota.

    ``resource`` (``cpu_cores``, ``gpu_count``, ``max_deployments``...), ``limit``, ``used`` and
    ``requested`` say by how much. It is not retried: waiting for the quota is a decision
    (submit with ``on_quota_exceeded="queue"``).
    """

    problem_type = PROBLEM_PREFIX + "quota-exceeded"

    @property
    def resource(self) -> Optional[str]:
        """The resource over its limit."""
        return self.body.get("resource")

    @property
    def limit(self) -> Optional[float]:
        """The tenant's quota of it."""
        return self.body.get("limit")

    @property
    def used(self) -> Optional[float]:
        """What the tenant uses now."""
        return self.body.get("used")

    @property
    def requested(self) -> Optional[float]:
        """What the request asked for."""
        return self.body.get("requested")


class RequestExceedsQuotaError(QuotaExceededError):
    """422: the request alone is larger than the tenant's whole quota; it could never be accepted."""

    problem_type = PROBLEM_PREFIX + "request-exceeds-quota"


class RateLimitedError(APIError):
    """429: too many requests; ``retry_after`` says how many seconds until the next is accepted."""

    problem_type = PROBLEM_PREFIX + "rate-limited"


class ServerError(APIError):
    """5xx: the server failed (``internal``) or cannot serve now."""

    problem_type = PROBLEM_PREFIX + "internal"


class UnavailableError(ServerError):
    """503: the server cannot do this now but will; ``retry_after`` says when to try again."""

    problem_type = PROBLEM_PREFIX + "unavailable"


class JobFailedError(StrataError):
    """A job that :meth:`TrainingJob.wait` waited for failed or was cancelled."""

    def __init__(self, job_id: str, status: str, status_reason: Optional[str], error_message: Optional[str]) -> None:
        self.job_id = job_id
        #: ``failed`` or ``cancelled``.
        self.status = status
        #: Why, as a stable word (``exited_with_error``, ``out_of_memory``, ``timed_out``...).
        self.status_reason = status_reason
        #: The job's error message (its last lines of output, or the runtime's reason).
        self.error_message = error_message
        super().__init__(f"job {job_id} {status}" + (f" ({status_reason})" if status_reason else "")
                         + (f": {error_message}" if error_message else ""))


class WaitTimeoutError(StrataError, TimeoutError):
    """A wait (for a job or a deployment) ran past its timeout; the resource is left as it is."""


_BY_TYPE: Dict[str, Type[APIError]] = {
    c.problem_type: c
    for c in (ValidationError, MalformedRequestError, AuthenticationError, PermissionDeniedError, NotFoundError,
              MethodNotAllowedError, ConflictError, PayloadTooLargeError, UnsupportedMediaTypeError,
              QuotaExceededError, RequestExceedsQuotaError, RateLimitedError, ServerError, UnavailableError,
              IdempotencyKeyReusedError, IdempotencyKeyInFlightError, AmbiguousReferenceError)
    if c.problem_type
}

_BY_STATUS: Dict[int, Type[APIError]] = {
    400: MalformedRequestError, 401: AuthenticationError, 403: PermissionDeniedError, 404: NotFoundError,
    405: MethodNotAllowedError, 409: ConflictError, 413: PayloadTooLargeError, 415: UnsupportedMediaTypeError,
    422: UnprocessableError, 429: RateLimitedError, 503: UnavailableError,
}


def from_response(status: int, body: bytes, retry_after: Optional[float] = None) -> APIError:
    """The typed error for an error answer: by problem ``type``, else by status."""
    try:
        parsed = json.loads(body.decode("utf-8")) if body else {}
    except (ValueError, UnicodeDecodeError):
        parsed = {}
    if not isinstance(parsed, dict):
        parsed = {}
    if not parsed.get("detail") and body and not parsed:
        parsed["detail"] = body[:500].decode("utf-8", "replace")
    cls = _BY_TYPE.get(str(parsed.get("type")))
    if cls is None:
        cls = _BY_STATUS.get(status, ServerError if status >= 500 else APIError)
    return cls(status, parsed, retry_after)
