"""Shared pieces of the benchmark harness: paths, the machine, child processes, datasets, configs.

Everything heavy (collectors, aggregation, rendering, dataset generation) runs in child processes
started by ``run_child`` (``bench/stage.py`` in the main virtualenv, ``bench/slogen_runner.py`` in
slo-generator's own), so each number is measured in a fresh process: wall time, CPU time and peak
RSS from ``os.wait4``, plus the finer per-step numbers the child reports itself.

Nothing here talks to anything but 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
OUT = BENCH / "out"
STAGE = BENCH / "stage.py"
SLOGEN_VENV = BENCH / ".venv-slogen"
SLOGEN_PYTHON = SLOGEN_VENV / "bin" / "python"
SLOGEN_PACKAGES = ("slo-generator[prometheus]==2.6.0", "setuptools<81")
TOKEN_ENV = "OPSMEETING_BENCH_PD_TOKEN"
TOKEN = "bench-token"

# The SLO dataset's window (tests/fakes/slo_data.py defaults): 14 days from Mon 19 Oct 2026 08:00 UTC.
WINDOW_START = datetime(2026, 10, 19, 8, 0, tzinfo=UTC)
WINDOW_LENGTH = timedelta(days=14)
WINDOW_END = WINDOW_START + WINDOW_LENGTH
AS_OF = WINDOW_END + timedelta(hours=1)  # collection time: nothing happens after the window end
PAGE = 100  # PagerDuty's largest page
REAL_API_PER_MINUTE = 960  # PagerDuty's REST API limit per key

Json = dict[str, Any]


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def window_text() -> str:
    return f"{iso(WINDOW_START)}/{iso(WINDOW_END)}"


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def mib(kib: float) -> float:
    return kib / 1024.0


# --- the machine ---------------------------------------------------------------------------------


def _first_line(cmd: Sequence[str | Path]) -> str:
    try:
        proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, check=False, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "not found"
    text = (proc.stdout or proc.stderr).strip().splitlines()
    return text[0] if text else "unknown"


def _version(package: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine() -> Json:
    meminfo = Path("/proc/meminfo").read_text()
    total_kib = int(re.search(r"MemTotal:\s+(\d+)", meminfo).group(1))  # type: ignore[union-attr]
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"model name\s*:\s*(.+)", cpuinfo)
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model.group(1).strip() if model else platform.processor() or "unknown",
        "mem_total_gib": round(total_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "prometheus": _first_line(["prometheus", "--version"]),
        "promtool": _first_line(["promtool", "--version"]),
        "packages": {name: _version(name) for name in (
            "opsmeeting", "pagerduty", "prometheus-api-client", "pandas", "pydantic", "matplotlib",
            "weasyprint", "jinja2")},
        "measured_at": iso(datetime.now(UTC)),
    }


# --- child processes -----------------------------------------------------------------------------


@dataclass
class ChildResult:
    """A finished child: what ``os.wait4`` says about it, its output, and the JSON it wrote."""

    cmd: list[str]
    returncode: int
    wall_s: float
    cpu_s: float  # user + system of the child (and its own waited-for children)
    maxrss_mib: float
    stdout: str
    stderr: str
    result: Json = field(default_factory=dict)
    host_cpu_s: float = 0.0  # CPU this (harness) process spent meanwhile: the in-process fake's serving
    system_cpu_s: float = 0.0  # CPU the whole machine spent meanwhile (/proc/stat)
    quiet_wait_s: float = 0.0  # how long we waited for the machine to go quiet before starting

    def other_cpu_s(self, *also_ours: float) -> float:
        """CPU seconds other processes (not the child, not the harness, nor ``also_ours``) used meanwhile:
        the machine is shared, so this says how disturbed the measurement was."""
        return max(0.0, self.system_cpu_s - self.cpu_s - self.host_cpu_s - sum(also_ours))

    def check(self) -> ChildResult:
        if self.returncode != 0:
            tail = "\n".join((self.stdout + self.stderr).splitlines()[-30:])
            raise RuntimeError(f"{' '.join(self.cmd[:4])} ... exited {self.returncode}:\n{tail}")
        return self


def _self_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def system_busy_s() -> float:
    """CPU seconds the whole machine has been busy since boot (every core, from /proc/stat)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


QUIET_BUSY_FRACTION = 0.25  # of all cores
QUIET_MAX_WAIT_S = float(os.environ.get("BENCH_QUIET_MAX_WAIT", "90"))


def wait_quiet(max_wait: float = QUIET_MAX_WAIT_S) -> float:
    """Wait (at most ``max_wait`` s) until the machine is nearly idle for 2 s in a row: other work on
    a shared 2-core machine would be measured as ours. Returns the seconds waited."""
    began, calm = time.perf_counter(), 0
    cores = os.cpu_count() or 1
    while time.perf_counter() - began < max_wait:
        busy0 = system_busy_s()
        time.sleep(1.0)
        calm = calm + 1 if (system_busy_s() - busy0) / cores < QUIET_BUSY_FRACTION else 0
        if calm >= 2:
            break
    return time.perf_counter() - began


def run_child(cmd: Sequence[str | Path], *, env: Mapping[str, str] | None = None, timeout: float = 3600.0,
              cwd: Path = ROOT, quiet: bool = True) -> ChildResult:
    """Run ``cmd``; when it has ``--result`` in it, read that JSON afterwards. Measured by ``os.wait4``
    (wall, CPU) and by its own ``VmHWM`` read every 20 ms while it runs (peak RSS): the kernel's
    ``ru_maxrss`` of a child starts from its parent's resident size at the fork, so a harness holding
    a large organisation would show that size as the child's peak."""
    args = [str(c) for c in cmd]
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONHASHSEED": "0", **(env or {})}
    waited = wait_quiet() if quiet else 0.0
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        cpu0, busy0, began = _self_cpu(), system_busy_s(), time.perf_counter()
        proc = subprocess.Popen(args, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=full_env, cwd=cwd)
        deadline = began + timeout
        hwm_kib = 0
        while True:
            hwm_kib = max(hwm_kib, _hwm_kib(proc.pid))
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()  # our own child, by pid
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.02)
        wall = time.perf_counter() - began
        proc.returncode = os.waitstatus_to_exitcode(status)
        host_cpu, system_cpu = _self_cpu() - cpu0, system_busy_s() - busy0
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    result: Json = {}
    if "--result" in args:
        path = Path(args[args.index("--result") + 1])
        if path.is_file() and path.stat().st_size:
            result = json.loads(path.read_text())
    peak_mib = hwm_kib / 1024 if hwm_kib else usage.ru_maxrss / 1024
    return ChildResult(args, proc.returncode, wall, usage.ru_utime + usage.ru_stime, peak_mib,
                       stdout, stderr, result, host_cpu, system_cpu, waited)


def _hwm_kib(pid: int) -> int:
    """A running process's peak resident size so far (``VmHWM``, KiB); 0 once it has exited."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def stage(name: str, *args: object, env: Mapping[str, str] | None = None, timeout: float = 3600.0,
          quiet: bool = True) -> ChildResult:
    """``bench/stage.py NAME ARGS --result <tmp>`` in the main virtualenv; raises when it fails."""
    OUT.mkdir(parents=True, exist_ok=True)
    fd, result = tempfile.mkstemp(prefix=f"{name}-", suffix=".json", dir=OUT)
    os.close(fd)
    try:
        return run_child([sys.executable, STAGE, name, *map(str, args), "--result", result],
                         env=env, timeout=timeout, quiet=quiet).check()
    finally:
        Path(result).unlink(missing_ok=True)


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by process ``pid`` (a Prometheus server of ours)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- SLO datasets and Prometheus -------------------------------------------------------------------


def _source_digest(*paths: Path) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@dataclass
class DatasetInfo:
    services: int
    spacing: int
    tsdb: Path
    truth: Path
    samples: int
    build: Json


def prepare_dataset(services: int, spacing: int) -> DatasetInfo:
    """The SLO dataset of ``services`` services backfilled into a cached TSDB, and its ground truth.

    Generation and backfill run in a child (``stage.py dataset``): the series never sit in the
    harness' memory. Reused while the generator, the harness and ``stage.py`` are unchanged.
    """
    directory = OUT / "datasets" / f"{services}x{spacing}s"
    key = _source_digest(ROOT / "tests" / "fakes" / "slo_data.py", ROOT / "tests" / "fakes" / "prometheus.py", STAGE)
    info_path = directory / "info.json"
    if info_path.is_file():
        info = json.loads(info_path.read_text())
        if info.get("key") == key and Path(info["tsdb"]).is_dir() and Path(info["truth"]).is_file():
            return DatasetInfo(services, spacing, Path(info["tsdb"]), Path(info["truth"]), info["samples"],
                               info["build"])
    child = stage("dataset", "--services", services, "--spacing", spacing, "--dir", directory, "--key", key,
                  quiet=False)
    info = child.result
    return DatasetInfo(services, spacing, Path(info["tsdb"]), Path(info["truth"]), info["samples"], info["build"])


def start_prometheus(info: DatasetInfo) -> Any:
    """Our own Prometheus on 127.0.0.1 over a private copy of the dataset's TSDB (stop it with .stop())."""
    from tests.fakes.prometheus import PrometheusServer, lookback_for

    return PrometheusServer(info.tsdb, lookback_delta=lookback_for(info.spacing)).start()


# --- PagerDuty organisation and the configuration of a run --------------------------------------------


@dataclass(frozen=True)
class Scale:
    services: int = 500
    teams: int = 50
    incidents: int = 20_000

    def times(self, factor: int) -> Scale:
        return Scale(self.services * factor, self.teams * factor, self.incidents * factor)


def service_name(index: int) -> str:
    """The SLO dataset's name of the index-th service (``tests.fakes.slo_data.generated_services``)."""
    return f"svc-{index + 1:04d}"


def generate_org(scale: Scale) -> Any:
    from tests.fakes import pagerduty_data as pd

    return pd.generate_org(n_services=scale.services, n_teams=scale.teams, n_incidents=scale.incidents,
                           start=WINDOW_START, end=WINDOW_END, seed=1)


def start_fake(org: Any, rate_limit: int | None = None) -> Any:
    """The PagerDuty fake, response and request validation off (see RESULTS.md), indexes prebuilt;
    ``rate_limit``: it refuses requests past that many a minute with 429s, as PagerDuty does."""
    from tests.fakes import pagerduty_data as pd
    from tests.fakes.pagerduty import FakePagerDuty

    fake = FakePagerDuty(TOKEN, validate=False, clock=lambda: AS_OF, rate_limit=rate_limit).start()
    pd.load_into(fake, org)
    fake._index("incidents")  # built once here rather than inside the first timed request
    fake._index("log_entries")
    return fake


AVAILABILITY = {
    "name": "availability", "kind": "ratio", "objective": "99.9%",
    "good": 'sum by (service) (increase(http_requests_total{code!~"5.."}[{{window}}]))',
    "total": "sum by (service) (increase(http_requests_total[{{window}}]))",
}
LATENCY = {"name": "latency", "kind": "latency", "objective": 0.99, "histogram": "http_request_duration_seconds",
           "threshold": 0.25}


def write_config(path: Path, org: Any | None, *, services: int, prometheus_url: str | None,
                 pagerduty: Any | None, output: Path, schedules: bool = True, smtp_port: int | None = None,
                 pace: int | None = 0) -> Path:
    """An opsmeeting configuration for the fakes: service i is ``svc-000i`` in Prometheus and
    ``PS0000i`` in PagerDuty, in PagerDuty's team of that service. No ``pagerduty_team_ids``: the
    fake filters ``team_ids[]`` by scanning every entry on every page, a cost of the fake only."""
    import yaml

    if org is not None:
        team_of = {s["id"]: s["teams"][0]["summary"] for s in org.services}
        teams = [t["name"] for t in org.teams]
        pd_ids = [s["id"] for s in org.services]
    else:
        teams = ["team-00"]
        team_of, pd_ids = {}, []
    config: Json = {
        "rotation": {"length": "14d", "anchor": WINDOW_START.strftime("%Y-%m-%dT%H:%M:%S"), "timezone": "UTC",
                     "pagerduty_schedule_ids": sorted(org.schedules) if org is not None and schedules else []},
        "teams": [{"name": name, "members": 5} for name in teams],
        "services": [
            {"name": service_name(i), "team": team_of.get(pd_ids[i], teams[0]) if i < len(pd_ids) else teams[0],
             "pagerduty_service_ids": [pd_ids[i]] if i < len(pd_ids) else []}
            for i in range(services)
        ],
        "slos": [AVAILABILITY, LATENCY] if prometheus_url else [],
        "sources": {},
        "output": {"directory": str(output)},
        "state": {"path": str(output / "state.sqlite")},
    }
    if pagerduty is not None:
        config["sources"]["pagerduty"] = {"base_url": pagerduty.url, "ca_bundle": pagerduty.ca_bundle,
                                          "token_env": TOKEN_ENV}
        if pace is not None:  # None: opsmeeting's default, the account's rate-limit headers
            config["sources"]["pagerduty"]["requests_per_minute"] = pace
    if prometheus_url:
        config["sources"]["prometheus"] = {"url": prometheus_url}
    if smtp_port:
        config["email"] = {"smtp_host": "127.0.0.1", "smtp_port": smtp_port, "security": "plain",
                           "sender": "opsmeeting@example.com", "recipients": ["sre@example.com", "leads@example.com"]}
    path.parent.mkdir(parents=True, exist_ok=True)
    output.mkdir(parents=True, exist_ok=True)  # the state store's folder must exist
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def request_floor(org: Any, incidents: int, log_entries: int, services: int) -> int:
    """The fewest PagerDuty requests that can carry one window's data of ``org``: 100 items a page for
    the incidents, their log entries, the services, teams and users, one for the priorities, one per
    schedule, and at least one each for the open incidents of earlier rotations and the maintenance
    windows (the handoff)."""
    pages = math.ceil(incidents / PAGE) + math.ceil(log_entries / PAGE)
    reference = (math.ceil(services / PAGE) + math.ceil(len(org.teams) / PAGE) + math.ceil(len(org.users) / PAGE)
                 + 1 + len(org.schedules))
    return pages + reference + 2


def real_api_floor_s(requests: int, per_minute: int = REAL_API_PER_MINUTE) -> float:
    """The least time ``requests`` requests take against PagerDuty at ``per_minute``."""
    return 60.0 * requests / per_minute


def ensure_slogen() -> Path:
    """slo-generator 2.6.0 in its own virtualenv (it pins old dependencies); created when missing."""
    if not SLOGEN_PYTHON.exists():
        subprocess.run([sys.executable, "-m", "venv", str(SLOGEN_VENV)], check=True)
        subprocess.run([str(SLOGEN_PYTHON), "-m", "pip", "install", "-q", *SLOGEN_PACKAGES], check=True)
    return SLOGEN_PYTHON


class SmtpSink:
    """An SMTP server on 127.0.0.1 (aiosmtpd, a thread of this process) that counts what it receives."""

    def __init__(self) -> None:
        self.messages = 0
        self.bytes = 0
        self.controller: Any = None
        self.port = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd's hook
        self.messages += 1
        self.bytes += len(envelope.content)
        return "250 OK"

    def start(self) -> SmtpSink:
        from aiosmtpd.controller import Controller

        from tests.fakes.prometheus import free_port

        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port, data_size_limit=None)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None
