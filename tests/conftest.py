"""Shared fixtures: the pinned clock, and a real Prometheus on 127.0.0.1 backfilled with seeded SLO data.

No test reads the real clock. The whole session runs at ``PINNED_NOW`` (the clock ticks from there),
through time-machine: the clock functions of ``datetime``, ``date`` and ``time`` in this process all
start at that instant, whatever day the suite runs on. ``make test-future`` runs the suite under
libfaketime a year ahead to show that nothing outside this process depends on the date either.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import time_machine

from tests.clock import PINNED_NOW
from tests.fakes.pagerduty import FakePagerDuty
from tests.fakes.prometheus import RunningPrometheus, prometheus_with
from tests.fakes.slo_data import Dataset, dataset
from tests.runs import Sink, payments_account


@pytest.fixture(scope="session", autouse=True)
def pinned_clock() -> Iterator[None]:
    with time_machine.travel(PINNED_NOW, tick=True):
        yield


@pytest.fixture
def pagerduty(prometheus: RunningPrometheus) -> Iterator[FakePagerDuty]:
    with payments_account(prometheus) as fake:
        yield fake


@pytest.fixture
def smtp() -> Iterator[tuple[Sink, int]]:
    from aiosmtpd.controller import Controller

    from tests.fakes.prometheus import free_port

    sink = Sink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    yield sink, port
    controller.stop()


@pytest.fixture(scope="session")
def slo_dataset() -> Dataset:
    return dataset()  # 8 services, one of each shape, 300 s spacing, seeded


@pytest.fixture(scope="session")
def prometheus(slo_dataset: Dataset) -> Iterator[RunningPrometheus]:
    with prometheus_with(slo_dataset) as running:  # cached TSDB, private copy, free port, stopped by pid
        yield running
