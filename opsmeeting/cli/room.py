"""``opsmeeting serve``: the report archive for the meeting room."""

from __future__ import annotations

from pathlib import Path

import click

from opsmeeting.cli.app import cli, config_option
from opsmeeting.config import load_config


@cli.command("serve")
@config_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
@click.option("--allow-public", is_flag=True, help="Allow a non-loopback --host (the meeting room's network).")
@click.option("--public-host", "public_hosts", multiple=True, metavar="NAME[:PORT]",
              help="With --allow-public: a name (or address) the room's browsers type, e.g. ops-room.example.com; "
                   "repeatable. Needed with --host 0.0.0.0 or ::, which otherwise answers only this machine.")
def serve(config_path: Path, host: str, port: int, allow_public: bool, public_hosts: tuple[str, ...]) -> None:
    """Serve the report archive for the meeting room: the wheel records its picks, and attendees
    add parking-lot items from the page. Binds to 127.0.0.1 unless told otherwise; writes need
    this server's CSRF token, a Host naming the server (127.0.0.1, localhost, [::1] or a
    --public-host) and, when sent, a matching Origin."""
    from opsmeeting.serve import describe, make_server

    config = load_config(config_path)
    server = make_server(config, host, port, allow_public=allow_public, public_hosts=public_hosts)
    click.echo(describe(server), err=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
