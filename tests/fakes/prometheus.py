"""A real Prometheus server for tests: OpenMetrics writer, promtool backfill, TSDB cache.

Nothing here talks to a running service or the systemd unit of Debian's ``prometheus``
package: every server is our own child process on 127.0.0.1, stopped by its pid.

Typical use from a ``conftest.py`` (session scope, because a build takes seconds)::

    from collections.abc import Iterator

    import pytest
    from tests.fakes.prometheus import RunningPrometheus, prometheus_with
    from tests.fakes.slo_data import Dataset, dataset

    @pytest.fixture(scope="session")
    def slo_dataset() -> Dataset:
        return dataset()                      # 8 services, 300 s spacing, seeded

    @pytest.fixture(scope="session")
    def prometheus(slo_dataset: Dataset) -> Iterator[RunningPrometheus]:
        with prometheus_with(slo_dataset) as running:   # cached TSDB, fresh copy, free port
            yield running                                # running.url, running.truth

    def test_window(prometheus: RunningPrometheus) -> None:
        truth = prometheus.truth["checkout"].availability.window
        ...  # query prometheus.url at time=prometheus.dataset.window.end_ts

Facts this module relies on (Prometheus 2.42, measured on this machine):

* ``promtool tsdb create-blocks-from openmetrics`` re-reads the whole input once per output
  block; the hidden ``--max-block-duration`` flag makes the blocks (and so the passes) fewer.
  promtool rounds it down to a TSDB block range (2h x 3^n, aligned to the Unix epoch): 168h
  gives 162h blocks (5 for our 30 days), 4374h one block. 8 services x 30 days at 60 s (3.5 M
  samples): 9.9 s with 168h, 5.0 s with 1458h, 5.3 s with 4374h; Prometheus 2.42 serves a
  block longer than its own compaction ranges without complaint.
* Prometheus writes ``wal/``, ``chunks_head/``, ``lock`` and ``queries.active`` into
  ``--storage.tsdb.path`` and may compact or delete blocks there: each server gets a private
  copy of the cached TSDB (a few MB, milliseconds).
* The default retention (15 d, counted back from the newest block) deletes backfilled history;
  we pass ``--storage.tsdb.retention.time=400d``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import math
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
import weakref
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from .slo_data import Dataset, ServiceTruth

MetricType = Literal["counter", "gauge", "histogram", "summary", "unknown"]

REPO_ROOT = Path(__file__).resolve().parents[2]
CACHE_ENV = "OPSMEETING_TSDB_CACHE"
CACHE_MAX_IDLE_DAYS = 14.0
DEFAULT_MAX_BLOCK_DURATION = "4374h"  # a TSDB range (2h * 3^7, ~6 months): one block, one pass


# --------------------------------------------------------------------------- OpenMetrics


@dataclass(frozen=True)
class Series:
    """One time series to backfill.

    ``family`` is the OpenMetrics metric family (``http_requests``) and ``name`` the sample
    name (``http_requests_total``, ``..._bucket``, ``..._count``, ``..._sum``). ``timestamps``
    are Unix seconds in increasing order (a ``range`` costs no memory); ``values`` has the
    same length.
    """

    family: str
    type: MetricType
    name: str
    labels: Mapping[str, str]
    timestamps: Sequence[int]
    values: Sequence[float]


def _escape_label_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _format_value(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(value)


_INT_TYPECODES = frozenset("bBhHiIlLqQ")


def _series_prefix(series: Series) -> str:
    if not series.labels:
        return f"{series.name} "
    body = ",".join(f'{k}="{_escape_label_value(v)}"' for k, v in series.labels.items())
    return f"{series.name}{{{body}}} "


def write_openmetrics(series: Iterable[Series], path: Path) -> int:
    """Stream ``series`` to ``path`` as OpenMetrics text for ``promtool`` backfill.

    Series of one family must be contiguous (OpenMetrics forbids a family appearing twice);
    the ``# TYPE`` line is written when a family starts, and ``# EOF`` at the end. The file is
    written to a temporary name and renamed, so a failure never leaves a truncated file.
    Returns the number of samples written.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    seen: set[str] = set()
    current: str | None = None
    samples = 0
    try:
        with open(tmp, "w", encoding="utf-8", buffering=1 << 20) as out:
            for s in series:
                if len(s.timestamps) != len(s.values):
                    raise ValueError(f"{s.name}{dict(s.labels)}: timestamps/values lengths differ")
                if s.family != current:
                    if s.family in seen:
                        raise ValueError(f"family {s.family!r} is not contiguous in the input")
                    seen.add(s.family)
                    current = s.family
                    out.write(f"# TYPE {s.family} {s.type}\n")
                if not isinstance(s.timestamps, range):
                    _check_increasing(s)
                prefix = _series_prefix(s)
                if isinstance(s.values, array) and s.values.typecode in _INT_TYPECODES:
                    lines = [f"{prefix}{v} {t}\n" for t, v in zip(s.timestamps, s.values, strict=True)]
                else:
                    lines = [f"{prefix}{_format_value(v)} {t}\n" for t, v in zip(s.timestamps, s.values, strict=True)]
                out.writelines(lines)
                samples += len(lines)
            out.write("# EOF\n")
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return samples


def _check_increasing(s: Series) -> None:
    ts = s.timestamps
    for i in range(1, len(ts)):
        if ts[i] <= ts[i - 1]:
            raise ValueError(f"{s.name}{dict(s.labels)}: timestamps not increasing at {ts[i]}")


# --------------------------------------------------------------------------- backfill


class HarnessError(RuntimeError):
    """promtool or prometheus failed; the message carries the tail of its output."""


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.splitlines()[-lines:])


def backfill(
    om_path: Path,
    tsdb_dir: Path,
    *,
    max_block_duration: str = DEFAULT_MAX_BLOCK_DURATION,
    promtool: str = "promtool",
) -> float:
    """Create TSDB blocks in ``tsdb_dir`` from the OpenMetrics file; return the seconds taken.

    ``--max-block-duration`` is a hidden promtool flag; without it promtool writes 2-hour blocks
    and re-reads the input for each (minutes instead of seconds for a month of data).
    """
    Path(tsdb_dir).mkdir(parents=True, exist_ok=True)
    cmd = [
        promtool,
        "tsdb",
        "create-blocks-from",
        "openmetrics",
        "--quiet",
        f"--max-block-duration={max_block_duration}",
        str(om_path),
        str(tsdb_dir),
    ]
    began = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise HarnessError(f"{' '.join(cmd)} exited {proc.returncode}:\n{_tail(proc.stdout + proc.stderr)}")
    return time.monotonic() - began


def tool_version(binary: str) -> str:
    """First line of ``<binary> --version`` (part of the cache key: blocks depend on it)."""
    proc = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
    return (proc.stdout or proc.stderr).splitlines()[0] if proc.returncode == 0 else "unknown"


# --------------------------------------------------------------------------- TSDB cache


def default_cache_root() -> Path:
    """``$OPSMEETING_TSDB_CACHE`` or ``<repo>/.cache/tsdb`` (git-ignored)."""
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else REPO_ROOT / ".cache" / "tsdb"


def _source_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def cache_digest(key_inputs: Mapping[str, object]) -> str:
    """The cache key: inputs + this module's source + the promtool version."""
    material = {
        "inputs": key_inputs,
        "harness_source": _source_digest(Path(__file__)),
        "promtool": tool_version("promtool"),
    }
    blob = json.dumps(material, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:24]


def cached_tsdb(
    key_inputs: Mapping[str, object],
    build_fn: Callable[[Path], Mapping[str, float] | None],
    cache_root: Path | None = None,
) -> Path:
    """Return a TSDB directory built by ``build_fn(tsdb_dir)``, cached by ``key_inputs``.

    Whatever ``build_fn`` returns (timings, sizes) is kept in ``key.json`` under ``build``.

    The cache entry is ``<cache_root>/<digest>/`` with ``tsdb/`` (the blocks) and ``key.json``.
    It is built in a private ``.build-*`` directory and renamed into place, so an interrupted
    build never leaves a half entry; an exclusive ``flock`` on ``<digest>.lock`` makes a
    second pytest process wait for the first build instead of repeating it. Treat the returned
    directory as read-only: start servers on a copy (``PrometheusServer`` does). Each hit
    touches ``key.json``; after a build, entries idle for ``CACHE_MAX_IDLE_DAYS`` are pruned.
    """
    root = Path(cache_root) if cache_root is not None else default_cache_root()
    root.mkdir(parents=True, exist_ok=True)
    digest = cache_digest(key_inputs)
    final = root / digest
    if _touch(final / "key.json"):
        return final / "tsdb"
    with open(root / f"{digest}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _touch(final / "key.json"):  # another process built it while we waited
            return final / "tsdb"
        for stale in root.glob(f".build-{digest}-*"):  # interrupted builds; we hold the lock
            shutil.rmtree(stale, ignore_errors=True)
        if final.exists():  # no key.json: not ours, half-deleted by hand
            shutil.rmtree(final)
        build = root / f".build-{digest}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        build.mkdir()
        try:
            began = time.monotonic()
            stats = dict(build_fn(build / "tsdb") or {})
            stats["total_s"] = time.monotonic() - began
            key = {"digest": digest, "inputs": key_inputs, "built_at": time.time(), "build": stats}
            (build / "key.json").write_text(json.dumps(key, indent=2, default=str))
            os.rename(build, final)
        except BaseException:
            shutil.rmtree(build, ignore_errors=True)
            raise
    prune_cache(root)
    return final / "tsdb"


def _touch(path: Path) -> bool:
    try:
        os.utime(path)
    except FileNotFoundError:
        return False
    return True


def prune_cache(cache_root: Path, max_idle_days: float = CACHE_MAX_IDLE_DAYS) -> list[Path]:
    """Delete cache entries not used for ``max_idle_days``; skip entries locked by a build.

    Lock files stay: unlinking a lock file others may have open would break the exclusion.
    """
    cutoff = time.time() - max_idle_days * 86_400
    removed = []
    for key in sorted(Path(cache_root).glob("*/key.json")):
        if key.stat().st_mtime >= cutoff:
            continue
        with open(Path(cache_root) / f"{key.parent.name}.lock", "w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue
            shutil.rmtree(key.parent, ignore_errors=True)
            removed.append(key.parent)
    return removed


# --------------------------------------------------------------------------- server


def free_port() -> int:
    """A port that was free on 127.0.0.1 a moment ago (the server retries if it is taken)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _terminate(proc: subprocess.Popen[bytes], timeout: float) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()  # SIGTERM to this pid only
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout)


_EMPTY_CONFIG = "# opsmeeting test harness: no scrape targets, backfilled data only\nglobal: {}\n"


@dataclass
class PrometheusServer:
    """A ``prometheus`` child process serving a private copy of ``tsdb_dir`` on 127.0.0.1.

    ``lookback_delta``: Prometheus' default is 5m. Range selectors (``increase(x[14d])``)
    ignore it; instant selectors (``x``, ``x offset 14d``) see the latest sample at most that
    old, so pass at least twice the data spacing when the spacing exceeds 5 minutes.
    ``copy_tsdb=False`` serves ``tsdb_dir`` itself (Prometheus will write into it).
    """

    tsdb_dir: Path
    lookback_delta: str | None = None
    retention: str = "400d"
    extra_args: Sequence[str] = ()
    binary: str = "prometheus"
    copy_tsdb: bool = True
    workdir: Path | None = None
    start_timeout: float = 30.0
    stop_timeout: float = 10.0
    port: int = 0
    _proc: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _owns_workdir: bool = field(default=False, init=False, repr=False)
    _finalizer: weakref.finalize | None = field(default=None, init=False, repr=False)  # type: ignore[type-arg]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        if self._proc is None:
            raise HarnessError("server not started")
        return self._proc.pid

    @property
    def log_path(self) -> Path:
        return self._workdir / "prometheus.log"

    @property
    def data_dir(self) -> Path:
        return self._workdir / "data" if self.copy_tsdb else Path(self.tsdb_dir)

    @property
    def _workdir(self) -> Path:
        if self.workdir is None:
            raise HarnessError("server not started")
        return self.workdir

    def command(self) -> list[str]:
        args = [
            self.binary,
            f"--config.file={self._workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={self.data_dir}",
            f"--storage.tsdb.retention.time={self.retention}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--log.level=info",
        ]
        if self.lookback_delta:
            args.append(f"--query.lookback-delta={self.lookback_delta}")
        return [*args, *self.extra_args]

    def start(self) -> PrometheusServer:
        if self._proc is not None:
            raise HarnessError("server already started")
        if self.workdir is None:
            self.workdir = Path(tempfile.mkdtemp(prefix="opsmeeting-prometheus-"))
            self._owns_workdir = True
        self._workdir.mkdir(parents=True, exist_ok=True)
        if self.copy_tsdb:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            shutil.copytree(Path(self.tsdb_dir), self.data_dir)
        (self._workdir / "prometheus.yml").write_text(_EMPTY_CONFIG)
        fixed_port = self.port != 0
        for _attempt in range(3):
            if not fixed_port:
                self.port = free_port()
            if self._launch():
                return self
            if fixed_port or "address already in use" not in self._log_tail():
                break
        tail = self._log_tail()
        self.stop()
        raise HarnessError(f"prometheus did not become ready; {self.log_path}:\n{tail}")

    def _launch(self) -> bool:
        with open(self.log_path, "ab") as log:
            self._proc = subprocess.Popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        self._finalizer = weakref.finalize(self, _terminate, self._proc, self.stop_timeout)
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                self._proc = None
                return False
            if self._ready():
                return True
            time.sleep(0.05)
        _terminate(self._proc, self.stop_timeout)
        self._proc = None
        return False

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as resp:
                return bool(resp.status == 200)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def _log_tail(self, lines: int = 40) -> str:
        try:
            return _tail(self.log_path.read_text(errors="replace"), lines)
        except FileNotFoundError:
            return "(no log)"

    def stop(self) -> None:
        """SIGTERM the server's pid, wait, SIGKILL after ``stop_timeout``; remove our workdir."""
        if self._proc is not None:
            _terminate(self._proc, self.stop_timeout)
            self._proc = None
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        if self._owns_workdir and self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None
            self._owns_workdir = False

    def __enter__(self) -> PrometheusServer:
        return self if self._proc is not None else self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


# --------------------------------------------------------------------------- dataset glue


class BackfillDataset(Protocol):
    """What ``prometheus_with`` needs from a dataset (``slo_data.Dataset`` is one)."""

    @property
    def spacing(self) -> int: ...

    def cache_key(self) -> Mapping[str, object]: ...

    def series(self) -> Iterator[Series]: ...


def build_tsdb(data: BackfillDataset, tsdb_dir: Path) -> dict[str, float]:
    """Write the dataset as OpenMetrics next to ``tsdb_dir``, backfill, delete the text file.

    Returns timings and sizes (``write_s``, ``backfill_s``, ``samples``, ``om_bytes``).
    """
    om = tsdb_dir.parent / "data.om"
    began = time.monotonic()
    samples = write_openmetrics(data.series(), om)
    written = time.monotonic()
    size = om.stat().st_size
    try:
        backfill_s = backfill(om, tsdb_dir)
    finally:
        om.unlink(missing_ok=True)
    return {
        "write_s": written - began,
        "backfill_s": backfill_s,
        "samples": float(samples),
        "om_bytes": float(size),
    }


def lookback_for(spacing: int) -> str | None:
    """A lookback delta that always sees the previous sample (None: the 5m default does)."""
    return None if spacing * 2 <= 300 else f"{spacing * 2}s"


@dataclass
class RunningPrometheus:
    """A started server plus the dataset it serves (``truth`` is its ground truth)."""

    server: PrometheusServer
    dataset: Dataset

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def truth(self) -> Mapping[str, ServiceTruth]:
        return self.dataset.truth

    def close(self) -> None:
        self.server.stop()

    def __enter__(self) -> RunningPrometheus:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def prometheus_with(
    data: Dataset,
    *,
    cache_root: Path | None = None,
    lookback_delta: str | None = None,
    extra_args: Sequence[str] = (),
) -> RunningPrometheus:
    """Build (or reuse) the dataset's TSDB, start a server on it, return it running.

    The caller owns the server: use the result as a context manager or call ``close()``.
    ``lookback_delta`` defaults to ``lookback_for(data.spacing)``.
    """
    tsdb = cached_tsdb(data.cache_key(), lambda out: build_tsdb(data, out), cache_root)
    server = PrometheusServer(
        tsdb,
        lookback_delta=lookback_delta or lookback_for(data.spacing),
        extra_args=extra_args,
    ).start()
    return RunningPrometheus(server=server, dataset=data)
