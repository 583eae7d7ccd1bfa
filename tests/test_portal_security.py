"""The submission portal tried as an attacker would try it, on a real server on loopback: no way in without an
account, no forged form, no guessing passwords at speed, no body too large read whole, no reaching another agency's
returns by URL, form field or API path, no path out of the landing folder, and no secret in a log, page or file."""

import socket

import pytest
import requests

from tests.portal import PASSWORD, config_with_limit, csrf_of, serving, sign_in

AGENCY_A, AGENCY_B = "revenue", "passports"  # both canonical CSV agencies of config/sources.yaml


@pytest.fixture
def portal(tmp_path):
    with serving(tmp_path) as served:
        served.add_user("a@revenue.example", "agency", AGENCY_A)
        served.add_user("b@passports.example", "agency", AGENCY_B)
        served.add_user("c@centre.example", "central")
        yield served


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
            answer = raw.recv(65536).decode()
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
