"""The submission portal: a Starlette app with Jinja pages in the GOV.UK Frontend design system, and a JSON API.

An agency account signs in, uploads a return, reads at once what a run would make of it (feedback.py: the staging
code itself, through `pipelines.preview`) and submits it into data/landing/. Scope is decided here and only here
(`readable`, `uploader`): an agency account reaches only its own agency's uploads, whatever id, field or path it
sends; central and administrator accounts read every agency's and upload for none. Every form carries the
session's CSRF token; sign-in failures are counted per client address and per account name, and the sixth within a
minute is refused.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
import tempfile
import time
from dataclasses import asdict
from http import HTTPStatus
from pathlib import Path

import dagster as dg
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from pipelines.lib.config import Config, load_config
from pipelines.lib.config.sources import MONTH
from pipelines.portal import status
from pipelines.portal.feedback import Feedback, compared
from pipelines.portal.landing import file_names, keep_upload, land
from pipelines.portal.limits import BodyLimit
from pipelines.portal.settings import PortalSettings
from pipelines.portal.store import Account, Store, Upload
from pipelines.preview import preview_file
from transforms.domain import MONTH_ON_MONTH_JUMP

HERE = Path(__file__).parent
GOVUK = HERE / "node_modules" / "govuk-frontend" / "dist" / "govuk"  # `make portal-install` puts it there
SIGN_IN_WINDOW_SECONDS, SIGN_IN_FAILURES_ALLOWED = 60, 5
SESSION_SECONDS = 8 * 3600  # a working day; the cookie and its signature both expire then
FORM_OVERHEAD_BYTES = 64 * 1024  # room for the multipart form around the file


class Portal:
    """The app's state and its endpoints."""

    def __init__(self, settings: PortalSettings):
        self.settings = settings
        self.config: Config = load_config(settings.config_dir)
        self.store = Store(settings.store_path)
        self.max_bytes = self.config.limits.files.max_file_bytes
        # the pipeline's run storage, read for the status of submissions the accounting has not published yet
        self.instance = (dg.DagsterInstance.from_config(str(settings.dagster_home)) if settings.dagster_home
                         else None)
        self.templates = Jinja2Templates(directory=HERE / "templates")
        self.templates.env.filters["when"] = lambda stamp: f"{stamp[:10]} {stamp[11:16]} UTC"
        self.templates.env.filters["sentence"] = lambda text: text[:1].upper() + text[1:]

    # who is asking
    def account(self, request: Request) -> Account | None:
        email = request.session.get("email")
        return self.store.account(email) if email else None

    def signed_in(self, request: Request) -> Account:
        account = self.account(request)
        if account is None:
            raise HTTPException(401, "Sign in to use the portal.")
        return account

    def csrf(self, request: Request) -> str:
        if "csrf" not in request.session:
            request.session["csrf"] = secrets.token_urlsafe(32)
        return request.session["csrf"]

    async def form(self, request: Request):
        """The request's form, refused unless it carries this session's CSRF token."""
        form = await request.form(max_files=1, max_fields=10)
        sent, expected = form.get("csrf_token"), request.session.get("csrf")
        if not (isinstance(sent, str) and expected and hmac.compare_digest(sent.encode(), expected.encode())):
            raise HTTPException(403, "The form had expired or did not come from this portal. Go back, reload the "
                                     "page and send it again.")
        return form

    def page(self, request: Request, name: str, status_code: int = 200, **context) -> Response:
        context |= {"account": self.account(request), "csrf_token": self.csrf(request)}
        return self.templates.TemplateResponse(request, name, context, status_code=status_code)

    def readable(self, account: Account, upload_id: str) -> Upload:
        """The upload, when the account may see it; else 404, as if it did not exist (no id of another agency is
        confirmed)."""
        upload = self.store.upload(upload_id)
        if upload is None or not account.may_read(upload.agency_id):
            raise HTTPException(404, "There is no such return. Go back to your returns.")
        return upload

    def states(self, uploads: list[Upload]) -> list[status.Status]:
        in_force = self.store.in_force([u.landing_path for u in uploads if u.landing_path])
        return status.of_submissions(self.settings.data_dir / "published", uploads, in_force, self.instance)

    def uploader(self, account: Account):
        """The agency an account uploads for: its own, when its returns arrive as files; central and administrator
        accounts read only."""
        if account.role != "agency":
            raise HTTPException(403, "Your account reads every agency's returns but uploads for none: sign in with "
                                     "an agency's account to upload.")
        agency = self.config.agency(account.agency_id)
        if agency is None or agency.connector != "file_drop" or not file_names(self.config, agency):
            raise HTTPException(403, "Your agency's returns do not arrive as files (its entry in the source registry "
                                     "says how they do): ask the central team to change it before uploading here.")
        return agency

    # sign-in
    async def sign_in_form(self, request: Request) -> Response:
        return self.page(request, "sign_in.html")

    async def sign_in(self, request: Request) -> Response:
        form = await self.form(request)
        email, password = str(form.get("email", "")).strip(), str(form.get("password", ""))
        clients = [f"address:{request.client.host if request.client else '-'}", f"account:{email.lower()}"]
        since = time.time() - SIGN_IN_WINDOW_SECONDS
        if any(self.store.failures_since(client, since) >= SIGN_IN_FAILURES_ALLOWED for client in clients):
            response = self.page(request, "error.html", 429, title="Too many attempts to sign in",
                                 message="Wait a minute, then sign in again. If you have forgotten your password, "
                                         "ask your portal administrator to set a new one.")
            response.headers["Retry-After"] = str(SIGN_IN_WINDOW_SECONDS)
            return response
        account = await run_in_threadpool(self.store.authenticate, email, password)
        if account is None:
            for client in clients:
                self.store.record_failure(client, time.time())
            return self.page(request, "sign_in.html", 401, email=email,
                             error="Enter the email address and password of your portal account")
        request.session.clear()
        request.session.update({"email": account.email, "csrf": secrets.token_urlsafe(32)})
        return RedirectResponse("/returns", 303)

    async def sign_out(self, request: Request) -> Response:
        await self.form(request)
        request.session.clear()
        return RedirectResponse("/sign-in", 303)

    # pages
    async def home(self, request: Request) -> Response:
        return RedirectResponse("/returns" if self.account(request) else "/sign-in", 303)

    async def returns(self, request: Request) -> Response:
        account = self.signed_in(request)
        agencies = {a.id: a.name for a in self.config.agencies}
        chosen = request.query_params.get("agency") if account.role != "agency" else None  # an agency sees its own
        scope = account.agency_id if account.role == "agency" else chosen if chosen in agencies else None
        submissions = self.store.submissions(scope)
        states = self.states(submissions)
        return self.page(request, "returns.html", rows=list(zip(submissions, states)), agencies=agencies,
                         chosen=scope)

    async def upload_form(self, request: Request) -> Response:
        agency = self.uploader(self.signed_in(request))
        return self.page(request, "upload.html", agency=agency, files=file_names(self.config, agency),
                         month=_last_month())

    async def upload(self, request: Request) -> Response:
        account = self.signed_in(request)
        agency = self.uploader(account)
        form = await self.form(request)
        files, month, sent = file_names(self.config, agency), str(form.get("month", "")).strip(), form.get("file")
        file_name = str(form.get("file_name", "")) if len(files) > 1 else next(iter(files), "")
        errors = {}
        if file_name not in files:
            errors["file_name"] = "Select which of your returns the file is"
        if (problem := _month_problem(month)) is not None:
            errors["month"] = problem
        if sent is None or isinstance(sent, str) or not sent.filename:
            errors["file"] = "Select the file of your return"
        if errors:
            return self.page(request, "upload.html", 400, agency=agency, files=files, month=month,
                             file_name=file_name, errors=errors)
        upload = await self.check(account, agency, month, file_name, sent.file)
        return RedirectResponse(f"/uploads/{upload.id}", 303)

    async def check(self, account: Account, agency, month: str, file_name: str, source) -> Upload:
        """Keep the upload and preview it: the feedback shown is the feedback recorded."""
        kept, sha, size = await run_in_threadpool(keep_upload, self.settings.portal_dir / "uploads", source)
        preview = await run_in_threadpool(preview_file, self.config, agency.id, kept, dt.date.fromisoformat(
            f"{month}-01"), name=file_name, landing=self.settings.data_dir / "landing")
        feedback = Feedback(preview=preview, compared=compared(self.settings.data_dir / "published", preview))
        return self.store.add_upload(agency.id, month, file_name, account.email, sha, size,
                                     feedback.model_dump(mode="json"))

    async def upload_page(self, request: Request) -> Response:
        account = self.signed_in(request)
        upload = self.readable(account, request.path_params["upload_id"])
        state = self.states([upload])[0]
        feedback = Feedback.model_validate(upload.feedback)
        return self.page(request, "feedback.html", upload=upload, preview=feedback.preview,
                         compared=feedback.compared, jump=MONTH_ON_MONTH_JUMP, state=state,
                         may_submit=account.role == "agency" and upload.submitted_at is None)

    async def submit(self, request: Request) -> Response:
        account = self.signed_in(request)
        await self.form(request)
        upload = self.readable(account, request.path_params["upload_id"])
        agency = self.uploader(account)
        if upload.submitted_at is None:
            self.submit_upload(agency, upload)
        return RedirectResponse(f"/uploads/{upload.id}", 303)

    def submit_upload(self, agency, upload: Upload) -> str:
        landed = land(self.settings.data_dir / "landing", agency, upload.month, upload.file_name,
                      self.settings.portal_dir / "uploads" / upload.sha256)
        self.store.mark_submitted(upload.id, landed)
        return landed

    async def download(self, request: Request) -> Response:
        upload = self.readable(self.signed_in(request), request.path_params["upload_id"])
        return FileResponse(self.settings.portal_dir / "uploads" / upload.sha256, filename=upload.file_name,
                            media_type="application/octet-stream")

    # the API: a bearer token per agency
    def token_agency(self, request: Request) -> str:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        agency_id = self.store.agency_of_token(token) if scheme.lower() == "bearer" and token else None
        if agency_id is None:
            raise HTTPException(401, "Send the agency's API token as 'Authorization: Bearer <token>'.")
        if agency_id != request.path_params["agency_id"]:
            raise HTTPException(403, "This token is not for that agency.")
        return agency_id

    async def api_returns(self, request: Request) -> Response:
        agency_id = self.token_agency(request)
        submissions = self.store.submissions(agency_id)
        states = self.states(submissions)
        return JSONResponse([_described(upload) | {"status": state.as_json()}
                             for upload, state in zip(submissions, states)])

    async def api_upload(self, request: Request) -> Response:
        agency_id = self.token_agency(request)
        account = Account(f"api:{agency_id}", "agency", agency_id)
        agency = self.uploader(account)
        month, file_name = request.path_params["month"], request.path_params["file_name"]
        if (problem := _month_problem(month)) is not None:
            raise HTTPException(400, f"{problem}.")
        names = file_names(self.config, agency)
        if file_name not in names:
            raise HTTPException(400, f"The file name in the address is one of: {', '.join(names)}.")
        with tempfile.SpooledTemporaryFile(1 << 20) as body:
            async for chunk in request.stream():
                body.write(chunk)
            body.seek(0)
            upload = await self.check(account, agency, month, file_name, body)
        submitting = request.query_params.get("submit") == "true"
        if submitting:
            self.submit_upload(agency, upload)
            upload = self.store.upload(upload.id)
        return JSONResponse(_described(upload) | {"feedback": upload.feedback}, status_code=201 if submitting else 200)

    # errors: a page that says what to do (JSON under /api/)
    async def error(self, request: Request, exc: HTTPException) -> Response:
        title, advice = ERRORS.get(exc.status_code, ERRORS[500])
        message = advice if exc.detail == HTTPStatus(exc.status_code).phrase else exc.detail  # Starlette's own
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": message}, status_code=exc.status_code, headers=exc.headers)
        if exc.status_code == 401:
            return RedirectResponse("/sign-in", 303)
        return self.page(request, "error.html", exc.status_code, title=title, message=message)

    async def failure(self, request: Request, exc: Exception) -> Response:
        """Anything unforeseen: the page says what to do; the traceback goes to the server's log only."""
        title, advice = ERRORS[500]
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": advice}, status_code=500)
        # rendered without the session: this handler runs outside the middleware that reads it
        return self.templates.TemplateResponse(request, "error.html", {"title": title, "message": advice,
                                                                       "account": None}, status_code=500)


# The title and the advice of an error page, where the error itself says nothing more
ERRORS = {403: ("You cannot do that", "Your account cannot do that. Go back to your returns."),
          404: ("Page not found", "Check the address, or go to your returns."),
          405: ("Page not found", "Check the address, or go to your returns."),
          413: ("The file is too large", "Send a smaller file."),
          500: ("Sorry, there is a problem with the service", "Try again later. If it goes on, tell the central "
                                                              "team what you were doing and when.")}


def _described(upload: Upload) -> dict:
    """The upload's record as JSON, its feedback aside."""
    return {key: value for key, value in asdict(upload).items() if key != "feedback"}


def _month_problem(month: str) -> str | None:
    """Why `month` cannot be a return's month, if it cannot: not YYYY-MM, or not ended yet (the submission sensor
    waits for a month to end; a return submitted early would sit unread)."""
    if not MONTH.fullmatch(month):
        return "Enter the month of the return as YYYY-MM, for example 2025-06"
    if month > _last_month():
        return f"The month {month} has not ended yet: submit its return once it has"
    return None


def _last_month() -> str:
    first = dt.date.today().replace(day=1)
    return (first - dt.timedelta(days=1)).strftime("%Y-%m")


SECURITY_HEADERS = {"Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'",
                    "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin", "Cache-Control": "no-store"}


class SecurityHeaders:
    """ASGI middleware: the headers above on every response (no inline script, no framing, nothing cached)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        async def with_headers(message):
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).update(SECURITY_HEADERS)
            await send(message)
        await self.app(scope, receive, with_headers)


def create_app(settings: PortalSettings | None = None) -> Starlette:
    settings = settings or PortalSettings.from_environment()
    portal = Portal(settings)
    routes = [
        Route("/", portal.home),
        Route("/sign-in", portal.sign_in_form, methods=["GET"]),
        Route("/sign-in", portal.sign_in, methods=["POST"]),
        Route("/sign-out", portal.sign_out, methods=["POST"]),
        Route("/returns", portal.returns),
        Route("/upload", portal.upload_form, methods=["GET"]),
        Route("/upload", portal.upload, methods=["POST"]),
        Route("/uploads/{upload_id}", portal.upload_page),
        Route("/uploads/{upload_id}/submit", portal.submit, methods=["POST"]),
        Route("/uploads/{upload_id}/file", portal.download),
        Route("/api/agencies/{agency_id}/returns", portal.api_returns, methods=["GET"]),
        Route("/api/agencies/{agency_id}/returns/{month}/{file_name}", portal.api_upload, methods=["POST"]),
        Mount("/assets", StaticFiles(directory=GOVUK / "assets", check_dir=False), name="assets"),
        Mount("/govuk", StaticFiles(directory=GOVUK, check_dir=False), name="govuk"),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    middleware = [Middleware(SecurityHeaders),
                  Middleware(SessionMiddleware, secret_key=settings.session_key(), session_cookie="portal_session",
                             max_age=SESSION_SECONDS, same_site="strict", https_only=settings.secure_cookies),
                  Middleware(BodyLimit, max_bytes=portal.max_bytes + FORM_OVERHEAD_BYTES)]
    return Starlette(routes=routes, middleware=middleware,
                     exception_handlers={HTTPException: portal.error, Exception: portal.failure})
