"""The dashboard: server-rendered pages (Jinja2 + vendored htmx) and a JSON API under /api/v1.

Routes parse, call a store/jobs service and render; no SQL here. Every page but the login and
first-user forms needs a session; every unsafe request needs the session's CSRF token and, when
the browser names one, our own Origin.
"""

from __future__ import annotations

import os
import secrets
import time
from collections import defaultdict, deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from itsdangerous import BadSignature, URLSafeTimedSerializer

from shopbridge.config import Settings
from shopbridge.errors import ShopbridgeError
from shopbridge.store import users
from shopbridge.store.db import Database
from shopbridge.store.shops import ShopNotFoundError
from shopbridge.web import api, pages
from shopbridge.web.services import Dashboard

HERE = Path(__file__).parent
COOKIE = "shopbridge_session"
SESSION_MAX_AGE = 12 * 3600
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
PUBLIC = ("/login", "/setup", "/static/")
THROTTLE_FAILURES = 5
THROTTLE_WINDOW = 15 * 60
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)


def session_secret(settings: Settings) -> str:
    """The signing key of session cookies: a 0600 file in the data directory, made once."""
    path = settings.home / "web-session.key"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as out:
        out.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


class Throttle:
    """Failed logins per client address and per user name; after THROTTLE_FAILURES in the
    window, further attempts are refused until the oldest failure ages out."""

    def __init__(self, limit: int = THROTTLE_FAILURES, window: float = THROTTLE_WINDOW) -> None:
        self.limit, self.window = limit, window
        self.failures: dict[str, deque[float]] = defaultdict(deque)

    def _recent(self, key: str) -> deque[float]:
        times, now = self.failures[key], time.monotonic()
        while times and now - times[0] > self.window:
            times.popleft()
        return times

    def blocked(self, *keys: str) -> bool:
        return any(len(self._recent(k)) >= self.limit for k in keys)

    def fail(self, *keys: str) -> None:
        for key in keys:
            self._recent(key).append(time.monotonic())

    def clear(self, *keys: str) -> None:
        for key in keys:
            self.failures.pop(key, None)


def create_app(
    settings: Settings,
    database: Database,
    secret: str | None = None,
    *,
    dashboard_service: Dashboard | None = None,
    routers: Sequence[APIRouter] = (),
    open_to_all: Sequence[str] = (),
) -> FastAPI:
    """The dashboard and its API. `routers` are mounted beside them (`serve` mounts the
    webhook receivers there); paths under `open_to_all` need no session and no CSRF token (a
    webhook proves itself with its signature)."""
    # FastAPI's Swagger and ReDoc pages load scripts from a CDN and run inline script, which
    # the CSP forbids (and an offline machine cannot fetch): /api/docs is rendered here instead.
    app = FastAPI(title="shopbridge", description=api.__doc__ or "", docs_url=None,
                  redoc_url=None, openapi_url="/api/openapi.json")
    signer = URLSafeTimedSerializer(secret or session_secret(settings), salt="session")
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.globals.update(money=money, query=query)
    throttle = Throttle()
    unguarded = tuple(open_to_all)
    open_paths = PUBLIC + unguarded
    app.state.throttle = throttle
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    def load_session(request: Request) -> dict[str, Any]:
        raw = request.cookies.get(COOKIE)
        if raw:
            try:
                data = signer.loads(raw, max_age=SESSION_MAX_AGE)
                if isinstance(data, dict):
                    return data
            except BadSignature:
                pass
        return {}

    @app.middleware("http")
    async def guard(request: Request, call_next: Any) -> Response:
        session = load_session(request)
        fresh = "csrf" not in session
        if fresh:
            session = {"csrf": secrets.token_urlsafe(32)}
        request.state.session = session
        request.state.user = None
        request.state.token = None
        path = request.url.path
        bearer = request.headers.get("authorization", "")
        if bearer.lower().startswith("bearer ") and path.startswith("/api/"):
            request.state.token = users.verify_token(database, bearer[7:].strip())
            if request.state.token is None:
                return _secure(JSONResponse({"detail": "invalid token"}, status_code=401))
        elif "uid" in session:
            name = users.user_name(database, int(session["uid"]))
            if name is None:  # removed since: the session ends
                session = {"csrf": secrets.token_urlsafe(32)}
                request.state.session = session
                fresh = True
            request.state.user = name
        if unguarded and path.startswith(unguarded):
            return _secure(await call_next(request))
        if request.method in UNSAFE and request.state.token is None:
            origin = request.headers.get("origin")
            own = f"{request.url.scheme}://{request.url.netloc}"
            if origin is not None and origin != own:
                return _secure(_refuse(request, 403, "refused: the request came from another site"))
            sent = request.headers.get("x-csrf-token")
            if sent is None and request.headers.get("content-type", "").startswith(
                "application/x-www-form-urlencoded"
            ):
                # The raw body (Starlette replays it to the route); parsing the form here
                # would consume it.
                fields = parse_qs((await request.body()).decode("utf-8", "replace"))
                sent = next(iter(fields.get("csrf", [])), None)
            if fresh or not sent or not secrets.compare_digest(sent, session["csrf"]):
                return _secure(
                    _refuse(
                        request,
                        403,
                        "refused: the form expired or was not sent from here "
                        "(CSRF token missing or wrong); reload the page and try again",
                    )
                )
        public = path.startswith(open_paths)
        if request.state.user is None and request.state.token is None and not public:
            if path.startswith("/api/"):
                return _secure(JSONResponse({"detail": "login required"}, status_code=401))
            target = "/setup" if users.user_count(database) == 0 else "/login"
            response: Response = RedirectResponse(target, status_code=303)
        else:
            response = await call_next(request)
        if (
            fresh
            or request.state.session is not session
            or getattr(request.state, "session_changed", False)
        ):
            _set_cookie(request, response, signer.dumps(request.state.session))
        return _secure(response)

    def page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        session = request.state.session
        flash = session.pop("flash", None)
        if flash is not None:
            request.state.session_changed = True
        context.update(
            request=request,
            user=request.state.user,
            csrf=session["csrf"],
            flash=flash,
            # An htmx request for a list's results gets them alone (templates/bare.html).
            partial=request.headers.get("hx-request") == "true"
            and request.headers.get("hx-target") == "results",
        )
        return templates.TemplateResponse(request, name, context, status_code=status)

    def start_session(request: Request, user_id: int) -> None:
        request.state.session = {"csrf": secrets.token_urlsafe(32), "uid": user_id}
        request.state.session_changed = True

    # --- first user, login, logout --------------------------------------------------------

    @app.get("/setup", response_class=HTMLResponse)
    def setup_form(request: Request) -> Response:
        if users.user_count(database):
            return RedirectResponse("/login", status_code=303)
        return page(request, "setup.html", error=None)

    @app.post("/setup", response_class=HTMLResponse)
    def setup(request: Request, name: str = Form(""), password: str = Form("")) -> Response:
        try:
            user_id = users.add_user(database, name[:200], password[:2000], only_if_none=True)
        except ShopbridgeError as exc:
            return page(request, "setup.html", 400, error=str(exc))
        start_session(request, user_id)
        return RedirectResponse("/", status_code=303)

    @app.get("/login", response_class=HTMLResponse)
    def login_form(request: Request) -> Response:
        if users.user_count(database) == 0:
            return RedirectResponse("/setup", status_code=303)
        return page(request, "login.html", error=None)

    @app.post("/login", response_class=HTMLResponse)
    def login(request: Request, name: str = Form(""), password: str = Form("")) -> Response:
        client = request.client.host if request.client else "?"
        keys = (f"ip:{client}", f"user:{name[:200]}")
        if throttle.blocked(*keys):
            return page(
                request,
                "login.html",
                429,
                error="too many failed logins: wait 15 minutes and try again",
            )
        user_id = users.authenticate(database, name, password)
        if user_id is None:
            throttle.fail(*keys)
            return page(request, "login.html", 401, error="wrong user name or password",
                        typed=name[:100])
        throttle.clear(*keys)
        start_session(request, user_id)
        return RedirectResponse("/", status_code=303)

    @app.post("/logout")
    def logout(request: Request) -> Response:
        request.state.session = {"csrf": secrets.token_urlsafe(32)}
        request.state.session_changed = True
        return RedirectResponse("/login", status_code=303)

    # --- pages, the JSON API, and whatever else is mounted (webhook receivers) ---------------

    dash = dashboard_service or Dashboard(settings, database)
    app.state.dashboard = dash

    @app.exception_handler(ShopbridgeError)
    async def shopbridge_error(request: Request, exc: ShopbridgeError) -> Response:
        status = 404 if isinstance(exc, ShopNotFoundError) else 400
        return _problem(request, status, str(exc))

    @app.exception_handler(LookupError)
    async def not_found(request: Request, exc: LookupError) -> Response:
        return _problem(request, 404, str(exc.args[0]) if exc.args else "not found")

    def _problem(request: Request, status: int, message: str) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": message}, status_code=status)
        return page(request, "message.html", status, message=message)

    @app.get("/api/docs", response_class=HTMLResponse, include_in_schema=False)
    def api_docs(request: Request) -> Response:
        return page(request, "api_docs.html", operations=api.operations(app.openapi()))

    app.include_router(pages.router(dash, page))
    app.include_router(api.router(dash))
    for extra in routers:
        app.include_router(extra)
    return app


def money(amount: Any, currency: str | None) -> str:
    """A ledger amount (a Decimal's text, already at its currency's exponent) with its
    currency: 12.50 USD. Never through float."""
    if amount is None or amount == "":
        return ""
    return f"{amount} {currency}" if currency else str(amount)


def query(request: Request, **changes: str) -> str:
    """The page's query string with some parameters replaced (the next page keeps the
    filters)."""
    params = {k: v for k, v in request.query_params.items() if k not in changes}
    params.update({k: v for k, v in changes.items() if v})
    return urlencode(params)


def _refuse(request: Request, status: int, message: str) -> Response:
    if request.url.path.startswith("/api/"):
        return JSONResponse({"detail": message}, status_code=status)
    return HTMLResponse(
        "<!doctype html><html lang=en><title>Refused</title>"
        f'<link rel="stylesheet" href="/static/style.css"><main><p class="error">{message}</p>'
        '<p><a href="/">Back to the dashboard</a></p></main></html>',
        status_code=status,
    )


def _set_cookie(request: Request, response: Response, value: str) -> None:
    https = request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"
    response.set_cookie(
        COOKIE,
        value,
        max_age=SESSION_MAX_AGE,
        httponly=True,
        samesite="lax",
        secure=https,
        path="/",
    )


def _secure(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Frame-Options"] = "DENY"
    return response
