"""The Sheets API transport: endpoint redirection, pacing under the quota, bounded retries.

gspread sends every request through ``session.request``; :class:`SheetsSession` is that session.
It rewrites ``https://sheets.googleapis.com`` to another server when one is configured (changing
``gspread.urls`` at run time does nothing: the URLs are copied at import), keeps each user under
Google's 60 requests per minute, and retries, through ``tenacity``, what is safe to retry:

- 408, 429 and 5xx answers, honouring ``Retry-After`` (429 and 503 carry it);
- connections that fail before the request was sent;
- connections dropped after it was sent, unless the caller marked the request as one that must not
  be repeated blindly (:meth:`SheetsSession.no_blind_retry`); those raise :class:`AmbiguousRequest`
  so the caller can look at the sheet before trying again.

400, 401, 403 and 404 are never retried. Retries stop after ``attempts`` tries or when the next
wait would pass ``deadline`` seconds, whichever comes first (gspread's own ``BackOffHTTPClient``
retries forever). What is specific to Sheets stays here: ``Retry-After``, per-user pacing, which
failures may be repeated, and a default policy that outlasts an exhausted one-minute quota.
"""

from __future__ import annotations

import email.utils
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import requests
from google.auth.credentials import AnonymousCredentials
from google.auth.transport.requests import AuthorizedSession
from tenacity import RetryCallState, Retrying, retry_if_exception, retry_if_result

GOOGLE_SHEETS_API = "https://sheets.googleapis.com"
RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
#: Google's per-minute quotas refill once a minute.
QUOTA_WINDOW = 60.0


class AmbiguousRequest(requests.ConnectionError):
    """The connection broke after a non-repeatable request was sent: it may or may not have run."""


@dataclass(frozen=True)
class RetryPolicy:
    """How long to keep trying one request.

    Truncated exponential backoff as Google advises (at most 32 s between tries). The defaults wait
    1+2+4+8+16+32+32+32+32 = 159 s over 10 tries, more than twice the one-minute window in which an
    exhausted per-user quota refills: a policy whose waits add up to about 60 s only just survives
    one spent minute. Tests pass a policy with tiny waits.
    """

    attempts: int = 10
    deadline: float = 300.0
    base: float = 1.0
    cap: float = 32.0
    connect_timeout: float = 10.0
    read_timeout: float = 180.0  # Google's own limit for one request

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Wait before try ``attempt + 1``: ``min(cap, base * 2**(attempt-1))`` plus up to ``base`` of jitter."""
        return min(self.cap, self.base * 2 ** (attempt - 1)) + rng.uniform(0, self.base)

    def least_total_wait(self) -> float:
        """The shortest time the policy keeps trying before giving up (no jitter, no Retry-After)."""
        waits = [min(self.cap, self.base * 2 ** (n - 1)) for n in range(1, self.attempts)]
        total = 0.0
        for w in waits:
            if total + w > self.deadline:
                break
            total += w
        return total


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class RateLimiter:
    """At most ``limit`` calls in any ``per`` seconds (a sliding window); ``acquire`` waits."""

    def __init__(
        self,
        limit: int,
        per: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if limit < 1 or per <= 0:
            raise ValueError("a rate limit needs limit >= 1 and per > 0")
        self.limit, self.per = limit, per
        self._clock, self._sleep = clock, sleep
        self._calls: deque[float] = deque()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take a slot, waiting until one is free; returns how long it waited."""
        waited = 0.0
        with self._lock:
            while True:
                now = self._clock()
                while self._calls and self._calls[0] <= now - self.per:
                    self._calls.popleft()
                if len(self._calls) < self.limit:
                    self._calls.append(now)
                    return waited
                pause = self._calls[0] + self.per - now
                self._sleep(pause)
                waited += pause


# The quota belongs to a user of a project, not to one sheet object: every GoogleSheet of this
# process that talks to the same server as the same principal shares one pair of limiters.
_SHARED: dict[tuple[str, str, str], RateLimiter] = {}
_SHARED_LOCK = threading.Lock()


def shared_limiter(
    endpoint: str, principal: str, kind: str, limit: int, per: float = 60.0
) -> RateLimiter:
    """The process-wide limiter for ``kind`` ("read"/"write") requests of one principal."""
    key = (endpoint, principal, kind)
    with _SHARED_LOCK:
        limiter = _SHARED.get(key)
        if limiter is None or (limiter.limit, limiter.per) != (limit, per):
            limiter = _SHARED[key] = RateLimiter(limit, per)
        return limiter


def _sent(exc: requests.RequestException) -> bool:
    """Whether the request may have reached the server (then repeating it may repeat its effect)."""
    if isinstance(exc, requests.ConnectTimeout):
        return False
    if isinstance(exc, requests.ConnectionError):
        text = repr(exc)
        # urllib3 wraps a refused or unresolvable connection in NewConnectionError/NameResolutionError.
        return not ("NewConnectionError" in text or "NameResolutionError" in text)
    return True


class SheetsSession(AuthorizedSession):
    """A ``requests.Session`` for gspread: redirect, pace, retry (see the module docstring).

    ``credentials`` may be ``google.auth.credentials.AnonymousCredentials()`` for a local server.
    """

    def __init__(
        self,
        credentials: Any,
        *,
        endpoint: str | None = None,
        policy: RetryPolicy | None = None,
        read_limiter: RateLimiter | None = None,
        write_limiter: RateLimiter | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        seed: int | None = None,
    ):
        anonymous = isinstance(credentials, AnonymousCredentials)
        # Anonymous credentials cannot be refreshed: let a 401 through to the caller as it is.
        super().__init__(credentials, refresh_status_codes=() if anonymous else (401,))
        self.endpoint = endpoint.rstrip("/") if endpoint else None
        self.policy = policy or RetryPolicy()
        self.read_limiter, self.write_limiter = read_limiter, write_limiter
        self.sleep, self.clock = sleep, clock
        self._rng = random.Random(seed)
        self._blind_retry = True
        #: What this session did: ``requests`` sent (tries included), ``retries``, ``waited`` seconds,
        #: ``bytes_sent`` (request bodies) and ``bytes_received`` (answer bodies).
        self.stats: dict[str, float] = {
            "requests": 0,
            "retries": 0,
            "waited": 0.0,
            "bytes_sent": 0,
            "bytes_received": 0,
        }

    def redirect(self, url: str) -> str:
        if self.endpoint and url.startswith(GOOGLE_SHEETS_API):
            return self.endpoint + url[len(GOOGLE_SHEETS_API) :]
        return url

    @contextmanager
    def no_blind_retry(self) -> Iterator[None]:
        """Within this block a connection dropped after sending raises :class:`AmbiguousRequest`."""
        previous, self._blind_retry = self._blind_retry, False
        try:
            yield
        finally:
            self._blind_retry = previous

    def _pause(self, seconds: float) -> None:
        self.stats["waited"] += seconds
        self.stats["retries"] += 1
        self.sleep(seconds)

    # -- the retry policy, as tenacity callbacks ---------------------------------------------------
    def _wait(self, state: RetryCallState) -> float:
        """``Retry-After`` when the answer has one, else exponential backoff with jitter."""
        outcome = state.outcome
        if outcome is not None and not outcome.failed:
            after = parse_retry_after(outcome.result().headers.get("Retry-After"))
            if after is not None:
                return after
        return self.policy.backoff(state.attempt_number, self._rng)

    def _stop(self, started: float) -> Callable[[RetryCallState], bool]:
        def stop(state: RetryCallState) -> bool:
            # tenacity works out the wait before asking whether to stop: a wait that would end past
            # the deadline (a Retry-After of an hour) is not started at all.
            late = self.clock() - started + (state.upcoming_sleep or 0.0) > self.policy.deadline
            return state.attempt_number >= self.policy.attempts or late

        return stop

    @staticmethod
    def _before_sleep(state: RetryCallState) -> None:
        outcome = state.outcome
        if outcome is not None and not outcome.failed:
            outcome.result().close()  # free the connection of an answer we will not read

    def request(  # type: ignore[override]
        self, method: str, url: str, data: Any = None, headers: Any = None, **kwargs: Any
    ) -> requests.Response:
        url = self.redirect(url)
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = (self.policy.connect_timeout, self.policy.read_timeout)
        limiter = self.read_limiter if method.upper() == "GET" else self.write_limiter
        send = super().request

        def attempt() -> requests.Response:
            if limiter is not None:
                self.stats["waited"] += limiter.acquire()
            self.stats["requests"] += 1
            try:
                response = send(method, url, data=data, headers=headers, **kwargs)
            except (requests.ConnectionError, requests.Timeout) as exc:
                if _sent(exc) and not self._blind_retry:
                    raise AmbiguousRequest(
                        f"connection lost after sending {method} {url}: {exc}"
                    ) from exc
                raise
            body = response.request.body if response.request is not None else None
            self.stats["bytes_sent"] += len(body) if isinstance(body, (bytes, str)) else 0
            self.stats["bytes_received"] += len(response.content)
            return response

        retrying = Retrying(
            retry=retry_if_exception(_repeatable) | retry_if_result(_retry_status),
            wait=self._wait,
            stop=self._stop(self.clock()),
            sleep=self._pause,
            before_sleep=self._before_sleep,
            # Out of tries: the last answer goes to the caller (gspread turns it into an APIError,
            # the sheet into a clear message); the last exception is raised as it is.
            retry_error_callback=lambda state: state.outcome.result(),  # type: ignore[union-attr]
        )
        return retrying(attempt)


def _repeatable(exc: BaseException) -> bool:
    """Transport failures that may be tried again (not a dropped non-repeatable write)."""
    if isinstance(exc, AmbiguousRequest):
        return False
    return isinstance(
        exc, (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)
    )


def _retry_status(response: requests.Response) -> bool:
    return response.status_code in RETRY_STATUS
