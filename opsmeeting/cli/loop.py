"""The meeting loop on the command line: action items, the parking lot and teams' on-call notes."""

from __future__ import annotations

import difflib
import os
import shlex
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path

import click

from opsmeeting.cli.app import config_option
from opsmeeting.config import Config, load_config
from opsmeeting.errors import InputError
from opsmeeting.meeting import wheel, wheel_store
from opsmeeting.meeting.items import ItemBook
from opsmeeting.meeting.known import team_names
from opsmeeting.meeting.notes import note_path
from opsmeeting.store import Store


def _team(config: Config, name: str | None, what: str = "--team", store: Store | None = None) -> str | None:
    """``name`` when it is a team's key: a configured team's, or, with discovery, one the last run found."""
    if name is None:
        return None
    teams = team_names(config, store)
    if name not in teams:
        hint = difflib.get_close_matches(name, teams, n=1)
        known = f"did you mean {hint[0]!r}?" if hint else ", ".join(teams[:20]) + (" ..." if len(teams) > 20 else "")
        where = "a configured or discovered team" if config.discovery else "a configured team"
        raise InputError(f"{what} {name!r}: not {where} ({known or 'none yet: run opsmeeting run first'})")
    return name


@click.group("item")
def item() -> None:
    """Action items and the parking lot, carried from one pre-read to the next."""


@item.command("add")
@config_option
@click.option("--kind", type=click.Choice(["action", "parking_lot"]), default="action", show_default=True)
@click.option("--team", required=True, help="The team that owns the item (or raised the parking-lot topic).")
@click.option("--owner", help="Who does it.")
@click.option("--due", type=click.DateTime(formats=["%Y-%m-%d"]), help="Due date, YYYY-MM-DD.")
@click.option("--link", help="A ticket or document (http or https).")
@click.option("--while-listening-to", "listening", metavar="TEAM",
              help="Parking lot: the team that was presenting when the topic came up.")
@click.argument("text")
def item_add(config_path: Path, kind: str, team: str, owner: str | None, due: datetime | None, link: str | None,
             listening: str | None, text: str) -> None:
    """Record an item; the next pre-read lists it in section 4 until it is done."""
    config = load_config(config_path)
    with Store.open(config.state.path) as store:
        item_id = ItemBook(store).add(kind=kind, team=_team(config, team, store=store) or team, text=text,
                                      owner=owner, due=due.date() if due else None, link=link,
                                      while_listening_to=_team(config, listening, "--while-listening-to", store))
    click.echo(f"#{item_id} {kind.replace('_', ' ')} for {team}: {text}")


@item.command("done")
@config_option
@click.argument("item_id", type=int)
def item_done(config_path: Path, item_id: int) -> None:
    """Close item ITEM_ID (it shows under "closed since the last meeting" once)."""
    config = load_config(config_path)
    with Store.open(config.state.path, create=False) as store:
        done = ItemBook(store).done(item_id)
    click.echo(f"#{done.id} done: {done.text}")


@item.command("list")
@config_option
@click.option("--all", "show_all", is_flag=True, help="Include items already done.")
@click.option("--team", help="Only this team's items.")
def item_list(config_path: Path, show_all: bool, team: str | None) -> None:
    """List open items (with --all, done ones too)."""
    config = load_config(config_path)
    with Store.open(config.state.path) as store:
        items = ItemBook(store).list(status=None if show_all else "open", team=_team(config, team, store=store))
    today = date.today()
    for i in items:
        age = (datetime.now(UTC) - i.created_at).days
        due = f" due {i.due}{' PAST DUE' if i.status == 'open' and i.due < today else ''}" if i.due else ""
        click.echo(f"#{i.id:<4} {i.status:<4} {i.kind:<11} {i.team:<14} {age:>3} d{due}  {i.text}"
                   + (f" [{i.owner}]" if i.owner else ""))
    if not items:
        click.echo("no items")


@click.group("notes")
def notes() -> None:
    """Teams' on-call notes (Markdown), shown under each team in the pre-read."""


@notes.command("edit")
@config_option
@click.argument("team")
@click.option("--window", "which", type=click.Choice(["current", "last"]), default="current", show_default=True,
              help="The rotation in progress, or the last completed one.")
def notes_edit(config_path: Path, team: str, which: str) -> None:
    """Open TEAM's notes for the rotation in $EDITOR (the file is created if missing)."""
    config = load_config(config_path)
    with Store.open(config.state.path) as store:
        _team(config, team, "TEAM", store)
    if config.notes is None:
        raise InputError("notes.directory is not configured: add `notes: {directory: notes}` to the configuration")
    rot = config.rotation
    clock = rot.clock()
    now = datetime.now(UTC)
    window = clock.current(now) if which == "current" else clock.last_completed(now, rot.grace)
    path = note_path(config.notes.directory, window, team)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text(f"# {team}: on-call notes, {window.label()}\n\n- \n", encoding="utf-8")
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    subprocess.run([*shlex.split(editor), str(path)], check=False)
    click.echo(str(path))


@click.group("wheel")
def wheel_group() -> None:
    """The Ops Wheel: which team presents its on-call at the meeting (state kept in the store)."""


def _open(config_path: Path) -> tuple[Config, Store]:
    config = load_config(config_path)
    return config, Store.open(config.state.path)


@wheel_group.command("show")
@config_option
def wheel_show(config_path: Path) -> None:
    """Participants, weights, chances, picks and last-picked dates."""
    config, store = _open(config_path)
    with store:
        state = wheel_store.load(store, config)
        chances = {r.name: r.probability for r in wheel.rows(state, datetime.now(UTC), mode=config.wheel.mode)}
        for line in wheel_store.describe(state, chances):
            click.echo(line)
        for pick in state.history[-5:]:
            click.echo(f"  picked {pick.name} on {pick.at:%Y-%m-%d}" + (f" (rigged: {pick.reason or 'no reason'})"
                                                                         if pick.rigged else ""))


@wheel_group.command("spin")
@config_option
def wheel_spin(config_path: Path) -> None:
    """Suggest a team (nothing is recorded until `wheel accept`)."""
    config, store = _open(config_path)
    with store:
        team = wheel_store.spin(store, config, datetime.now(UTC))
        store.set_meta("wheel.suggestion", team)
    click.echo(f"the wheel suggests: {team}")
    click.echo("accept it with: opsmeeting wheel accept  (or spin again)")


@wheel_group.command("accept")
@config_option
def wheel_accept(config_path: Path) -> None:
    """Commit the last suggestion of `wheel spin`."""
    config, store = _open(config_path)
    with store:
        team = store.get_meta("wheel.suggestion")
        if not team:
            raise InputError("no suggestion to accept: run `opsmeeting wheel spin` first")
        wheel_store.record_pick(store, config, team, now=datetime.now(UTC))
        store.set_meta("wheel.suggestion", None)
    click.echo(f"recorded: {team} presents")


@wheel_group.command("record")
@config_option
@click.argument("team")
@click.option("--rigged", is_flag=True, help="A pick made by hand rather than by the wheel (recorded as such).")
@click.option("--reason", help="Why, for a rigged pick (\"we pick payments today\").")
def wheel_record(config_path: Path, team: str, rigged: bool, reason: str | None) -> None:
    """Commit a pick made elsewhere (the projected page, or by hand with --rigged)."""
    config, store = _open(config_path)
    with store:
        wheel_store.record_pick(store, config, team, now=datetime.now(UTC), rigged=rigged, reason=reason)
        store.set_meta("wheel.suggestion", None)
    click.echo(f"recorded: {team} presents" + (" (rigged)" if rigged else ""))


@wheel_group.command("exclude")
@config_option
@click.argument("team")
@click.option("--until", "until", required=True, type=click.DateTime(formats=["%Y-%m-%d"]),
              help="Back on the wheel from this date (YYYY-MM-DD, UTC).")
@click.option("--reason", required=True, help="Away, in an incident, …")
def wheel_exclude(config_path: Path, team: str, until: datetime, reason: str) -> None:
    """Take TEAM off the wheel for a while."""
    config, store = _open(config_path)
    with store:
        state = wheel.exclude(wheel_store.load(store, config), team, until.replace(tzinfo=UTC), reason)
        wheel_store.save(store, state)
    click.echo(f"{team} is off the wheel until {until:%Y-%m-%d}: {reason}")


@wheel_group.command("include")
@config_option
@click.argument("team")
def wheel_include(config_path: Path, team: str) -> None:
    """Put TEAM back on the wheel now."""
    config, store = _open(config_path)
    with store:
        wheel_store.save(store, wheel.include(wheel_store.load(store, config), team))
    click.echo(f"{team} is back on the wheel")


@wheel_group.command("reset")
@config_option
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def wheel_reset(config_path: Path, yes: bool) -> None:
    """Set every weight back to 1 (pick counts and history are kept)."""
    if not yes:
        click.confirm("Reset every weight to 1?", abort=True)
    config, store = _open(config_path)
    with store:
        wheel_store.save(store, wheel.reset(wheel_store.load(store, config)))
    click.echo("weights reset")
