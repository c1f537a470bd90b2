"""serve_in_thread: the sandboxed site on a real socket (plain HTTP, or HTTPS with a
self-signed certificate made for the occasion), in a background thread."""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from shopbridge.sandbox.etsy.server import _QuietDrops, bind

from .app import create_app
from .config import WooSandboxConfig
from .world import WooSandbox


@dataclass(frozen=True)
class WooSandboxHandle:
    base_url: str
    consumer_key: str
    consumer_secret: str
    sandbox: WooSandbox
    ca_file: str | None = None  # the certificate to trust over HTTPS


def self_signed(directory: Path) -> tuple[str, str]:
    """A certificate for localhost and 127.0.0.1 (and its key), valid for a day."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "sandbox-cert.pem", directory / "sandbox-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return str(cert_path), str(key_path)


def uvicorn_config(app: object, https_files: tuple[str, str] | None) -> uvicorn.Config:
    extra = {}
    if https_files is not None:
        extra = {"ssl_certfile": https_files[0], "ssl_keyfile": https_files[1]}
    return uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False, **extra)  # type: ignore[arg-type]


@contextmanager
def serve_in_thread(
    config: WooSandboxConfig | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    https: bool = False,
) -> Iterator[WooSandboxHandle]:
    """Run the site on (host, port) until the block exits (port 0: any free port)."""
    app = create_app(config)
    sock = bind(host, port)
    logging.getLogger("uvicorn.error").addFilter(_QuietDrops())
    with tempfile.TemporaryDirectory(prefix="woo-sandbox-") as tmp:
        files = self_signed(Path(tmp)) if https else None
        server = uvicorn.Server(uvicorn_config(app, files))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        try:
            deadline = time.monotonic() + 15
            while not server.started:
                if not thread.is_alive() or time.monotonic() > deadline:
                    raise RuntimeError("the WooCommerce sandbox server did not start")
                time.sleep(0.01)
            bound_host, bound_port = sock.getsockname()[:2]
            url_host = "localhost" if https else bound_host
            world: WooSandbox = app.state.sandbox
            world.public_url = f"{'https' if https else 'http'}://{url_host}:{bound_port}"
            yield WooSandboxHandle(
                base_url=world.public_url,
                consumer_key=world.config.key(),
                consumer_secret=world.config.secret(),
                sandbox=world,
                ca_file=files[0] if files else None,
            )
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            sock.close()
