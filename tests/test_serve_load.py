"""`opsmeeting serve` under a meeting room's load: 200 browsers reading while the room writes.

Loopback only, bounded (10 s of load): 200 client threads fetch the report page and the archive
index over and over, and meanwhile one wheel pick and 50 parking-lot items are posted with the
right token, Host and Origin. No request may fail (no exception, no 5xx), every write must be
acknowledged, and the store must hold exactly what was written. The request count and the
latency percentiles are printed (`pytest -s`), not asserted.
"""

from __future__ import annotations

import http.client
import json
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from opsmeeting.config import load_config
from opsmeeting.meeting import wheel_store
from opsmeeting.meeting.items import ItemBook
from opsmeeting.serve import make_server
from opsmeeting.store import Store
from tests.test_serve import NOW, make_archive, running

CLIENTS = 200
SECONDS = 10.0
ITEMS = 50
PICK = "payments"


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    return make_archive(tmp_path_factory.mktemp("serve-load"))


class Tally:
    """What every client saw: (kind, status, seconds) per answer, and the exceptions."""

    def __init__(self) -> None:
        self.answers: list[tuple[str, int, float]] = []
        self.errors: list[str] = []

    def call(self, port: int, kind: str, method: str, path: str, body: dict | None = None,
             headers: dict | None = None) -> tuple[int, bytes] | None:
        start = time.perf_counter()
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            payload = json.dumps(body).encode() if body is not None else None
            conn.request(method, path, body=payload, headers={"Host": f"127.0.0.1:{port}", **(headers or {})})
            answer = conn.getresponse()
            data = answer.read()
            conn.close()
        except Exception as exc:
            self.errors.append(f"{kind}: {exc!r}")
            return None
        self.answers.append((kind, answer.status, time.perf_counter() - start))
        return answer.status, data


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


@pytest.fixture
def server(archive) -> Iterator[tuple[str, int]]:
    with running(make_server(load_config(archive), "127.0.0.1", 0, now=lambda: NOW)) as srv:
        yield srv.token, srv.server_address[1]


@pytest.mark.slow
def test_200_readers_while_the_room_picks_and_adds_items(server, archive):
    token, port = server
    config = load_config(archive)
    with Store.open(config.state.path) as store:
        assert ItemBook(store).list(status=None) == []
        assert sum(p.selections for p in wheel_store.load(store, config).participants.values()) == 0
    index = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    index.request("GET", "/index.html", headers={"Host": f"127.0.0.1:{port}"})
    folder = re.search(r'href="([^"/]+)/report\.html"', index.getresponse().read().decode()).group(1)
    index.close()
    report = f"/{folder}/report.html"

    tally = Tally()
    start = threading.Barrier(CLIENTS + 2)  # every client starts at once, when the main thread sets the clock
    began: list[float] = []

    def reader(n: int) -> None:
        start.wait()
        turn, deadline = n, began[0] + SECONDS
        while time.monotonic() < deadline:
            if turn % 2:
                tally.call(port, "GET report", "GET", report)
            else:
                tally.call(port, "GET index", "GET", "/index.html")
            turn += 1

    writes: list[tuple[str, int, dict]] = []
    texts = [f"Load-test topic {i:02d}" for i in range(ITEMS)]
    good = {"Content-Type": "application/json", "X-CSRF-Token": token, "Origin": f"http://127.0.0.1:{port}"}

    def writer() -> None:
        start.wait()
        gap = (SECONDS - 2) / ITEMS  # spread over the load, done a little before its end
        for i, text in enumerate(texts):
            time.sleep(max(0.0, began[0] + 1 + i * gap - time.monotonic()))
            answer = tally.call(port, "POST item", "POST", "/api/items",
                                {"team": "search", "while_listening_to": "payments", "text": text}, good)
            if answer:
                writes.append(("item", answer[0], json.loads(answer[1])))
            if i == ITEMS // 2:
                answer = tally.call(port, "POST pick", "POST", "/api/wheel/accept", {"team": PICK}, good)
                if answer:
                    writes.append(("pick", answer[0], json.loads(answer[1])))

    threads = [threading.Thread(target=reader, args=(n,), daemon=True) for n in range(CLIENTS)]
    threads.append(threading.Thread(target=writer, daemon=True))
    for thread in threads:
        thread.start()
    began.append(time.monotonic())
    start.wait()
    for thread in threads:
        thread.join(timeout=SECONDS + 40)
    elapsed = time.monotonic() - began[0]
    assert not any(thread.is_alive() for thread in threads), "a client did not finish"

    answers = list(tally.answers)
    lines = [f"serve load: {len(answers)} requests in {elapsed:.1f} s ({len(answers) / elapsed:.0f}/s), "
             f"{CLIENTS} readers, {len(tally.errors)} errors"]
    for kind in ("GET report", "GET index", "POST item", "POST pick"):
        took = [t * 1000 for k, _, t in answers if k == kind]
        if took:
            lines.append(f"  {kind:<10} n={len(took):>6}  p50 {percentile(took, 50):7.1f} ms  "
                         f"p90 {percentile(took, 90):7.1f} ms  p99 {percentile(took, 99):7.1f} ms  "
                         f"max {max(took):7.1f} ms")
    print("\n".join(lines))

    assert tally.errors == [], tally.errors[:10]
    statuses: dict[int, int] = {}
    for _, status, _ in answers:
        statuses[status] = statuses.get(status, 0) + 1
    assert set(statuses) == {200}, statuses
    assert len(writes) == ITEMS + 1 and all(status == 200 and body["ok"] for _, status, body in writes), writes
    ids = [body["id"] for kind, _, body in writes if kind == "item"]
    assert len(set(ids)) == ITEMS

    with Store.open(config.state.path) as store:
        items = ItemBook(store).list(status=None)
        assert [(i.id, i.kind, i.team, i.while_listening_to, i.text) for i in items] == [
            (n, "parking_lot", "search", "payments", text) for n, text in zip(ids, texts, strict=True)]
        state = wheel_store.load(store, config)
        picked = {name: p for name, p in state.participants.items() if p.selections}
        assert list(picked) == [PICK] and picked[PICK].selections == 1 and picked[PICK].weight == 0
        assert picked[PICK].last_selected == NOW
