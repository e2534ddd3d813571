"""The built-in sources. Each factory imports its collector when called, so commands that collect
nothing (``--help``, ``wheel``, ``item``) do not load HTTP clients and their dependencies."""

from __future__ import annotations

from opsmeeting.collectors import BuildContext, Collector, Source
from opsmeeting.config import Config


def _pagerduty(config: Config, context: BuildContext) -> Collector | None:
    source = config.sources.pagerduty
    if source is None:
        return None
    from opsmeeting.collectors.pagerduty import PagerDutyCollector

    return PagerDutyCollector(
        source,
        service_ids=[pid for svc in config.services for pid in svc.pagerduty_service_ids],
        schedule_ids=config.rotation.pagerduty_schedule_ids,
        environ=dict(context.environ),
    )


def _prometheus(config: Config, context: BuildContext) -> Collector | None:
    source = config.sources.prometheus
    if source is None or not context.slos:
        return None
    from opsmeeting.collectors.prometheus import PrometheusCollector

    return PrometheusCollector(source, context.slos, config.services, environ=dict(context.environ))


def _pagerduty_absent(config: Config, context: BuildContext) -> str:
    return "not configured (sources.pagerduty)"


def _prometheus_absent(config: Config, context: BuildContext) -> str:
    if config.sources.prometheus is not None and not context.slos:
        return "no SLOs are defined (slos, slo_imports)"
    return "not configured (sources.prometheus)"


SOURCES: tuple[Source, ...] = (
    Source("pagerduty", "incidents", "PagerDuty", _pagerduty, _pagerduty_absent),
    Source("prometheus", "slos", "Prometheus", _prometheus, _prometheus_absent),
)
