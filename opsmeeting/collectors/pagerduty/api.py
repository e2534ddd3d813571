"""PagerDuty's REST API v2 through the official client (``pagerduty.RestApiV2Client``), configured
against its traps (README of the collector, ``docs/ARCHITECTURE.md``): our own bounded retry loop
that honours ``ratelimit-reset`` on 429 and backs off on 5xx, network errors and malformed
answers; a timeout on every call; pacing under the rate limit; offset pagination with a count
probe; time ranges split past the 10,000-result offset cap; every answer checked at the boundary.
"""

from __future__ import annotations

import itertools
import logging
import math
import random
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

import pagerduty

from opsmeeting.config import PagerDutySource
from opsmeeting.errors import CollectorError
from opsmeeting.timefmt import iso_z

PAGE = 100
OFFSET_CAP = 10_000
SERVICE_IDS_PER_QUERY = 100  # keeps URLs short
RETRIED = {429, 500, 502, 503, 504}

Json = dict[str, Any]
T = TypeVar("T")
Keep = Callable[[Json], Any]  # maps an item of a page as it arrives; None drops it


class PagerDutyFailure(CollectorError):
    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__("PagerDuty", message)
        self.status = status  # the HTTP status of a refused request (401, 404...), None otherwise


class _RateLimiter:
    """At most ``per_minute`` request starts in any minute, shared by every worker thread."""

    def __init__(self, per_minute: int, clock: Callable[[], float], sleep: Callable[[float], None]) -> None:
        self.interval = 60.0 / per_minute if per_minute > 0 else 0.0
        self.clock = clock
        self.sleep = sleep
        self.next_at = 0.0
        self.lock = threading.Lock()

    def wait(self) -> None:
        if not self.interval:
            return
        with self.lock:
            now = self.clock()
            start = max(now, self.next_at)
            self.next_at = start + self.interval
        if start > now:
            self.sleep(start - now)


class _Budget:
    """The account's own count of what is left of its rate limit (PagerDuty's ``ratelimit-remaining`` and
    ``ratelimit-reset`` headers, shared by every worker): requests go at full speed while the minute's
    budget lasts; when only ``reserve`` requests are left (the ones other workers may have in flight),
    each worker waits for the reset. So a collection of more than 960 requests takes the minute it must,
    and is never refused: no 429, no retry. Each request started counts against the budget until the
    next answer says what is left."""

    def __init__(self, reserve: int, clock: Callable[[], float], sleep: Callable[[float], None]) -> None:
        self.reserve, self.clock, self.sleep = reserve, clock, sleep
        self.remaining: int | None = None  # None: not known (no answer yet, or the reset has passed)
        self.reset_at = 0.0
        self.lock = threading.Lock()
        self.waited = 0.0  # seconds spent waiting for a reset, all workers together

    def wait(self) -> None:
        while True:
            with self.lock:
                now = self.clock()
                if self.remaining is not None and now >= self.reset_at:
                    self.remaining = None
                if self.remaining is None or self.remaining > self.reserve:
                    if self.remaining is not None:
                        self.remaining -= 1
                    return
                delay = self.reset_at - now
                self.waited += delay
            self.sleep(delay)

    def update(self, headers: Any) -> None:
        try:
            remaining, reset = int(headers.get("ratelimit-remaining")), float(headers.get("ratelimit-reset"))
        except (TypeError, ValueError):
            return
        if remaining < 0 or not 0 <= reset <= 3600:
            return
        with self.lock:
            self.remaining, self.reset_at = remaining, self.clock() + reset


_QUIET = logging.getLogger("opsmeeting.pagerduty-client")
_QUIET.addHandler(logging.NullHandler())
_QUIET.propagate = False


class _Client(pagerduty.RestApiV2Client):
    """The official client with its retry loops disabled: each call is one attempt, so the
    collector's own loop decides (bounded, honouring ``ratelimit-reset``)."""

    def __init__(self, token: str, base_url: str, verify: Any, timeout: float) -> None:
        super().__init__(token, base_url=base_url, verify=verify)
        self.log = _QUIET  # it would log "exceeded maximum number of attempts (-1)" for answers we retry
        self.timeout = timeout  # type: ignore[assignment]  # inferred int from its default; httpx takes a float
        self.max_network_attempts = 0
        self.max_http_attempts = -1
        self.retry = dict.fromkeys(RETRIED, 1)


@dataclass
class RequestLog:
    counts: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, endpoint: str, seconds: float) -> None:
        with self.lock:
            self.counts[endpoint] += 1
            self.seconds += seconds


class PagerDutyApi:
    """One API key's requests: every I/O dependency is injectable (token, clock, sleep)."""

    def __init__(
        self,
        source: PagerDutySource,
        *,
        token: str | None = None,
        environ: dict[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        backoff: float = 1.0,
        requests_per_minute: int | None = None,
    ) -> None:
        self.source = source
        self.sleep = sleep
        self.monotonic = monotonic
        self.backoff = backoff
        self.log = RequestLog()
        pace = source.requests_per_minute if requests_per_minute is None else requests_per_minute
        self.limiter = _RateLimiter(pace or 0, monotonic, sleep)
        # 0 turns pacing off entirely (a proxy of your own, a test fake); otherwise the account's
        # rate-limit headers are followed too
        self.budget = _Budget(source.concurrency, monotonic, sleep) if pace != 0 else None
        if token is None:
            env = environ if environ is not None else __import__("os").environ
            token = env.get(source.token_env)
            if not token:
                raise PagerDutyFailure(
                    f"the API token is not set: export it in the environment variable ${source.token_env}"
                )
        verify: Any = True
        if source.ca_bundle:
            try:
                verify = ssl.create_default_context(cafile=str(source.ca_bundle))
            except (OSError, ssl.SSLError) as exc:
                raise PagerDutyFailure(f"cannot read the CA bundle {source.ca_bundle}: {exc}") from None
        self.client = _Client(token, source.url, verify, source.timeout.total_seconds())

    # --- one request, with our bounded retry policy -----------------------------------------

    def get(self, path: str, params: Json | None = None, *, endpoint: str | None = None) -> Json:
        endpoint = endpoint or f"GET {path}"
        attempts = 0
        while True:
            self.limiter.wait()
            if self.budget is not None:
                self.budget.wait()
            started = self.monotonic()
            try:
                response = self.client.get(path, params=params)
            except pagerduty.HttpError as exc:
                self.log.add(endpoint, self.monotonic() - started)
                if exc.response is not None and self.budget is not None:
                    self.budget.update(exc.response.headers)
                status = exc.response.status_code if exc.response is not None else None
                if status == 401:
                    raise PagerDutyFailure(
                        f"the API token in ${self.source.token_env} was rejected (401 Unauthorized); check the "
                        "token and the region (us/eu)", status
                    ) from None
                raise PagerDutyFailure(f"{endpoint}: HTTP {status}", status) from None
            except pagerduty.Error as exc:
                self.log.add(endpoint, self.monotonic() - started)
                attempts += 1
                if attempts > self.source.max_retries:
                    cause = type(exc.__cause__).__name__ if exc.__cause__ else "network error"
                    raise PagerDutyFailure(f"{endpoint}: {cause} after {attempts} attempts") from None
                self.sleep(self._backoff(attempts))
                continue
            self.log.add(endpoint, self.monotonic() - started)
            if self.budget is not None:
                self.budget.update(response.headers)
            status = response.status_code
            if response.is_success:
                body, problem = _json_object(response)
                if problem is None:
                    return body
                if attempts < self.source.max_retries:  # a proxy's error page or a cut body: ask again
                    attempts += 1
                    self.sleep(self._backoff(attempts))
                    continue
                raise PagerDutyFailure(f"{endpoint}: malformed answer (HTTP {status}: {problem}) after "
                                       f"{attempts + 1} attempts")
            if status in RETRIED and attempts < self.source.max_retries:
                attempts += 1
                self.sleep(self._wait_for(response, attempts))
                continue
            if status == 401:
                raise PagerDutyFailure(f"the API token in ${self.source.token_env} was rejected (401 Unauthorized); "
                                       "check the token and the region (us/eu)", status)
            raise PagerDutyFailure(f"{endpoint}: HTTP {status} {_error_message(response)}".rstrip(), status)

    def _backoff(self, attempt: int) -> float:
        delay: float = min(self.backoff * 2 ** (attempt - 1), 30.0) * (1 + 0.25 * random.random())
        return delay

    def _wait_for(self, response: Any, attempt: int) -> float:
        if response.status_code == 429:
            reset = response.headers.get("ratelimit-reset")
            try:
                if reset is not None:
                    return min(max(float(reset), 0.0), 60.0)
            except ValueError:
                pass
        return self._backoff(attempt)

    # --- pagination ------------------------------------------------------------------------

    def pages(self, path: str, key: str, params: Json, *, endpoint: str | None = None,
              first: Json | None = None, keep: Keep | None = None) -> list[Any]:
        """Every item of an offset-paginated list: one probe page with ``total`` (or ``first``, when
        the caller already has it), then the other pages concurrently. Raises _OverCap when the list
        is longer than the offset cap allows. ``keep`` maps each item as its page arrives (None drops
        it), so a page's raw JSON is let go at once: an account's log entries are ten times the memory
        as parsed JSON that they are as records."""
        endpoint = endpoint or f"GET {path}"
        if first is None:
            first = self.get(path, {**params, "limit": PAGE, "offset": 0, "total": "true"}, endpoint=endpoint)
        items: list[Any] = _kept(first, key, endpoint, keep)
        total = first.get("total")
        if total is not None and (not isinstance(total, int) or isinstance(total, bool) or total < 0):
            raise PagerDutyFailure(f"{endpoint}: malformed answer (`total` is {total!r})")
        if total is None:  # the server did not count: walk the pages
            offset = len(items)
            more = first.get("more", False)
            while more:
                if offset + PAGE > OFFSET_CAP:
                    raise _OverCap()
                page = self.get(path, {**params, "limit": PAGE, "offset": offset}, endpoint=endpoint)
                batch = _items(page, key, endpoint)
                items += _kept(page, key, endpoint, keep, batch)
                offset += len(batch)
                more = page.get("more", False) and bool(batch)
            return items
        if total > OFFSET_CAP:
            raise _OverCap(total)
        offsets = list(range(PAGE, total, PAGE))
        for batch in self._parallel(
            lambda off: _kept(self.get(path, {**params, "limit": PAGE, "offset": off}, endpoint=endpoint), key,
                              endpoint, keep), offsets
        ):
            items += batch
        return items

    def ranged(self, path: str, key: str, params: Json, since: datetime, until: datetime, *,
               keep: Keep | None = None, over: int | None = None) -> list[Any]:
        """Every item in ``[since, until]``. Past the offset cap the range is cut into as many equal
        parts as the probe's total says are needed (with room to spare), so a busy window costs one
        wasted probe rather than a bisection's worth (none when the caller already counted: ``over``,
        the range's total past the cap)."""
        try:
            if over is not None:
                raise _OverCap(over)
            return self.pages(path, key, {**params, "since": iso_z(since), "until": iso_z(until)}, keep=keep)
        except _OverCap as exc:
            if until - since <= timedelta(minutes=1):
                raise PagerDutyFailure(f"GET {path}: more than {OFFSET_CAP} results in one minute") from None
            parts = max(2, math.ceil((exc.total or 0) / (0.8 * OFFSET_CAP)))
            step = (until - since) / parts
            edges = [since + step * i for i in range(parts)] + [until]
            edges = [edges[0], *(e.replace(microsecond=0) for e in edges[1:-1]), edges[-1]]
            found: list[Any] = []
            for start, end in itertools.pairwise(edges):
                found += self.ranged(path, key, params, start, end, keep=keep)
            return found

    def for_services(self, path: str, key: str, params: Json, service_ids: list[str], *,
                     endpoint: str | None = None, unfiltered: bool = False) -> list[Json]:
        """Every item of a list that has no time range to split (``GET /maintenance_windows``, open
        incidents of any age) for ``service_ids`` (``service_ids[]``): a query whose list is longer than
        the offset cap is asked again for each half of its services; one service past it is a failure.
        ``unfiltered``: the services are the whole account's, so the list is first asked for without a
        filter (one query, not one per 100 services); past the cap, by groups of 100 services."""
        if unfiltered:
            try:
                return self.pages(path, key, params, endpoint=endpoint)
            except _OverCap:
                step = SERVICE_IDS_PER_QUERY
                return [item for i in range(0, len(service_ids), step)
                        for item in self.for_services(path, key, params, service_ids[i : i + step], endpoint=endpoint)]
        try:
            return self.pages(path, key, {**params, "service_ids[]": service_ids}, endpoint=endpoint)
        except _OverCap:
            if len(service_ids) <= 1:
                raise PagerDutyFailure(f"{endpoint or 'GET ' + path}: more than {OFFSET_CAP} results for service "
                                       f"{service_ids[0] if service_ids else '(none)'}") from None
            half = len(service_ids) // 2
            return (self.for_services(path, key, params, service_ids[:half], endpoint=endpoint)
                    + self.for_services(path, key, params, service_ids[half:], endpoint=endpoint))

    def _parallel(self, fn: Callable[[Any], T], args: list[Any]) -> list[T]:
        if not args:
            return []
        if self.source.concurrency <= 1 or len(args) == 1:
            return [fn(a) for a in args]
        with ThreadPoolExecutor(max_workers=self.source.concurrency) as pool:
            return list(pool.map(fn, args))

    def request_counts(self) -> dict[str, int]:
        """Requests made so far, per endpoint (also after a failure)."""
        return dict(sorted(self.log.counts.items()))


class _OverCap(Exception):
    def __init__(self, total: int | None = None) -> None:
        super().__init__(total)
        self.total = total


def _json_object(response: Any) -> tuple[Json, str | None]:
    """The body as a JSON object, or the reason it is not one (HTML from a proxy, an empty body)."""
    try:
        body = response.json()
    except ValueError:
        kind = (response.headers.get("content-type") or "no content type").split(";")[0]
        return {}, f"not JSON ({kind}, {len(response.content)} bytes)"
    if not isinstance(body, dict):
        return {}, f"a JSON {type(body).__name__}, not an object"
    return body, None


def _kept(body: Json, key: str, endpoint: str, keep: Keep | None, items: list[Json] | None = None) -> list[Any]:
    """The items of a page (``_items``), each mapped by ``keep`` (those it maps to None dropped)."""
    items = _items(body, key, endpoint) if items is None else items
    if keep is None:
        return items
    return [kept for kept in map(keep, items) if kept is not None]


def _items(body: Json, key: str, endpoint: str) -> list[Json]:
    """The list under ``key``; each item an object with a string ``id``. Anything else is malformed."""
    items = body.get(key)
    if not isinstance(items, list):
        raise PagerDutyFailure(f"{endpoint}: malformed answer (`{key}` is {type(items).__name__}, not a list)")
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            raise PagerDutyFailure(f"{endpoint}: malformed answer (an item of `{key}` has no string id)")
    return items


def _error_message(response: Any) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return f"{error.get('message', '')} (code {error.get('code')})"
    return ""
