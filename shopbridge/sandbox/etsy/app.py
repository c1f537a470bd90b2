"""create_app: the FastAPI application serving one sandboxed Etsy. No lifespan is needed."""

from __future__ import annotations

import logging

from fastapi import FastAPI
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response

from . import control, oauth
from .api import ENDPOINTS, PREFIX, json_response, make_route
from .config import SandboxConfig
from .middleware import SandboxMiddleware
from .world import EtsySandbox

log = logging.getLogger("shopbridge.sandbox.etsy")


def create_app(config: SandboxConfig | None = None) -> FastAPI:
    """A ready app; `app.state.sandbox` is its EtsySandbox (the world)."""
    world = EtsySandbox(config or SandboxConfig())
    app = FastAPI(title="shopbridge Etsy sandbox", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.sandbox = world
    for ep in ENDPOINTS:
        app.add_api_route(
            PREFIX + ep.path,
            make_route(ep),
            methods=[ep.method],
            name=ep.operation,
            include_in_schema=False,
        )
    app.include_router(oauth.router)
    app.include_router(control.router)
    app.add_middleware(SandboxMiddleware, world=world)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
    return app


async def _http_error(request: Request, exc: Exception) -> Response:
    """404/405 from routing, in Etsy's shape."""
    assert isinstance(exc, StarletteHTTPException)
    return json_response(exc.status_code, {"error": str(exc.detail)}, dict(exc.headers or {}))


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("sandbox error on %s %s", request.method, request.url.path)
    return json_response(500, {"error": "Internal Server Error"})
