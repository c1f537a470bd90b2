"""serve_in_thread: the sandbox on a real socket, in a background thread."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn

from .app import create_app
from .config import SandboxConfig
from .middleware import DroppedConnection
from .world import EtsySandbox


@dataclass(frozen=True)
class SandboxHandle:
    base_url: str
    keystring: str
    shared_secret: str
    shops: list[tuple[int, int]]  # (user_id, shop_id)
    sandbox: EtsySandbox

    @property
    def api_key(self) -> str:
        """The x-api-key header value."""
        return f"{self.keystring}:{self.shared_secret}"


class _QuietDrops(logging.Filter):
    """Injected dropped connections are intended; keep them out of uvicorn's error log."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, DroppedConnection)


def bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


@contextmanager
def serve_in_thread(
    config: SandboxConfig | None = None, host: str = "127.0.0.1", port: int = 0
) -> Iterator[SandboxHandle]:
    """Run uvicorn on (host, port) (port 0: any free port) until the block exits."""
    app = create_app(config)
    sock = bind(host, port)
    logging.getLogger("uvicorn.error").addFilter(_QuietDrops())
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 15
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the Etsy sandbox server did not start")
            time.sleep(0.01)
        bound_host, bound_port = sock.getsockname()[:2]
        url_host = f"[{bound_host}]" if ":" in bound_host else bound_host
        world: EtsySandbox = app.state.sandbox
        yield SandboxHandle(
            base_url=f"http://{url_host}:{bound_port}",
            keystring=world.keystring,
            shared_secret=world.shared_secret,
            shops=world.shops,
            sandbox=world,
        )
    finally:
        app.state.sandbox.webhooks.stop()
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
