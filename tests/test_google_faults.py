"""Retries, pacing and failures: bounded, honouring Retry-After, never repeating what must not be.

The last test runs 50 push/pull cycles against a server that fails one request in five, while
people keep typing, and checks that no human cell is ever lost.
"""

from __future__ import annotations

import random
import time
from email.utils import formatdate

import pytest

from sheets_bridge.core.errors import SheetError
from sheets_bridge.core.schema import BRIDGE_COLUMNS
from sheets_bridge.sheets import SheetWrite
from sheets_bridge.sheets.google.client import RateLimiter, RetryPolicy, parse_retry_after
from tests.conftest_google import *  # noqa: F403
from tests.conftest_google import CLASSES, FAST, SCHEMA, model_rows, push
from tests.sheets_api import Faults


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_retry_after_is_read_as_seconds_or_as_an_http_date():
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("0") == 0.0
    assert parse_retry_after(formatdate(1_000_030, usegmt=True), now=1_000_000) == pytest.approx(
        30, abs=1
    )
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_backoff_grows_exponentially_with_jitter_up_to_the_cap():
    policy, rng = RetryPolicy(base=1.0, cap=32.0), random.Random(1)
    waits = [policy.backoff(n, rng) for n in range(1, 9)]
    for n, w in enumerate(waits, start=1):
        assert min(32.0, 2 ** (n - 1)) <= w <= min(32.0, 2 ** (n - 1)) + 1.0


def test_the_rate_limiter_lets_a_burst_through_then_spaces_calls_over_the_window():
    clock = FakeClock()
    limiter = RateLimiter(3, per=60.0, clock=clock, sleep=clock.sleep)
    assert [limiter.acquire() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.acquire() == pytest.approx(60.0)  # the 4th waits for the 1st to leave the window
    assert clock.slept == [pytest.approx(60.0)]


def test_429_is_retried_after_the_time_the_server_asks_for(api, make_sheet):
    sheet = make_sheet()
    push(sheet, model_rows(3))
    clock = FakeClock()
    sheet.session.sleep = clock.sleep
    api.faults = Faults(retry_after="3")
    api.fail_next("429", 2, on="spreadsheets.get")
    mark = len(api.log)
    assert len(sheet.read().rows) == 3
    assert [r.status for r in api.log[mark:]] == [429, 429, 200]
    assert clock.slept == [3.0, 3.0]


@pytest.mark.parametrize("fault", ["500", "502", "503", "408", "drop", "429"])
def test_server_errors_and_dropped_connections_are_retried(api, make_sheet, fault):
    sheet = make_sheet()
    push(sheet, model_rows(3))
    api.fail_next(fault, 2, on="spreadsheets.get")
    mark = len(api.log)
    assert len(sheet.read().rows) == 3
    assert len(api.log[mark:]) == 3 and api.log[-1].status == 200


@pytest.mark.parametrize("status", ["400", "401", "403", "404"])
def test_client_errors_are_never_retried(api, make_sheet, status):
    sheet = make_sheet()
    push(sheet, model_rows(3))
    api.fail_next(status, on="spreadsheets.get")
    mark = len(api.log)
    with pytest.raises(SheetError):
        sheet.read()
    assert len(api.log[mark:]) == 1


def test_retries_stop_after_the_last_attempt_with_a_clear_message(api, make_sheet):
    sheet = make_sheet(policy=RetryPolicy(attempts=4, base=0.001, cap=0.002))
    api.faults = Faults(rate=1.0, kinds=("503",), retry_after=None)
    mark = len(api.log)
    with pytest.raises(SheetError, match=r"kept failing \(503"):
        sheet.read()
    assert len(api.log[mark:]) == 4


def test_a_retry_after_beyond_the_deadline_is_not_waited_for(api, make_sheet):
    sheet = make_sheet(policy=RetryPolicy(attempts=5, deadline=10.0))
    clock = FakeClock()
    sheet.session.sleep, sheet.session.clock = clock.sleep, clock
    api.faults = Faults(retry_after="3600")
    api.fail_next("429", on="spreadsheets.get")
    with pytest.raises(SheetError, match="quota is used up"):
        sheet.read()
    assert clock.slept == []


def test_a_set_up_batch_whose_answer_is_lost_is_not_applied_twice(api, spreadsheet, make_sheet):
    sheet = make_sheet("Sheet1")  # exists: the first batchUpdate is the set-up
    api.fail_next("drop_after", on="spreadsheets.batchUpdate")  # applied, then the line drops
    push(sheet, model_rows(5))
    state = api.sheet(spreadsheet, "Sheet1")
    assert len(state.metadata) == 1 and len(state.conditional) == 1
    assert len(state.validations) == 3 and len(state.protected) == 2
    # It looked at the worksheet to learn whether the batch ran, instead of sending it again.
    kinds = [r.kind for r in api.log]
    assert kinds.count("spreadsheets.batchUpdate") == 1 and kinds.count("spreadsheets.get") == 2


def test_pacing_keeps_a_busy_client_under_the_per_minute_quota(api, make_sheet):
    api.quota = (
        6,
        1.0,
    )  # the server allows 6 reads and 6 writes per second (stands for 60 a minute)
    sheet = make_sheet(requests_per_minute=5, rate_window=1.0)
    start = time.monotonic()
    for version in range(5):
        push(sheet, model_rows(4, version=version))
    assert not [r for r in api.log if r.status == 429]
    writes = [r for r in api.log if r.method != "GET"]
    assert len(writes) >= 10 and time.monotonic() - start >= 1.0
    for i in range(len(writes) - 5):  # never more than 5 writes in any second
        assert writes[i + 5].at - writes[i].at >= 0.95


def test_fifty_push_pull_cycles_with_one_request_in_five_failing_lose_no_human_cell(
    api, spreadsheet, make_sheet
):
    sheet = make_sheet(policy=FAST)
    people = api.people(spreadsheet, "images")
    rng = random.Random(7)
    typed: dict[tuple[str, str], str] = {}
    api.faults = Faults(
        rate=0.2, kinds=("429", "500", "503", "drop", "drop_after", "slow"), seed=11
    )

    def person_types() -> None:
        rows = [r for r in people.rows() if r.get("id")]
        if not rows:
            return
        rid = rng.choice(rows)["id"]
        column = rng.choice(SCHEMA.human_columns)
        value = rng.choice([*CLASSES, "x", "?", "blurry", ""])
        people.type(rid, column, value)
        if value:
            typed[(rid, column)] = value
        else:
            typed.pop((rid, column), None)

    for cycle in range(50):
        n = 12 + cycle % 5  # images come and go between versions
        for _ in range(2):
            api.after(
                rng.choice(["spreadsheets.get", "values.batchUpdate", "values.batchGet"]),
                person_types,
            )
        if cycle % 10 == 3:
            api.after("spreadsheets.get", lambda: people.sort("id", descending=True))
        push(sheet, model_rows(n, version=cycle))
        table = sheet.read()  # pull: read, then write consensus
        bridge = {
            r["id"]: {"consensus": r["annotator_1"], "agreement": 0.5, "status": f"cycle {cycle}"}
            for r in table.rows
        }
        header = tuple(table.header) + tuple(c for c in BRIDGE_COLUMNS if c not in table.header)
        sheet.write(SheetWrite(header, bridge, human_columns=SCHEMA.human_columns))
        api.hooks.clear()
        shown = people.by_id()
        lost = {k: v for k, v in typed.items() if shown.get(k[0], {}).get(k[1]) != v}
        assert not lost, f"cycle {cycle}: human cells lost {lost}"
        assert {r["status"] for r in shown.values()} == {f"cycle {cycle}"}
    failures = [r for r in api.log if r.status != 200]
    assert len(failures) > 50  # the faults really happened
    assert {str(r.status) for r in failures} >= {"429", "500", "503", "drop", "drop_after"}


def test_the_default_policy_outlasts_a_spent_minute_of_quota_with_margin(api, make_sheet):
    policy = RetryPolicy()
    assert policy.least_total_wait() >= 2 * 60  # a policy of about 60 s only just survives
    sheet = make_sheet(policy=policy)
    push(sheet, model_rows(3))
    clock = FakeClock()
    sheet.session.sleep, sheet.session.clock = clock.sleep, clock
    api.faults = Faults(retry_after=None)
    api.fail_next("429", policy.attempts - 1, on="spreadsheets.get")  # the quota stays spent...
    mark = len(api.log)
    assert len(sheet.read().rows) == 3  # ...until the last try
    assert len(api.log[mark:]) == policy.attempts
    assert sum(clock.slept) >= 120 and clock.slept[-1] <= policy.cap + policy.base
