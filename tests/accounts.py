"""Small PagerDuty accounts for tests whose subject is not the data (the meeting loop, serve)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.fakes import pagerduty_data as pd
from tests.fakes.pagerduty import FakePagerDuty

TOKEN_ENV = "OPSMEETING_TEST_PD_TOKEN"


@contextmanager
def quiet_account() -> Iterator[dict[str, Any]]:
    """A running fake with one team and one service (PS1) and no incident; yields the ``sources``
    section of a configuration that reads it (its token is set in the environment meanwhile)."""
    before = os.environ.get(TOKEN_ENV)
    os.environ[TOKEN_ENV] = "test-token"
    try:
        with FakePagerDuty() as fake:
            fake.teams = [pd.make_team("PT1", "payments")]
            fake.services = [pd.make_service("PS1", "checkout", ["PT1"])]
            yield {"pagerduty": {"base_url": fake.url, "ca_bundle": fake.ca_bundle, "token_env": TOKEN_ENV,
                                 "requests_per_minute": 0}}
            fake.assert_valid()
    finally:
        if before is None:
            os.environ.pop(TOKEN_ENV, None)
        else:
            os.environ[TOKEN_ENV] = before
