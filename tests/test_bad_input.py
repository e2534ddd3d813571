"""Bad input through the CLI: one line naming what is wrong and where, the documented exit code, and
never a Python traceback (each case was a traceback before)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from opsmeeting.cli import main, sample_snapshot_dir

EXAMPLE = Path(__file__).resolve().parent.parent / "config" / "opsmeeting.example.yaml"


def cli(args: list[str], capsys) -> tuple[int, str]:
    with pytest.raises(SystemExit) as info:
        main(args)
    captured = capsys.readouterr()
    return int(info.value.code or 0), captured.out + captured.err


def config_file(tmp_path: Path, **changes) -> str:
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    for dotted, value in changes.items():
        node = data
        *parents, last = dotted.split("__")
        for key in parents:
            node = node[key]
        node[last] = value
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return str(path)


def test_a_config_that_is_not_utf8(tmp_path, capsys):
    path = tmp_path / "latin1.yaml"
    path.write_bytes(EXAMPLE.read_text(encoding="utf-8").replace("Ops Meeting", "Réunion").encode("latin-1",
                                                                                                    "replace"))
    for command in (["check-config", "--offline", str(path)], ["run", "-c", str(path)]):
        code, out = cli(command, capsys)
        assert code == 2 and "not UTF-8 text" in out and str(path) in out, out
        assert "Traceback" not in out


@pytest.mark.parametrize("moment", ["9999-12-31T23:59Z", "0001-01-01T00:00Z"])
def test_an_as_of_outside_the_years_we_work_with(tmp_path, capsys, moment):
    code, out = cli(["run", "-c", config_file(tmp_path), "--as-of", moment, "--no-pdf"], capsys)
    assert code == 2 and f"--as-of {moment!r}" in out and "outside the years 1970–2199" in out, out
    assert "Traceback" not in out


def test_a_window_outside_the_years_we_work_with(tmp_path, capsys):
    code, out = cli(["run", "-c", config_file(tmp_path), "--window", "0001-01-01/0001-01-15", "--no-pdf"], capsys)
    assert code == 2 and "outside the years" in out and "Traceback" not in out, out


@pytest.mark.parametrize(("length", "message"), [
    ("99999999d", "longer than ten years"),
    ("999999999999999999999d", "longer than ten years"),
    ("400d", "at most 366d"),
])
def test_a_rotation_length_that_would_overflow(tmp_path, capsys, length, message):
    code, out = cli(["check-config", "--offline", config_file(tmp_path, rotation__length=length)], capsys)
    assert code == 2 and "rotation.length" in out and message in out, out
    assert "Traceback" not in out


def test_an_anchor_in_year_one(tmp_path, capsys):
    code, out = cli(["check-config", "--offline", config_file(tmp_path, rotation__anchor="0001-01-01T09:00:00")],
                    capsys)
    assert code == 2 and "rotation.anchor" in out and "Traceback" not in out, out


def test_credentials_in_the_prometheus_url_are_refused_and_not_printed(tmp_path, capsys):
    path = config_file(tmp_path, sources__prometheus__url="http://admin:s3cret-pass@prometheus.example:9090")
    code, out = cli(["check-config", "--offline", path], capsys)
    assert code == 2 and "sources.prometheus.url" in out and "sources.prometheus.auth" in out, out
    assert "s3cret-pass" not in out


@pytest.mark.parametrize(("name", "text", "message"), [
    ("sections/planning.html.j2", "<p>{{ ctx.no_such_thing }}</p>\n", "planning.html.j2:1: template error"),
    ("sections/planning.html.j2", "<p>{% if %}</p>\n", "planning.html.j2:1: template syntax error"),
    ("report.html.j2", '{% extends "builtin/no-such.html.j2" %}\n', "template 'builtin/no-such.html.j2' not found"),
])
def test_a_broken_custom_template_is_named(tmp_path, capsys, name, text, message):
    templates = tmp_path / "templates"
    (templates / Path(name).parent).mkdir(parents=True, exist_ok=True)
    (templates / name).write_text(text, encoding="utf-8")
    code, out = cli(["render", "--snapshot", str(sample_snapshot_dir()), "--out", str(tmp_path / "out"),
                     "--templates", str(templates), "--no-pdf"], capsys)
    assert code == 2 and message in out and str(templates) in out, out
    assert "Traceback" not in out
