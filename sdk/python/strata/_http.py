"""HTTP with the SDK's retry rules, on the standard library's ``urllib``.

What is retried: a connection that failed or broke, and the answers 502, 503, 504, 429 (a
rate limit; a quota-exceeded 429 is not transient and is raised at once) and the 409 of an
``Idempotency-Key`` whose first request is still running. Which requests: GET, HEAD,
PUT and DELETE always (they are idempotent); POST and PATCH only when they carry an
``Idempotency-Key``, so that the server can tell a retry from a new request. The waits grow
exponentially with full jitter (a random wait between 0 and ``min(max_backoff, backoff * 2**n)``),
except that a ``Retry-After`` is honoured as it is; no wait goes past the deadline.
"""
from __future__ import annotations

import email.utils
import http.client
import json
import random
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, Mapping, Optional, Union

from . import errors

RETRIED_STATUSES = frozenset({429, 502, 503, 504})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
USER_AGENT = "strata-python/0.1"


@dataclass(frozen=True)
class Retry:
    """How requests are retried.

    Args:
        max_attempts: tries in all, the first included (1 turns retries off).
        deadline: seconds from the first try after which no new try starts.
        backoff: the first wait's upper bound, in seconds; it doubles with each retry.
        max_backoff: the largest upper bound of one wait.
    """

    max_attempts: int = 5
    deadline: float = 60.0
    backoff: float = 0.5
    max_backoff: float = 8.0


@dataclass
class Response:
    """An answer that was read whole."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        """The body as JSON (None when empty)."""
        return json.loads(self.body.decode("utf-8")) if self.body else None


Body = Union[None, bytes, Callable[[], Any]]


class Transport:
    """Sends requests to one server with one token, retrying as :class:`Retry` says."""

    def __init__(self, base_url: str, token: Optional[str], timeout: float = 30.0, retry: Optional[Retry] = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.retry = retry or Retry()
        # Seams for the unit tests (the clock and the dice).
        self._sleep: Callable[[float], None] = time.sleep
        self._random: Callable[[float, float], float] = random.uniform
        self._clock: Callable[[], float] = time.monotonic

    def url(self, path: str, params: Optional[Mapping[str, Any]] = None) -> str:
        """The absolute URL of ``path`` (``/v1/...`` or an absolute URL, e.g. a ``Link``'s target)."""
        url = path if "://" in path else self.base_url + "/" + path.lstrip("/")
        query = {k: _query_value(v) for k, v in (params or {}).items() if v is not None}
        if query:
            url += ("&" if "?" in url else "?") + urllib.parse.urlencode(query)
        return url

    def request(self, method: str, path: str, *, params: Optional[Mapping[str, Any]] = None, json_body: Any = None,
                body: Body = None, content_type: Optional[str] = None, idempotency_key: Optional[str] = None,
                timeout: Optional[float] = None, headers: Optional[Mapping[str, str]] = None,
                safe: bool = False) -> Response:
        """Sends a request and reads the answer whole; raises the typed error of an error answer."""
        with self.open(method, path, params=params, json_body=json_body, body=body, content_type=content_type,
                       idempotency_key=idempotency_key, timeout=timeout, headers=headers, safe=safe) as answer:
            try:
                data = answer.read()
            except (OSError, http.client.HTTPException) as e:
                raise errors.StrataConnectionError(answer.url, f"the answer broke off: {e}") from e
            return Response(answer.status, dict(answer.headers.items()), data)

    def open(self, method: str, path: str, *, params: Optional[Mapping[str, Any]] = None, json_body: Any = None,
             body: Body = None, content_type: Optional[str] = None, idempotency_key: Optional[str] = None,
             timeout: Optional[float] = None, headers: Optional[Mapping[str, str]] = None, safe: bool = False) -> Any:
        """Sends a request with retries and returns the open answer (the caller closes it).

        ``body`` is bytes, or a function that opens a fresh readable file for each try (an upload).
        ``safe`` marks a POST that changes nothing (a prediction), so it is retried like a GET.
        """
        url = self.url(path, params)
        method = method.upper()
        retryable = safe or method in IDEMPOTENT_METHODS or idempotency_key is not None
        all_headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        if self.token:
            all_headers["Authorization"] = "Bearer " + self.token
        if idempotency_key:
            all_headers["Idempotency-Key"] = idempotency_key
        if json_body is not None:
            body = json.dumps(json_body).encode("utf-8")
            content_type = "application/json"
        if content_type:
            all_headers["Content-Type"] = content_type
        all_headers.update(headers or {})
        timeout = self.timeout if timeout is None else timeout
        policy = self.retry
        started = self._clock()
        attempt = 0
        while True:
            attempt += 1
            data = body() if callable(body) else body
            request = urllib.request.Request(url, data=data, method=method, headers=all_headers)
            failure: errors.StrataError
            wait: Optional[float] = None
            try:
                return urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 - the user's server
            except urllib.error.HTTPError as e:
                with e:
                    content = _read_quietly(e)
                    retry_after = parse_retry_after(e.headers.get("Retry-After"))
                failure = errors.from_response(e.code, content, retry_after)
                # A repeat of a keyed request whose first answer is still coming is tried again a moment later.
                in_flight = isinstance(failure, errors.IdempotencyKeyInFlightError)
                if (e.code not in RETRIED_STATUSES and not in_flight) or isinstance(failure, errors.QuotaExceededError):
                    raise failure from None
                wait = retry_after
            except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
                reason = getattr(e, "reason", None) or e
                if isinstance(reason, socket.timeout) or isinstance(e, socket.timeout):
                    reason = f"no answer within {timeout:g} s"
                failure = errors.StrataConnectionError(url, str(reason))
            finally:
                if hasattr(data, "close"):
                    data.close()
            if not retryable or attempt >= policy.max_attempts:
                raise failure
            if wait is None:
                wait = self._random(0.0, min(policy.max_backoff, policy.backoff * (2 ** (attempt - 1))))
            if self._clock() - started + wait > policy.deadline:
                raise failure
            self._sleep(wait)

    def get(self, path: str, **kwargs: Any) -> Any:
        """GET and the JSON answer."""
        return self.request("GET", path, **kwargs).json()

    def paginate(self, path: str, params: Optional[Mapping[str, Any]] = None, timeout: Optional[float] = None) -> Iterator[Any]:
        """Every item of a listing, following the ``Link: <...>; rel="next"`` header page by page."""
        url: Optional[str] = self.url(path, params)
        seen = set()
        while url is not None:
            answer = self.request("GET", url, timeout=timeout)
            yield from answer.json() or []
            following = next_link(answer.headers)
            # A server that repeated a link would otherwise loop forever.
            url = self.url(following) if following and following not in seen else None
            if following:
                seen.add(following)


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _read_quietly(answer: Any) -> bytes:
    try:
        return bytes(answer.read())
    except (OSError, http.client.HTTPException):
        return b""


def parse_retry_after(value: Optional[str]) -> Optional[float]:
    """``Retry-After`` in seconds: whole seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def next_link(headers: Mapping[str, str]) -> Optional[str]:
    """The target of the ``rel="next"`` link of a ``Link`` header, or None."""
    link = next((v for k, v in headers.items() if k.lower() == "link"), None)
    if not link:
        return None
    for part in link.split(","):
        if "<" not in part or ">" not in part:
            continue
        target, _, rest = part.strip().partition(">")
        for param in rest.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "rel" and "next" in value.strip().strip('"').lower().split():
                return target.lstrip("<").strip()
    return None


def headers_dict(headers: Mapping[str, str]) -> Dict[str, str]:
    """Header names lowercased."""
    return {k.lower(): v for k, v in headers.items()}
