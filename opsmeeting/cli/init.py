"""``opsmeeting init``: a commented, valid configuration written from a PagerDuty account (and,
optionally, a Prometheus server): the rotation from a chosen schedule's layer, discovery of every
team and service, the SLO label values Prometheus has and which services have them."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click
import yaml

from opsmeeting.cli.app import cli, parse_moment
from opsmeeting.errors import InputError

if TYPE_CHECKING:
    from opsmeeting.collectors.pagerduty.account import Schedule
    from opsmeeting.model import Directory

LABEL_TEMPLATES = ("{name|slug}", "{name}", "{id}")  # tried in this order; the one matching most wins
DEFAULT_LENGTH = timedelta(days=14)
AVAILABILITY_METRIC = "http_requests_total"


@dataclass
class Findings:
    """What init learnt, for the comments and the summary it prints."""

    directory: Directory
    schedules: list[Schedule]
    rotation: dict[str, Any]
    rotation_note: str
    prometheus_url: str | None = None
    label: str = "service"
    label_values: list[str] = field(default_factory=list)
    template: str = "{name|slug}"
    with_data: list[tuple[str, str]] = field(default_factory=list)  # (service name, label)
    without_data: list[tuple[str, str]] = field(default_factory=list)
    unmatched_values: list[str] = field(default_factory=list)
    availability: bool = False  # Prometheus has http_requests_total: an SLO over it is written


@cli.command("init")
@click.argument("config_file", type=click.Path(dir_okay=False, path_type=Path), default="opsmeeting.yaml")
@click.option("--token-env", default="PAGERDUTY_TOKEN", show_default=True, metavar="NAME",
              help="The environment variable holding the PagerDuty REST API token (read-only is enough).")
@click.option("--region", type=click.Choice(["us", "eu"]), default="us", show_default=True,
              help="The PagerDuty service region of the account.")
@click.option("--pagerduty-url", metavar="URL", help="PagerDuty's API base URL, for a proxy (https://...).")
@click.option("--ca-bundle", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="CA certificates to trust for PagerDuty (a TLS-inspecting proxy).")
@click.option("--schedule", "schedule_id", metavar="ID",
              help="Take the rotation (length, hand-off time, time zone) from this schedule's layer.")
@click.option("--prometheus", "prometheus_url", metavar="URL",
              help="Prometheus' base URL: its SLO label values are listed and matched to the services.")
@click.option("--label", default="service", show_default=True, metavar="LABEL",
              help="The Prometheus label that names a service in the SLO series.")
@click.option("--force", is_flag=True, help="Overwrite CONFIG_FILE if it exists.")
@click.option("--as-of", "as_of", metavar="TIME", hidden=True, help="Act as if the time were TIME (tests).")
def init(config_file: Path, token_env: str, region: str, pagerduty_url: str | None, ca_bundle: Path | None,
         schedule_id: str | None, prometheus_url: str | None, label: str, force: bool, as_of: str | None) -> None:
    """Write CONFIG_FILE (default opsmeeting.yaml) from the PagerDuty account whose token is in
    $PAGERDUTY_TOKEN (--token-env): every team and service found by discovery at each run, the
    rotation from --schedule's layer, and, with --prometheus, which services have SLO data.

    Never overwrites a file without --force. Exit 2 for bad input (a missing token, an unknown
    schedule), 1 when PagerDuty or Prometheus cannot be read; nothing is written then."""
    if config_file.exists() and not force:
        raise InputError(f"{config_file} exists: pass --force to overwrite it")
    now = parse_moment(as_of) if as_of else datetime.now(UTC)
    from opsmeeting.collectors.pagerduty.account import PagerDutyAccount
    from opsmeeting.config import PagerDutySource

    source_fields: dict[str, Any] = {"token_env": token_env, "region": region}
    if pagerduty_url:
        source_fields["base_url"] = pagerduty_url
    if ca_bundle:
        source_fields["ca_bundle"] = str(ca_bundle.resolve())  # the file resolves relative paths from its folder
    try:
        source = PagerDutySource.model_validate(source_fields)
    except ValueError as exc:
        raise InputError(f"PagerDuty options: {str(exc).splitlines()[-1].strip()}") from None
    if not os.environ.get(token_env):
        raise InputError(f"the PagerDuty API token is not set: export it in ${token_env} (or name another "
                         "variable with --token-env)")
    from opsmeeting.collectors.pagerduty import PagerDutyFailure

    try:
        account = PagerDutyAccount(source)
        directory = account.directory()
        schedules = account.schedules()
        rotation, note = _rotation(account, schedule_id, schedules, now)
    except PagerDutyFailure as exc:
        if exc.status == 401:  # the user's token: bad input, not an outage
            raise InputError(f"PagerDuty: {exc.message}") from None
        raise
    findings = Findings(directory=directory, schedules=schedules, rotation=rotation, rotation_note=note,
                        label=label)
    if prometheus_url:
        _prometheus(findings, prometheus_url)
    text = render(findings, source_fields, now)
    _validate(text)
    _write(config_file, text, force)
    click.echo(f"wrote {config_file}: {len(directory.teams)} teams and {len(directory.services)} services found by "
               f"discovery at each run; {note}")
    if prometheus_url:
        click.echo(f"Prometheus: {len(findings.with_data)} services have SLO data (label {label}, template "
                   f"{findings.template}), {len(findings.without_data)} do not")
    click.echo(f"next: opsmeeting check-config {config_file}   then: opsmeeting run --config {config_file}")


def _monday_nine(now: datetime, zone: str) -> str:
    """This week's Monday at 09:00 in ``zone``: the default hand-off."""
    local = now.astimezone(ZoneInfo(zone))
    monday = (local - timedelta(days=local.weekday())).replace(hour=9, minute=0, second=0, microsecond=0)
    return monday.strftime("%Y-%m-%dT%H:%M:%S")


def _rotation(account: Any, schedule_id: str | None, schedules: list[Schedule],
              now: datetime) -> tuple[dict[str, Any], str]:
    """The rotation section and a sentence on where it came from."""
    from opsmeeting.durations import format_duration

    rotation: dict[str, Any]
    if schedule_id is None:
        rotation = {"length": format_duration(DEFAULT_LENGTH), "anchor": _monday_nine(now, "UTC"), "timezone": "UTC"}
        hint = " (pass --schedule ID to take it from a schedule)" if schedules else ""
        return rotation, f"rotation: every 14 days from Monday 09:00 UTC, a default to adjust{hint}"
    schedule = account.schedule(schedule_id, now)
    if schedule is None:
        known = ", ".join(f"{s.id} ({s.name})" for s in schedules[:20]) or "none"
        raise InputError(f"--schedule {schedule_id}: PagerDuty has no such schedule (schedules: {known})")
    zone = _zone(schedule.time_zone)
    layer = schedule.rotation_layer()
    ids = {"pagerduty_schedule_ids": [schedule.id]}
    if layer is None:
        rotation = {"length": format_duration(DEFAULT_LENGTH), "anchor": _monday_nine(now, zone), "timezone": zone,
                    **ids}
        why = f"{len(schedule.layers)} layers or restrictions" if schedule.layers else "no layer"
        return rotation, (f"rotation: schedule {schedule.name!r} has {why}, so no single hand-off: the length and "
                          f"anchor are defaults to adjust (Monday 09:00 {zone}, 14 days)")
    length = timedelta(seconds=layer.turn_seconds)
    if not timedelta(hours=1) <= length <= timedelta(days=366):
        raise InputError(f"--schedule {schedule_id}: its layer's turn lasts {format_duration(length)}, which is not a "
                         "rotation opsmeeting can report on (1h to 366d)")
    local = layer.virtual_start.astimezone(ZoneInfo(zone))
    rotation = {"length": format_duration(length), "anchor": local.strftime("%Y-%m-%dT%H:%M:%S"), "timezone": zone,
                **ids}
    return rotation, (f"rotation: from schedule {schedule.name!r} ({schedule.id}), layer {layer.name!r}: every "
                      f"{format_duration(length)}, handing off {local:%a %H:%M} {zone}")


def _zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return "UTC"  # PagerDuty may name a zone the Rails way ("Eastern Time (US & Canada)"): the comment says
    return name


def _prometheus(findings: Findings, url: str) -> None:
    """Label values, the template that matches most services, and whether the request counter exists."""
    from opsmeeting.collectors.prometheus import PrometheusCollector
    from opsmeeting.config import PrometheusSource
    from opsmeeting.discovery import Rules, resolve

    try:
        source = PrometheusSource.model_validate({"url": url})
    except ValueError as exc:
        raise InputError(f"--prometheus {url!r}: {str(exc).splitlines()[-1].strip()}") from None
    collector = PrometheusCollector(source, [], [])
    values = collector.label_values(findings.label)
    metrics = collector.label_values("__name__")
    findings.prometheus_url = url
    findings.label_values = values
    findings.availability = AVAILABILITY_METRIC in metrics
    have = set(values)
    best: tuple[int, str, list[Any]] | None = None
    for template in LABEL_TEMPLATES:
        services = resolve([], [], Rules(prometheus_label=template), findings.directory.teams,
                           findings.directory.services).services
        matched = sum(s.label in have for s in services)
        if best is None or matched > best[0]:
            best = (matched, template, services)
    assert best is not None
    _, findings.template, services = best
    findings.with_data = [(s.display_name or s.name, s.label) for s in services if s.label in have]
    findings.without_data = [(s.display_name or s.name, s.label) for s in services if s.label not in have]
    labels = {s.label for s in services}
    findings.unmatched_values = [v for v in values if v not in labels]


def _dump(value: Any) -> str:
    """One YAML scalar or flow collection, quoted as needed."""
    return yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=10_000).strip().removesuffix(
        "\n...").strip()


def _comment_lines(title: str, items: list[str]) -> list[str]:
    return [f"# {title}", *(f"#   {item}" for item in items)] if items else [f"# {title}: none"]


def render(f: Findings, source_fields: dict[str, Any], now: datetime) -> str:
    """The configuration text: valid YAML, every choice commented."""
    d = f.directory
    team_name = {t.id: t.name for t in d.teams}
    lines = [
        f"# opsmeeting configuration, written by `opsmeeting init` on {now:%Y-%m-%d} from PagerDuty"
        f" ({source_fields.get('base_url') or source_fields['region']}).",
        "# Every key is documented in the README (\"Configuration\"). Check it: opsmeeting check-config <this file>",
        "",
        "rotation:",
        f"  # {f.rotation_note.removeprefix('rotation: ')}",
    ]
    lines += [f"  {key}: {_dump(value)}" for key, value in f.rotation.items()]
    if "pagerduty_schedule_ids" not in f.rotation:
        lines.append("  # pagerduty_schedule_ids: [P...]   # on-call hours per responder come from these schedules")
    lines += ["", "sources:", "  pagerduty:"]
    lines += [f"    {key}: {_dump(str(value))}" for key, value in source_fields.items()]
    if f.prometheus_url:
        lines += ["  prometheus:", f"    url: {_dump(f.prometheus_url)}"]
    else:
        lines += ["  # prometheus:", "  #   url: http://prometheus:9090   # SLOs need it (and the slos: below)"]
    lines += [
        "",
        f"# Teams and services are found in PagerDuty at each run: {len(d.teams)} teams and {len(d.services)} services",
        "# today. A service belongs to its first PagerDuty team (PagerDuty derives a service's teams from its",
        "# escalation policy); one with no team goes to `unassigned_team`. Entries under `services:` and `teams:`",
        "# win: they merge several PagerDuty services into one, rename one, set its label or a team's members.",
        "discovery:",
        f"  prometheus_label: {_dump(f.template)}   # a discovered service's value of the SLO label"
        + (f" ({f.label})" if f.prometheus_url else ""),
        "  # teams: []              # only the services of these PagerDuty teams (ids or name patterns)",
        "  # exclude_services: []   # ids or name patterns, e.g. [\"*-staging\", PXXXXXX]",
        "  # exclude_teams: []",
        "",
    ]
    if d.teams_error:
        lines.append(f"# The teams could not be read ({d.teams_error}): discovered teams are named by their ids.")
    lines += _comment_lines(f"PagerDuty teams ({len(d.teams)}), id: name",
                            [f"{t.id}: {t.name}" for t in sorted(d.teams, key=lambda t: t.name.casefold())])
    by_team: dict[str, list[str]] = {}
    for svc in d.services:
        owner = team_name.get(svc.team_ids[0], svc.team_ids[0]) if svc.team_ids else "(no team)"
        by_team.setdefault(owner, []).append(f"  {svc.id}: {svc.name}")
    service_lines = [line for team, items in sorted(by_team.items(), key=lambda kv: kv[0].casefold())
                     for line in (f"{team}:", *sorted(items, key=str.casefold))]
    lines += _comment_lines(f"PagerDuty services ({len(d.services)}) by their first team, id: name", service_lines)
    lines += _comment_lines(
        f"PagerDuty schedules ({len(f.schedules)}), id: name (zone); `opsmeeting init --schedule ID` takes the "
        "rotation from one",
        [f"{s.id}: {s.name} ({s.time_zone})" for s in sorted(f.schedules, key=lambda s: s.name.casefold())])
    if f.prometheus_url:
        lines += _comment_lines(f"Prometheus label values of {f.label!r} ({len(f.label_values)})", [
            ", ".join(f.label_values)] if f.label_values else [])
        lines += _comment_lines(f"Services with SLO data ({len(f.with_data)}), name → label",
                                [f"{name} → {label}" for name, label in f.with_data])
        lines += _comment_lines(f"Services without SLO data ({len(f.without_data)}): no series has their label",
                                [", ".join(name for name, _ in f.without_data)] if f.without_data else [])
        if f.unmatched_values:
            lines += _comment_lines("Label values no service has (set a `services:` entry's prometheus_label, or "
                                    "change the template)", [", ".join(f.unmatched_values)])
    lines.append("")
    lines += _slos(f)
    lines += [
        "",
        "output:",
        "  directory: reports            # one folder per rotation: report.html, report.pdf, scorecards.json",
        "state:",
        "  path: opsmeeting.sqlite       # history, the wheel, items, deliveries",
        "# email:                        # the PDF pre-read to the attendees (README, \"Email\")",
        "#   smtp_host: smtp.example.com",
        "#   sender: ops-meeting@example.com",
        "#   recipients: [sre@example.com]",
        "",
    ]
    return "\n".join(lines)


def _slos(f: Findings) -> list[str]:
    good = f'sum by ({f.label}) (increase({AVAILABILITY_METRIC}{{code!~"5.."}}[{{{{window}}}}]))'
    total = f"sum by ({f.label}) (increase({AVAILABILITY_METRIC}[{{{{window}}}}]))"
    body = [
        "  - name: availability",
        "    kind: ratio",
        "    objective: 99.9%",
        f"    good: {_dump(good)}",
        f"    total: {_dump(total)}",
    ]
    if f.label != "service":
        body.append(f"    group_by: {_dump(f.label)}")
    body.append("    # services: [\"*-api\"]   # the services expected to have data; by default those with series")
    if f.prometheus_url and f.availability:
        return [f"# SLOs over the series Prometheus has ({AVAILABILITY_METRIC} is there). README, \"SLOs\".",
                "slos:", *body]
    why = ("Prometheus has no " + AVAILABILITY_METRIC) if f.prometheus_url else "no Prometheus was given"
    return [f"# SLOs ({why}): an example to adapt to your metrics, then uncomment. README, \"SLOs\".",
            "# slos:", *(f"# {line}" for line in body)]


def _validate(text: str) -> None:
    """The file must load as a configuration: a failure here is a bug of init, not the user's."""
    from opsmeeting.config import parse_config

    parse_config(yaml.safe_load(text), origin="the configuration init wrote")


def _write(path: Path, text: str, force: bool) -> None:
    """Atomically: a temporary file beside it, then a rename (never a half-written configuration). Without
    --force, a file that appeared meanwhile is not replaced."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        if force:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)  # fails if the path exists: no overwrite, even in a race
            except FileExistsError:
                raise InputError(f"{path} exists: pass --force to overwrite it") from None
            os.unlink(tmp)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
