"""OAuth 2.0 endpoints: /oauth/connect (authorize, PKCE S256) and /v3/public/oauth/token.

Sandbox extension: `/oauth/connect` takes an optional `user_id` choosing which shop owner
signs in (default: the first shop's owner); the consent page offers every owner.
"""

from __future__ import annotations

import html
from urllib.parse import urlencode

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from .api import json_response
from .errors import EtsyError
from .params import Params, form_params
from .tokens import ALL_SCOPES
from .world import EtsySandbox

router = APIRouter()
CONNECT_FIELDS = frozenset(
    "response_type client_id redirect_uri scope state code_challenge code_challenge_method "
    "user_id".split()
)
TOKEN_FIELDS = frozenset(
    "grant_type client_id redirect_uri code code_verifier refresh_token scope".split()
)


def _redirect(uri: str, **params: str) -> RedirectResponse:
    sep = "&" if "?" in uri else "?"
    return RedirectResponse(f"{uri}{sep}{urlencode(params)}", status_code=302)


def _page(status: int, title: str, body: str) -> HTMLResponse:
    doc = f"<!doctype html><title>{html.escape(title)}</title><h1>{html.escape(title)}</h1>{body}"
    return HTMLResponse(doc, status_code=status)


def _validate(world: EtsySandbox, p: Params) -> tuple[str, str, Response | None]:
    """(redirect_uri, state, an early response or None) for an authorization request."""
    client_id = p.text("client_id") or ""
    redirect_uri = p.text("redirect_uri") or ""
    state = p.text("state") or ""
    if client_id != world.keystring:
        return redirect_uri, state, _page(400, "Invalid client_id", "<p>Unknown application.</p>")
    if redirect_uri not in world.config.redirect_uris:
        msg = "<p>The redirect_uri does not match a registered callback URL.</p>"
        return redirect_uri, state, _page(400, "Invalid redirect_uri", msg)
    if p.text("response_type") != "code":
        fail = _redirect(redirect_uri, error="unsupported_response_type", state=state)
        return redirect_uri, state, fail
    problem = None
    if not state:
        problem = "state is required"
    elif p.text("code_challenge_method") != "S256" or not p.text("code_challenge"):
        problem = "code_challenge with code_challenge_method=S256 is required"
    if problem:
        fail = _redirect(
            redirect_uri, error="invalid_request", error_description=problem, state=state
        )
        return redirect_uri, state, fail
    scopes = (p.text("scope") or "").split()
    if not scopes or set(scopes) - ALL_SCOPES:
        fail = _redirect(
            redirect_uri, error="invalid_scope", error_description="invalid scope", state=state
        )
        return redirect_uri, state, fail
    return redirect_uri, state, None


def _user(world: EtsySandbox, p: Params) -> int:
    users = [u for u, _ in world.shops]
    chosen = p.integer("user_id", default=users[0])
    if chosen not in users:
        raise EtsyError(400, "invalid_request", "unknown sandbox user_id")
    assert chosen is not None
    return chosen


def _approve(world: EtsySandbox, p: Params, redirect_uri: str, state: str) -> RedirectResponse:
    scopes = tuple((p.text("scope") or "").split())
    code = world.tokens.create_code(
        _user(world, p), scopes, redirect_uri, p.text("code_challenge") or ""
    )
    return _redirect(redirect_uri, code=code, state=state)


@router.get("/oauth/connect", include_in_schema=False)
async def connect(request: Request) -> Response:
    world: EtsySandbox = request.app.state.sandbox
    try:
        p = Params.from_query(request, CONNECT_FIELDS)
        redirect_uri, state, early = _validate(world, p)
        if early is not None:
            return early
        if world.config.auto_approve:
            return _approve(world, p, redirect_uri, state)
        return _consent_page(world, p)
    except EtsyError as exc:
        return _page(exc.status, "Invalid request", f"<p>{html.escape(str(exc))}</p>")


def _consent_page(world: EtsySandbox, p: Params) -> HTMLResponse:
    hidden = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v[0])}">'
        for k, v in p.values.items()
        if k != "user_id"
    )
    options = "".join(f'<option value="{u}">user {u} (shop {s})</option>' for u, s in world.shops)
    scopes = html.escape(p.text("scope") or "")
    body = (
        f"<p>The application asks for: <code>{scopes}</code></p>"
        f'<form method="post" action="/oauth/connect">{hidden}'
        f'<label>Sign in as <select name="user_id">{options}</select></label> '
        '<button name="decision" value="allow">Allow access</button> '
        '<button name="decision" value="deny">Deny</button></form>'
    )
    return _page(200, "Sandbox Etsy: grant access", body)


@router.post("/oauth/connect", include_in_schema=False)
async def consent(request: Request) -> Response:
    world: EtsySandbox = request.app.state.sandbox
    try:
        p = await form_params(request, CONNECT_FIELDS | {"decision"})
        redirect_uri, state, early = _validate(world, p)
        if early is not None:
            return early
        if p.text("decision") != "allow":
            return _redirect(
                redirect_uri, error="access_denied", error_description="user denied", state=state
            )
        return _approve(world, p, redirect_uri, state)
    except EtsyError as exc:
        return _page(exc.status, "Invalid request", f"<p>{html.escape(str(exc))}</p>")


@router.post("/v3/public/oauth/token", include_in_schema=False)
async def token(request: Request) -> Response:
    """Code exchange (with code_verifier) and refresh (with rotation); 400 invalid_grant etc."""
    world: EtsySandbox = request.app.state.sandbox
    try:
        p = await form_params(request, TOKEN_FIELDS)
        grant = p.text("grant_type")
        if p.text("client_id") != world.keystring:
            raise EtsyError(400, "invalid_client", "client_id is invalid")
        if grant == "authorization_code":
            code, verifier = p.text("code"), p.text("code_verifier")
            redirect_uri = p.text("redirect_uri")
            if not code or not verifier or not redirect_uri:
                raise EtsyError(
                    400, "invalid_request", "code, code_verifier and redirect_uri are required"
                )
            return json_response(200, world.tokens.redeem_code(code, redirect_uri, verifier))
        if grant == "refresh_token":
            refresh = p.text("refresh_token")
            if not refresh:
                raise EtsyError(400, "invalid_request", "refresh_token is required")
            return json_response(200, world.tokens.refresh(refresh))
        raise EtsyError(400, "unsupported_grant_type", f"grant_type {grant!r} is not supported")
    except EtsyError as exc:
        return json_response(exc.status, exc.body, exc.headers)
