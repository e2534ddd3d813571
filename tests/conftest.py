"""Shared fixtures: a real Prometheus on 127.0.0.1 backfilled with seeded SLO data (session scope)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.prometheus import RunningPrometheus, prometheus_with
from tests.fakes.slo_data import Dataset, dataset


@pytest.fixture(scope="session")
def slo_dataset() -> Dataset:
    return dataset()  # 8 services, one of each shape, 300 s spacing, seeded


@pytest.fixture(scope="session")
def prometheus(slo_dataset: Dataset) -> Iterator[RunningPrometheus]:
    with prometheus_with(slo_dataset) as running:  # cached TSDB, private copy, free port, stopped by pid
        yield running
