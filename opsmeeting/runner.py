"""`opsmeeting run`: the rotation that just ended, collected, rendered, archived and emailed once.

Exactly once, through the run ledger in the store:

- a delivered window is not collected or emailed again unless ``force``;
- a window whose snapshot exists but was not delivered (a crash, a failed email) resumes from
  its snapshot instead of collecting again;
- a lock per window (``flock`` on a file beside the output) stops two runs delivering at once;
- a window whose email failed is retried by the next run, whatever window that run is for.

Provisional runs (the rotation still in progress) are rendered into their own folder, are never
emailed and never enter the history.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from opsmeeting import wheel_store
from opsmeeting.config import Config
from opsmeeting.delivery import DeliveryError, build_message, send, warnings_for
from opsmeeting.errors import ExitCode, OpsMeetingError
from opsmeeting.fsutil import remove_leftovers
from opsmeeting.history import load_history
from opsmeeting.items import ItemBook
from opsmeeting.notes import read_notes
from opsmeeting.pipeline import collect, exit_code_for, window_directory
from opsmeeting.report.archive import write_index
from opsmeeting.report.output import ReportFiles, write_report
from opsmeeting.report.render import render_report
from opsmeeting.report.scorecards import build_scorecards
from opsmeeting.snapshot import read_snapshot, write_snapshot
from opsmeeting.store import Ledger, Store, window_key
from opsmeeting.window import Window


class Busy(OpsMeetingError):
    exit_code = ExitCode.BUSY


@dataclass
class RunResult:
    exit_code: ExitCode
    files: ReportFiles | None
    message: str


@contextmanager
def window_lock(out: Path, window: Window) -> Iterator[None]:
    out.mkdir(parents=True, exist_ok=True)
    path = out / f".{window.slug}.lock"
    handle = path.open("a")
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Busy(f"another opsmeeting run holds {path}: this window is being delivered now") from None
        yield
    finally:
        handle.close()


def link_for(config: Config, directory: Path) -> str | None:
    if not config.output.public_url:
        return None
    return f"{config.output.public_url.rstrip('/')}/{directory.name}/report.html"


class Runner:
    def __init__(self, config: Config, *, environ: Mapping[str, str] | None = None,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC),
                 log: Callable[[str], None] = lambda _: None, pdf: bool = True,
                 config_path: Path | None = None) -> None:
        self.config = config
        self.environ = environ if environ is not None else os.environ
        self.now = now
        self.log = log
        self.pdf = pdf
        self.config_path = config_path
        self.out = config.output.directory

    def run(self, window: Window, *, force: bool = False) -> RunResult:
        with Store.open(self.config.state.path) as store, window_lock(self.out, window):
            ledger = Ledger(store)
            retried = self._retry_failed_deliveries(ledger, skip=window_key(window))
            result = self._run_window(store, ledger, window, force)
            if retried and result.exit_code == ExitCode.OK:
                result.message += f"; re-sent {retried} earlier report(s)"
            write_index(self.out, title=self.config.output.title)
            return result

    def _run_window(self, store: Store, ledger: Ledger, window: Window, force: bool) -> RunResult:
        key = window_key(window) + ("~provisional" if window.provisional else "")
        target = window_directory(self.out, window)
        for leftover in remove_leftovers(target):
            self.log(f"removed {leftover.name}, left by an interrupted run")
        record = ledger.get(key)
        if record and record.state == "delivered" and not force and not window.provisional:
            return RunResult(ExitCode.OK, None, f"{window.label()} was already delivered ({record.delivered_at}); "
                                                "nothing to do (use --force to deliver it again)")
        snapshot_dir = target / "snapshot"
        if (snapshot_dir / "manifest.json").is_file() and not force and not window.provisional and record:
            self.log(f"resuming from {snapshot_dir} (state: {record.state})")
            snapshot = read_snapshot(snapshot_dir)
        else:
            collected = collect(self.config, window, environ=self.environ, now=self.now, on_step=self.log)
            snapshot = collected.snapshot
            write_snapshot(snapshot, snapshot_dir)
            ledger.mark(key, "collected", directory=str(target), attempt=True)
        history = None if window.provisional else load_history(store, window)
        cards = build_scorecards(snapshot, history=history)
        cards = cards.model_copy(update={
            "items": ItemBook(store).view(since=window.start, now=self.now()),
            "notes": read_notes(self.config.notes.directory if self.config.notes else None, window,
                                [t.name for t in self.config.teams]),
        })
        wheel = wheel_store.view(store, self.config, self.now(), cards, self.config_path)
        rendered = render_report(snapshot, cards, templates_dir=self.config.output.templates_dir, pdf=self.pdf,
                                 wheel=wheel)
        cards = cards.model_copy(update={"item_errors": [*cards.item_errors, *rendered.item_errors]})
        files = write_report(target, cards, rendered)
        self.log("rendered " + " · ".join(f"{k} {v:.2f} s" for k, v in rendered.timings.items()))
        if not window.provisional:
            store.record_window(cards.to_json_dict())
        ledger.mark(key, "rendered", directory=str(target))
        code = exit_code_for(snapshot, cards)
        if self.config.email is None or not self.config.email.enabled or window.provisional or files.pdf is None:
            ledger.mark(key, "delivered", directory=str(target))
            return RunResult(code, files, "report written (no email configured)" if self.config.email is None
                             else "report written")
        try:
            message = build_message(self.config.email, cards, files.pdf, link=link_for(self.config, target),
                                    title=self.config.output.title, warnings=warnings_for(snapshot, cards))
            send(self.config.email, message, self.environ)
        except DeliveryError as exc:
            ledger.mark(key, "send_failed", directory=str(target), error=str(exc))
            return RunResult(ExitCode.DELIVERY_FAILED, files, f"{exc}; the report is kept in {target} and the "
                                                              "next run will send it")
        ledger.mark(key, "delivered", directory=str(target))
        self.log(f"emailed {len(self.config.email.recipients)} recipient(s)")
        return RunResult(code, files, "report written and emailed")

    def _retry_failed_deliveries(self, ledger: Ledger, skip: str) -> int:
        email = self.config.email
        sent = 0
        if email is None or not email.enabled:
            return 0
        for record in ledger.pending_delivery():
            if record.key == skip or not record.directory:
                continue
            directory = Path(record.directory)
            pdf = directory / "report.pdf"
            if not pdf.is_file():
                continue
            snapshot = read_snapshot(directory / "snapshot")
            cards = build_scorecards(snapshot)
            try:
                message = build_message(email, cards, pdf, link=link_for(self.config, directory),
                                        title=self.config.output.title, warnings=warnings_for(snapshot, cards))
                send(email, message, self.environ)
            except DeliveryError as exc:
                ledger.mark(record.key, "send_failed", error=str(exc))
                self.log(f"re-sending {directory.name} failed again: {exc}")
                continue
            ledger.mark(record.key, "delivered")
            self.log(f"re-sent the report of {directory.name}")
            sent += 1
        return sent
