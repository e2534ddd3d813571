"""The chat delivery: Slack (and Mattermost), Teams and webhook posts of the summary, against a loopback
HTTPS sink that checks each format (tests/fakes/chat.py), through whole `opsmeeting run`s with the
PagerDuty fake, the real Prometheus and the SMTP sink. Exactly once per channel in the run ledger,
retried by the next run, never blocking the others, never a secret written or printed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from opsmeeting.aggregate.model import Scorecards
from opsmeeting.config.schema import ChatChannel
from opsmeeting.delivery import chat
from opsmeeting.delivery.chat_formats import (
    SLACK_BYTES,
    SLACK_TEXT,
    TEAMS_BYTES,
    WEBHOOK_BYTES,
    markdown_text,
    render_body,
)
from opsmeeting.delivery.digest import Digest, Entry, Note, Section, digest
from opsmeeting.delivery.email import DeliveryError
from opsmeeting.store import Store
from opsmeeting.store.ledger import Ledger, chat_channel
from tests.clock import session_now
from tests.fakes.chat import ChatSink, slack_problems, teams_problems, webhook_problems
from tests.fakes.prometheus import free_port
from tests.runs import WINDOW_ARG, config_with_email, run

KEY = "2026-10-19T08:00:00Z/2026-11-02T08:00:00Z"
PREVIOUS = "2026-10-05T08:00Z/2026-10-19T08:00Z"
FOLDER = "2026-10-19_2026-11-02"
AS_OF = "2026-11-02T10:00Z"  # the day the window ended: a degraded report is collected again
SECRETS = {"slack": "T0SLACK/B0SLACK/s1ackS3cretT0ken", "teams": "wf/te4msS3cretSig",
           "hook": "h00kS3cretT0kenXYZ"}
ENV = {"slack": "OPSMEETING_TEST_SLACK_URL", "teams": "OPSMEETING_TEST_TEAMS_URL", "hook": "OPSMEETING_TEST_HOOK_URL"}
HOSTILE = "<!channel> @here *bold* _it_ `code` [click](https://evil.example) <script>alert(1)</script> & <@U0BOSS>"
FRAGMENTS = ("<!channel>", "@here", "<script>", "<@U0BOSS>", "[click](https://evil.example)", "*bold*")


# --- fixtures and helpers ------------------------------------------------------------------------------


@pytest.fixture
def sink() -> Iterator[ChatSink]:
    with ChatSink() as running:
        yield running
        running.assert_valid()


@pytest.fixture
def env(monkeypatch, sink) -> None:
    monkeypatch.setenv("OPSMEETING_TEST_PD_TOKEN", "test-token")
    for kind, secret in SECRETS.items():
        monkeypatch.setenv(ENV[kind], sink.url(kind, secret))


def with_chat(tmp_path, prometheus, pagerduty, smtp_port: int, sink: ChatSink, *, kinds=("slack", "teams", "hook"),
              hostile: bool = True, timeout: str = "5s") -> str:
    """The email configuration of tests/runs.py with a chat channel per kind, and (``hostile``) a payments
    service whose display name tries to ping, format, link and inject."""
    path = config_with_email(tmp_path, prometheus, pagerduty, smtp_port)
    data = yaml.safe_load(Path(path).read_text())
    names = {"slack": "eng", "teams": "sre-room", "hook": "bus"}
    data["chat"] = [{"name": names[k], "kind": "webhook" if k == "hook" else k, "url_env": ENV[k],
                     "ca_bundle": sink.ca_bundle, "timeout": timeout} for k in kinds]
    if hostile:
        next(s for s in data["services"] if s["name"] == "payments")["display_name"] = HOSTILE
    Path(path).write_text(yaml.safe_dump(data))
    return path


def deliveries(tmp_path) -> dict[tuple[str, int], tuple[str, str]]:
    """(channel, revision) → (kind, state) of the October window, from the ledger."""
    with Store.open(tmp_path / "state.sqlite") as store:
        return {(d.channel, d.revision): (d.kind, d.state) for d in Ledger(store, session_now()).deliveries(KEY)}


def texts(node: Any, wanted: set[str], found: list[str] | None = None, inside: str = "") -> list[str]:
    """Every text under ``node`` in an element whose type is in ``wanted`` (Slack text objects and rich
    text elements, Adaptive Card elements and runs)."""
    found = [] if found is None else found
    if isinstance(node, dict):
        kind = node.get("type", inside)
        for key, value in node.items():
            if key in ("text", "value", "title") and isinstance(value, str) and kind in wanted:
                found.append(value)
            else:
                texts(value, wanted, found, kind if isinstance(kind, str) else inside)
    elif isinstance(node, list):
        for value in node:
            texts(value, wanted, found, inside)
    return found


def demo_cards() -> Scorecards:
    from opsmeeting.aggregate.scorecards import build_scorecards
    from opsmeeting.cli.app import sample_snapshot_dir
    from opsmeeting.snapshot import read_snapshot

    cards = build_scorecards(read_snapshot(sample_snapshot_dir()))
    return Scorecards.model_validate(cards.to_json_dict())  # as the runner reads scorecards.json back


@pytest.fixture(scope="module")
def cards() -> Scorecards:
    return demo_cards()


def hostile_cards(cards: Scorecards) -> Scorecards:
    data = cards.to_json_dict()
    for service in data["services"]:
        service["display_name"] = f"{HOSTILE} {service['service']}"
    for problem in data["problems"]:
        problem["example_title"] = HOSTILE
    for responder in data["responders"]:
        responder["name"] = f"@here {responder['name']} <!here>"
    return Scorecards.model_validate(data)


def channel(kind: str, sink: ChatSink, *, timeout: str = "5s", ca_bundle: str | None = "sink") -> ChatChannel:
    return ChatChannel(name="eng", kind=kind, url_env="CHAT_URL", timeout=timeout,
                       ca_bundle=sink.ca_bundle if ca_bundle == "sink" else ca_bundle)


def message(cards: Scorecards, target: ChatChannel) -> chat.ChatMessage:
    return chat.build_message(target, chat_channel(target.name), cards, title="Ops Meeting", kind="report",
                              revision=0, page_url="https://ops.example.com/r/x/report.html",
                              pdf_url="https://ops.example.com/r/x/report.pdf")


# --- the formats ---------------------------------------------------------------------------------------


def test_each_format_carries_the_summary_and_is_valid(cards):
    summary = digest(cards, title="Ops Meeting", page_url="https://ops.example.com/r/x/report.html",
                     pdf_url="https://ops.example.com/r/x/report.pdf")
    slack = json.loads(render_body("slack", summary, channel="chat:eng", revision=0))
    teams = json.loads(render_body("teams", summary, channel="chat:eng", revision=0))
    hook = json.loads(render_body("webhook", summary, channel="chat:bus", revision=0))
    assert slack_problems(slack) == [] and teams_problems(teams) == [] and webhook_problems(hook) == []
    assert slack["blocks"][0] == {"type": "header", "text": {
        "type": "plain_text", "text": "Ops Meeting: Mon 19 Oct 2026 09:00 → Mon 2 Nov 2026 09:00 (Europe/Lisbon)",
        "emoji": False}}
    incidents = cards.overall.incidents
    for text in (slack["text"], json.dumps(teams, ensure_ascii=False)):
        assert f"Incidents: {incidents.incidents_total}" in text or f'"value": "{incidents.incidents_total} (' in text
        assert "SLOs missed" in text and "Top priorities" in text and "The noisiest alert" in text
        assert "https://ops.example.com/r/x/report.html" in text and "https://ops.example.com/r/x/report.pdf" in text
    card = teams["attachments"][0]["content"]
    assert [a["type"] for a in card["actions"]] == ["Action.OpenUrl", "Action.OpenUrl"]
    assert hook["headline"][0] == {"key": "incidents_total", "label": "Incidents", "value": incidents.incidents_total,
                                   "text": f"{incidents.incidents_total} ({incidents.incidents_high_urgency} high "
                                           f"urgency, {incidents.incidents_major} major, {incidents.incidents_open} "
                                           "still open)", "change": None}
    missed = next(s for s in hook["attention"] if s["key"] == "slos_missed")
    assert len(missed["items"]) + missed["more"] == sum(s.met is False for c in cards.services for s in c.slos)
    assert hook["links"] == {"page": "https://ops.example.com/r/x/report.html",
                             "pdf": "https://ops.example.com/r/x/report.pdf"}
    assert hook["delivery"] == {"channel": "chat:bus", "kind": "report", "revision": 0}


def test_hostile_text_cannot_ping_format_or_inject(cards):
    summary = digest(hostile_cards(cards), title="<!here> Ops *Meeting*", page_url=None, pdf_url=None)
    slack = json.loads(render_body("slack", summary, channel="chat:eng", revision=0))
    teams = json.loads(render_body("teams", summary, channel="chat:eng", revision=0))
    hook = json.loads(render_body("webhook", summary, channel="chat:bus", revision=0))
    assert slack_problems(slack) == [] and teams_problems(teams) == [] and webhook_problems(hook) == []
    # Slack: in mrkdwn only our words; the source text only in plain_text and rich-text text elements
    mrkdwn = texts(slack["blocks"], {"mrkdwn"})
    literal = texts(slack["blocks"], {"plain_text", "text"})
    assert mrkdwn and not any(f in t for t in mrkdwn for f in ("<!", "<@", "@here", "evil", "script", "Meeting*"))
    assert any(HOSTILE in t for t in literal) and any("<!here> Ops *Meeting*" in t for t in literal)
    assert not any(e.get("type") in ("user", "broadcast", "usergroup", "channel")
                   for e in _elements(slack["blocks"]))
    # Slack's text (the notification; Mattermost's message): escaped for both
    text = slack["text"]
    for fragment in FRAGMENTS:
        assert fragment not in text, fragment
    assert "&lt;!channel&gt;" in text and "&lt;@\u2060U0BOSS&gt;" in text and "@\u2060here" in text
    assert "\\*bold\\*" in text and "\\[click\\](https://evil.example)" in text and "&amp;" in text
    assert markdown_text("a <b> & c") == "a &lt;b&gt; &amp; c"
    # Teams: the source text only in TextRuns (never Markdown), facts and titles our own
    runs = texts(teams, {"TextRun"})
    ours = texts(teams, {"TextBlock", "FactSet", "Action.OpenUrl"}) + [
        f["title"] + f["value"] for e in teams["attachments"][0]["content"]["body"] if e["type"] == "FactSet"
        for f in e["facts"]]
    assert any(HOSTILE in t for t in runs)
    assert not any(f in t for t in ours for f in FRAGMENTS)
    # the webhook: plain JSON strings, as the sources wrote them (the receiver treats them as text)
    subjects = [i["subject"] for s in hook["attention"] for i in s["items"]]
    assert any(s.startswith(HOSTILE) for s in subjects)


def _elements(node: Any) -> list[dict[str, Any]]:
    found = []
    if isinstance(node, dict):
        found.append(node)
        for value in node.values():
            found += _elements(value)
    elif isinstance(node, list):
        for value in node:
            found += _elements(value)
    return found


def test_a_large_hostile_organisation_fits_every_cap_with_n_more():
    from opsmeeting.aggregate.scorecards import build_scorecards
    from tests.large_org import large_snapshot

    cards = Scorecards.model_validate(build_scorecards(large_snapshot(n_incidents=600)).to_json_dict())
    big = digest(cards, title="Ops Meeting " + "x" * 5_000, page_url="https://ops.example.com/r/x/report.html",
                 pdf_url="https://ops.example.com/r/x/report.pdf")
    long_entry = Entry("服务 " * 150 + " 🚒", "budget consumed 812 % " + "y" * 400, "was 3 %")
    huge = replace(big, sections=tuple(replace(s, entries=(long_entry,) * 400, more=0) for s in big.sections),
                   notes=tuple(Note("warning", f"note {i}: " + "z" * 600) for i in range(200)))
    for summary in (big, huge):
        slack_body = render_body("slack", summary, channel="chat:eng", revision=0)
        teams_body = render_body("teams", summary, channel="chat:eng", revision=0)
        hook_body = render_body("webhook", summary, channel="chat:bus", revision=3)
        slack, teams, hook = json.loads(slack_body), json.loads(teams_body), json.loads(hook_body)
        assert slack_problems(slack) == [] and teams_problems(teams) == [] and webhook_problems(hook) == []
        assert len(slack_body) <= SLACK_BYTES and len(slack["text"]) <= SLACK_TEXT and len(slack["blocks"]) <= 50
        assert len(teams_body) <= TEAMS_BYTES and len(hook_body) <= WEBHOOK_BYTES
        assert len(slack["blocks"][0]["text"]["text"]) <= 150 and hook["heading"].endswith("…")
    assert "more in the report" in slack["text"]
    counted = {s["key"]: len(s["items"]) + s["more"] for s in hook["attention"]}
    assert set(counted.values()) == {400}  # every entry is shown or counted
    assert len(hook["data_quality"]["notes"]) + hook["data_quality"]["more"] == 200
    assert any("more in the report" in t for t in texts(teams, {"TextRun"}))


def test_the_shortest_digest_still_says_what_needs_attention():
    summary = Digest(title="t", heading="t: w", kind="report", window=digest_window(), generated_at=session_now(),
                     degraded=False, facts=(), sections=(Section("slos_missed", "SLOs missed",
                                                                 (Entry("a" * 300, "b" * 300),) * 3, more=7),),
                     notes=())
    assert summary.trimmed(0).sections[0].more == 10 and summary.trimmed(0).sections[0].entries == ()
    assert summary.trimmed(1, 40).sections[0].entries[0].subject.endswith("…")


def digest_window():
    from opsmeeting.delivery.digest import WindowInfo

    now = session_now()
    return WindowInfo(key="k", start=now - timedelta(days=14), end=now, timezone="UTC", label="w", provisional=False)


# --- posting: answers, failures, the one retry ----------------------------------------------------------


def test_each_kind_is_posted_once_with_its_headers(cards, sink):
    for kind, path in (("slack", "slack"), ("teams", "teams"), ("webhook", "hook")):
        target = channel(kind, sink)
        chat.post(target, message(cards, target), {"CHAT_URL": sink.url(path, SECRETS[path])})
        (request,) = sink.posts(f"/{path}/")
        assert request.headers["content-type"] == "application/json; charset=utf-8"
        assert ("idempotency-key" in request.headers) == (kind == "webhook")
    sink.assert_valid()


FAILURES = {
    "5xx": ("/slack/", dict(status=503, body="service unavailable"), "HTTP 503: service unavailable"),
    "4xx": ("/slack/", dict(status=404, body="no_service"), "HTTP 404: no_service"),
    "slack 200 with an error token": ("/slack/", dict(status=200, body="invalid_payload"),
                                      "HTTP 200, but Slack answered 'invalid_payload'"),
    "slack 200 with ok false": ("/slack/", dict(status=200, body='{"ok": false, "error": "channel_not_found"}'),
                                "HTTP 200, but it answered an error: channel_not_found"),
    "a redirect": ("/slack/", dict(status=302, headers={"Location": "https://elsewhere.example/"}),
                   "HTTP 302 (a redirect, which is not followed)"),
    "429 without Retry-After": ("/slack/", dict(status=429, body="rate_limited"), "(without Retry-After)"),
    "429 asking too long": ("/slack/", dict(status=429, headers={"Retry-After": "3600"}),
                            "(Retry-After 3600 s: longer than the 30 s a run waits)"),
    "a timeout": ("/slack/", dict(status=200, body="ok", delay=2.5), "timed out"),
}


@pytest.mark.parametrize("case", sorted(FAILURES))
def test_a_failed_answer_is_a_delivery_error_without_the_url(cards, sink, case):
    prefix, answer, reason = FAILURES[case]
    sink.answer(prefix, **answer)
    target = channel("slack", sink, timeout="1s")
    slept: list[float] = []
    with pytest.raises(DeliveryError) as info:
        chat.post(target, message(cards, target), {"CHAT_URL": sink.url("slack", SECRETS["slack"])},
                  sleep=slept.append)
    text = str(info.value)
    assert text.startswith("chat:eng (slack): posting failed: ") and reason in text, text
    assert SECRETS["slack"] not in text and "s1ackS3cret" not in text and "127.0.0.1" not in text
    assert len(sink.posts("/slack/")) == 1 and slept == []  # never tried twice, never waited


def test_teams_legacy_connector_errors_in_a_200_fail(cards, sink):
    sink.answer("/teams/", status=200, body="Microsoft Teams endpoint returned HTTP error 429 with ContextId x")
    target = channel("teams", sink)
    with pytest.raises(DeliveryError, match="Teams answered"):
        chat.post(target, message(cards, target), {"CHAT_URL": sink.url("teams", SECRETS["teams"])})


def test_refused_connections_and_unverified_certificates_fail(cards, sink):
    target = channel("webhook", sink)
    with pytest.raises(DeliveryError, match="connection refused"):
        chat.post(target, message(cards, target), {"CHAT_URL": f"https://127.0.0.1:{free_port()}/hook/x"})
    untrusted = channel("webhook", sink, ca_bundle=None)  # the system's CAs do not know the sink's
    with pytest.raises(DeliveryError, match="the certificate could not be verified"):
        chat.post(untrusted, message(cards, untrusted), {"CHAT_URL": sink.url("hook", SECRETS["hook"])})
    assert sink.delivered("/hook/") == []


@pytest.mark.parametrize("form", ["seconds", "http-date"])
def test_a_429_with_a_short_retry_after_is_posted_after_one_wait(cards, sink, form):
    when = "2" if form == "seconds" else format_datetime(session_now() + timedelta(seconds=2), usegmt=True)
    sink.answer("/slack/", status=429, body="rate_limited", headers={"Retry-After": when})
    target = channel("slack", sink)
    slept: list[float] = []
    chat.post(target, message(cards, target), {"CHAT_URL": sink.url("slack", SECRETS["slack"])}, sleep=slept.append)
    assert len(slept) == 1 and 0 <= slept[0] <= 2.0
    assert [r.answered for r in sink.posts("/slack/")] == [429, 200]
    sink.answer("/slack/", status=429, headers={"Retry-After": "1"}, times=2)  # a second 429: not a third try
    with pytest.raises(DeliveryError, match=r"HTTP 429 \(again, after waiting its Retry-After\)"):
        chat.post(target, message(cards, target), {"CHAT_URL": sink.url("slack", SECRETS["slack"])},
                  sleep=slept.append)
    assert len(sink.posts("/slack/")) == 4


def test_a_webhook_url_must_be_https_and_is_never_repeated():
    channels = [ChatChannel(name=n, kind="slack", url_env=f"URL_{n.upper()}") for n in ("a", "b", "c", "d")]
    environ = {"URL_B": "http://hooks.example/services/S3CRET", "URL_C": "https://hooks.example/x y/S3CRET",
               "URL_D": "https://hooks.example/services/S3CRET"}
    problems = chat.check_channels(channels, environ)
    assert problems == [
        "chat[0].url_env: $URL_A (the webhook URL of chat channel 'a') is not set",
        "chat[1].url_env: $URL_B (the webhook URL of chat channel 'b') must be an https:// URL (the certificate is "
        "verified)",
        "chat[2].url_env: $URL_C (the webhook URL of chat channel 'c') holds spaces or control characters: it must "
        "be the webhook's URL alone",
    ]
    assert "S3CRET" not in "".join(problems)


# --- whole runs ----------------------------------------------------------------------------------------


def test_every_channel_is_posted_exactly_once_across_two_runs(tmp_path, prometheus, pagerduty, smtp, sink, env,
                                                              capsys):
    mail, port = smtp
    config = with_chat(tmp_path, prometheus, pagerduty, port, sink)
    code, _, err = run(["run", "-c", config, "--window", WINDOW_ARG], capsys)
    assert code == 0, err
    assert "report written and emailed and posted to chat:bus, chat:eng, chat:sre-room" in err
    assert len(mail.messages) == 1
    for prefix in ("/slack/", "/teams/", "/hook/"):
        assert len(sink.posts(prefix)) == 1, prefix
    sink.assert_valid()
    slack, teams, hook = (sink.posts(p)[0].payload for p in ("/slack/", "/teams/", "/hook/"))
    page = f"https://ops.example.com/reports/{FOLDER}/report.html"
    pdf = f"https://ops.example.com/reports/{FOLDER}/report.pdf"
    assert "Incidents: 2 (" in slack["text"] and page in slack["text"] and pdf in slack["text"]
    assert "SLOs missed: 1 of" in slack["text"] and "&lt;!channel&gt;" in slack["text"]
    assert [a["url"] for a in teams["attachments"][0]["content"]["actions"]] == [page, pdf]
    assert hook["headline"][0]["value"] == 2 and hook["links"] == {"page": page, "pdf": pdf}
    assert hook["window"]["key"] == KEY and hook["delivery"] == {"channel": "chat:bus", "kind": "report",
                                                                 "revision": 0}
    assert sink.posts("/hook/")[0].headers["idempotency-key"] == hook["idempotency_key"]
    assert deliveries(tmp_path) == {(c, 0): ("report", "sent") for c in ("email", "chat:eng", "chat:sre-room",
                                                                          "chat:bus")}
    code, _, err = run(["run", "-c", config, "--window", WINDOW_ARG], capsys)
    assert code == 0 and "already delivered" in err
    assert len(sink.requests) == 3 and len(mail.messages) == 1  # nothing posted twice
    code, _, err = run(["run", "-c", config, "--window", WINDOW_ARG, "--force"], capsys)
    assert code == 0, err
    assert len(sink.requests) == 6 and len(mail.messages) == 2
    again = sink.posts("/hook/")[1].payload
    assert again["delivery"]["kind"] == "resent" and again["delivery"]["revision"] == 1
    assert again["idempotency_key"] != hook["idempotency_key"]


def test_a_failed_channel_exits_4_and_is_posted_once_by_the_next_run(tmp_path, prometheus, pagerduty, smtp, sink,
                                                                     env, capsys):
    mail, port = smtp
    config = with_chat(tmp_path, prometheus, pagerduty, port, sink)
    sink.answer("/slack/", status=500, body="rollup_error", times=1)
    sink.answer("/hook/", status=503, times=1)
    code, _, err = run(["run", "-c", config, "--window", WINDOW_ARG], capsys)
    assert code == 4, err
    assert "chat:bus (webhook): posting failed: HTTP 503; chat:eng (slack): posting failed: HTTP 500: rollup_error; " \
           "the report is kept" in err
    assert "the next run will send it" in err
    assert len(mail.messages) == 1 and len(sink.delivered("/teams/")) == 1 and sink.delivered("/hook/") == []
    assert deliveries(tmp_path)[("chat:eng", 0)] == ("report", "failed")
    assert deliveries(tmp_path)[("chat:sre-room", 0)] == ("report", "sent")
    code, _, err = run(["run", "-c", config, "--window", WINDOW_ARG], capsys)
    assert code == 0, err
    assert "sent 2 pending report(s): posted to chat:bus, chat:eng" in err
    assert len(sink.posts("/slack/")) == 2 and len(sink.delivered("/slack/")) == 1
    assert len(sink.posts("/hook/")) == 2 and len(sink.delivered("/hook/")) == 1
    first, second = (r.headers["idempotency-key"] for r in sink.posts("/hook/"))
    assert first == second  # one delivery, tried twice: one key, so a receiver can tell
    assert len(sink.posts("/teams/")) == 1 and len(mail.messages) == 1
    code, _, err = run(["run", "-c", config, "--window", WINDOW_ARG], capsys)
    assert code == 0 and "already delivered" in err and len(sink.requests) == 5  # sent once: never again
    assert set(deliveries(tmp_path).values()) == {("report", "sent")}


def test_a_channel_that_keeps_failing_blocks_neither_the_others_nor_the_email(tmp_path, prometheus, pagerduty, smtp,
                                                                            sink, env, capsys):
    mail, port = smtp
    config = with_chat(tmp_path, prometheus, pagerduty, port, sink, kinds=("slack", "teams"))
    sink.answer("/slack/", status=404, body="no_service", times=100)
    code, _, err = run(["run", "-c", config, "--window", WINDOW_ARG], capsys)
    assert code == 4 and "chat:eng (slack): posting failed: HTTP 404: no_service" in err
    code, _, err = run(["run", "-c", config, "--window", PREVIOUS], capsys)
    assert code == 4 and "chat:eng (slack): posting failed" in err
    assert len(mail.messages) == 2 and len(sink.delivered("/teams/")) == 2  # both windows, once each
    assert len(sink.posts("/slack/")) == 3 and sink.delivered("/slack/") == []
    assert "Traceback" not in err


def test_a_failed_post_is_sent_once_by_two_runs_at_once(tmp_path, prometheus, pagerduty, smtp, sink, env, capsys):
    """October's Slack post fails; two runs for two other windows then start together, and each would
    retry it: only the one holding October's lock posts it, the other skips it or finds it sent."""
    import os
    import subprocess
    import sys

    _, port = smtp
    config = with_chat(tmp_path, prometheus, pagerduty, port, sink, kinds=("slack",))
    sink.answer("/slack/", status=500, times=1)
    code, _, err = run(["run", "-c", config, "--window", WINDOW_ARG], capsys)
    assert code == 4, err
    sink.answer("/slack/", status=200, body="ok", delay=1.0, times=5)  # both runs reach it while it is posted
    root = Path(__file__).resolve().parent.parent
    environ = {**os.environ, "PYTHONPATH": str(root)}
    procs = [subprocess.Popen([sys.executable, "-m", "opsmeeting.cli", "run", "-c", config, "--window", window,
                               "--no-pdf"], env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for window in (PREVIOUS, "2026-09-21T08:00Z/2026-10-05T08:00Z")]
    outputs = [proc.communicate(timeout=120) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], outputs
    assert len(sink.delivered("/slack/")) == 1 and len(sink.posts("/slack/")) == 2  # October's, once
    assert deliveries(tmp_path)[("chat:eng", 0)] == ("report", "sent")


def test_no_secret_in_any_file_or_output(tmp_path, prometheus, pagerduty, smtp, sink, env, capsys):
    mail, port = smtp
    config = with_chat(tmp_path, prometheus, pagerduty, port, sink)
    for prefix in ("/slack/", "/teams/", "/hook/"):  # servers that repeat the URL in their errors
        sink.answer(prefix, status=400, echo_path=True)
    code, out, err = run(["run", "-c", config, "--window", WINDOW_ARG], capsys)
    assert code == 4 and "[webhook URL]" in err, err
    code, out2, err2 = run(["run", "-c", config, "--window", WINDOW_ARG], capsys)
    assert code == 0, err2
    assert len(sink.delivered("/")) == 3
    words = [part for secret in SECRETS.values() for part in secret.split("/") if len(part) >= 8]
    assert words
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "state.sqlite" for p in written)
    for path in written:
        data = path.read_bytes()
        for word in words:
            assert word.encode() not in data, (path, word)
    for text in (out, err, out2, err2, mail.messages[0].decode(errors="replace")):
        for word in words:
            assert word not in text


def test_a_provisional_run_never_posts(tmp_path, prometheus, pagerduty, smtp, sink, env, capsys):
    mail, port = smtp
    config = with_chat(tmp_path, prometheus, pagerduty, port, sink)
    code, _, err = run(["run", "-c", config, "--provisional", "--as-of", "2026-11-03T10:00Z"], capsys)
    assert code in (0, 3), err
    assert list((tmp_path / "reports").glob("*-provisional/report.pdf"))
    assert sink.requests == [] and mail.messages == []
    with Store.open(tmp_path / "state.sqlite") as store:
        assert Ledger(store, session_now()).unsent() == []


def test_no_pdf_leaves_every_post_pending_like_the_email(tmp_path, prometheus, pagerduty, smtp, sink, env, capsys):
    mail, port = smtp
    config = with_chat(tmp_path, prometheus, pagerduty, port, sink, kinds=("slack", "hook"))
    code, _, err = run(["run", "-c", config, "--window", WINDOW_ARG, "--no-pdf"], capsys)
    assert code == 0, err
    assert "not emailed nor posted to chat:bus, chat:eng; the next run without --no-pdf sends it" in err
    assert sink.requests == [] and mail.messages == []
    assert set(deliveries(tmp_path).values()) == {("report", "pending")}
    code, _, err = run(["run", "-c", config, "--window", WINDOW_ARG], capsys)
    assert code == 0, err
    assert (tmp_path / "reports" / FOLDER / "report.pdf").is_file()
    assert len(sink.delivered("/slack/")) == 1 and len(sink.delivered("/hook/")) == 1 and len(mail.messages) == 1
    assert sink.posts("/hook/")[0].payload["links"]["pdf"].endswith(f"{FOLDER}/report.pdf")


def test_a_corrected_report_is_posted_once_more_to_each_channel(tmp_path, prometheus, pagerduty, smtp, sink, env,
                                                               capsys):
    _, port = smtp
    config = with_chat(tmp_path, prometheus, pagerduty, port, sink, hostile=False)
    pagerduty.inject("/", status=500, times=1000)
    code, _, err = run(["run", "-c", config, "--window", WINDOW_ARG, "--as-of", AS_OF], capsys)
    assert code == 3, err
    first = sink.posts("/hook/")[0].payload
    assert first["degraded"] is True and first["headline"][0]["value"] is None
    assert any(n["level"] == "error" for n in first["data_quality"]["notes"])
    pagerduty.clear_faults()
    code, _, err = run(["run", "-c", config, "--window", WINDOW_ARG, "--as-of", AS_OF], capsys)
    assert code == 0, err
    assert "a corrected report is sent" in err
    for prefix in ("/slack/", "/teams/", "/hook/"):
        assert len(sink.delivered(prefix)) == 2, prefix
    slack, hook = sink.posts("/slack/")[1].payload, sink.posts("/hook/")[1].payload
    assert slack["blocks"][0]["text"]["text"].startswith("Corrected: ") and "Corrected report:" in slack["text"]
    assert hook["delivery"] == {"channel": "chat:bus", "kind": "corrected", "revision": 1}
    assert hook["degraded"] is False and hook["headline"][0]["value"] == 2
    assert hook["idempotency_key"] != first["idempotency_key"]
    code, _, err = run(["run", "-c", config, "--window", WINDOW_ARG, "--as-of", AS_OF], capsys)
    assert code == 0 and len(sink.requests) == 6  # settled: nothing more


def test_a_bad_chat_configuration_exits_2_naming_the_key(tmp_path, prometheus, pagerduty, smtp, sink, env, capsys,
                                                         monkeypatch):
    _, port = smtp
    config = with_chat(tmp_path, prometheus, pagerduty, port, sink)
    monkeypatch.delenv(ENV["teams"])
    monkeypatch.setenv(ENV["hook"], "http://127.0.0.1:1/hook/h00kS3cretT0kenXYZ")
    code, out, err = run(["run", "-c", config, "--window", WINDOW_ARG], capsys)
    assert code == 2, err
    assert f"chat[1].url_env: ${ENV['teams']} (the webhook URL of chat channel 'sre-room') is not set" in err
    assert f"chat[2].url_env: ${ENV['hook']} (the webhook URL of chat channel 'bus') must be an https:// URL" in err
    assert "h00kS3cret" not in out + err
    assert sum(pagerduty.request_counts().values()) == 0 and not (tmp_path / "reports" / FOLDER).exists()
    data = yaml.safe_load(Path(config).read_text())
    data["chat"][0]["kind"] = "discord"
    data["chat"][1]["timout"] = "3s"
    Path(config).write_text(yaml.safe_dump(data))
    code, _, err = run(["check-config", config, "--offline"], capsys)
    assert code == 2
    assert "chat[0].kind: Input should be 'slack', 'teams' or 'webhook'" in err
    assert "chat[1].timout: unknown key (did you mean 'timeout'?)" in err
    data["chat"][0]["kind"] = "slack"
    del data["chat"][1]["timout"]
    data["chat"][1]["name"] = data["chat"][2]["name"]
    Path(config).write_text(yaml.safe_dump(data))
    code, _, err = run(["check-config", config, "--offline"], capsys)
    assert code == 2 and "chat: duplicate channel name 'bus' (chat[1] and chat[2])" in err


def test_check_config_checks_the_chat_urls_without_printing_them(tmp_path, prometheus, pagerduty, smtp, sink, env,
                                                                 capsys, monkeypatch):
    _, port = smtp
    config = with_chat(tmp_path, prometheus, pagerduty, port, sink)
    as_of = ["--as-of", AS_OF]
    code, out, err = run(["check-config", config, *as_of], capsys)
    assert code == 0, err
    assert "Chat: 3 channel(s), every webhook URL set: eng (slack), sre-room (teams), bus (webhook)" in out
    monkeypatch.delenv(ENV["teams"])
    monkeypatch.setenv(ENV["hook"], "http://127.0.0.1:1/hook/h00kS3cretT0kenXYZ")
    code, out, err = run(["check-config", config, *as_of], capsys)
    assert code == 2
    assert f"chat[1].url_env: ${ENV['teams']} (the webhook URL of chat channel 'sre-room') is not set" in err
    assert "chat[2].url_env:" in err and "h00kS3cret" not in out + err
    code, out, err = run(["check-config", config, "--offline"], capsys)
    assert code == 0  # offline: the file only, not the environment


def test_chat_deliveries_are_ledger_entries_of_their_own(tmp_path):
    from opsmeeting.window import Window

    window = Window(start="2026-10-19T08:00:00Z", end="2026-11-02T08:00:00Z")
    with Store.open(tmp_path / "s.sqlite") as store:
        ledger = Ledger(store, window.end + timedelta(hours=2))
        wanted = [ledger.want(window.key, c) for c in ("email", chat_channel("eng"), chat_channel("bus"))]
        assert [w.channel for w in wanted if w] == ["email", "chat:eng", "chat:bus"]
        assert ledger.want(window.key, chat_channel("eng")) is None  # once per window and channel
        ledger.settle(wanted[0], "sent")
        ledger.settle(wanted[1], "failed", error="chat:eng (slack): posting failed: HTTP 500")
        ledger.settle(wanted[2], "sent")
        assert [(d.channel, d.state) for d in ledger.unsent()] == [("chat:eng", "failed")]
        assert ledger.was_sent(window.key, "chat:bus") and not ledger.was_sent(window.key, "chat:eng")
