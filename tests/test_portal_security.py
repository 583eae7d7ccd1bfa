"""The submission portal tried as an attacker would try it, on a real server on loopback: no way in without an
account, no forged form, no guessing passwords at speed, no body too large read whole, no reaching another agency's
returns by URL, form field or API path, no path out of the landing folder, and no secret in a log, page or file."""

import hashlib
import socket
import sqlite3

import pytest
import requests

from tests.portal import PASSWORD, config_with_limit, csrf_of, serving, sign_in, table

AGENCY_A, AGENCY_B = "revenue", "passports"  # both canonical CSV agencies of config/sources.yaml


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with serving(tmp_path_factory.mktemp("portal")) as served:
        served.add_user("a@revenue.example", "agency", AGENCY_A)
        served.add_user("b@passports.example", "agency", AGENCY_B)
        served.add_user("c@centre.example", "central")
        yield served


@pytest.fixture
def portal(server):
    """The module's one server (a start costs seconds), as new before each test: its three accounts and nothing else
    (no upload, token or failed sign-in of an earlier test, no landing folder)."""
    server.forget()
    return server


def test_nothing_without_signing_in(portal):
    for path in ("/returns", "/upload", "/uploads/anything", "/uploads/anything/file"):
        response = requests.get(portal.url + path, allow_redirects=False)
        assert (response.status_code, response.headers["location"]) == (303, "/sign-in"), path
    for path in (f"/api/agencies/{AGENCY_A}/returns", f"/api/agencies/{AGENCY_A}/returns/2025-06/transactions.csv"):
        response = requests.request("POST" if path.endswith(".csv") else "GET", portal.url + path, data=b"x",
                                    headers={"Authorization": "Bearer not-a-token"})
        assert response.status_code == 401 and response.json() == {
            "error": "Send the agency's API token as 'Authorization: Bearer <token>'."}
    assert not (portal.data / "landing").exists()


def test_a_form_without_the_sessions_csrf_token_is_refused(portal):
    client = requests.Session()
    csrf_of(client.get(f"{portal.url}/sign-in").text)
    response = client.post(f"{portal.url}/sign-in", data={"csrf_token": "forged", "email": "a@revenue.example",
                                                          "password": PASSWORD}, allow_redirects=False)
    assert response.status_code == 403
    assert "The form had expired or did not come from this portal" in response.text

    signed_in = portal.session("a@revenue.example")
    response = signed_in.post(f"{portal.url}/upload", data={"csrf_token": "forged", "month": "2025-06",
                                                            "file_name": "transactions.csv"},
                              files={"file": ("transactions.csv", b"service_id\n")}, allow_redirects=False)
    assert response.status_code == 403
    assert list((portal.portal_dir / "uploads").glob("*")) == [] if (portal.portal_dir / "uploads").exists() else True
    response = signed_in.post(f"{portal.url}/sign-out", data={}, allow_redirects=False)  # no token at all
    assert response.status_code == 403
    assert signed_in.get(f"{portal.url}/returns", allow_redirects=False).status_code == 200  # still signed in


def test_the_sixth_failed_sign_in_in_a_minute_is_refused_even_with_the_right_password(portal):
    client = requests.Session()
    for _ in range(5):
        assert sign_in(client, portal.url, "a@revenue.example", "wrong password!").status_code == 401
    refused = sign_in(client, portal.url, "a@revenue.example", PASSWORD)
    assert (refused.status_code, refused.headers["retry-after"]) == (429, "60")
    assert "Too many attempts to sign in" in refused.text
    assert client.get(f"{portal.url}/returns", allow_redirects=False).status_code == 303  # not signed in


def test_an_oversized_body_is_refused_before_it_is_read(tmp_path):
    limit = 64 * 1024
    with serving(tmp_path, config_with_limit(tmp_path / "config", limit)) as portal:
        portal.add_user("a@revenue.example", "agency", AGENCY_A)
        client = portal.session("a@revenue.example")
        cookie = client.cookies["portal_session"]
        port = int(portal.url.rsplit(":", 1)[1])
        # A declared length of a terabyte, and not one byte of the body sent: the answer comes anyway.
        with socket.create_connection(("127.0.0.1", port)) as raw:
            raw.sendall(b"POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=x"
                        b"\r\nCookie: portal_session=" + cookie.encode() + b"\r\nContent-Length: 1000000000000\r\n\r\n")
            answer = b"".join(iter(lambda: raw.recv(65536), b"")).decode()  # until the server closes
        assert answer.startswith("HTTP/1.1 413 ")
        assert f"The file is larger than {limit + 64 * 1024:,} bytes" in answer
        # No length declared (chunked): cut off once past the limit, the rest never read.
        def chunks():
            for _ in range(100):
                yield b"x" * 8192
        token = portal.add_token(AGENCY_A)
        response = requests.post(f"{portal.url}/api/agencies/{AGENCY_A}/returns/2025-06/transactions.csv",
                                 data=chunks(), headers={"Authorization": f"Bearer {token}"})
        assert (response.status_code, response.json()) == (413, {"error": (
            f"The file is larger than {limit + 64 * 1024:,} bytes, the most a return may be (files.max_file_bytes in "
            "config/limits.yaml). Send a smaller file, or ask the central team to raise the limit.")})
        assert not (portal.data / "landing").exists()


RETURN = b"service_id,month,channel,transactions_started,transactions_completed\nPAS-001,2025-06-01,online,10,9\n"


def uploaded(client: requests.Session, url: str, name: str = "transactions.csv", **fields) -> requests.Response:
    token = csrf_of(client.get(f"{url}/upload").text)
    return client.post(f"{url}/upload", data={"csrf_token": token, "month": "2025-06", "file_name": "transactions.csv",
                                              **fields}, files={"file": (name, RETURN)}, allow_redirects=False)


def landed(portal) -> list[str]:
    landing = portal.data / "landing"
    return sorted(p.relative_to(landing).as_posix() for p in landing.rglob("*") if p.is_file())


def test_agency_a_cannot_reach_agency_bs_returns_by_url_form_field_or_api_path(portal):
    b = portal.session("b@passports.example")
    page = uploaded(b, portal.url).headers["location"]
    a = portal.session("a@revenue.example")
    token = csrf_of(a.get(f"{portal.url}/returns").text)
    for response in (a.get(portal.url + page), a.get(f"{portal.url}{page}/file"),
                     a.post(f"{portal.url}{page}/submit", data={"csrf_token": token})):
        assert response.status_code == 404 and "There is no such return" in response.text
    assert landed(portal) == []
    assert "PAS-001" not in a.get(f"{portal.url}/returns").text

    # form fields naming the other agency are not read: the upload is A's, and lands in A's folder
    for field in ("agency", "agency_id"):
        page_a = uploaded(a, portal.url, **{field: AGENCY_B}).headers["location"]
        a.post(f"{portal.url}{page_a}/submit", data={"csrf_token": token})
    assert landed(portal) == ["revenue/2025-06/transactions.csv"]

    a_token, b_token = portal.add_token(AGENCY_A), portal.add_token(AGENCY_B)
    for method, path in (("GET", f"/api/agencies/{AGENCY_B}/returns"),
                         ("POST", f"/api/agencies/{AGENCY_B}/returns/2025-06/transactions.csv?submit=true")):
        response = requests.request(method, portal.url + path, data=RETURN, headers={"Authorization":
                                                                                      f"Bearer {a_token}"})
        assert (response.status_code, response.json()) == (403, {"error": "This token is not for that agency."})
    assert landed(portal) == ["revenue/2025-06/transactions.csv"]
    assert requests.get(f"{portal.url}/api/agencies/{AGENCY_B}/returns",
                        headers={"Authorization": f"Bearer {b_token}"}).json() == []  # B submitted nothing


def test_a_central_account_reads_every_agency_and_uploads_for_none(portal):
    b = portal.session("b@passports.example")
    page = uploaded(b, portal.url).headers["location"]
    central = portal.session("c@centre.example")
    assert central.get(portal.url + page).status_code == 200
    assert "Submit this return" not in central.get(portal.url + page).text
    token = csrf_of(central.get(f"{portal.url}/returns").text)
    assert central.get(f"{portal.url}/upload").status_code == 403
    assert central.post(f"{portal.url}{page}/submit", data={"csrf_token": token}).status_code == 403
    assert landed(portal) == []


def test_a_path_in_the_uploaded_file_name_never_leaves_the_landing_folder(portal):
    a = portal.session("a@revenue.example")
    token = csrf_of(a.get(f"{portal.url}/returns").text)
    for name in ("../../../../../../evil.csv", "..\\..\\evil.csv", "/etc/evil.csv", "revenue/2025-07/evil.csv"):
        page = uploaded(a, portal.url, name=name).headers["location"]
        assert a.post(f"{portal.url}{page}/submit", data={"csrf_token": token}).status_code == 200
    refused = uploaded(a, portal.url, file_name="../passports/2025-06/transactions.csv")
    assert refused.status_code == 400 and "Select which of your returns the file is" in refused.text
    api = requests.post(f"{portal.url}/api/agencies/{AGENCY_A}/returns/2025-06/..%2F..%2Fevil.csv",
                        data=RETURN, headers={"Authorization": f"Bearer {portal.add_token(AGENCY_A)}"})
    assert api.status_code in (400, 404)
    assert landed(portal) == ["revenue/2025-06/transactions.csv"]
    assert [p.name for p in portal.data.parent.rglob("*evil*")] == []  # the server's folder
    uploads = sorted(p.name for p in (portal.portal_dir / "uploads").iterdir())
    assert uploads == [hashlib.sha256(RETURN).hexdigest()]


def test_no_password_hash_session_key_or_token_in_a_log_page_or_file(portal):
    a = portal.session("a@revenue.example")
    token = portal.add_token(AGENCY_A)
    pages = [a.get(portal.url + path).text for path in ("/returns", "/upload")]
    page = uploaded(a, portal.url).headers["location"]
    pages += [a.get(portal.url + page).text,
              a.post(f"{portal.url}{page}/submit", data={"csrf_token": csrf_of(pages[0])}).text,
              requests.post(f"{portal.url}/api/agencies/{AGENCY_A}/returns/2025-07/transactions.csv?submit=true",
                            data=RETURN, headers={"Authorization": f"Bearer {token}"}).text,
              requests.get(f"{portal.url}/api/agencies/{AGENCY_A}/returns",
                           headers={"Authorization": f"Bearer {token}"}).text]
    for kept in (portal.portal_dir / "uploads").iterdir():  # lost: the download fails, and says what to do
        kept.unlink()
    lost = a.get(f"{portal.url}{page}/file")
    assert lost.status_code == 500 and "Try again later. If it goes on, tell the central team" in lost.text
    assert str(portal.portal_dir) not in lost.text
    pages.append(lost.text)
    with sqlite3.connect(portal.portal_dir / "portal.sqlite") as con:
        hashes = [h for (h,) in con.execute("SELECT password_hash FROM accounts")]
    secrets = [*hashes, (portal.portal_dir / "session_key").read_text(), token, PASSWORD]
    assert all(h.startswith("$argon2id$") for h in hashes)
    files = [p for p in portal.data.parent.rglob("*") if p.is_file() and p.parent != portal.portal_dir]
    assert files  # the log, the landed files, the kept uploads
    texts = [*pages, *(p.read_bytes().decode("utf-8", "replace") for p in files)]
    for secret in secrets:
        assert not [text[:200] for text in texts if secret in text]


def test_an_agency_whose_returns_are_fetched_from_its_api_uploads_nothing(tmp_path):
    config = config_with_limit(tmp_path / "config", 64 * 2**20)  # the default limit: a copy to change
    entry = "{id: land, name: Land Registry, department: Business and Trade, connector: %s, format: csv,"
    sources = (config / "sources.yaml").read_text()
    assert entry % "file_drop" in sources
    (config / "sources.yaml").write_text(sources.replace(
        entry % "file_drop", entry % "http" + " url: 'https://land.example/{month}/{return}',"))
    with serving(tmp_path, config) as portal:
        portal.add_user("l@land.example", "agency", "land")
        response = portal.session("l@land.example").get(f"{portal.url}/upload")
        assert response.status_code == 403 and "do not arrive as files" in response.text
        api = requests.post(f"{portal.url}/api/agencies/land/returns/2025-06/transactions.csv", data=RETURN,
                            headers={"Authorization": f"Bearer {portal.add_token('land')}"})
        assert api.status_code == 403
        assert not (portal.data / "landing").exists()


def test_markup_in_a_return_is_shown_as_text_never_run(portal):
    a = portal.session("a@revenue.example")
    token = csrf_of(a.get(f"{portal.url}/upload").text)
    hostile = RETURN.replace(b"PAS-001", b"<script>alert(1)</script>")
    page = a.post(f"{portal.url}/upload", data={"csrf_token": token, "month": "2025-06",
                                                "file_name": "transactions.csv"},
                  files={"file": ("x.csv", hostile)}).text
    assert "<td class=\"govuk-table__cell\">&lt;script&gt;alert(1)&lt;/script&gt;</td>" in page
    assert "<script>alert" not in page


def test_the_session_cookie_is_http_only_same_site_strict_expiring_and_tamper_proof(portal):
    client = requests.Session()
    response = sign_in(client, portal.url, "a@revenue.example", PASSWORD)
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("portal_session=")
    assert {"path=/", "Max-Age=28800", "httponly", "samesite=strict"} <= {p.strip() for p in cookie.split(";")}
    value = client.cookies["portal_session"]
    assert client.get(f"{portal.url}/returns", allow_redirects=False).status_code == 200
    forged = requests.Session()
    forged.cookies.set("portal_session", value[:-2] + ("AA" if not value.endswith("AA") else "BB"))
    assert forged.get(f"{portal.url}/returns", allow_redirects=False).headers["location"] == "/sign-in"


def test_the_returns_list_is_the_agencys_own_whatever_agency_is_asked_for(portal):
    for email, agency in (("a@revenue.example", AGENCY_A), ("b@passports.example", AGENCY_B)):
        client = portal.session(email)
        page = uploaded(client, portal.url).headers["location"]
        client.post(f"{portal.url}{page}/submit", data={"csrf_token": csrf_of(client.get(portal.url + page).text)})
    a = portal.session("a@revenue.example")
    mine = table(a.get(f"{portal.url}/returns?agency={AGENCY_B}").text, "submissions")
    assert [row[1] for row in mine] == ["transactions.csv"] and "b@passports.example" not in str(mine)
    central = portal.session("c@centre.example")
    assert [row[1] for row in table(central.get(f"{portal.url}/returns").text, "submissions")] == [
        "Passport Office", "Revenue and Customs Agency"]
    assert [row[1] for row in table(central.get(f"{portal.url}/returns?agency={AGENCY_B}").text, "submissions")] == [
        "Passport Office"]
