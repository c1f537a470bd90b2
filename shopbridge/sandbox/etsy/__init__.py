"""A faithful local Etsy Open API v3: OAuth, rate limits, faults and a living shop.

config = SandboxConfig(seed=7, listings=300, receipts=5000)
app = create_app(config)              # in process: httpx.ASGITransport(app)
world = app.state.sandbox             # EtsySandbox: mutate the shop between requests
with serve_in_thread(config) as sb:   # on a real socket: sb.base_url, sb.keystring, ...
    ...
"""

from .app import create_app
from .config import SandboxConfig
from .faults import FaultRule
from .middleware import DroppedConnection
from .server import SandboxHandle, serve_in_thread
from .world import EtsySandbox, ReceiptQuery

__all__ = [
    "DroppedConnection",
    "EtsySandbox",
    "FaultRule",
    "ReceiptQuery",
    "SandboxConfig",
    "SandboxHandle",
    "create_app",
    "serve_in_thread",
]
