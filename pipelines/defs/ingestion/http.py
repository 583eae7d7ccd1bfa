"""HTTP API connector: one agency's return for one month, fetched page by page and combined into one submission.

Standard library only (urllib). The bearer token is read from the environment variable the registry names, sent
only to the source's own scheme, host and port, and never written into an error, a log line or the returned bytes.
Redirects are followed to http and https only (urllib alone would follow one to ftp://).
Retries (with exponential backoff) are for 5xx answers and timeouts only: a 4xx will not change by asking again.
Each GET, retries included, has a whole-request deadline and a cap on the body's size (bounded.py); each return,
every page included, has a cap on its pages and a deadline of its own (max_pages, return_deadline_seconds).
"""

from __future__ import annotations

import decimal
import hashlib
import http.client
import json
import logging
import os
import re
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from pipelines.defs.ingestion.bounded import (BodyTooLarge, DeadlinePassed, WatchedHTTPHandler, WatchedHTTPSHandler,
                                              deadline, read_body)

log = logging.getLogger(__name__)

FORMATS = {"json": "application/json", "csv": "text/csv"}
PAGINATIONS = ("none", "link", "next", "page")
RECORD_KEYS = ("data", "results", "records")  # where a JSON object page keeps its list of records
MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
SECRET_PARAM = re.compile(r"token|key|secret|pass|auth|sig|credential|session", re.IGNORECASE)
LINK = re.compile(r"<([^>]*)>([^,<]*)")
REL = re.compile(r"""rel\s*=\s*(?:"([^"]*)"|([^\s;,]+))""", re.IGNORECASE)


@dataclass(frozen=True)
class HttpSource:
    agency_id: str
    url: str  # may contain {month} (YYYY-MM), filled per partition
    format: str  # "json" or "csv"
    credential_env: str | None  # NAME of the environment variable holding a bearer token, never the token
    pagination: str = "none"  # "none" | "link" (RFC 8288 rel="next") | "next" (JSON body field) | "page" (?page=N)
    page_param: str = "page"
    max_pages: int = 500  # sources.yaml max_pages: pages of one return
    return_deadline_seconds: float = 600  # sources.yaml return_deadline_seconds: one return, every page and retry
    timeout_seconds: float = 30
    retries: int = 3  # on 5xx and timeouts only
    backoff_seconds: float = 0.5
    max_body_bytes: int = 256 * 2**20  # limits.yaml http.max_body_bytes: one page's body
    deadline_seconds: float = 300  # limits.yaml http.deadline_seconds: one GET, from first byte asked, retries included

    def __post_init__(self):
        if self.format not in FORMATS:
            raise ValueError(f"agency {self.agency_id}: format {self.format!r} is not one of {sorted(FORMATS)}")
        if self.pagination not in PAGINATIONS:
            raise ValueError(f"agency {self.agency_id}: pagination {self.pagination!r} is not one of {PAGINATIONS}")
        if self.pagination == "next" and self.format != "json":
            raise ValueError(f"agency {self.agency_id}: pagination 'next' reads a JSON body; use 'link' or 'page'")
        if urlsplit(self.url).scheme not in ("http", "https"):
            raise ValueError(f"agency {self.agency_id}: the URL must start with http:// or https://")
        if self.max_pages < 1 or self.retries < 0 or self.timeout_seconds <= 0 or self.backoff_seconds < 0 \
                or self.max_body_bytes < 1 or self.deadline_seconds <= 0 or self.return_deadline_seconds <= 0:
            raise ValueError(f"agency {self.agency_id}: max_pages >= 1, retries >= 0, timeout_seconds > 0, "
                             "backoff_seconds >= 0, max_body_bytes >= 1, deadline_seconds > 0, "
                             "return_deadline_seconds > 0")


class FetchError(Exception):
    """A submission that could not be fetched. `rule` is one of: credential_missing, http_unauthorised,
    http_forbidden, http_client_error, http_server_error, http_timeout, http_unreachable, pagination_unbounded,
    http_body_too_large, http_redirect_refused, bad_payload."""

    def __init__(self, rule: str, message: str, agency_id: str, url: str, status: int | None = None):
        super().__init__(message)
        self.rule, self.agency_id, self.url, self.status = rule, agency_id, url, status


def fetch(source: HttpSource, month: str) -> bytes:
    """All pages for one month combined into one submission: a JSON list of records (in the order served),
    or one UTF-8 CSV with the header once. Raises FetchError."""
    if not MONTH.fullmatch(month):
        raise ValueError(f"month must be YYYY-MM, got {month!r}")
    token = _token(source)
    try:
        submission = _fetch_pages(source, source.url.replace("{month}", month), token)
    except FetchError as error:
        if token and token in str(error):  # belt and braces: a server could echo it into a URL or message
            raise FetchError(error.rule, str(error).replace(token, "***"), error.agency_id,
                             error.url.replace(token, "***"), error.status) from None
        raise
    if token and token.encode() in submission:
        raise _error(source, "bad_payload", source.url.replace("{month}", month), None,
                     f"the response contains the credential from {source.credential_env}; refused so it is never "
                     "archived or published: ask the agency to stop echoing it")
    return submission


def _token(source: HttpSource) -> str | None:
    if source.credential_env is None:
        return None
    token = os.environ.get(source.credential_env, "")
    if not token:
        raise FetchError("credential_missing",
                         f"agency {source.agency_id}: credential_missing: the environment variable "
                         f"{source.credential_env} is not set (or empty); set it to the agency's API token",
                         source.agency_id, display_url(source.url))
    return token


def _fetch_pages(source: HttpSource, url: str, token: str | None) -> bytes:
    origin = _origin(url)
    pages, seen, previous_digest = [], set(), None
    page_url = _with_param(url, source.page_param, 1) if source.pagination == "page" else url
    ends = time.monotonic() + source.return_deadline_seconds
    while page_url is not None:
        if len(pages) == source.max_pages:
            raise _error(source, "pagination_unbounded", page_url, None,
                         f"{source.max_pages} pages fetched and no last page reached (max_pages in sources.yaml); "
                         "raise max_pages if the return really is this long, otherwise ask the agency to fix its "
                         "paging")
        if page_url in seen:
            raise _error(source, "pagination_unbounded", page_url, None,
                         f"this page was already fetched (a paging loop after {len(pages)} pages); ask the agency "
                         "to fix its next links")
        seen.add(page_url)
        body, headers = _get(source, page_url, token, ends, len(pages))
        page, body_next = _parse_page(source, page_url, body, headers, len(pages) + 1)
        if source.pagination == "page":
            digest = hashlib.sha256(body).digest()
            if digest == previous_digest:
                raise _error(source, "pagination_unbounded", page_url, None,
                             f"page {len(pages) + 1} is identical to the page before: the API ignores "
                             f"'{source.page_param}'; check page_param in the registry")
            previous_digest = digest
            if _is_empty(source, page):
                if not pages:  # an empty month still says which columns it would have had
                    pages.append(page)
                break
        pages.append(page)
        page_url = _next_url(source, page_url, headers, body_next, len(pages))
        if page_url is not None and _origin(page_url) != origin:
            raise _error(source, "bad_payload", page_url, None,
                         "the next page is on another host; not followed, so the credential is not sent there")
    return _combine(source, url, pages)


def _get(source: HttpSource, url: str, token: str | None, ends: float, fetched: int) -> tuple[bytes, object]:
    """One GET, retried on 5xx and timeouts, within its own deadline and the return's (`ends`, `fetched` pages
    before it); the Authorization header is not carried over redirects elsewhere."""
    request = urllib.request.Request(url, headers={"Accept": FORMATS[source.format],
                                                   "User-Agent": "service-performance-pipeline"})
    if token:
        request.add_unredirected_header("Authorization", f"Bearer {token}")
    attempts = source.retries + 1
    at = min(time.monotonic() + source.deadline_seconds, ends)
    for attempt in range(1, attempts + 1):
        remaining = at - time.monotonic()
        if remaining <= 0:
            break
        try:
            with deadline(at), _OPENER.open(request, timeout=min(source.timeout_seconds, remaining)) as response:
                return read_body(response, source.max_body_bytes, at), response.headers
        except BodyTooLarge as error:
            raise _error(source, "http_body_too_large", url, None,
                         f"the body is over {source.max_body_bytes:,} bytes ({error.args[0]:,} so far; limits.yaml "
                         "http.max_body_bytes): ask the agency to page it, or raise the limit") from None
        except DeadlinePassed:
            break
        except _RedirectRefused as error:
            raise _error(source, "http_redirect_refused", url, error.code,
                         f"redirected to {display_url(error.target)}, which is not http or https: not followed; ask "
                         "the agency to serve the return over HTTP(S) (not retried)") from None
        except urllib.error.HTTPError as error:
            error.close()
            if error.code < 500:
                raise _client_error(source, url, error.code) from None
            rule, status, what = "http_server_error", error.code, f"the server failed (HTTP {error.code})"
        except TimeoutError:
            rule, status, what = "http_timeout", None, f"no answer within {source.timeout_seconds} s"
        except urllib.error.URLError as error:
            if time.monotonic() >= at:
                break
            if not isinstance(error.reason, TimeoutError):
                raise _error(source, "http_unreachable", url, None,
                             f"could not connect ({error.reason}); check the URL and that the API is up") from None
            rule, status, what = "http_timeout", None, f"no answer within {source.timeout_seconds} s"
        except (OSError, http.client.HTTPException) as error:  # dropped mid-answer: not a 5xx or timeout, no retry
            if time.monotonic() >= at:
                break
            raise _error(source, "http_unreachable", url, None,
                         f"the connection failed ({type(error).__name__}); try again later") from None
        if attempt < attempts:
            delay = source.backoff_seconds * 2 ** (attempt - 1)
            log.warning("agency %s: GET %s: %s; retrying in %.2f s (attempt %d of %d)",
                        source.agency_id, display_url(url), what, delay, attempt + 1, attempts)
            time.sleep(min(delay, max(at - time.monotonic(), 0)))
    if time.monotonic() >= ends:
        raise _error(source, "http_timeout", url, None,
                     f"the return was not fetched within {source.return_deadline_seconds} s ({fetched} pages so far; "
                     "return_deadline_seconds in sources.yaml): the API pages too slowly or without end; try again "
                     "later, or raise return_deadline_seconds if the return really takes this long")
    if time.monotonic() >= at:
        raise _error(source, "http_timeout", url, None,
                     f"the request did not finish within {source.deadline_seconds} s, retries included (limits.yaml "
                     "http.deadline_seconds): the API is too slow or trickles its answer; try again later")
    raise _error(source, rule, url, status, f"{what} on all {attempts} attempts; try again later, and if it "
                 "persists ask the agency" + (" or raise timeout_seconds" if rule == "http_timeout" else ""))


def _client_error(source: HttpSource, url: str, status: int) -> FetchError:
    env = source.credential_env
    if status in (401, 403) and env is None:
        return _error(source, "http_unauthorised" if status == 401 else "http_forbidden", url, status,
                      "the API wants a credential and none is configured: name its environment variable as "
                      "credential_env in the registry (not retried)")
    if status == 401:
        return _error(source, "http_unauthorised", url, status,
                      f"the credential in {env} was refused (not retried): check that {env} holds the agency's "
                      "current token")
    if status == 403:
        return _error(source, "http_forbidden", url, status,
                      f"the credential in {env} was refused for this resource (not retried): ask the agency to "
                      "grant that token access")
    return _error(source, "http_client_error", url, status,
                  "the request was rejected (not retried): check the URL and format in the registry entry")


def _parse_page(source: HttpSource, url: str, body: bytes, headers, number: int):
    """(page, next URL from the body): a JSON page is a list of records, a CSV page is (header, data lines)."""
    if source.format == "csv":
        charset = headers.get_content_charset() or "utf-8"
        try:
            text = body.decode("utf-8-sig" if charset.lower().replace("_", "-") in ("utf-8", "utf8") else charset)
        except (LookupError, UnicodeDecodeError) as error:
            raise _error(source, "bad_payload", url, None,
                         f"page {number} is not valid {charset} text ({type(error).__name__}); ask the agency to "
                         "send UTF-8 or declare the charset") from None
        head, newline, rest = text.partition("\n")
        return (head.rstrip("\r"), head + newline, rest), None
    try:
        payload = json.loads(body, parse_constant=_reject_constant, parse_float=decimal.Decimal,
                             object_pairs_hook=_Object)
    except (ValueError, UnicodeDecodeError) as error:
        raise _error(source, "bad_payload", url, None, f"page {number} is not valid JSON ({error})") from None
    body_next = None
    if isinstance(payload, dict):
        key = next((k for k in RECORD_KEYS if k in payload), None)
        if key is None:
            raise _error(source, "bad_payload", url, None, f"page {number} is a JSON object without a list under "
                         f"any of {', '.join(RECORD_KEYS)}")
        payload, body_next = payload[key], payload.get("next")
        if body_next is not None and not isinstance(body_next, str):
            raise _error(source, "bad_payload", url, None, f"page {number}: 'next' is not a URL")
    if not isinstance(payload, list) or not all(isinstance(record, dict) for record in payload):
        raise _error(source, "bad_payload", url, None,
                     f"page {number} is not a list of records (JSON objects); ask the agency for that shape")
    return payload, body_next or None


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


class _Object(dict):
    """A JSON object that keeps its pairs as sent, so that a key given twice reaches staging, which sets that record
    aside (`duplicate_json_key`), instead of being settled here by keeping the last value."""

    def __init__(self, pairs: list[tuple[str, object]]):
        super().__init__(pairs)
        self.pairs = pairs


def _dumps(value) -> str:
    """The JSON text of a parsed value as it was sent: numbers as written (a decimal never goes through a float),
    every pair of an object kept."""
    if isinstance(value, _Object):
        return "{" + ", ".join(f"{json.dumps(k, ensure_ascii=False)}: {_dumps(v)}" for k, v in value.pairs) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_dumps(v) for v in value) + "]"
    return str(value) if isinstance(value, decimal.Decimal) else json.dumps(value, ensure_ascii=False)


def _is_empty(source: HttpSource, page) -> bool:
    return not page if source.format == "json" else not page[2].strip()


def _next_url(source: HttpSource, url: str, headers, body_next: str | None, fetched: int) -> str | None:
    if source.pagination == "page":
        return _with_param(url, source.page_param, fetched + 1)
    if source.pagination == "next":
        return urljoin(url, body_next) if body_next else None
    if source.pagination == "link":
        for value in headers.get_all("Link") or ():
            for target, params in LINK.findall(value):
                rels = [m.group(1) if m.group(1) is not None else m.group(2) for m in REL.finditer(params)]
                if any("next" in rel.lower().split() for rel in rels):
                    return urljoin(url, target.strip())
    return None


def _combine(source: HttpSource, url: str, pages: list) -> bytes:
    if source.format == "json":
        return _dumps([record for page in pages for record in page]).encode("utf-8")
    pages = [page for page in pages if page[0].strip() or page[2].strip()]
    if not pages:
        return b""
    header, first_line, _ = pages[0]
    parts = [first_line]
    for number, (page_header, _, rows) in enumerate(pages, start=1):
        if page_header != header:
            raise _error(source, "bad_payload", url, None,
                         f"page {number} has a different header from page 1; ask the agency to keep one layout")
        if parts[-1] and not parts[-1].endswith("\n"):  # a page without a final line break
            parts.append("\r\n" if first_line.endswith("\r\n") else "\n")
        parts.append(rows)
    return "".join(parts).encode("utf-8")


def _with_param(url: str, name: str, value: int) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != name]
    return urlunsplit(parts._replace(query=urlencode([*query, (name, str(value))])))


def _origin(url: str) -> tuple:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.hostname, parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower())


def display_url(url: str) -> str:
    """The URL as errors and logs show it: no user:password, and the values of secret-looking parameters hidden."""
    parts = urlsplit(url)
    query = [(k, "***" if SECRET_PARAM.search(k) else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, urlencode(query, safe="*{}"), ""))


def _error(source: HttpSource, rule: str, url: str, status: int | None, what: str) -> FetchError:
    answer = f" -> HTTP {status}" if status is not None else ""
    return FetchError(rule, f"agency {source.agency_id}: {rule}: GET {display_url(url)}{answer}: {what}",
                      source.agency_id, display_url(url), status)


class _RedirectRefused(Exception):
    """A redirect to a scheme other than http or https (urllib would follow ftp://)."""

    def __init__(self, code: int, target: str):
        super().__init__(target)
        self.code, self.target = code, target


class _SameOriginRedirect(urllib.request.HTTPRedirectHandler):
    """Follows HTTP(S) redirects only, keeping the bearer token only when the redirect stays on the same scheme, host
    and port."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        if urlsplit(newurl).scheme.lower() not in ("http", "https"):
            fp.close()
            raise _RedirectRefused(code, newurl)
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        authorization = req.unredirected_hdrs.get("Authorization")
        if new is not None and authorization and _origin(new.full_url) == _origin(req.full_url):
            new.add_unredirected_header("Authorization", authorization)
        return new


_OPENER = urllib.request.build_opener(_SameOriginRedirect, WatchedHTTPHandler, WatchedHTTPSHandler)
