"""Configuration: every error named by its key path, all at once; unknown keys and secrets refused."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from opsmeeting.cli import main
from opsmeeting.config import load_config, parse_config
from opsmeeting.errors import ConfigError
from tests.fakes.prometheus import free_port

EXAMPLE = Path(__file__).resolve().parent.parent / "config" / "opsmeeting.example.yaml"


def example() -> dict:
    return yaml.safe_load(EXAMPLE.read_text())


def problems(data: dict) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(data)
    return info.value.problems


def test_example_is_valid():
    config = load_config(EXAMPLE)
    assert [s.name for s in config.slos] == ["availability", "latency"]
    assert config.slos[0].objective_for("checkout") == pytest.approx(0.9995)
    assert config.slos[0].objective_for("api-gateway") == pytest.approx(0.999)
    assert config.state.path == EXAMPLE.parent / "opsmeeting.sqlite"  # relative to the file


def test_every_error_at_once_with_its_path():
    data = example()
    del data["services"][2]["pagerduty_service_ids"]
    data["services"][1]["colour"] = "red"
    data["rotation"]["timezone"] = "Europe/Atlantis"
    data["slos"][0]["objective"] = 1.5
    found = problems(data)
    assert "services[2].pagerduty_service_ids: field required" in found
    assert "services[1].colour: unknown key" in found
    assert any(p.startswith("rotation.timezone: unknown IANA time zone") for p in found)
    assert any(p.startswith("slos[0].objective:") for p in found)
    assert len(found) == 4


def test_cross_references():
    data = example()
    data["services"][0]["team"] = "nobody"
    data["services"].append(dict(data["services"][1]))
    data["slos"][0]["objectives"] = {"ghost": 0.99}
    found = problems(data)
    assert any(p.startswith("services[0].team: unknown team 'nobody'") for p in found)
    assert any(p.startswith("services[3].name: duplicate service 'payments-api'") for p in found)
    assert "slos[0].objectives.ghost: unknown service" in found


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d["sources"]["pagerduty"].update(token="u+abcdef123"), "sources.pagerduty.token: unknown key"),
        (lambda d: d["sources"]["pagerduty"].update(token_env="u+abcdef123"), "sources.pagerduty.token_env: must be"),
        (lambda d: d["sources"]["prometheus"].update(headers={"Authorization": "Bearer s3cr3t"}),
         "sources.prometheus.headers: header 'Authorization' carries a secret"),
        (lambda d: d["rotation"].update(anchor="2026-01-12T09:00:00+00:00"), "rotation.anchor: give the anchor"),
        (lambda d: d["rotation"].update(length="fortnight"), "rotation.length: not a duration"),
        (lambda d: d["slos"][0].pop("total"), "slos[0].total: field required"),
        (lambda d: d["slos"][0].update(good="sum(x[5m])"), "slos[0]: `good` must contain"),
        (lambda d: d["email"].update(recipients=[]), "email.recipients:"),
    ],
)
def test_single_errors(mutate, expected):
    data = example()
    mutate(data)
    found = problems(data)
    assert any(p.startswith(expected) for p in found), found


def test_secrets_never_echoed(tmp_path, capsys):
    data = example()
    data["sources"]["pagerduty"]["token_env"] = "u+SECRET-token-value"
    data["sources"]["prometheus"]["headers"] = {"Authorization": "Bearer SECRET-bearer"}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(SystemExit) as exit_info:
        main(["check-config", str(path)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "SECRET" not in err
    assert "sources.pagerduty.token_env" in err and "sources.prometheus.headers" in err


def test_yaml_syntax_error_has_a_line(tmp_path, capsys):
    path = tmp_path / "c.yaml"
    path.write_text("rotation:\n  length: [14d\n")
    with pytest.raises(SystemExit) as exit_info:
        main(["check-config", str(path)])
    assert exit_info.value.code == 2
    assert "line " in capsys.readouterr().err


def test_missing_file(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["check-config", str(tmp_path / "nope.yaml")])
    assert exit_info.value.code == 2
    assert "cannot read" in capsys.readouterr().err


def test_check_config_summary(capsys, monkeypatch):
    monkeypatch.setenv("PAGERDUTY_TOKEN", "u+abcdefghij")
    with pytest.raises(SystemExit) as exit_info:
        main(["check-config", "--offline", str(EXAMPLE)])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "configuration OK" in out and "token from $PAGERDUTY_TOKEN: set" in out
    assert "u+abcdefghij" not in out


def test_check_config_names_an_unreachable_prometheus(tmp_path, capsys):
    data = example()
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    data["sources"]["prometheus"]["url"] = url
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(SystemExit) as exit_info:
        main(["check-config", str(path)])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert f"Prometheus at {url}: cannot connect" in err and "--offline" in err


def test_a_configuration_without_sources_is_warned_about_and_refused(tmp_path, capsys):
    data = example()
    for key in ("sources", "slos", "slo_imports"):
        data.pop(key, None)
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(SystemExit) as exit_info:
        main(["check-config", "--offline", str(path)])
    assert exit_info.value.code == 0
    assert "warning: no source is configured" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "-c", str(path), "--as-of", "2026-11-03T10:00Z"])
    assert exit_info.value.code == 2
    assert "nothing to collect" in capsys.readouterr().err
    assert not (tmp_path / "reports").exists()
