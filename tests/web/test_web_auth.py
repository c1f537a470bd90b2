"""The dashboard's doors: first user, login, throttling, sessions, CSRF, Origin, headers, tokens."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from shopbridge.config import load_settings
from shopbridge.store import users
from shopbridge.store.db import Database
from shopbridge.web.app import COOKIE, create_app

PASSWORD = "correct horse battery"


@pytest.fixture
def database(tmp_path: Path) -> Database:
    db = Database(f"sqlite:///{tmp_path / 'ledger.db'}")
    db.create_schema_if_empty()
    return db


@pytest.fixture
def client(tmp_path: Path, database: Database) -> TestClient:
    settings = load_settings(home=tmp_path)
    return TestClient(create_app(settings, database, secret="test-secret"))


def csrf(client: TestClient, path: str = "/login") -> str:
    found = re.search(r'name="csrf-token" content="([^"]+)"', client.get(path).text)
    assert found
    return found.group(1)


def login(client: TestClient, name: str = "ann", password: str = PASSWORD) -> int:
    token = csrf(client)
    return client.post(
        "/login", data={"name": name, "password": password, "csrf": token}, follow_redirects=False
    ).status_code


def test_fresh_directory_asks_for_the_first_user_and_nothing_else_is_reachable(
    client: TestClient, database: Database
) -> None:
    for path in ("/", "/runs", "/runs/1", "/login"):
        answer = client.get(path, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"] == "/setup"
    assert client.get("/api/v1/shops").status_code == 401
    token = csrf(client, "/setup")
    short = client.post("/setup", data={"name": "ann", "password": "short", "csrf": token})
    assert short.status_code == 400 and "8 to" in short.text and users.user_count(database) == 0
    made = client.post(
        "/setup", data={"name": "ann", "password": PASSWORD, "csrf": token}, follow_redirects=False
    )
    assert made.status_code == 303 and users.user_count(database) == 1
    overview = client.get("/")
    assert overview.status_code == 200 and "No shops yet" in overview.text
    # Once a user exists the form is gone, and a second first user is refused.
    other = TestClient(client.app)
    assert other.get("/setup", follow_redirects=False).headers["location"] == "/login"
    again = other.post("/setup", data={"name": "eve", "password": PASSWORD, "csrf": csrf(other)})
    assert again.status_code == 400 and users.user_count(database) == 1


def test_login_wrong_password_throttling_logout(client: TestClient, database: Database) -> None:
    users.add_user(database, "ann", PASSWORD)
    assert login(client, password="wrong password") == 401
    for _ in range(4):
        assert login(client, password="wrong password") == 401
    assert login(client) == 429  # throttled, even with the right password
    client.app.state.throttle.failures.clear()
    assert login(client) == 303
    assert client.get("/").status_code == 200
    cookie = client.cookies[COOKIE]
    assert (
        client.post("/logout", data={"csrf": csrf(client, "/")}, follow_redirects=False).status_code
        == 303
    )
    assert client.get("/", follow_redirects=False).status_code == 303
    # The old cookie replayed is still signed; removing the user ends it.
    client.cookies.clear()
    client.cookies.set(COOKIE, cookie)
    assert client.get("/").status_code == 200
    users.remove_user(database, "ann")
    assert client.get("/", follow_redirects=False).status_code == 303


def test_cookie_flags_and_security_headers(client: TestClient, database: Database) -> None:
    users.add_user(database, "ann", PASSWORD)
    token = csrf(client)
    answer = client.post(
        "/login", data={"name": "ann", "password": PASSWORD, "csrf": token}, follow_redirects=False
    )
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
    page = client.get("/")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert "unsafe-inline" not in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "same-origin"
    assert "<script>" not in page.text  # only src= scripts: the CSP holds
    behind = client.get("/login", headers={"x-forwarded-proto": "https"})
    fresh = TestClient(client.app).get("/login", headers={"x-forwarded-proto": "https"})
    assert behind.status_code == 200 and "secure" in fresh.headers["set-cookie"].lower()


def test_forged_csrf_foreign_origin_expired_session_and_long_input(
    client: TestClient, database: Database
) -> None:
    users.add_user(database, "ann", PASSWORD)
    assert login(client) == 303
    forged = client.post("/logout", data={"csrf": "forged"}, follow_redirects=False)
    assert forged.status_code == 403 and "CSRF" in forged.text
    missing = client.post("/logout", follow_redirects=False)
    assert missing.status_code == 403
    token = csrf(client, "/")
    foreign = client.post(
        "/logout", data={"csrf": token}, headers={"origin": "https://evil.example"}
    )
    assert foreign.status_code == 403 and "another site" in foreign.text
    assert client.get("/").status_code == 200  # still logged in: nothing changed
    # htmx sends the token as a header.
    assert (
        client.post("/logout", headers={"x-csrf-token": token}, follow_redirects=False).status_code
        == 303
    )
    # An expired or tampered cookie is no session.
    client.cookies.clear()
    client.cookies.set(COOKIE, "garbage.signature")
    assert client.get("/", follow_redirects=False).status_code == 303
    client.cookies.clear()
    long = "x" * 10_000
    answer = client.post("/login", data={"name": long, "password": long, "csrf": csrf(client)})
    assert answer.status_code == 401 and "Traceback" not in answer.text
    assert client.get("/runs", params={"shop": long}, follow_redirects=False).status_code == 303


def test_expired_session(client: TestClient, database: Database, monkeypatch) -> None:
    users.add_user(database, "ann", PASSWORD)
    assert login(client) == 303
    import itsdangerous.timed

    later = itsdangerous.timed.time.time() + 13 * 3600
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: later)
    assert client.get("/", follow_redirects=False).headers["location"] == "/login"


def test_api_token(client: TestClient, database: Database) -> None:
    token = users.create_token(database, "ci")
    assert users.verify_token(database, token) == "ci"
    answer = client.get("/api/v1/shops", headers={"authorization": f"Bearer {token}"})
    assert answer.status_code == 200 and answer.json() == []
    assert (
        client.get("/api/v1/runs", headers={"authorization": "Bearer sbt_nope"}).status_code == 401
    )
    assert (
        client.get("/api/v1/runs?limit=0", headers={"authorization": f"Bearer {token}"}).status_code
        == 422
    )
    assert users.list_tokens(database)[0]["last_used"] is not None
    users.revoke_token(database, "ci")
    assert (
        client.get("/api/v1/shops", headers={"authorization": f"Bearer {token}"}).status_code == 401
    )


def test_empty_pages(client: TestClient, database: Database) -> None:
    users.add_user(database, "ann", PASSWORD)
    assert login(client) == 303
    assert "No runs" in client.get("/runs").text
    assert "No runs match" in client.get("/runs?failed=true").text
    assert client.get("/runs/99").status_code == 404
    assert client.get("/runs/abc").status_code == 422
    assert client.get("/static/htmx.min.js").status_code == 200
    assert "Zero-Clause BSD" in client.get("/static/htmx.LICENSE").text


def test_a_mounted_receiver_needs_no_session_and_the_rest_stays_guarded(
    tmp_path: Path, database: Database
) -> None:
    """What `serve` does for issue 17's webhooks: a router mounted beside the dashboard, its
    paths open (a webhook proves itself with its signature), everything else guarded."""
    from fastapi import APIRouter

    hooks = APIRouter()

    @hooks.post("/webhooks/etsy")
    def receive() -> dict[str, bool]:
        return {"received": True}

    app = create_app(load_settings(home=tmp_path), database, secret="s", routers=[hooks],
                     open_to_all=["/webhooks/"])
    client = TestClient(app)
    answer = client.post("/webhooks/etsy", content=b"{}", headers={"origin": "https://etsy.com"})
    assert answer.status_code == 200 and answer.json() == {"received": True}
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    assert client.get("/", follow_redirects=False).status_code == 303
    assert client.post("/logout", follow_redirects=False).status_code == 403
    assert client.get("/api/v1/shops").status_code == 401
