"""Pins the HTTP API connector against a real server on 127.0.0.1: paging, retries, refusals, bounds, secrecy."""

import datetime as dt
import json
import logging
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from pipelines.defs.ingestion.assets import fetch_api_returns
from pipelines.defs.ingestion.http import FetchError, HttpSource, fetch
from pipelines.lib.config.sources import Agency
from pipelines.lib.resources import DataStore

TOKEN = "tok-Zq81-never-print-me"
ENV = "TEST_AGENCY_API_TOKEN"
# A loopback answer takes milliseconds, and well under 2 s on a loaded machine too: a retry the test did not plan
# would change the calls it counts. The timeout tests' slow answers sleep twice that (SLOW).
FAST = {"timeout_seconds": 2.0, "backoff_seconds": 0.01}
SLOW = 2 * FAST["timeout_seconds"]
RECORDS = [{"service_id": "S1", "channel": "online", "transactions_completed": 10},
           {"service_id": "S1", "channel": "phone", "transactions_completed": 4},
           {"service_id": "S2", "channel": "online", "transactions_completed": 7}]


class Call:
    def __init__(self, handler: BaseHTTPRequestHandler, number: int):
        split = urlsplit(handler.path)
        self.path, self.target, self.number = split.path, handler.path, number
        self.query = {k: v[0] for k, v in parse_qs(split.query).items()}
        self.authorization = handler.headers.get("Authorization")
        self.accept = handler.headers.get("Accept")


class Api:
    """A real HTTP server: `routes[path](call) -> (status, headers, body)`; every request is kept in `calls`."""

    def __init__(self):
        self.routes, self.calls, self.lock = {}, [], threading.Lock()
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                with api.lock:
                    call = Call(self, 1 + sum(c.path == urlsplit(self.path).path for c in api.calls))
                    api.calls.append(call)
                route = api.routes.get(call.path)
                status, headers, body = route(call) if route else (404, {}, b"no such route")
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.handle_error = lambda request, address: None  # a client that timed out has hung up: expected
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def hits(self, path: str) -> int:
        return sum(call.path == path for call in self.calls)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def servers(monkeypatch):
    """Starts real servers on demand; a proxy set in the environment must not catch loopback requests."""
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    started = []

    def start() -> Api:
        started.append(Api())
        return started[-1]

    yield start
    for api in started:
        api.close()


@pytest.fixture
def api(servers):
    return servers()


@pytest.fixture
def token(monkeypatch):
    monkeypatch.setenv(ENV, TOKEN)
    return TOKEN


def as_json(body) -> bytes:
    return json.dumps(body).encode("utf-8")


def ok(body, headers=None):
    return 200, {"Content-Type": "application/json", **(headers or {})}, as_json(body)


def source(url: str, fmt: str = "json", credential_env: str | None = None, **options) -> HttpSource:
    return HttpSource(agency_id="AG1", url=url, format=fmt, credential_env=credential_env, **{**FAST, **options})


def failure(src: HttpSource, month: str = "2025-06") -> FetchError:
    with pytest.raises(FetchError) as caught:
        fetch(src, month)
    return caught.value


def test_json_list_on_one_page(api):
    api.routes["/returns"] = lambda call: ok(RECORDS)
    assert fetch(source(f"{api.base}/returns"), "2025-06") == json.dumps(RECORDS).encode("utf-8")
    assert [(c.target, c.accept, c.authorization) for c in api.calls] == [("/returns", "application/json", None)]


def test_json_numbers_keep_their_digits_and_a_key_given_twice_stays_twice(api):
    """Staging reads numbers exactly and sets aside a record that gives a key twice: the fetch must not round the one
    through a float or settle the other by keeping the last value."""
    page = (b'{"data": [{"service_id": "S1", "transactions_completed": 9007199254740993.0, "transactions_started": '
            b'1.5e-10, "transactions_completed": 2}], "next": null}')
    api.routes["/returns"] = lambda call: (200, {"Content-Type": "application/json"}, page)
    assert fetch(source(f"{api.base}/returns"), "2025-06") == (
        b'[{"service_id": "S1", "transactions_completed": 9007199254740993.0, "transactions_started": 1.5E-10, '
        b'"transactions_completed": 2}]')


def test_link_header_pages_are_followed_in_order(api):
    pages = {1: RECORDS[:1], 2: RECORDS[1:2], 3: RECORDS[2:]}
    links = {1: '</returns?cursor=b>; rel="next", </returns?cursor=z>; rel="last"',
             2: f'<{api.base}/returns?cursor=c>; rel="prev next"', 3: '</returns?cursor=a>; rel="first"'}
    cursor = {None: 1, "b": 2, "c": 3}
    api.routes["/returns"] = lambda call: ok(pages[cursor[call.query.get("cursor")]],
                                             {"Link": links[cursor[call.query.get("cursor")]]})
    body = fetch(source(f"{api.base}/returns", pagination="link"), "2025-06")
    assert json.loads(body) == RECORDS
    assert [c.target for c in api.calls] == ["/returns", "/returns?cursor=b", "/returns?cursor=c"]


def test_next_field_pages_are_followed_until_null(api):
    bodies = {None: {"data": RECORDS[:2], "next": "/returns?after=2"},
              "2": {"data": RECORDS[2:], "next": f"{api.base}/returns?after=3"},
              "3": {"data": [], "next": None}}
    api.routes["/returns"] = lambda call: ok(bodies[call.query.get("after")])
    assert json.loads(fetch(source(f"{api.base}/returns", pagination="next"), "2025-06")) == RECORDS
    assert api.hits("/returns") == 3


def test_results_key_is_read_and_next_ignored_without_next_pagination(api):
    api.routes["/returns"] = lambda call: ok({"results": RECORDS, "next": "/returns?after=3"})
    assert json.loads(fetch(source(f"{api.base}/returns"), "2025-06")) == RECORDS
    assert api.hits("/returns") == 1


def test_page_numbers_until_an_empty_page(api):
    by_page = {"1": RECORDS[:1], "2": RECORDS[1:2], "3": RECORDS[2:], "4": []}
    api.routes["/returns"] = lambda call: ok(by_page[call.query["p"]])
    src = source(f"{api.base}/returns?period={{month}}", pagination="page", page_param="p")
    assert json.loads(fetch(src, "2025-06")) == RECORDS
    assert [c.target for c in api.calls] == [f"/returns?period=2025-06&p={n}" for n in (1, 2, 3, 4)]


def test_csv_pages_combined_with_the_header_once(api):
    pages = {"1": "\ufeffservice_id,channel,transactions_completed\r\nS1,online,10\r\nS1,phone,4",
             "2": "service_id,channel,transactions_completed\r\nS2,online,7",
             "3": "service_id,channel,transactions_completed\r\n"}
    api.routes["/returns.csv"] = lambda call: (200, {"Content-Type": "text/csv; charset=utf-8"},
                                               pages[call.query["page"]].encode("utf-8"))
    body = fetch(source(f"{api.base}/returns.csv", "csv", pagination="page"), "2025-06")
    assert body == b"service_id,channel,transactions_completed\r\nS1,online,10\r\nS1,phone,4\r\nS2,online,7"
    assert api.hits("/returns.csv") == 3
    assert {c.accept for c in api.calls} == {"text/csv"}


def test_csv_in_a_declared_charset_becomes_utf8(api):
    api.routes["/r.csv"] = lambda call: (200, {"Content-Type": "text/csv; charset=cp1252"},
                                         "service_name,cost_gbp\nCaf\u00e9 licences,\u00a31\n".encode("cp1252"))
    expected = "service_name,cost_gbp\nCaf\u00e9 licences,\u00a31\n".encode("utf-8")
    assert fetch(source(f"{api.base}/r.csv", "csv"), "2025-06") == expected


def test_csv_page_with_another_header_is_refused(api):
    pages = {"1": "service_id,channel\nS1,online\n", "2": "service_id,chanel\nS2,online\n", "3": ""}
    api.routes["/r.csv"] = lambda call: (200, {"Content-Type": "text/csv"}, pages[call.query["page"]].encode())
    error = failure(source(f"{api.base}/r.csv", "csv", pagination="page"))
    assert (error.rule, "page 2 has a different header" in str(error)) == ("bad_payload", True)


def test_bearer_token_sent_and_never_in_errors_or_logs(api, token, caplog):
    def guarded(call):
        if call.authorization != f"Bearer {TOKEN}":
            return 401, {}, b"bad token"
        return ok(RECORDS)

    api.routes["/returns"] = guarded
    api.routes["/down"] = lambda call: (500, {}, f"stack trace with Bearer {TOKEN}".encode())
    assert json.loads(fetch(source(f"{api.base}/returns", credential_env=ENV), "2025-06")) == RECORDS
    with caplog.at_level(logging.WARNING, logger="pipelines.defs.ingestion.http"):
        error = failure(source(f"{api.base}/down?access_token={TOKEN}&month=2025-06", credential_env=ENV, retries=1))
    assert [c.authorization for c in api.calls] == [f"Bearer {TOKEN}"] * 3
    assert error.rule == "http_server_error"
    assert "access_token=***&month=2025-06" in str(error)
    assert len(caplog.records) == 1
    assert TOKEN not in str(error) + error.url + caplog.text


def test_missing_credential_names_the_variable_and_sends_nothing(api, monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    error = failure(source(f"{api.base}/returns", credential_env=ENV))
    assert (error.rule, ENV in str(error), api.calls) == ("credential_missing", True, [])


def test_500_then_success_is_retried(api):
    api.routes["/returns"] = lambda call: (500, {}, b"oops") if call.number == 1 else ok(RECORDS)
    assert json.loads(fetch(source(f"{api.base}/returns"), "2025-06")) == RECORDS
    assert api.hits("/returns") == 2


def test_500_forever_gives_up_after_the_retries(api):
    api.routes["/returns"] = lambda call: (503, {}, b"maintenance")
    error = failure(source(f"{api.base}/returns", retries=2))
    assert (error.rule, error.status, api.hits("/returns")) == ("http_server_error", 503, 3)
    assert "on all 3 attempts" in str(error)


def test_timeout_then_success_is_retried(api):
    def slow_once(call):
        if call.number == 1:
            time.sleep(SLOW)
        return ok(RECORDS)

    api.routes["/returns"] = slow_once
    assert json.loads(fetch(source(f"{api.base}/returns"), "2025-06")) == RECORDS
    assert api.hits("/returns") == 2


def test_timeout_forever_is_http_timeout(api):
    api.routes["/returns"] = lambda call: (time.sleep(SLOW), ok(RECORDS))[1]
    error = failure(source(f"{api.base}/returns", retries=1))
    assert (error.rule, error.status, api.hits("/returns")) == ("http_timeout", None, 2)


def test_401_names_the_variable_and_is_not_retried(api, token):
    api.routes["/returns"] = lambda call: (401, {}, b"expired")
    error = failure(source(f"{api.base}/returns", credential_env=ENV))
    assert (error.rule, error.status, api.hits("/returns")) == ("http_unauthorised", 401, 1)
    assert f"the credential in {ENV} was refused" in str(error)
    assert TOKEN not in str(error)


def test_403_is_forbidden_and_not_retried(api, token):
    api.routes["/returns"] = lambda call: (403, {}, b"no")
    error = failure(source(f"{api.base}/returns", credential_env=ENV))
    assert (error.rule, error.status, api.hits("/returns")) == ("http_forbidden", 403, 1)
    assert f"the credential in {ENV} was refused" in str(error)


def test_404_is_a_client_error_not_retried(api):
    error = failure(source(f"{api.base}/nowhere?api_key=k3y&period={{month}}"))
    assert (error.rule, error.status, api.hits("/nowhere")) == ("http_client_error", 404, 1)
    assert f"GET {api.base}/nowhere?api_key=***&period=2025-06 -> HTTP 404" in str(error)
    assert "k3y" not in str(error)


def test_a_page_linking_to_itself_is_cut(api):
    api.routes["/returns"] = lambda call: ok(RECORDS, {"Link": '</returns>; rel="next"'})
    error = failure(source(f"{api.base}/returns", pagination="link"))
    assert (error.rule, api.hits("/returns")) == ("pagination_unbounded", 1)


def test_pages_that_never_end_stop_at_max_pages(api):
    api.routes["/returns"] = lambda call: ok({"data": RECORDS, "next": f"/returns?n={call.number}"})
    error = failure(source(f"{api.base}/returns", pagination="next", max_pages=5))
    assert (error.rule, api.hits("/returns")) == ("pagination_unbounded", 5)
    assert "5 pages fetched" in str(error)


def endless(api, pause: float = 0.0):
    """Serves /returns/transactions as pages that each link to one more, pausing before each answer."""
    def page(call):
        time.sleep(pause)
        return ok({"data": RECORDS, "next": f"/returns/transactions?n={call.number}"})
    api.routes["/returns/transactions"] = page


def fetched_as_registered(api, tmp_path, **fields) -> list[dict]:
    """The registry entry's keys, as `raw_api_returns` passes them, fetching one month's transactions."""
    agency = Agency(id="AG1", name="Agency One", department="Transport", connector="http", format="json",
                    mapping="api", return_due_day=10, url=f"{api.base}/returns/{{return}}?month={{month}}",
                    pagination="next", **fields)
    store = DataStore(data_dir=str(tmp_path / "data"))
    failures = fetch_api_returns(store, agency, {"transactions": "transactions.json"}, dt.date(2025, 6, 1))
    assert not (store.landing / "AG1").exists()  # nothing of a return cut short is landed
    return [(f["source_file"], f["rule"], f["message"]) for f in failures]


def test_endless_pages_stop_at_the_registrys_page_cap_naming_the_source_and_the_cap(api, tmp_path):
    endless(api)
    assert fetched_as_registered(api, tmp_path, max_pages=3) == [(
        "AG1/2025-06/transactions.json", "pagination_unbounded",
        f"agency AG1: pagination_unbounded: GET {api.base}/returns/transactions?n=3: 3 pages fetched and no last "
        "page reached (max_pages in sources.yaml); raise max_pages if the return really is this long, otherwise ask "
        "the agency to fix its paging")]
    assert api.hits("/returns/transactions") == 3


def test_endless_slow_pages_stop_at_the_registrys_deadline_for_the_whole_return(api, tmp_path):
    endless(api, pause=0.3)  # every page is answered well within its own deadline (limits.yaml, 300 s)
    [(file, rule, message)] = fetched_as_registered(api, tmp_path, return_deadline_seconds=1.5)
    assert (file, rule) == ("AG1/2025-06/transactions.json", "http_timeout")
    assert re.fullmatch(
        rf"agency AG1: http_timeout: GET {re.escape(api.base)}/returns/transactions(\?month=2025-06|\?n=\d+): the "
        r"return was not fetched within 1\.5 s \(\d+ pages so far; return_deadline_seconds in sources\.yaml\): the "
        r"API pages too slowly or without end; try again later, or raise return_deadline_seconds if the return "
        r"really takes this long", message), message


def test_a_page_parameter_the_api_ignores_is_cut(api):
    api.routes["/returns"] = lambda call: ok(RECORDS)
    error = failure(source(f"{api.base}/returns", pagination="page"))
    assert (error.rule, api.hits("/returns")) == ("pagination_unbounded", 2)


@pytest.mark.parametrize("body", [b'[{"service_id": "S1"', b"<html>Service unavailable</html>", b'[{"n": NaN}]',
                                  b'{"service_id": "S1"}', b"[1, 2, 3]", b'{"data": {"service_id": "S1"}}'])
def test_malformed_or_non_record_json_is_bad_payload(api, body):
    api.routes["/returns"] = lambda call: (200, {"Content-Type": "application/json"}, body)
    error = failure(source(f"{api.base}/returns"))
    assert (error.rule, error.status, error.agency_id) == ("bad_payload", None, "AG1")
    assert "page 1" in str(error)


def test_month_is_filled_in_path_and_query(api):
    api.routes["/v1/2024-04/returns"] = lambda call: ok(RECORDS)
    fetch(source(f"{api.base}/v1/{{month}}/returns?from={{month}}"), "2024-04")
    assert [c.target for c in api.calls] == ["/v1/2024-04/returns?from=2024-04"]
    with pytest.raises(ValueError, match="YYYY-MM"):
        fetch(source(f"{api.base}/v1/{{month}}/returns"), "2024-4")


def test_token_goes_only_to_the_sources_own_host(servers, token):
    home, elsewhere = servers(), servers()
    elsewhere.routes["/steal"] = lambda call: ok(RECORDS)
    home.routes["/next"] = lambda call: ok({"data": RECORDS, "next": f"{elsewhere.base}/steal"})
    home.routes["/moved"] = lambda call: (302, {"Location": "/returns"}, b"")
    home.routes["/returns"] = lambda call: ok(RECORDS)
    home.routes["/away"] = lambda call: (302, {"Location": f"{elsewhere.base}/steal"}, b"")
    error = failure(source(f"{home.base}/next", credential_env=ENV, pagination="next"))
    assert (error.rule, elsewhere.calls) == ("bad_payload", [])
    assert json.loads(fetch(source(f"{home.base}/moved", credential_env=ENV), "2025-06")) == RECORDS
    fetch(source(f"{home.base}/away", credential_env=ENV), "2025-06")
    assert [(c.target, c.authorization) for c in home.calls[1:]] == [
        ("/moved", f"Bearer {TOKEN}"), ("/returns", f"Bearer {TOKEN}"), ("/away", f"Bearer {TOKEN}")]
    assert [(c.target, c.authorization) for c in elsewhere.calls] == [("/steal", None)]


def test_a_redirect_to_ftp_is_refused_by_name_and_never_followed(api):
    ftp = socket.create_server(("127.0.0.1", 0))  # where the redirect points: any connection to it is recorded
    ftp.setblocking(False)
    port = ftp.getsockname()[1]
    api.routes["/returns"] = lambda call: (302, {"Location": f"ftp://agency:pw@127.0.0.1:{port}/returns.json"}, b"")
    try:
        error = failure(source(f"{api.base}/returns", retries=2))
        with pytest.raises(BlockingIOError):
            ftp.accept()
    finally:
        ftp.close()
    assert (error.rule, error.status, api.hits("/returns")) == ("http_redirect_refused", 302, 1)
    assert str(error) == (f"agency AG1: http_redirect_refused: GET {api.base}/returns -> HTTP 302: redirected to "
                          f"ftp://127.0.0.1:{port}/returns.json, which is not http or https: not followed; ask the "
                          "agency to serve the return over HTTP(S) (not retried)")


def test_a_response_echoing_the_token_is_refused(api, token):
    api.routes["/returns"] = lambda call: ok([{"service_id": "S1", "debug": call.authorization}])
    error = failure(source(f"{api.base}/returns", credential_env=ENV))
    assert (error.rule, ENV in str(error), TOKEN in str(error)) == ("bad_payload", True, False)


def test_invalid_configuration_is_refused_when_declared():
    with pytest.raises(ValueError, match="pagination 'next' reads a JSON body"):
        HttpSource(agency_id="AG1", url="http://127.0.0.1/r.csv", format="csv", credential_env=None, pagination="next")
    with pytest.raises(ValueError, match="http:// or https://"):
        HttpSource(agency_id="AG1", url="file:///etc/passwd", format="json", credential_env=None)
