"""The PagerDuty incident source: the API client (``api.py``), the collector (``collector.py``) and
PagerDuty's vocabulary mapped onto the model of no one vendor (``vocabulary.py``, the only place
that knows it)."""

from opsmeeting.collectors.pagerduty.api import PagerDutyFailure
from opsmeeting.collectors.pagerduty.collector import PagerDutyCollector

__all__ = ["PagerDutyCollector", "PagerDutyFailure"]
