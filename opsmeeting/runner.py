"""`opsmeeting run`: the rotation that just ended, collected, rendered, archived and emailed once.

Exactly once, through the run ledger (``opsmeeting/ledger.py``; states in docs/DELIVERY.md):

- a window is collected, then rendered; its email and its post to each chat channel are deliveries of
  their own (``email``, ``chat:<name>``), each pending until sent, each retried on its own;
- a settled window (complete, or past ``delivery.recollect_degraded_for``) is not collected again
  unless ``force``; an unsettled one (a source failed or answered in part) is collected again by
  every run, and a delivered one that becomes complete with other numbers is emailed once more,
  marked corrected;
- a window whose snapshot exists but was not rendered (a crash) resumes from its snapshot, unless
  the snapshot is degraded and the window unsettled: then it is collected again;
- a delivery is sent only under its window's lock (``flock`` on a file beside the output), after
  reading the ledger again: two runs cannot both send it, whatever windows they are for;
- every unsent delivery is tried by the next run, whatever window that run is for; one whose files
  are gone is abandoned with a warning, never blocking the runs after it.

Provisional runs (the rotation still in progress) are rendered into their own folder, are never
emailed nor posted and never enter the history. A delivery needs the report's PDF (the email attaches
it, a chat message links to it): ``--no-pdf`` leaves them pending for the next run that makes it.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from opsmeeting.aggregate.history import load_history
from opsmeeting.aggregate.model import Scorecards
from opsmeeting.config import Config
from opsmeeting.config.schema import ChatChannel
from opsmeeting.delivery import chat
from opsmeeting.delivery.email import DeliveryError, build_message, send
from opsmeeting.errors import ConfigError, ExitCode, InputError, OpsMeetingError
from opsmeeting.fsutil import remove_leftovers
from opsmeeting.meeting import wheel_store
from opsmeeting.meeting.items import ItemBook
from opsmeeting.meeting.known import remember_setup
from opsmeeting.meeting.model import MeetingView
from opsmeeting.meeting.notes import read_notes
from opsmeeting.model import Snapshot
from opsmeeting.pipeline import collect, exit_code_for, make_report, window_directory
from opsmeeting.report.archive import write_index
from opsmeeting.report.output import ReportFiles, read_scorecards
from opsmeeting.snapshot import read_snapshot, write_snapshot
from opsmeeting.store import Store
from opsmeeting.store.ledger import EMAIL, Delivery, Ledger, WindowRecord, chat_channel
from opsmeeting.window import Window


class Busy(OpsMeetingError):
    exit_code = ExitCode.BUSY


@dataclass
class RunResult:
    exit_code: ExitCode
    files: ReportFiles | None
    message: str


@contextmanager
def directory_lock(out: Path, folder: str, *, wait: bool = False) -> Iterator[bool]:
    """Hold ``out/.<folder>.lock``; yields False (without waiting) when another process holds it."""
    out.mkdir(parents=True, exist_ok=True)
    with (out / f".{folder}.lock").open("a") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        yield True


def link_for(config: Config, directory: Path, file: str = "report.html") -> str | None:
    """The report's ``file`` under ``output.public_url`` (None without one): the page, or the PDF."""
    if not config.output.public_url:
        return None
    return f"{config.output.public_url.rstrip('/')}/{directory.name}/{file}"


def _sent_phrase(channels: list[str], *, joint: str = "and") -> str:
    """"emailed", "posted to chat:ops", "emailed and posted to chat:ops, chat:eng"."""
    posted = sorted({c for c in channels if c != EMAIL})
    words = (["emailed"] if EMAIL in channels else []) + ([f"posted to {', '.join(posted)}"] if posted else [])
    return f" {joint} ".join(words)


def _degradation(snapshot: Snapshot) -> tuple[int, int]:
    """How incomplete a snapshot is: (failed sources, degraded sources); lower is better."""
    states = [s.status for s in snapshot.sources.values()]
    return states.count("failed"), states.count("degraded")


def _numbers(data: dict[str, Any]) -> dict[str, Any]:
    """What a reader compares in two versions of a window's scorecards: all but when and how it was made."""
    return {k: v for k, v in data.items() if k not in ("generated_at", "sources")}


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
        self.recollect_for = config.delivery.recollect_degraded_for
        self.emails = config.email is not None and config.email.enabled
        self.chats: dict[str, ChatChannel] = {chat_channel(c.name): c for c in config.chat}
        self.channels = ([EMAIL] if self.emails else []) + list(self.chats)  # what each window asks for

    def run(self, window: Window, *, force: bool = False) -> RunResult:
        problems = chat.check_channels(self.config.chat, self.environ)
        if problems:  # before anything is collected: a run that cannot post is a configuration to fix
            raise ConfigError(str(self.config_path or "the configuration"), problems)
        folder = window_directory(self.out, window).name
        with Store.open(self.config.state.path) as store, directory_lock(self.out, folder) as held:
            if not held:
                raise Busy(f"another opsmeeting run holds {self.out / f'.{folder}.lock'}: this window is being "
                           "delivered now")
            ledger = Ledger(store, self.now())
            result = self._run_window(store, ledger, window, force)
            failed = self._catch_up(store, ledger, skip=window.key)
            write_index(self.out, title=self.config.output.title)
        if failed and result.exit_code in (ExitCode.OK, ExitCode.DEGRADED):
            result = RunResult(ExitCode.DELIVERY_FAILED, result.files,
                               result.message + f"; {failed} earlier report(s) could not be sent (retried next run)")
        return result

    # --- this run's window -------------------------------------------------------------------------

    def _run_window(self, store: Store, ledger: Ledger, window: Window, force: bool) -> RunResult:
        key = window.key
        target = window_directory(self.out, window)
        for leftover in remove_leftovers(target):
            self.log(f"removed {leftover.name}, left by an interrupted run")
        record = ledger.get(key)
        now = self.now()
        snapshot_dir = target / "snapshot"
        if record and not force and not window.provisional and record.settled(now, self.recollect_for):
            sent = self._deliver_all(store, ledger, key, target)
            if sent is None:
                return RunResult(ExitCode.DELIVERY_FAILED, None, f"{window.label()}: sending its report failed "
                                 f"again ({self._errors(ledger, key)}); the next run retries")
            delivered = not self.channels or any(ledger.was_sent(key, c) for c in self.channels)
            state = "delivered" if delivered else "done"
            return RunResult(ExitCode.OK, None, f"{window.label()} was already {state} "
                             f"({record.updated_at:%Y-%m-%d %H:%M} UTC); nothing to do (use --force to deliver "
                             "it again)" + (f"; sent {len(sent)} pending report(s): {_sent_phrase(sent)}"
                                            if sent else ""))
        resume = record is not None and not force and not window.provisional and (snapshot_dir / MANIFEST).is_file()
        snapshot = read_snapshot(snapshot_dir) if resume else None
        if snapshot is not None and record is not None:
            waiting = now < window.end + self.recollect_for  # a degraded snapshot is not final yet
            if record.state == "rendered" or (waiting and _degradation(snapshot) != (0, 0)):
                self.log(f"collecting {window.label()} again: its report was made while a source was missing")
                return self._recollect(store, ledger, window, target, record, snapshot)
            self.log(f"resuming from {snapshot_dir} (state: {record.state})")
        if snapshot is None:
            snapshot = self._collect(ledger, key, window, target)
        files, code, cards = self._render(store, window, snapshot, target)
        ledger.rendered(key, complete=code == ExitCode.OK)
        if window.provisional or not self.channels:
            nothing = self.config.email is None and not self.config.chat
            return RunResult(code, files, "report written (no email or chat configured)" if nothing
                             else "report written")
        for channel in self.channels:
            ledger.want(key, channel, "resent" if force and ledger.was_sent(key, channel) else "report")
        return self._finish(store, ledger, key, target, code, files, cards)

    def _recollect(self, store: Store, ledger: Ledger, window: Window, target: Path, record: WindowRecord,
                   before: Snapshot) -> RunResult:
        """Collect an unsettled window again. The new report replaces the old one unless it is worse; a
        delivered report that becomes complete with other numbers is sent once more, marked corrected."""
        key = record.key
        collected = collect(self.config, window, environ=self.environ, now=self.now, on_step=self.log,
                            known_keys=store.known_keys())
        store.remember_keys(collected.keys)
        remember_setup(store, collected.snapshot.setup)
        snapshot = collected.snapshot
        if _degradation(snapshot) > _degradation(before):
            self.log("the new collection is less complete than the report already made: keeping that one")
            code = exit_code_for(before)
            sent = self._deliver_all(store, ledger, key, target)
            return RunResult(code if sent is not None else ExitCode.DELIVERY_FAILED, None,
                             "report kept (the sources answered worse this time)")
        old = _read_json(target / "scorecards.json")
        write_snapshot(snapshot, target / "snapshot")
        ledger.collected(key, window, str(target))
        files, code, cards = self._render(store, window, snapshot, target)
        complete = code == ExitCode.OK
        ledger.rendered(key, complete=complete)
        changed = old is None or _numbers(old) != _numbers(cards.to_json_dict())
        message = "report complete now" if complete else "report still incomplete; the next run collects it again"
        if self.channels and not window.provisional:
            corrected = False
            for channel in self.channels:
                asked_before = ledger.want(key, channel) is None  # (asks for the report itself if it never was)
                if asked_before and complete and changed and ledger.was_sent(key, channel):
                    corrected |= ledger.want(key, channel, "corrected") is not None
            if corrected:
                message += "; its numbers changed: a corrected report is sent"
        result = self._finish(store, ledger, key, target, code, files, cards)
        return RunResult(result.exit_code, files, message if result.exit_code != ExitCode.DELIVERY_FAILED
                         else result.message)

    def _collect(self, ledger: Ledger, key: str, window: Window, target: Path) -> Snapshot:
        collected = collect(self.config, window, environ=self.environ, now=self.now, on_step=self.log,
                            known_keys=ledger.store.known_keys())
        ledger.store.remember_keys(collected.keys)
        remember_setup(ledger.store, collected.snapshot.setup)
        write_snapshot(collected.snapshot, target / "snapshot")
        ledger.collected(key, window, str(target))
        return collected.snapshot

    def _render(self, store: Store, window: Window, snapshot: Snapshot,
                target: Path) -> tuple[ReportFiles, ExitCode, Scorecards]:
        history = None if window.provisional else load_history(store, window)
        report = make_report(snapshot, target, lambda cards: self._meeting(store, window, cards), history=history,
                             templates_dir=self.config.output.templates_dir, pdf=self.pdf)
        self.log("rendered " + " · ".join(f"{k} {v:.2f} s" for k, v in report.timings.items()))
        if not window.provisional:
            store.record_window(report.cards.history_document())
        return report.files, report.exit_code, report.cards

    def _meeting(self, store: Store, window: Window, cards: Scorecards) -> MeetingView:
        """The meeting loop as the store has it: open items, notes of the window, the wheel's state."""
        return MeetingView(
            items=ItemBook(store).view(since=window.start, now=self.now()),
            notes=read_notes(self.config.notes.directory if self.config.notes else None, window,
                             [t.name for t in cards.setup.teams] if cards.setup else []),
            wheel=wheel_store.view(store, self.config, self.now(), cards, self.config_path),
        )

    def _finish(self, store: Store, ledger: Ledger, key: str, target: Path, code: ExitCode,
                files: ReportFiles, cards: Scorecards) -> RunResult:
        if files.pdf is None:
            unsent = _sent_phrase([d.channel for d in ledger.unsent(key)], joint="nor") or "delivered"
            return RunResult(code, files, f"report written without a PDF (--no-pdf): not {unsent}; the next run "
                                          "without --no-pdf sends it")
        sent = self._deliver_all(store, ledger, key, target, cards)
        if sent is None:
            return RunResult(ExitCode.DELIVERY_FAILED, files, f"{self._errors(ledger, key)}; the report is kept in "
                                                               f"{target} and the next run will send it")
        return RunResult(code, files, f"report written and {_sent_phrase(sent)}" if sent else "report written")

    @staticmethod
    def _errors(ledger: Ledger, key: str) -> str:
        """The errors of the window's failed deliveries, each naming its channel."""
        return "; ".join(d.error or f"{d.channel} failed" for d in ledger.deliveries(key) if d.state == "failed")

    # --- deliveries --------------------------------------------------------------------------------

    def _deliver_all(self, store: Store, ledger: Ledger, key: str, directory: Path,
                     cards: Scorecards | None = None) -> list[str] | None:
        """Send the window's unsent deliveries (its lock is held), each on its own: one that fails does
        not keep the others from being sent. The channels sent, or None when one failed (it stays
        unsent: the next run retries). ``cards``: the scorecards this run just wrote to ``directory``
        (else they are read back from its scorecards.json)."""
        sent, failed = [], False
        for delivery in ledger.unsent(key):
            current = ledger.refresh(delivery)  # read again under the lock: another run may have sent it
            if current is None or current.state not in ("pending", "failed"):
                continue
            outcome = self._send(store, ledger, current, directory, cards)
            if outcome == "sent":
                sent.append(current.channel)
            failed |= outcome == "failed"
        return None if failed else sent

    def _send(self, store: Store, ledger: Ledger, delivery: Delivery, directory: Path,
              written: Scorecards | None = None) -> str:
        email = self.config.email if delivery.channel == EMAIL and self.emails else None
        channel = self.chats.get(delivery.channel)
        if email is None and channel is None:
            return "skipped"  # configured when it was asked for; it is kept until it is again
        what = "email" if email is not None else "post"
        try:
            cards = written if written is not None else read_scorecards(directory / "scorecards.json")
        except (OSError, ValueError) as exc:
            ledger.settle(delivery, "abandoned", error=f"its report is gone: {exc}")
            self.log(f"warning: the report of {directory.name} is gone ({directory}); its {what} to "
                     f"{delivery.channel} is abandoned")
            return "abandoned"
        pdf = directory / "report.pdf"
        if not pdf.is_file():
            if not self.pdf:
                return "skipped"  # --no-pdf: the next run makes the PDF and sends it (a post links to it)
            try:
                self._rerender(store, directory)
            except (InputError, OSError) as exc:
                ledger.settle(delivery, "abandoned", error=f"its PDF could not be made again: {exc}")
                self.log(f"warning: the PDF of {directory.name} could not be made again ({exc}); its {what} to "
                         f"{delivery.channel} is abandoned")
                return "abandoned"
        report = {"report": "the report", "corrected": "the corrected report", "resent": "the report again"}
        try:
            if email is not None:
                message = build_message(email, cards, pdf, link=link_for(self.config, directory),
                                        title=self.config.output.title, corrected=delivery.kind == "corrected")
                send(email, message, self.environ)
            elif channel is not None:
                post = chat.build_message(channel, delivery.channel, cards, title=self.config.output.title,
                                          kind=delivery.kind, revision=delivery.revision,
                                          page_url=link_for(self.config, directory),
                                          pdf_url=link_for(self.config, directory, "report.pdf"))
                chat.post(channel, post, self.environ)
        except DeliveryError as exc:
            ledger.settle(delivery, "failed", error=str(exc))
            self.log(f"{'emailing' if email else 'posting'} {directory.name} failed: {exc}")
            return "failed"
        ledger.settle(delivery, "sent")
        if email is not None:
            self.log(f"emailed {report[delivery.kind]} of {directory.name} to {len(email.recipients)} recipient(s)")
        else:
            self.log(f"posted {report[delivery.kind]} of {directory.name} to {delivery.channel}")
        return "sent"

    def _rerender(self, store: Store, directory: Path) -> None:
        """The report of an earlier window again, with its PDF, from its snapshot."""
        snapshot = read_snapshot(directory / "snapshot")
        self._render(store, snapshot.window, snapshot, directory)

    # --- the other windows -------------------------------------------------------------------------

    def _catch_up(self, store: Store, ledger: Ledger, skip: str) -> int:
        """Other windows: unsettled ones are collected again, unsent deliveries are sent. Each under its
        own lock, taken without waiting: a window another run holds is that run's. Returns how many
        deliveries failed."""
        failed = 0
        keys = {r.key for r in ledger.unsettled(self.recollect_for)} | {d.key for d in ledger.unsent()}
        for key in sorted(keys - {skip}):
            record = ledger.get(key)
            if record is None or record.directory is None:
                continue
            directory = Path(record.directory)
            with directory_lock(self.out, directory.name) as held:
                if not held:
                    self.log(f"{directory.name}: another run holds it; left to that run")
                    continue
                record = ledger.get(key)  # read again under the lock
                if record is None:
                    continue
                if record.window is not None and not record.settled(self.now(), self.recollect_for):
                    try:
                        before = read_snapshot(directory / "snapshot")
                    except InputError as exc:
                        self.log(f"warning: {directory.name} cannot be collected again ({exc})")
                    else:
                        self.log(f"collecting {directory.name} again: its report was made while a source was "
                                 "missing")
                        result = self._recollect(store, ledger, record.window, directory, record, before)
                        failed += result.exit_code == ExitCode.DELIVERY_FAILED
                        continue
                if self._deliver_all(store, ledger, key, directory) is None:
                    failed += 1
        return failed


MANIFEST = "manifest.json"


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
