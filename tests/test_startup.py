"""Commands that need no data import none of the data stages: no pandas, matplotlib, WeasyPrint or
HTTP clients for ``--help``, ``check-config --offline``, ``wheel``, ``item`` and ``notes``, so the
meeting room's commands answer at once (bench/startup.py measures how fast)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("pandas", "numpy", "matplotlib", "weasyprint", "pagerduty", "prometheus_api_client", "requests")
PROBE = """
import json, sys
from opsmeeting.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exit:
    code = exit.code
print(json.dumps({"code": int(code or 0), "loaded": sorted(m for m in HEAVY if m in sys.modules)}))
"""


@pytest.fixture(scope="module")
def config(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp("startup")
    path = root / "opsmeeting.yaml"
    path.write_text(yaml.safe_dump({
        "rotation": {"length": "14d", "anchor": "2026-01-12T09:00:00", "timezone": "Europe/Lisbon"},
        "teams": [{"name": "payments"}, {"name": "search"}],
        "services": [{"name": "checkout", "team": "payments", "pagerduty_service_ids": ["PS1"]}],
        "state": {"path": str(root / "state.sqlite")},
        "notes": {"directory": str(root / "notes")},
    }))
    return str(path)


@pytest.mark.parametrize("args", [
    ["--help"],
    ["check-config", "--offline", str(ROOT / "config" / "opsmeeting.example.yaml"), "--as-of", "2026-11-03T10:00Z"],
    ["wheel", "show", "-c", "{config}"],
    ["wheel", "spin", "-c", "{config}"],
    ["item", "add", "-c", "{config}", "--team", "payments", "Runbook for PSP timeouts"],
    ["item", "list", "-c", "{config}"],
    ["notes", "--help"],
    ["run", "--help"],
])
def test_commands_that_need_no_data_import_none(config, args):
    argv = [a.format(config=config) for a in args]
    done = subprocess.run([sys.executable, "-c", f"HEAVY = {HEAVY!r}\n" + PROBE, *argv], capture_output=True,
                          text=True, timeout=60, check=False, cwd=ROOT)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["code"] == 0, done.stderr
    assert result["loaded"] == [], f"{' '.join(args)} imported {result['loaded']}"
