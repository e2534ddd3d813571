"""`opsmeeting run` end to end: the PagerDuty fake over HTTPS and a real Prometheus."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from pypdf import PdfReader

from tests.runs import WINDOW_ARG, config_with_email, run, write_config


def test_run_collects_and_writes_everything(tmp_path, prometheus, pagerduty, capsys, monkeypatch):
    monkeypatch.setenv("OPSMEETING_TEST_PD_TOKEN", "test-token")
    config = write_config(tmp_path, prometheus, pagerduty)
    window = f"{prometheus.dataset.window.start:%Y-%m-%dT%H:%MZ}/{prometheus.dataset.window.end:%Y-%m-%dT%H:%MZ}"
    code, _, err = run(["run", "--config", config, "--window", window], capsys)
    assert code == 0, err
    target = tmp_path / "reports" / "2026-10-19_2026-11-02"
    for name in ("report.html", "report.pdf", "scorecards.json", "scorecards.csv", "snapshot/manifest.json"):
        assert (target / name).is_file(), name
    assert "pagerduty: ok" in err and "prometheus: ok" in err
    data = json.loads((target / "scorecards.json").read_text())
    payments = next(s for s in data["services"] if s["service"] == "payments")
    assert payments["incidents"]["incidents_total"] == 2
    slo = payments["slos"][0]
    truth = prometheus.truth["payments"].availability.window
    assert (slo["good"], slo["total"]) == (truth.good, truth.total)
    top = slo["attribution"][0]
    assert top["incident_number"] == 4312 and top["share_of_bad"] > 0.9  # the burst burned the budget
    # Prometheus: 9 queries and buildinfo, the 2 hourly ranges asked a week at a time (4 each)
    assert data["sources"]["pagerduty"]["requests"] > 0 and data["sources"]["prometheus"]["requests"] == 16
    text = "\n".join(p.extract_text() for p in PdfReader(target / "report.pdf").pages)
    assert "Payments 5xx burst" in text


def test_pagerduty_down_gives_a_degraded_report(tmp_path, prometheus, pagerduty, capsys, monkeypatch):
    monkeypatch.setenv("OPSMEETING_TEST_PD_TOKEN", "test-token")
    pagerduty.inject("/", status=500, times=1000)
    config = write_config(tmp_path, prometheus, pagerduty)
    window = f"{prometheus.dataset.window.start:%Y-%m-%dT%H:%MZ}/{prometheus.dataset.window.end:%Y-%m-%dT%H:%MZ}"
    code, _, err = run(["run", "--config", config, "--window", window, "--no-pdf"], capsys)
    assert code == 3
    assert "pagerduty: failed" in err
    target = tmp_path / "reports" / "2026-10-19_2026-11-02"
    data = json.loads((target / "scorecards.json").read_text())
    assert data["sources"]["pagerduty"]["status"] == "failed"
    assert data["overall"]["incidents"]["incidents_total"] is None  # null, never 0
    html = (target / "report.html").read_text()
    assert "PagerDuty could not be read" in html
    assert data["services"][0]["slos"][0]["sli"] is not None  # Prometheus still reported


def test_missing_token_is_named(tmp_path, prometheus, pagerduty, capsys, monkeypatch):
    monkeypatch.delenv("OPSMEETING_TEST_PD_TOKEN", raising=False)
    config = write_config(tmp_path, prometheus, pagerduty)
    code, _, err = run(["run", "--config", config, "--window", "2026-10-19T08:00Z/2026-11-02T08:00Z", "--no-pdf"],
                       capsys)
    assert code == 3
    assert "$OPSMEETING_TEST_PD_TOKEN" in err


# --- exactly once, email, crashes -------------------------------------------------------------------


def test_one_email_exactly_once(tmp_path, prometheus, pagerduty, smtp, capsys, monkeypatch):
    import email

    sink, port = smtp
    monkeypatch.setenv("OPSMEETING_TEST_PD_TOKEN", "test-token")
    config = config_with_email(tmp_path, prometheus, pagerduty, port)
    code, _, err = run(["run", "--config", config, "--window", WINDOW_ARG], capsys)
    assert code == 0, err
    assert len(sink.messages) == 1
    message = email.message_from_bytes(sink.messages[0])
    assert message["To"] == "sre@example.com, leads@example.com"
    assert "Mon 19 Oct 2026 08:00" in message["Subject"]
    parts = {part.get_content_type(): part for part in message.walk()}
    assert {"text/plain", "text/html", "application/pdf"} <= set(parts)
    pdf = parts["application/pdf"].get_payload(decode=True)
    assert pdf.startswith(b"%PDF") and len(pdf) > 10_000
    text = parts["text/plain"].get_payload(decode=True).decode()
    assert "Incidents: 2" in text and "1. payments" in text and "SLOs missed: 1" in text
    assert "https://ops.example.com/reports/2026-10-19_2026-11-02/report.html" in text
    assert (tmp_path / "reports" / "index.html").is_file()
    requests_before = sum(pagerduty.request_counts().values())
    code, _, err = run(["run", "--config", config, "--window", WINDOW_ARG], capsys)
    assert code == 0 and "already delivered" in err
    assert len(sink.messages) == 1  # nothing sent twice
    assert sum(pagerduty.request_counts().values()) == requests_before  # nothing collected twice
    code, _, _ = run(["run", "--config", config, "--window", WINDOW_ARG, "--force"], capsys)
    assert code == 0 and len(sink.messages) == 2


def test_smtp_down_then_the_next_run_sends(tmp_path, prometheus, pagerduty, smtp, capsys, monkeypatch):
    from tests.fakes.prometheus import free_port

    sink, port = smtp
    monkeypatch.setenv("OPSMEETING_TEST_PD_TOKEN", "test-token")
    config = config_with_email(tmp_path, prometheus, pagerduty, free_port())  # nothing listens there
    code, _, err = run(["run", "--config", config, "--window", WINDOW_ARG], capsys)
    assert code == 4 and "the next run will send it" in err
    report = tmp_path / "reports" / "2026-10-19_2026-11-02"
    assert (report / "report.pdf").is_file()  # the report is kept
    config = config_with_email(tmp_path, prometheus, pagerduty, port)  # the server is back
    requests_before = sum(pagerduty.request_counts().values())
    code, _, err = run(["run", "--config", config, "--window", WINDOW_ARG], capsys)
    assert code == 0, err
    assert len(sink.messages) == 1
    assert sum(pagerduty.request_counts().values()) == requests_before  # resumed from the snapshot


def test_a_crash_leaves_no_partial_file_and_the_next_run_completes(tmp_path, prometheus, pagerduty, smtp, capsys,
                                                                   monkeypatch):
    import opsmeeting.pipeline

    sink, port = smtp
    monkeypatch.setenv("OPSMEETING_TEST_PD_TOKEN", "test-token")
    config = config_with_email(tmp_path, prometheus, pagerduty, port)
    report = tmp_path / "reports" / "2026-10-19_2026-11-02"
    (report).mkdir(parents=True)
    (report / ".report.html.abc.tmp").write_text("half a page")  # what a SIGKILL mid-write leaves

    def boom(*args, **kwargs):
        raise RuntimeError("killed while rendering")

    monkeypatch.setattr(opsmeeting.pipeline, "render_report", boom)
    monkeypatch.setenv("OPSMEETING_CRASH_DIR", str(tmp_path))
    code, _, err = run(["run", "--config", config, "--window", WINDOW_ARG], capsys)
    assert code == 1 and "error: unexpected RuntimeError: killed while rendering" in err
    assert "Traceback" not in err and len(list(tmp_path.glob("opsmeeting-crash-*.log"))) == 1
    assert not (report / "report.html").exists() and not (report / "report.pdf").exists()
    assert (report / "snapshot" / "manifest.json").is_file()
    monkeypatch.undo()
    monkeypatch.setenv("OPSMEETING_TEST_PD_TOKEN", "test-token")
    requests_before = sum(pagerduty.request_counts().values())
    code, _, err = run(["run", "--config", config, "--window", WINDOW_ARG], capsys)
    assert code == 0, err
    assert "resuming from" in err and sum(pagerduty.request_counts().values()) == requests_before
    assert len(sink.messages) == 1
    assert not list(report.glob(".*.tmp"))


def test_two_runs_at_once_cannot_both_deliver(tmp_path, prometheus, pagerduty, capsys, monkeypatch):
    import fcntl

    monkeypatch.setenv("OPSMEETING_TEST_PD_TOKEN", "test-token")
    config = write_config(tmp_path, prometheus, pagerduty)
    out = tmp_path / "reports"
    out.mkdir()
    with open(out / ".2026-10-19_2026-11-02.lock", "a") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        code, _, err = run(["run", "--config", config, "--window", WINDOW_ARG, "--no-pdf"], capsys)
    assert code == 5 and "another opsmeeting run" in err


def test_last_completed_rotation_across_dst(tmp_path, prometheus, pagerduty, capsys, monkeypatch):
    """--as-of picks the last completed rotation in local time; Lisbon's 19 Oct → 2 Nov lasts 14 d 1 h."""
    monkeypatch.setenv("OPSMEETING_TEST_PD_TOKEN", "test-token")
    path = write_config(tmp_path, prometheus, pagerduty)
    data = yaml.safe_load(Path(path).read_text())
    data["rotation"] = {"length": "14d", "anchor": "2026-01-12T09:00:00", "timezone": "Europe/Lisbon", "grace": "2h"}
    with open(path, "w") as handle:
        yaml.safe_dump(data, handle)
    code, _, err = run(["run", "--config", path, "--as-of", "2026-11-02T10:30Z", "--no-pdf"], capsys)
    assert code in (0, 3), err
    assert "Mon 5 Oct 2026 09:00 → Mon 19 Oct 2026 09:00 (Europe/Lisbon)" in err  # grace not yet over
    code, _, err = run(["run", "--config", path, "--as-of", "2026-11-02T11:30Z", "--no-pdf"], capsys)
    assert "Mon 19 Oct 2026 09:00 → Mon 2 Nov 2026 09:00 (Europe/Lisbon)" in err
    scorecards = json.loads((tmp_path / "reports" / "2026-10-19_2026-11-02" / "scorecards.json").read_text())
    assert scorecards["window"]["start"] == "2026-10-19T08:00:00Z"
    assert scorecards["window"]["end"] == "2026-11-02T09:00:00Z"


def test_the_second_rotation_shows_changes(tmp_path, prometheus, pagerduty, capsys, monkeypatch):
    monkeypatch.setenv("OPSMEETING_TEST_PD_TOKEN", "test-token")
    config = write_config(tmp_path, prometheus, pagerduty)
    code, _, err = run(["run", "--config", config, "--window", "2026-10-05T08:00Z/2026-10-19T08:00Z", "--no-pdf"],
                       capsys)
    assert code == 0, err
    code, _, err = run(["run", "--config", config, "--window", WINDOW_ARG, "--no-pdf"], capsys)
    assert code == 0, err
    report = tmp_path / "reports" / "2026-10-19_2026-11-02"
    html = (report / "report.html").read_text()
    assert "+2 vs the last rotation" in html  # 0 incidents in the first window, 2 in the second
    assert "Budget, last 2 rotations" in html
    data = json.loads((report / "scorecards.json").read_text())
    payments = next(s for s in data["services"] if s["service"] == "payments")
    assert payments["trend"]["incidents_total"] == [0, 2]
    index = (tmp_path / "reports" / "index.html").read_text()
    assert index.index("2026-10-19_2026-11-02") < index.index("2026-10-05_2026-10-19")  # newest first
