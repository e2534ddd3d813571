"""``opsmeeting check-config``: the configuration validated, summarised and, online, checked against
the sources."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from opsmeeting.cli.app import cli, parse_moment
from opsmeeting.config import Config, load_config
from opsmeeting.config.slo_import import load_slos
from opsmeeting.errors import ExitCode


def configured_sources(config: Config) -> list[str]:
    """The sources a run would collect; ``run`` refuses a configuration with none."""
    names = []
    if config.sources.pagerduty is not None:
        names.append("pagerduty")
    if config.sources.prometheus is not None and (config.slos or config.slo_imports):
        names.append("prometheus")
    return names


@cli.command("check-config")
@click.argument("config_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--offline", is_flag=True, help="Do not ask Prometheus to validate the SLO queries.")
@click.option("--as-of", "as_of", metavar="TIME",
              help="Check as if the time were TIME (ISO-8601 with an offset): it picks the rotations shown and the "
              "one whose data are checked.")
def check_config(config_file: Path, offline: bool, as_of: str | None) -> None:
    """Validate CONFIG_FILE and print a short summary. Exit 2 listing every problem if invalid.

    With a Prometheus source (and without --offline), every SLO query is also validated by the
    server (/api/v1/format_query) and services with no data in the last rotation are listed.
    Exit 2 when a query is invalid, 1 when Prometheus cannot be reached.
    """
    config = load_config(config_file)
    now = parse_moment(as_of) if as_of else datetime.now(UTC)
    slos = load_slos(config)
    click.echo(summary(config, now))
    if offline or config.sources.prometheus is None or not slos:
        return
    window = config.rotation.clock().last_completed(
        now, config.rotation.grace)
    from opsmeeting.collectors.prometheus import PrometheusCollector, PrometheusFailure, check_queries

    collector = PrometheusCollector(config.sources.prometheus, slos, config.services)
    try:
        report = check_queries(collector, window)
    except PrometheusFailure as exc:
        click.echo(f"Prometheus at {config.sources.prometheus.url}: {exc.message} "
                   "(use --offline to check the file alone)", err=True)
        sys.exit(ExitCode.FAILURE)
    click.echo(f"Prometheus {report.version or '(version unknown)'} at {config.sources.prometheus.url}:")
    for line in report.ok:
        click.echo(f"  {line}")
    for line in report.no_data:
        click.echo(f"  warning: {line}")
    if report.invalid:
        for line in report.invalid:
            click.echo(f"  error: {line}", err=True)
        sys.exit(ExitCode.USAGE)


def summary(config: Config, now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    rot = config.rotation
    clock = rot.clock()
    last = clock.last_completed(now, rot.grace)
    current = clock.current(now)
    lines = [
        "configuration OK",
        f"rotation: every {_human(rot.length)} from {rot.anchor:%a %Y-%m-%d %H:%M} {rot.timezone}",
        f"  last completed: {last.label()}",
        f"  in progress:    {current.label()}",
        f"teams: {len(config.teams)} ({', '.join(t.name for t in config.teams)})",
        f"services: {len(config.services)}",
        f"SLOs: {len(config.slos)} ({', '.join(s.name for s in config.slos) or 'none'})"
        + (f", plus {len(config.slo_imports)} import file(s)" if config.slo_imports else ""),
    ]
    pd_src = config.sources.pagerduty
    if pd_src:
        state = "set" if os.environ.get(pd_src.token_env) else "NOT set"
        lines.append(f"PagerDuty: {pd_src.url} (token from ${pd_src.token_env}: {state})")
    else:
        lines.append("PagerDuty: not configured")
    prom = config.sources.prometheus
    lines.append(f"Prometheus: {prom.url}" if prom else "Prometheus: not configured")
    if prom and not (config.slos or config.slo_imports):
        lines.append("warning: sources.prometheus is set but no SLO is defined (slos, slo_imports): it is not read")
    if not configured_sources(config):
        lines.append("warning: no source is configured (sources.pagerduty, sources.prometheus with SLOs): "
                     "`opsmeeting run` has nothing to collect and refuses to run")
    lines.append(f"output: {config.output.directory} ({config.output.page_size})")
    lines.append(f"state: {config.state.path}")
    if config.email:
        lines.append(f"email: {len(config.email.recipients)} recipient(s) via {config.email.smtp_host}:"
                     f"{config.email.smtp_port} ({config.email.security})")
    else:
        lines.append("email: not configured")
    return "\n".join(lines)


def _human(delta: timedelta) -> str:
    if delta.total_seconds() % 86400 == 0:
        days = int(delta.total_seconds() // 86400)
        return f"{days} days" if days != 1 else "day"
    return f"{delta.total_seconds() / 3600:g} hours"
