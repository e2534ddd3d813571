"""The fake PagerDuty, driven by the real ``pagerduty.RestApiV2Client`` over HTTPS."""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
import pagerduty
import pytest
from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest
from werkzeug.datastructures import MultiDict

from tests.fakes import pagerduty_data as pd
from tests.fakes.pagerduty import SPEC_HOST, FakePagerDuty, default_spec_path, load_openapi, spec_errors

T0 = datetime(2026, 10, 5, tzinfo=UTC)
Params = dict[str, Any]


@pytest.fixture
def fake() -> Iterator[FakePagerDuty]:
    with FakePagerDuty() as server:
        yield server


def make_client(fake: FakePagerDuty, token: str = "test-token") -> pagerduty.RestApiV2Client:
    # httpx2 deprecates verify=<path> (see the test below); an SSLContext is the lasting way
    context = ssl.create_default_context(cafile=fake.ca_bundle)
    client = pagerduty.RestApiV2Client(token, base_url=fake.url, verify=context)
    client.sleep_timer = 0.001  # retries back off from 3 s by default
    client.timeout = 10
    return client


@pytest.fixture
def client(fake: FakePagerDuty) -> pagerduty.RestApiV2Client:
    return make_client(fake)


def error_response(caught: pytest.ExceptionInfo[pagerduty.Error]) -> httpx2.Response:
    assert caught.value.response is not None
    return caught.value.response


def small_world(fake: FakePagerDuty, n: int = 250, step: timedelta = timedelta(minutes=10)) -> list[pd.Obj]:
    """``n`` incidents ``step`` apart from T0, alternating two services, each with four log entries."""
    team = pd.make_team("PT1", "payments")
    ana = pd.make_user("PU1", "Ana Lima", "Europe/Lisbon", team_ids=["PT1"])
    bo = pd.make_user("PU2", "Bo Chen", "Asia/Kolkata", team_ids=["PT1"])
    services = [
        pd.make_service("PS1", "checkout", ["PT1"], team_names={"PT1": "payments"}),
        pd.make_service("PS2", "search", []),
    ]
    incidents, entries = [], []
    for k in range(n):
        created = T0 + k * step
        resolved = created + timedelta(minutes=5)
        incident = pd.make_incident(
            f"PI{k:05d}", k + 1, services[k % 2], created, status="resolved", resolved_at=resolved
        )
        incidents.append(incident)
        entries += [
            pd.trigger(incident, created),
            pd.notify(incident, created + timedelta(seconds=5), ana),
            pd.acknowledge(incident, created + timedelta(minutes=1), ana),
            pd.resolve(incident, resolved, bo),
        ]
    fake.teams, fake.users, fake.services = [team], [ana, bo], services
    fake.incidents, fake.log_entries = incidents, entries
    return incidents


# --- transport, auth, basics ----------------------------------------------------------------------------------


def test_real_client_over_https(fake: FakePagerDuty, client: pagerduty.RestApiV2Client) -> None:
    assert fake.url.startswith("https://127.0.0.1:")
    assert "teams" in client.rget("/abilities")
    response = client.get("/abilities")
    assert response.headers["ratelimit-limit"] == "960"
    assert int(response.headers["ratelimit-remaining"]) < 960
    assert int(response.headers["ratelimit-reset"]) > 0
    fake.assert_valid()


def test_verify_takes_the_ca_bundle_path_with_a_deprecation_warning(fake: FakePagerDuty) -> None:
    with pytest.warns(DeprecationWarning, match="verify=<str>"):
        client = pagerduty.RestApiV2Client("test-token", base_url=fake.url, verify=fake.ca_bundle)
    assert "teams" in client.rget("/abilities")
    untrusted = pagerduty.RestApiV2Client("test-token", base_url=fake.url)
    untrusted.sleep_timer = 0.001
    with pytest.raises(pagerduty.Error):  # certifi's roots do not know the fake's CA
        untrusted.rget("/abilities")


def test_wrong_token_is_401_with_pagerduty_error(fake: FakePagerDuty) -> None:
    with pytest.raises(pagerduty.HttpError) as caught:
        make_client(fake, token="wrong").rget("/abilities")
    response = error_response(caught)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == 2006
    fake.assert_valid()


def test_users_me_is_400_for_api_tokens_and_unknown_paths_404(
    fake: FakePagerDuty, client: pagerduty.RestApiV2Client
) -> None:
    response = client.get("/users/me")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == 2001
    missing = client.get("/nothing/here")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == 2100
    assert fake.request_counts() == {"GET /users/me": 1, "GET /nothing/here": 1}
    fake.assert_valid()


# --- pagination -------------------------------------------------------------------------------------------


def test_classic_pagination_more_and_total(fake: FakePagerDuty, client: pagerduty.RestApiV2Client) -> None:
    incidents = small_world(fake, 250)
    window: Params = {"since": "2026-10-05T00:00:00Z", "until": "2026-10-08T00:00:00Z"}
    last = client.get("/incidents", params={**window, "limit": 100, "offset": 200, "total": "true"}).json()
    assert (len(last["incidents"]), last["more"], last["total"]) == (50, False, 250)
    first = client.get("/incidents", params={**window, "limit": 100}).json()
    assert (first["limit"], first["offset"], first["more"], first["total"]) == (100, 0, True, None)
    assert client.get("/incidents", params={**window, "limit": 500}).json()["limit"] == 100
    fake.reset_counts()
    got = list(client.iter_all("/incidents", params=window))
    assert [i["id"] for i in got] == [i["id"] for i in incidents]  # oldest first
    assert fake.request_counts() == {"GET /incidents": 3}
    assert [r.query["offset"] for r in fake.requests] == ["0", "100", "200"]
    fake.assert_valid()


def test_offset_plus_limit_past_10000_is_400(fake: FakePagerDuty, client: pagerduty.RestApiV2Client) -> None:
    response = client.get("/incidents", params={"offset": 9950, "limit": 100})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == 2001
    assert client.get("/incidents", params={"offset": 9900, "limit": 100}).status_code == 200
    fake.assert_valid()


@pytest.fixture(scope="module")
def big_org() -> pd.Org:
    return pd.generate_org(20, 4, 10_050, start=T0, end=T0 + timedelta(days=14), seed=7)


@pytest.mark.slow
def test_iter_all_stops_silently_at_10000(big_org: pd.Org) -> None:
    with FakePagerDuty(validate="requests") as fake:
        pd.load_into(fake, big_org)
        window = {"since": pd.iso(big_org.start), "until": pd.iso(big_org.end)}
        with pytest.warns(UserWarning, match="Stopping iter_all"):
            got = list(make_client(fake).iter_all("/incidents", params=window))
        assert len(got) == 10_000  # 50 incidents missing, and only a warning says so
        assert max(int(r.query["offset"]) for r in fake.requests) == 9_900
        fake.assert_valid()


@pytest.mark.slow
def test_iter_history_gets_past_the_cap_but_repeats_an_incident_on_the_split(big_org: pd.Org) -> None:
    """iter_history bisects the window and both halves share the split instant: with an inclusive
    ``until`` an incident created exactly then comes twice, so the product must de-duplicate on id."""
    middle = big_org.start + (big_org.end - big_org.start) / 2
    edge = pd.make_incident("PEDGE01", 99_999, big_org.services[0], middle)
    for inclusive, copies in ((True, 2), (False, 1)):
        with FakePagerDuty(validate="requests", until_inclusive=inclusive) as fake:
            pd.load_into(fake, big_org)
            fake.incidents.append(edge)
            got = list(make_client(fake).iter_history("/incidents", big_org.start, big_org.end))
            assert len({i["id"] for i in got}) == len(big_org.incidents) + 1
            assert sum(i["id"] == "PEDGE01" for i in got) == copies
            assert fake.requests[0].query["since"].endswith("+0000")  # the client's format
            fake.assert_valid()


# --- filters ----------------------------------------------------------------------------------------------


def test_since_until_edges_and_naive_times(fake: FakePagerDuty, client: pagerduty.RestApiV2Client) -> None:
    small_world(fake, 10, step=timedelta(hours=1))  # created 00:00Z, 01:00Z ... 09:00Z

    def numbers(**params: str) -> list[int]:
        return [i["incident_number"] for i in client.iter_all("/incidents", params=params)]

    assert numbers(since="2026-10-05T02:00:00Z", until="2026-10-05T04:00:00Z") == [3, 4, 5]
    fake.until_inclusive = False
    assert numbers(since="2026-10-05T02:00:00Z", until="2026-10-05T04:00:00Z") == [3, 4]
    # no offset: read in the account time zone (New York, UTC-4 in October)...
    assert numbers(since="2026-10-04T23:00:00", until="2026-10-05T01:00:00") == [4, 5]
    # ...or in the time_zone parameter
    assert numbers(since="2026-10-05T03:00:00", until="2026-10-05T05:00:00", time_zone="UTC") == [4, 5]
    assert numbers(since="2026-10-05T02:00:00+0000", until="2026-10-05T03:00:00+0000") == [3]
    assert len(numbers(date_range="all")) == 10
    seven_months = client.get("/incidents", params={"since": "2026-01-01T00:00:00Z", "until": "2026-08-01T00:00:00Z"})
    assert seven_months.status_code == 400
    fake.assert_valid()


def test_service_team_status_and_urgency_filters(fake: FakePagerDuty, client: pagerduty.RestApiV2Client) -> None:
    incidents = small_world(fake, 20)
    incidents[0]["urgency"] = "low"
    window: Params = {"since": "2026-10-05T00:00:00Z", "until": "2026-10-06T00:00:00Z"}
    checkout = list(client.iter_all("/incidents", params={**window, "service_ids[]": ["PS1"]}))
    assert len(checkout) == 10
    assert {i["service"]["id"] for i in checkout} == {"PS1"}
    assert len(list(client.iter_all("/incidents", params={**window, "service_ids": ["PS1", "PS2"]}))) == 20
    assert fake.requests[-1].query.getlist("service_ids[]") == ["PS1", "PS2"]
    assert len(list(client.iter_all("/incidents", params={**window, "team_ids": ["PT1"]}))) == 10
    low = list(client.iter_all("/incidents", params={**window, "urgencies": ["low"]}))
    assert [i["id"] for i in low] == [incidents[0]["id"]]
    still_open = client.rget("/incidents", params={**window, "statuses[]": ["triggered", "acknowledged"]})
    assert still_open == []
    newest = client.rget("/incidents", params={**window, "sort_by": "created_at:desc", "limit": 1})
    assert newest[0]["id"] == incidents[-1]["id"]
    fake.assert_valid()


def test_includes_expand_incidents_and_stay_valid(fake: FakePagerDuty, client: pagerduty.RestApiV2Client) -> None:
    small_world(fake, 3)
    include = ["services", "teams", "priorities", "acknowledgers", "assignees", "first_trigger_log_entries"]
    window: Params = {"since": "2026-10-05T00:00:00Z", "until": "2026-10-06T00:00:00Z"}
    first = client.rget("/incidents", params={**window, "include[]": include})[0]
    assert first["service"]["type"] == "service"
    assert first["teams"][0]["type"] == "team"
    assert first["first_trigger_log_entry"]["type"] == "trigger_log_entry"
    entries = client.rget("/log_entries", params={**window, "include[]": ["incidents", "services", "channels"]})
    assert entries[0]["incident"]["type"] == "incident_reference"  # accepted, not expanded
    fake.assert_valid()


def test_log_entries_order_overview_time_zone_and_teams(fake: FakePagerDuty, client: pagerduty.RestApiV2Client) -> None:
    small_world(fake, 4)
    window: Params = {"since": "2026-10-05T00:00:00Z", "until": "2026-10-06T00:00:00Z"}
    entries = list(client.iter_all("/log_entries", params=window))
    assert len(entries) == 16
    stamps = [datetime.fromisoformat(e["created_at"]) for e in entries]
    assert stamps == sorted(stamps, reverse=True)  # newest first
    assert entries[0]["created_at"].endswith("-04:00")  # the account's zone unless time_zone is given
    assert client.rget("/log_entries", params={**window, "time_zone": "UTC"})[0]["created_at"].endswith("Z")
    overview = list(client.iter_all("/log_entries", params={**window, "is_overview": "true"}))
    assert len(overview) == 12
    assert "notify_log_entry" not in {e["type"] for e in overview}
    assert len(list(client.iter_all("/log_entries", params={**window, "team_ids": ["PT1"]}))) == 8
    one = [e["type"] for e in client.iter_all("/incidents/PI00001/log_entries")]
    assert one == ["resolve_log_entry", "acknowledge_log_entry", "notify_log_entry", "trigger_log_entry"]
    assert client.get("/incidents/NOPE/log_entries").status_code == 404
    fake.reset_counts()
    for incident_id in ("PI00000", "PI00001", "PI00002"):
        list(client.iter_all(f"/incidents/{incident_id}/log_entries"))
    assert fake.request_counts() == {"GET /incidents/{id}/log_entries": 3}
    fake.assert_valid()


def test_directories_and_schedule(fake: FakePagerDuty, client: pagerduty.RestApiV2Client) -> None:
    small_world(fake, 1)
    fake.priorities = [pd.make_priority("PP1", "P1", 500), pd.make_priority("PP2", "P2", 400)]
    ana, bo = fake.users
    week = timedelta(days=7)
    fake.schedules["PSCH1"] = pd.make_schedule(
        "PSCH1", "primary", "Europe/Lisbon", [pd.Shift(ana, T0 - week, T0), pd.Shift(bo, T0, T0 + week)]
    )
    assert [u["time_zone"] for u in client.iter_all("/users")] == ["Europe/Lisbon", "Asia/Kolkata"]
    assert [p["name"] for p in client.iter_all("/priorities")] == ["P1", "P2"]
    assert [s["name"] for s in client.iter_all("/services", params={"team_ids": ["PT1"]})] == ["checkout"]
    assert [t["name"] for t in client.iter_all("/teams")] == ["payments"]
    window = {"since": "2026-10-04T12:00:00Z", "until": "2026-10-05T12:00:00Z"}
    clipped = client.rget("/schedules/PSCH1", params={**window, "time_zone": "UTC"})["final_schedule"]
    assert [(e["user"]["id"], e["start"], e["end"]) for e in clipped["rendered_schedule_entries"]] == [
        ("PU1", "2026-10-04T12:00:00Z", "2026-10-05T00:00:00Z"),
        ("PU2", "2026-10-05T00:00:00Z", "2026-10-05T12:00:00Z"),
    ]
    assert clipped["rendered_coverage_percentage"] == 100.0
    whole = client.rget("/schedules/PSCH1", params={**window, "overflow": "true", "time_zone": "UTC"})
    assert [e["start"] for e in whole["final_schedule"]["rendered_schedule_entries"]] == [
        "2026-09-28T00:00:00Z",
        "2026-10-05T00:00:00Z",
    ]
    lisbon = client.rget("/schedules/PSCH1", params=window)  # the schedule's own zone by default
    assert lisbon["final_schedule"]["rendered_schedule_entries"][0]["end"] == "2026-10-05T01:00:00+01:00"
    assert client.get("/schedules/NOPE").status_code == 404
    fake.assert_valid()


# --- faults -----------------------------------------------------------------------------------------------


def test_429_with_and_without_rate_limit_headers(fake: FakePagerDuty, client: pagerduty.RestApiV2Client) -> None:
    headers = {"ratelimit-limit": "960", "ratelimit-remaining": "0", "ratelimit-reset": "17"}
    fake.inject("/abilities", status=429, times=2, headers=headers)
    client.retry[429] = 1  # the client retries 429 forever by default
    with pytest.raises(pagerduty.HttpError) as caught:
        client.rget("/abilities")
    response = error_response(caught)
    assert response.status_code == 429
    assert response.json()["error"]["code"] == 2020
    assert response.headers["ratelimit-reset"] == "17"
    assert fake.request_counts() == {"GET /abilities": 2}
    fake.inject("/abilities", status=429)  # a 429 may come without the headers
    assert "teams" in client.rget("/abilities")
    assert fake.request_counts() == {"GET /abilities": 4}


def test_5xx_is_not_retried_by_default(fake: FakePagerDuty, client: pagerduty.RestApiV2Client) -> None:
    fake.inject("/incidents", status=500)
    with pytest.raises(pagerduty.ServerHttpError):
        client.rget("/incidents")
    fake.inject("/incidents", status=503)
    client.retry[503] = 2
    assert client.rget("/incidents") == []
    assert fake.request_counts() == {"GET /incidents": 3}


def test_dropped_connections_and_delays(fake: FakePagerDuty, client: pagerduty.RestApiV2Client) -> None:
    fake.inject("/teams", drop=True)
    assert client.rget("/teams") == []  # a network error is retried
    assert fake.request_counts() == {"GET /teams": 2}
    fake.inject("/teams", drop=True, times=4)
    with pytest.raises(pagerduty.Error) as caught:
        client.rget("/teams")
    assert caught.value.response is None
    assert fake.request_counts() == {"GET /teams": 6}  # one try and three retries
    fake.inject("/teams", delay=0.3)
    started = time.perf_counter()
    client.rget("/users")  # another path: not delayed
    assert time.perf_counter() - started < 0.3
    client.rget("/teams")
    assert time.perf_counter() - started >= 0.3
    fake.inject("/teams", drop=True, times=99)
    fake.clear_faults()
    assert client.rget("/teams") == []


# --- validation -------------------------------------------------------------------------------------------


def test_malformed_incidents_are_caught(fake: FakePagerDuty, client: pagerduty.RestApiV2Client) -> None:
    incidents = small_world(fake, 3)
    del incidents[0]["created_at"]
    incidents[1]["status"] = "open"
    client.rget("/incidents", params={"date_range": "all"})
    assert len(fake.validation_errors) == 1
    problem = fake.validation_errors[0]
    assert "/incidents/0: 'created_at' is a required property" in problem
    assert "/incidents/1/status: 'open' is not one of" in problem
    with pytest.raises(AssertionError, match="1 OpenAPI validation error"):
        fake.assert_valid()


def test_malformed_log_entries_are_caught_naming_the_field(
    fake: FakePagerDuty, client: pagerduty.RestApiV2Client
) -> None:
    small_world(fake, 1)
    fake.log_entries[1]["channel"]["notification"]["type"] = "pager_notification"
    fake.log_entries[2]["type"] = "acknowledged_log_entry"
    client.rget("/incidents/PI00000/log_entries")
    problems = "\n".join(fake.validation_errors)
    assert "channel/notification/type: 'pager_notification' is not one of" in problems
    assert "acknowledged_log_entry" in problems


def test_broken_test_data_answers_500_and_fails_assert_valid(
    fake: FakePagerDuty, client: pagerduty.RestApiV2Client
) -> None:
    small_world(fake, 2)
    del fake.incidents[0]["service"]
    assert client.get("/incidents", params={"date_range": "all", "service_ids[]": "PS1"}).status_code == 500
    with pytest.raises(AssertionError, match="fake failed on GET /incidents"):
        fake.assert_valid()


def test_malformed_requests_get_400_and_are_recorded(fake: FakePagerDuty, client: pagerduty.RestApiV2Client) -> None:
    bad = client.get("/incidents", params={"statuses[]": ["resolved", "closed"]})  # the second value is checked
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == 2001
    assert client.get("/incidents", params={"limit": "many"}).status_code == 400
    assert client.get("/log_entries", params={"since": "last tuesday"}).status_code == 400
    assert client.get("/log_entries", params={"include[]": "everything"}).status_code == 400
    assert len(fake.validation_errors) == 4
    assert all(problem.startswith("request GET ") for problem in fake.validation_errors)
    with pytest.raises(AssertionError):
        fake.assert_valid()


@pytest.fixture(scope="module")
def raw_spec() -> OpenAPI:
    """The document as published, loaded without any correction."""
    document = json.loads(default_spec_path().read_text(encoding="utf-8"))
    return OpenAPI.from_dict(document, config=Config(spec_validator_cls=None))


def request_errors(api: OpenAPI, path: str, query: list[tuple[str, str]]) -> list[Any]:
    request = MockRequest(SPEC_HOST, "get", path, args=MultiDict(query), headers={"Authorization": "Token token=x"})
    return list(api.iter_request_errors(request))


def test_each_correction_is_needed(raw_spec: OpenAPI) -> None:
    """What the API really sends fails the published document and passes the corrected one."""
    incident = pd.make_incident("PI1", 1, pd.make_service("PS1", "checkout"), T0)  # resolved_at, priority: null
    user = pd.make_user("PU1", "Ana Lima")
    responses = {
        "nullable fields": ("/incidents", {"incidents": [incident]}),
        "channel anyOf": ("/log_entries", {"log_entries": [pd.trigger(incident, T0)]}),
        "acknowledge_log_entry": ("/log_entries", {"log_entries": [pd.acknowledge(incident, T0, user)]}),
        "null timeout": (
            "/log_entries",
            {"log_entries": [pd.acknowledge(incident, T0, user, acknowledgement_timeout=None)]},
        ),
    }
    for name, (path, body) in responses.items():
        assert spec_errors(path, body, openapi=raw_spec), name
        assert spec_errors(path, body) == [], name
    offset = [("since", "2026-10-05T00:00:00+0000"), ("until", "2026-10-06T00:00:00+0000")]
    assert request_errors(raw_spec, "/log_entries", offset)
    assert request_errors(load_openapi(), "/log_entries", offset) == []
    second_value = [("statuses[]", "resolved"), ("statuses[]", "closed")]
    assert request_errors(raw_spec, "/incidents", second_value) == []
    assert request_errors(load_openapi(), "/incidents", second_value)
    without_created_at = {"incidents": [{k: v for k, v in incident.items() if k != "created_at"}]}
    raw_problems = spec_errors("/incidents", without_created_at, openapi=raw_spec)[0].splitlines()
    assert not [line for line in raw_problems if line.startswith("  at /") and "created_at" in line]
    assert "'created_at' is a required property" in spec_errors("/incidents", without_created_at)[0]


def test_validation_speed_of_full_pages(fake: FakePagerDuty, client: pagerduty.RestApiV2Client) -> None:
    """Prints what validating a page of 100 costs; no timed assertion."""
    started = time.perf_counter()
    load_openapi()
    print(f"\nspec load (cached, so ~0 unless first): {time.perf_counter() - started:.2f} s")
    org = pd.generate_org(20, 4, 300, start=T0, end=T0 + timedelta(days=3), seed=3)
    pd.load_into(fake, org)
    pages = {
        "incidents": ("/incidents", {"incidents": org.incidents[:100], "limit": 100, "offset": 0, "more": True}),
        "log entries": ("/log_entries", {"log_entries": org.log_entries[:100], "limit": 100, "offset": 0}),
    }
    for name, (path, body) in pages.items():
        started = time.perf_counter()
        assert spec_errors(path, body) == []
        print(f"validating a page of 100 {name}: {(time.perf_counter() - started) * 1000:.0f} ms")
    for path in ("/incidents", "/log_entries"):
        started = time.perf_counter()
        client.rget(path, params={"since": pd.iso(T0), "until": pd.iso(org.end), "limit": 100})
        print(f"GET {path} (100 items), validated, through the client: {(time.perf_counter() - started) * 1000:.0f} ms")
    fake.assert_valid()


# --- data builders ----------------------------------------------------------------------------------------


@pytest.mark.slow
def test_generated_org_is_seeded_consistent_and_valid() -> None:
    started = time.perf_counter()
    org = pd.generate_org(seed=5)
    took = time.perf_counter() - started
    print(f"\ngenerate_org(): {len(org.incidents)} incidents, {len(org.log_entries)} log entries, {took:.1f} s")
    assert (len(org.services), len(org.teams), len(org.incidents)) == (500, 50, 20_000)
    assert 4.5 <= len(org.log_entries) / len(org.incidents) <= 6.0
    again = pd.generate_org(seed=5)
    assert (again.incidents[123], again.log_entries[-1]) == (org.incidents[123], org.log_entries[-1])
    assert len({e["id"] for e in org.log_entries}) == len(org.log_entries)
    for incident in org.incidents:
        if incident["status"] == "resolved":
            assert incident["acknowledgements"] == [] and incident["assignments"] == []
            assert incident["resolved_at"] >= incident["created_at"]
        else:
            assert incident["resolved_at"] is None
    assert all(e["created_at"] < pd.iso(org.end) for e in org.log_entries)
    with FakePagerDuty() as fake:
        pd.load_into(fake, org)
        client = make_client(fake)
        window: Params = {"since": pd.iso(org.start), "until": pd.iso(org.end), "limit": 100}
        for path in ("/incidents", "/log_entries"):
            client.get(path, params=window)
        for path in ("/services", "/users", "/teams", "/priorities"):
            client.get(path, params={"limit": 100})
        client.get(f"/schedules/{next(iter(org.schedules))}", params=window)
        client.get("/incidents", params={**window, "offset": 9_900, "include[]": ["first_trigger_log_entries"]})
        client.get(f"/incidents/{org.incidents[-1]['id']}/log_entries")
        fake.assert_valid()


def test_builders_refuse_inconsistent_input() -> None:
    service = pd.make_service("PS1", "checkout")
    with pytest.raises(ValueError):
        pd.make_incident("PI1", 1, service, T0, status="resolved")  # no resolved_at
    with pytest.raises(ValueError):
        pd.iso(datetime(2026, 1, 1))  # naive
