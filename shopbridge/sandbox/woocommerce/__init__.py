"""A faithful local WooCommerce REST API v3 (/wp-json/wc/v3): products and variations, orders
with every line type and refunds, notes, customers, settings, batches, WordPress paging and
date semantics, Basic auth over HTTPS and OAuth 1.0a over HTTP, faults and a control API.

config = WooSandboxConfig(seed=7, products=40, orders=300)
app = create_app(config)                  # in process: httpx.ASGITransport(app)
site = app.state.sandbox                  # WooSandbox: change the site between requests
with serve_in_thread(config) as sb:       # on a real socket: sb.base_url, sb.consumer_key, ...
    ...
"""

from .app import create_app
from .config import WooSandboxConfig
from .server import WooSandboxHandle, serve_in_thread
from .world import WooError, WooSandbox

__all__ = [
    "WooError",
    "WooSandbox",
    "WooSandboxConfig",
    "WooSandboxHandle",
    "create_app",
    "serve_in_thread",
]
