"""Docs that tests keep honest: every command, config section and example is documented and valid."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
import yaml

from opsmeeting.cli import cli
from opsmeeting.config import Config, load_config

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
EXAMPLE = ROOT / "config" / "opsmeeting.example.yaml"


def commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    found = []
    for name, command in sorted(group.commands.items()):
        full = f"{prefix}{name}"
        if isinstance(command, click.Group):
            found += commands(command, full + " ")
        else:
            found.append((full, command))
    return found


@pytest.mark.parametrize(("name", "command"), commands(cli))
def test_every_command_is_in_the_readme_with_its_options(name, command):
    words = name.split()
    line = next((line for line in README.splitlines() if line.startswith("opsmeeting " + words[0])
                 and all(w in line for w in words)), None)
    assert line is not None, f"`opsmeeting {name}` is not in the README's CLI section"
    assert command.help, f"`opsmeeting {name}` has no help text"
    for param in command.params:
        if isinstance(param, click.Option) and param.name not in ("config_path", "yes"):
            flag = max(param.opts, key=len)
            assert flag in README, f"{flag} of `opsmeeting {name}` is not in the README"


@pytest.mark.parametrize("key", sorted(Config.model_fields))
def test_every_config_section_is_documented_and_exemplified(key):
    assert f"| `{key}` |" in README or f"| `{key}." in README, f"config section {key!r} is missing from the README"
    assert re.search(rf"^#?\s*{key}:", EXAMPLE.read_text(), re.MULTILINE), f"{key!r} is not in the example config"


def test_the_example_config_is_valid():
    load_config(EXAMPLE)


def test_deployment_examples_use_real_commands():
    crontab = (ROOT / "config" / "crontab").read_text()
    service = (ROOT / "config" / "systemd" / "opsmeeting.service").read_text()
    cronjob = list(yaml.safe_load_all((ROOT / "config" / "kubernetes" / "cronjob.yaml").read_text()))
    assert "opsmeeting run --config" in crontab and "opsmeeting run --config" in service
    assert "SuccessExitStatus=3" in service  # degraded is delivered, not a failed unit
    job = next(d for d in cronjob if d["kind"] == "CronJob")
    container = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    assert container["args"][:2] == ["run", "--config"]
    assert "ENTRYPOINT [\"opsmeeting\"]" in (ROOT / "Dockerfile").read_text()
    for path in ("config/crontab", "config/systemd/opsmeeting.service", "config/systemd/opsmeeting.timer",
                 "config/kubernetes/cronjob.yaml", "Dockerfile"):
        assert path in README, f"{path} is not mentioned in the README"


def test_exit_codes_are_documented():
    from opsmeeting.errors import ExitCode

    table = README[README.index("### Exit codes"):]
    for code in ExitCode:
        assert f"| {int(code)} |" in table, code


def test_the_readme_configurations_are_valid():
    """Every YAML block of the README that is a whole configuration (it has a rotation) loads."""
    from opsmeeting.config import parse_config

    blocks = [b for b in re.findall(r"```yaml\n(.*?)```", README, re.DOTALL) if b.startswith("rotation:")]
    assert blocks, "the README shows no whole configuration"
    for block in blocks:
        parse_config(yaml.safe_load(block), origin="a README example")
