"""The fault matrix: `opsmeeting run` through each fault a hostile environment produces, against the
PagerDuty fake, a real Prometheus and an SMTP sink. Each case asserts the exit code, the banner, that
nothing collected was lost (the snapshot's contents) and the number of emails at the sink."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from opsmeeting.snapshot import read_snapshot
from tests.fakes.prometheus import free_port
from tests.runs import WINDOW_ARG, config_with_email, run

PREVIOUS = "2026-10-05T08:00Z/2026-10-19T08:00Z"
EARLIER = "2026-09-21T08:00Z/2026-10-05T08:00Z"
FOLDER = "2026-10-19_2026-11-02"
AS_OF = "2026-11-02T10:00Z"  # the day the window ended: young enough to be collected again
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def token(monkeypatch) -> None:
    monkeypatch.setenv("OPSMEETING_TEST_PD_TOKEN", "test-token")


def edit(path: str, change) -> str:
    data = yaml.safe_load(Path(path).read_text())
    change(data)
    Path(path).write_text(yaml.safe_dump(data))
    return path


def report(tmp_path: Path, folder: str = FOLDER) -> Path:
    return tmp_path / "reports" / folder


def scorecards(tmp_path: Path, folder: str = FOLDER) -> dict:
    return json.loads((report(tmp_path, folder) / "scorecards.json").read_text())


def about(sink, window_label: str) -> list[str]:
    return [s for s in sink.subjects() if window_label in s]


def cli_process(config: str, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "OPSMEETING_TEST_PD_TOKEN": "test-token", "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "opsmeeting.cli", "run", "-c", config, *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


# --- delivery ------------------------------------------------------------------------------------------


def test_a_failed_email_is_sent_once_by_two_runs_at_once(tmp_path, prometheus, pagerduty, smtp, capsys, token):
    """The October report's email fails; then two runs for two other windows start together. Each
    would retry the failed delivery: only the one holding its window's lock sends it."""
    sink, port = smtp
    down = config_with_email(tmp_path, prometheus, pagerduty, free_port())
    code, _, err = run(["run", "-c", down, "--window", WINDOW_ARG], capsys)
    assert code == 4 and "the next run will send it" in err
    config = config_with_email(tmp_path, prometheus, pagerduty, port)
    sink.delay = 1.0  # both runs reach the retry while the first is still sending
    procs = [cli_process(config, "--window", window, "--no-pdf") for window in (PREVIOUS, EARLIER)]
    outputs = [proc.communicate(timeout=120) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], outputs
    assert "Traceback" not in "".join(out + err for out, err in outputs)
    assert len(about(sink, "Mon 19 Oct 2026 08:00 → Mon 2 Nov")) == 1, sink.subjects()  # the October report, once
    assert len(sink.messages) == 1  # the two new windows were rendered without a PDF: not emailed yet


def test_no_pdf_leaves_the_email_pending(tmp_path, prometheus, pagerduty, smtp, capsys, token):
    sink, port = smtp
    config = config_with_email(tmp_path, prometheus, pagerduty, port)
    code, _, err = run(["run", "-c", config, "--window", WINDOW_ARG, "--no-pdf"], capsys)
    assert code == 0 and "not emailed" in err and sink.messages == []
    requests = sum(pagerduty.request_counts().values())
    code, _, err = run(["run", "-c", config, "--window", WINDOW_ARG], capsys)
    assert code == 0, err
    assert len(sink.messages) == 1 and (report(tmp_path) / "report.pdf").is_file()
    assert sum(pagerduty.request_counts().values()) == requests  # nothing collected again
    code, _, err = run(["run", "-c", config, "--window", WINDOW_ARG], capsys)
    assert code == 0 and "already delivered" in err and len(sink.messages) == 1


def test_a_degraded_report_is_collected_again_and_corrected_once(tmp_path, prometheus, pagerduty, smtp, capsys,
                                                                  token):
    sink, port = smtp
    config = config_with_email(tmp_path, prometheus, pagerduty, port)
    pagerduty.inject("/", status=500, times=1000)
    code, _, err = run(["run", "-c", config, "--window", WINDOW_ARG, "--as-of", AS_OF], capsys)
    assert code == 3 and len(sink.messages) == 1  # the degraded report is sent: the meeting needs it
    assert scorecards(tmp_path)["overall"]["incidents"]["incidents_total"] is None
    assert "PagerDuty could not be read" in (report(tmp_path) / "report.html").read_text()
    pagerduty.clear_faults()  # PagerDuty is back
    code, _, err = run(["run", "-c", config, "--window", WINDOW_ARG, "--as-of", AS_OF], capsys)
    assert code == 0, err
    assert "collecting" in err and "a corrected report is sent" in err
    assert scorecards(tmp_path)["overall"]["incidents"]["incidents_total"] == 2
    assert len(sink.messages) == 2 and sink.subjects()[1].startswith("Corrected: ")
    code, _, err = run(["run", "-c", config, "--window", WINDOW_ARG, "--as-of", AS_OF], capsys)
    assert code == 0 and "already delivered" in err and len(sink.messages) == 2  # settled: nothing more


def test_a_run_for_another_window_collects_a_degraded_one_again(tmp_path, prometheus, pagerduty, smtp, capsys,
                                                                token):
    sink, port = smtp
    config = config_with_email(tmp_path, prometheus, pagerduty, port)
    pagerduty.inject("/incidents", status=503, times=1000)
    code, _, _ = run(["run", "-c", config, "--window", WINDOW_ARG, "--as-of", AS_OF], capsys)
    assert code == 3 and len(sink.messages) == 1
    pagerduty.clear_faults()
    code, _, err = run(["run", "-c", config, "--window", PREVIOUS, "--as-of", AS_OF], capsys)
    assert code == 0, err
    assert scorecards(tmp_path)["sources"]["pagerduty"]["status"] == "ok"
    assert [s.startswith("Corrected: ") for s in about(sink, "Mon 19 Oct 2026 08:00 → Mon 2 Nov")] == [False, True]


def test_a_degraded_report_past_its_age_is_final(tmp_path, prometheus, pagerduty, smtp, capsys, token):
    sink, port = smtp
    config = config_with_email(tmp_path, prometheus, pagerduty, port)
    pagerduty.inject("/", status=500, times=1000)
    code, _, _ = run(["run", "-c", config, "--window", WINDOW_ARG, "--as-of", AS_OF], capsys)
    assert code == 3
    pagerduty.clear_faults()
    requests = sum(pagerduty.request_counts().values())
    code, _, err = run(["run", "-c", config, "--window", WINDOW_ARG, "--as-of", "2026-11-06T10:00Z"], capsys)
    assert code == 0 and "already delivered" in err
    assert sum(pagerduty.request_counts().values()) == requests and len(sink.messages) == 1


def test_resuming_from_a_degraded_snapshot_collects_again(tmp_path, prometheus, pagerduty, smtp, capsys, token,
                                                           monkeypatch):
    """A run crashed after collecting while PagerDuty was down: the next one does not resume from that."""
    import opsmeeting.pipeline

    sink, port = smtp
    config = config_with_email(tmp_path, prometheus, pagerduty, port)
    pagerduty.inject("/", status=500, times=1000)

    def crash(*args, **kwargs):
        raise RuntimeError("killed while rendering")

    monkeypatch.setattr(opsmeeting.pipeline, "render_report", crash)
    monkeypatch.setenv("OPSMEETING_CRASH_DIR", str(tmp_path))
    code, _, _ = run(["run", "-c", config, "--window", WINDOW_ARG, "--as-of", AS_OF], capsys)
    assert code == 1 and read_snapshot(report(tmp_path) / "snapshot").incidents is None
    monkeypatch.undo()
    monkeypatch.setenv("OPSMEETING_TEST_PD_TOKEN", "test-token")
    pagerduty.clear_faults()
    code, _, err = run(["run", "-c", config, "--window", WINDOW_ARG, "--as-of", AS_OF], capsys)
    assert code == 0, err
    assert scorecards(tmp_path)["overall"]["incidents"]["incidents_total"] == 2
    assert len(sink.messages) == 1 and not sink.subjects()[0].startswith("Corrected")


def test_a_pending_email_whose_report_is_gone_does_not_block(tmp_path, prometheus, pagerduty, smtp, capsys, token):
    sink, port = smtp
    down = config_with_email(tmp_path, prometheus, pagerduty, free_port())
    code, _, _ = run(["run", "-c", down, "--window", WINDOW_ARG], capsys)
    assert code == 4
    shutil.rmtree(report(tmp_path))  # someone cleaned the archive
    config = config_with_email(tmp_path, prometheus, pagerduty, port)
    code, _, err = run(["run", "-c", config, "--window", PREVIOUS], capsys)
    assert code == 0, err
    assert "warning: the report of 2026-10-19_2026-11-02 is gone" in err and "Traceback" not in err
    assert len(sink.messages) == 1 and about(sink, "Mon 5 Oct 2026 08:00 → Mon 19 Oct")
    code, _, err = run(["run", "-c", config, "--window", EARLIER, "--no-pdf"], capsys)
    assert code == 0 and "is gone" not in err  # abandoned: reported once


# --- malformed and partial answers ---------------------------------------------------------------------


@pytest.mark.parametrize(("path", "body", "kind", "part"), [
    ("/priorities", b"<html><body>502 Bad Gateway</body></html>", "text/html", "severities"),
    ("/priorities", b"", "application/json", "severities"),
    ("/priorities", b'{"priorities": null, "limit": 100, "offset": 0, "more": false}', "application/json",
     "severities"),
    ("/users", b'{"users": [{"name": "no id"}]}', "application/json", "people"),
])
def test_a_malformed_optional_answer_degrades_only_its_metrics(tmp_path, prometheus, pagerduty, smtp, capsys,
                                                                token, path, body, kind, part):
    sink, port = smtp
    config = config_with_email(tmp_path, prometheus, pagerduty, port)
    pagerduty.inject(path, body=body, content_type=kind, times=100)
    code, _, err = run(["run", "-c", config, "--window", WINDOW_ARG], capsys)
    assert code == 3 and "Traceback" not in err, err
    snapshot = read_snapshot(report(tmp_path) / "snapshot")
    assert snapshot.incidents is not None and len(snapshot.incidents.incidents) == 2  # kept
    assert part in snapshot.incidents.unavailable and "malformed answer" in snapshot.incidents.unavailable[part]
    assert snapshot.slos is not None and snapshot.slos.measurements
    data = scorecards(tmp_path)
    overall = data["overall"]["incidents"]
    assert overall["incidents_total"] == 2 and overall["mttr_p50_s"] is not None
    if part == "severities":
        assert overall["incidents_major"] is None
    else:
        assert overall["interruptions_sleep"] is None and overall["interruptions"] == 1
    pagerduty_word = {"severities": "priorities", "people": "users"}[part]
    assert f"{pagerduty_word} could not be read" in (report(tmp_path) / "report.html").read_text()
    assert len(sink.messages) == 1


@pytest.mark.parametrize(("body", "kind"), [(b"<html>maintenance</html>", "text/html"), (b"", "application/json")])
def test_a_malformed_required_answer_fails_pagerduty_and_keeps_prometheus(tmp_path, prometheus, pagerduty, smtp,
                                                                          capsys, token, body, kind):
    sink, port = smtp
    config = config_with_email(tmp_path, prometheus, pagerduty, port)
    pagerduty.inject("/incidents", body=body, content_type=kind, times=100)
    code, _, err = run(["run", "-c", config, "--window", WINDOW_ARG], capsys)
    assert code == 3 and "Traceback" not in err, err
    assert "pagerduty: failed" in err and "malformed answer" in err
    snapshot = read_snapshot(report(tmp_path) / "snapshot")
    assert snapshot.slos is not None and len(snapshot.slos.measurements) == 7
    data = scorecards(tmp_path)
    assert data["sources"]["pagerduty"]["requests"] > 0  # counted, not "0 requests"
    assert data["services"][0]["slos"][0]["sli"] is not None
    assert "PagerDuty could not be read" in (report(tmp_path) / "report.html").read_text()
    assert len(sink.messages) == 1


def test_a_stale_schedule_id_costs_only_the_on_call_hours(tmp_path, prometheus, pagerduty, smtp, capsys, token):
    sink, port = smtp
    config = edit(config_with_email(tmp_path, prometheus, pagerduty, port),
                  lambda d: d["rotation"].update(pagerduty_schedule_ids=["PNOSUCH"]))
    code, _, err = run(["run", "-c", config, "--window", WINDOW_ARG], capsys)
    assert code == 3 and "Traceback" not in err, err
    snapshot = read_snapshot(report(tmp_path) / "snapshot")
    assert len(snapshot.incidents.incidents) == 2 and "PNOSUCH" in snapshot.incidents.unavailable["schedules"]
    data = scorecards(tmp_path)
    assert data["overall"]["incidents"]["incidents_total"] == 2
    assert all(r["on_call_hours"] is None for r in data["responders"])
    assert "on-call hours are unknown" in (report(tmp_path) / "report.html").read_text()
    assert len(sink.messages) == 1


BROKEN_ANSWERS = {
    "empty object": b"{}",  # a misrouted proxy
    # a vector whose samples are not numbers (a buggy exporter behind a remote-read adapter)
    "non-numeric sample": b'{"status":"success","data":{"resultType":"vector","result":'
                          b'[{"metric":{"service":"payments"},"value":[1762074000,"lots"]}]}}',
}


@pytest.fixture(params=sorted(BROKEN_ANSWERS))
def broken_prometheus(request: pytest.FixtureRequest) -> Iterator[str]:
    """A server that answers every query 200 with one of BROKEN_ANSWERS."""
    body = BROKEN_ANSWERS[request.param]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return None

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_malformed_prometheus_keeps_the_pagerduty_data(tmp_path, prometheus, pagerduty, smtp, capsys, token,
                                                         broken_prometheus):
    sink, port = smtp
    config = edit(config_with_email(tmp_path, prometheus, pagerduty, port),
                  lambda d: d["sources"]["prometheus"].update(url=broken_prometheus, max_retries=0))
    code, _, err = run(["run", "-c", config, "--window", WINDOW_ARG], capsys)
    assert code == 3 and "Traceback" not in err, err
    assert "prometheus: failed" in err and "malformed answer" in err
    snapshot = read_snapshot(report(tmp_path) / "snapshot")
    assert snapshot.incidents is not None and len(snapshot.incidents.incidents) == 2
    data = scorecards(tmp_path)
    assert data["overall"]["incidents"]["incidents_total"] == 2
    assert all(slo["sli"] is None and slo["status"] == "error" for s in data["services"] for slo in s["slos"])
    assert len(sink.messages) == 1
