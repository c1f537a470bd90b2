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
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from itsdangerous import BadSignature, URLSafeTimedSerializer

from shopbridge.config import Settings
from shopbridge.errors import ShopbridgeError
from shopbridge.store import dashboard, users
from shopbridge.store import runs as history
from shopbridge.store.db import Database

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


def create_app(settings: Settings, database: Database, secret: str | None = None) -> FastAPI:
    app = FastAPI(title="shopbridge", docs_url="/api/docs", openapi_url="/api/openapi.json")
    signer = URLSafeTimedSerializer(secret or session_secret(settings), salt="session")
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    throttle = Throttle()
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
        public = path.startswith(PUBLIC)
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
        context.update(
            request=request,
            user=request.state.user,
            csrf=request.state.session["csrf"],
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
            return page(request, "login.html", 401, error="wrong user name or password")
        throttle.clear(*keys)
        start_session(request, user_id)
        return RedirectResponse("/", status_code=303)

    @app.post("/logout")
    def logout(request: Request) -> Response:
        request.state.session = {"csrf": secrets.token_urlsafe(32)}
        request.state.session_changed = True
        return RedirectResponse("/login", status_code=303)

    # --- pages ------------------------------------------------------------------------------

    @app.get("/", response_class=HTMLResponse)
    def overview(request: Request) -> Response:
        shops = dashboard.shop_rows(database)
        last = history.last_runs(database)
        for shop in shops:
            shop["streams"] = {
                stream: run for (sid, stream), run in last.items() if sid == shop["id"]
            }
        alerts = [s for s in shops if s["status"] != "connected" or s["open_errors"]]
        return page(request, "overview.html", shops=shops, alerts=alerts)

    @app.get("/runs", response_class=HTMLResponse)
    def runs_page(request: Request, shop: str | None = None, failed: bool = False) -> Response:
        rows = history.list_runs(database, shop[:200] if shop else None, failed, 100)
        return page(request, "runs.html", runs=rows, shop=shop or "", failed=failed)

    @app.get("/runs/{run_id}", response_class=HTMLResponse)
    def run_page(request: Request, run_id: int) -> Response:
        run = history.get_run(database, run_id, 500)
        if run is None:
            return page(request, "message.html", 404, message=f"no run {run_id}")
        return page(request, "run.html", run=run)

    # --- JSON API ----------------------------------------------------------------------------

    @app.get("/api/v1/shops")
    def api_shops() -> list[dict[str, Any]]:
        return dashboard.shop_rows(database)

    @app.get("/api/v1/runs")
    def api_runs(shop: str | None = None, failed: bool = False, limit: int = 50) -> Any:
        if not 1 <= limit <= 1000:
            raise HTTPException(422, "limit is 1 to 1000")
        return history.list_runs(database, shop, failed, limit)

    @app.get("/api/v1/runs/{run_id}")
    def api_run(run_id: int) -> Any:
        run = history.get_run(database, run_id, 500)
        if run is None:
            raise HTTPException(404, f"no run {run_id}")
        return run

    return app


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
