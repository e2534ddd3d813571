"""``opsmeeting check-config``: the configuration validated, summarised and, online, checked against
the sources."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from opsmeeting.cli.app import cli, parse_moment
from opsmeeting.config import Config, SloDefinition, load_config
from opsmeeting.config.slo_import import load_slos
from opsmeeting.errors import ExitCode
from opsmeeting.model import Setup


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
@click.option("--offline", is_flag=True, help="Check the file alone: do not ask PagerDuty or Prometheus.")
@click.option("--as-of", "as_of", metavar="TIME",
              help="Check as if the time were TIME (ISO-8601 with an offset): it picks the rotations shown and the "
              "one whose data are checked.")
def check_config(config_file: Path, offline: bool, as_of: str | None) -> None:
    """Validate CONFIG_FILE and print a short summary. Exit 2 listing every problem if invalid.

    Without --offline, the sources are asked too, in one pass. PagerDuty (when its token is set):
    the token is accepted; every configured service, team and schedule id exists (the unknown ones
    are named); the services PagerDuty has that the configuration covers neither explicitly nor by
    discovery are counted; the services with no incident in the last 3 rotations are listed.
    Prometheus (with SLOs): every query is validated by the server (/api/v1/format_query), the SLO
    label's values are matched to the services, and services expected to have data but without any
    in the last rotation are listed.

    Chat channels: each webhook URL's environment variable is set to an https URL.

    Exit 2 when an id is unknown, the token is rejected, a query is invalid or a chat URL is missing; 1 when a source
    cannot be reached; 0 otherwise.
    """
    config = load_config(config_file)
    now = parse_moment(as_of) if as_of else datetime.now(UTC)
    slos = load_slos(config)
    click.echo(summary(config, now))
    if offline:
        return
    codes: list[ExitCode] = []
    setup = None
    pd_source = config.sources.pagerduty
    if pd_source is not None and os.environ.get(pd_source.token_env):
        code, setup = check_pagerduty(config, slos, now)
        codes.append(code)
    elif pd_source is not None:
        click.echo(f"PagerDuty: not checked (${pd_source.token_env} is not set)")
    if config.sources.prometheus is not None and slos:
        codes.append(check_prometheus(config, slos, now, setup))
    if config.chat:
        codes.append(check_chat(config))
    if ExitCode.USAGE in codes:
        sys.exit(ExitCode.USAGE)
    if ExitCode.FAILURE in codes:
        sys.exit(ExitCode.FAILURE)


def check_chat(config: Config) -> ExitCode:
    """The chat channels' environment: each URL variable set to an https URL (never printed)."""
    from opsmeeting.delivery.chat import check_channels

    problems = check_channels(config.chat, os.environ)
    for problem in problems:
        click.echo(f"error: {problem}", err=True)
    if problems:
        return ExitCode.USAGE
    names = ", ".join(f"{c.name} ({c.kind})" for c in config.chat)
    click.echo(f"Chat: {len(config.chat)} channel(s), every webhook URL set: {names}")
    return ExitCode.OK


QUIET_ROTATIONS = 3  # "no incident in the last few rotations"


def check_pagerduty(config: Config, slos: list[SloDefinition], now: datetime) -> tuple[ExitCode, Setup | None]:
    """The PagerDuty half of check-config; returns its exit code and the setup a run would have."""
    from opsmeeting.collectors.pagerduty import PagerDutyFailure
    from opsmeeting.collectors.pagerduty.account import PagerDutyAccount
    from opsmeeting.discovery import matches
    from opsmeeting.pipeline import setup_from_config

    source = config.sources.pagerduty
    assert source is not None
    try:
        account = PagerDutyAccount(source)
        directory = account.directory()
    except PagerDutyFailure as exc:
        click.echo(f"error: PagerDuty at {source.url}: {exc.message}", err=True)
        return (ExitCode.USAGE if exc.status == 401 else ExitCode.FAILURE), None
    click.echo(f"PagerDuty at {source.url}: token accepted; the account has {len(directory.teams)} teams and "
               f"{len(directory.services)} services")
    problems: list[str] = []
    warnings: list[str] = []
    if directory.teams_error:
        warnings.append(f"the teams could not be read ({directory.teams_error}): team ids are not checked, and "
                        "discovered teams are named by their ids")
    service_names = {s.id: s.name for s in directory.services}
    team_names = {t.id: t.name for t in directory.teams}
    for index, svc in enumerate(config.services):
        for pid in svc.pagerduty_service_ids:
            if pid not in service_names:
                problems.append(f"services[{index}] ({svc.name}): PagerDuty has no service {pid}")
    for index, team in enumerate(config.teams):
        for tid in team.pagerduty_team_ids:
            if tid not in team_names and directory.teams_error is None:
                problems.append(f"teams[{index}] ({team.name}): PagerDuty has no team {tid}")
    try:
        for index, sid in enumerate(config.rotation.pagerduty_schedule_ids):
            schedule = account.schedule(sid, now)
            if schedule is None:
                problems.append(f"rotation.pagerduty_schedule_ids[{index}]: PagerDuty has no schedule {sid}")
    except PagerDutyFailure as exc:
        click.echo(f"error: PagerDuty at {source.url}: {exc.message}", err=True)
        return ExitCode.FAILURE, None
    rules = config.discovery
    if rules is not None:
        for key, objects in (("teams", directory.teams), ("exclude_teams", directory.teams),
                             ("exclude_services", directory.services)):
            for pattern in getattr(rules, key):
                if not any(matches([pattern], o.id, o.name) for o in objects):
                    warnings.append(f"discovery.{key}: {pattern!r} matches no PagerDuty "
                                    f"{'team' if 'team' in key else 'service'}")
    setup, _ = setup_from_config(config, slos, directory if rules is not None else None)
    covered = {sid for s in setup.services for sid in s.source_ids if sid in service_names}
    uncovered = sorted(service_names[sid] for sid in set(service_names) - covered)
    listed = len(config.services)
    how = f"{listed} listed, {len(setup.services) - listed} discovered" if rules is not None else f"{listed} listed"
    click.echo(f"  services reported: {len(setup.services)} ({how}) in {len(setup.teams)} teams, covering "
               f"{len(covered)} of the account's {len(directory.services)} services")
    if uncovered:
        why = "excluded by discovery" if rules is not None else "neither listed nor discovered (no discovery section)"
        warnings.append(f"{len(uncovered)} PagerDuty services are not covered, {why}: {_some(uncovered)}")
    last = config.rotation.clock().last_completed(now, config.rotation.grace)
    since = last.end - QUIET_ROTATIONS * config.rotation.length
    try:
        active = account.services_with_incidents(sorted(covered), since, last.end)
    except PagerDutyFailure as exc:
        click.echo(f"error: PagerDuty at {source.url}: {exc.message}", err=True)
        return ExitCode.FAILURE, setup
    quiet = [s.display_name or s.name for s in setup.services if s.source_ids and not set(s.source_ids) & active]
    click.echo(f"  services with no incident in the last {QUIET_ROTATIONS} rotations (since {since:%Y-%m-%d}): "
               f"{len(quiet)}" + (f": {_some(quiet)}" if quiet else ""))
    without_ids = [s.name for s in setup.services if not s.source_ids]
    if without_ids:
        click.echo(f"  services with no PagerDuty id (SLOs only): {_some(without_ids)}")
    click.echo(f"  {sum(account.request_counts().values())} requests")
    for line in warnings:
        click.echo(f"  warning: {line}")
    for line in problems:
        click.echo(f"error: {line}", err=True)
    return (ExitCode.USAGE if problems else ExitCode.OK), setup


def check_prometheus(config: Config, slos: list[SloDefinition], now: datetime, setup: Setup | None) -> ExitCode:
    """The Prometheus half: the queries, the label values and the services with data."""
    from opsmeeting.collectors.prometheus import PrometheusCollector, PrometheusFailure, check_queries
    from opsmeeting.pipeline import setup_from_config

    source = config.sources.prometheus
    assert source is not None
    window = config.rotation.clock().last_completed(now, config.rotation.grace)
    if setup is None:
        setup, _ = setup_from_config(config, slos)
        if config.discovery is not None:
            click.echo("Prometheus: the discovered services are not known without PagerDuty: the explicit ones "
                       "alone are matched")
    collector = PrometheusCollector(source, slos, setup.services)
    try:
        report = check_queries(collector, window, {slo.name: slo.expected for slo in setup.slos})
    except PrometheusFailure as exc:
        click.echo(f"error: Prometheus at {source.url}: {exc.message} (use --offline to check the file alone)",
                   err=True)
        return ExitCode.FAILURE
    click.echo(f"Prometheus {report.version or '(version unknown)'} at {source.url}:")
    for line in report.ok + report.info:
        click.echo(f"  {line}")
    for line in report.no_data:
        click.echo(f"  warning: {line}")
    for line in report.invalid:
        click.echo(f"  error: {line}", err=True)
    return ExitCode.USAGE if report.invalid else ExitCode.OK


def _some(names: list[str], shown: int = 12) -> str:
    return ", ".join(names[:shown]) + (f" and {len(names) - shown} more" if len(names) > shown else "")


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
        f"teams: {len(config.teams)} listed" + (f" ({_some([t.name for t in config.teams])})" if config.teams else "")
        + (", plus those discovery finds in PagerDuty" if config.discovery else ""),
        f"services: {len(config.services)} listed" + (", plus those discovery finds in PagerDuty"
                                                        if config.discovery else ""),
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
