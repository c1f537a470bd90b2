"""OAuth 2.0 with PKCE, token rotation, revocation, expiry, scopes and the x-api-key rules."""

from __future__ import annotations

import base64
import hashlib
import secrets
from urllib.parse import parse_qs, urlsplit

from etsy_helpers import client_for, small_config

from shopbridge.sandbox.etsy import create_app

REDIRECT = "http://localhost:8765/oauth/etsy/callback"


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def connect_params(world, challenge: str, **extra: str) -> dict[str, str]:
    params = {
        "response_type": "code",
        "client_id": world.keystring,
        "redirect_uri": REDIRECT,
        "scope": "transactions_r shops_r",
        "state": "st-123",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    params.update(extra)
    return params


async def authorize(client, world, verifier: str, challenge: str) -> dict:
    r = await client.get("/oauth/connect", params=connect_params(world, challenge))
    assert r.status_code == 302
    query = parse_qs(urlsplit(r.headers["location"]).query)
    assert query["state"] == ["st-123"]
    form = {
        "grant_type": "authorization_code",
        "client_id": world.keystring,
        "redirect_uri": REDIRECT,
        "code": query["code"][0],
        "code_verifier": verifier,
    }
    tok = await client.post("/v3/public/oauth/token", data=form)
    assert tok.status_code == 200, tok.text
    return tok.json()


async def test_full_flow_refresh_rotation_and_revocation():
    app = create_app(small_config(auto_approve=True, listings=5, receipts=5))
    world = app.state.sandbox
    user_id, shop_id = world.shops[0]
    verifier, challenge = pkce()
    async with client_for(app) as c:
        tokens = await authorize(c, world, verifier, challenge)
        assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 3600
        assert tokens["access_token"].startswith(f"{user_id}.")
        assert tokens["refresh_token"].startswith(f"{user_id}.")
        key = {"x-api-key": f"{world.keystring}:{world.shared_secret}"}
        me = await c.get(
            "/v3/application/users/me",
            headers={**key, "authorization": f"Bearer {tokens['access_token']}"},
        )
        assert me.json() == {"user_id": user_id, "shop_id": shop_id}

        refresh = {"grant_type": "refresh_token", "client_id": world.keystring}
        first = tokens["refresh_token"]
        rotated = await c.post("/v3/public/oauth/token", data={**refresh, "refresh_token": first})
        assert rotated.status_code == 200
        assert rotated.json()["refresh_token"] != first
        reused = await c.post("/v3/public/oauth/token", data={**refresh, "refresh_token": first})
        assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"

        world.revoke_tokens(user_id)
        revoked = await c.post(
            "/v3/public/oauth/token",
            data={**refresh, "refresh_token": rotated.json()["refresh_token"]},
        )
        assert revoked.status_code == 400
        assert revoked.json() == {
            "error": "invalid_grant",
            "error_description": "refresh_token is revoked",
        }


async def test_code_is_single_use_and_verifier_checked():
    app = create_app(small_config(auto_approve=True, listings=5, receipts=5))
    world = app.state.sandbox
    verifier, challenge = pkce()
    async with client_for(app) as c:
        r = await c.get("/oauth/connect", params=connect_params(world, challenge))
        code = parse_qs(urlsplit(r.headers["location"]).query)["code"][0]
        form = {
            "grant_type": "authorization_code",
            "client_id": world.keystring,
            "redirect_uri": REDIRECT,
            "code": code,
            "code_verifier": pkce()[0],
        }
        wrong = await c.post("/v3/public/oauth/token", data=form)
        assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
        again = await c.post("/v3/public/oauth/token", data={**form, "code_verifier": verifier})
        assert again.status_code == 400  # the code was consumed by the failed attempt


async def test_connect_rejects_bad_requests_and_shows_consent():
    app = create_app(small_config(listings=5, receipts=5))
    world = app.state.sandbox
    _, challenge = pkce()
    async with client_for(app) as c:
        page = await c.get("/oauth/connect", params=connect_params(world, challenge))
        assert page.status_code == 200 and "Allow access" in page.text
        plain = await c.get(
            "/oauth/connect", params=connect_params(world, challenge, code_challenge_method="plain")
        )
        assert plain.status_code == 302
        assert parse_qs(urlsplit(plain.headers["location"]).query)["error"] == ["invalid_request"]
        foreign = await c.get(
            "/oauth/connect", params=connect_params(world, challenge, redirect_uri="http://evil/cb")
        )
        assert foreign.status_code == 400 and "location" not in foreign.headers
        form = {**connect_params(world, challenge), "decision": "allow"}
        approved = await c.post("/oauth/connect", data=form)
        assert approved.status_code == 302 and "code=" in approved.headers["location"]


async def test_expired_access_token_is_401_with_etsy_body(client, world, shop_id, headers):
    world.advance(3601)
    r = await client.get(f"/v3/application/shops/{shop_id}/receipts", headers=headers)
    assert r.status_code == 401
    assert r.json() == {"error": "invalid_token", "error_description": "access token is expired"}


async def test_scope_is_enforced_per_endpoint(client, world, shop_id):
    from etsy_helpers import api_headers

    h = api_headers(world, scopes=["listings_r"])
    r = await client.get(f"/v3/application/shops/{shop_id}/receipts", headers=h)
    assert r.status_code == 403 and r.json()["error"] == "insufficient_scope"
    ok = await client.get(f"/v3/application/shops/{shop_id}/listings", headers=h)
    assert ok.status_code == 200


async def test_api_key_needs_the_shared_secret(client, world, shop_id):
    url = f"/v3/application/shops/{shop_id}"
    only_key = await client.get(url, headers={"x-api-key": world.keystring})
    assert only_key.status_code == 403
    assert only_key.json() == {"error": "Shared secret is required in x-api-key header."}
    missing = await client.get(url)
    assert missing.status_code == 403
    wrong = await client.get(url, headers={"x-api-key": f"{world.keystring}:nope"})
    assert wrong.status_code == 403
    good = await client.get(url, headers={"x-api-key": f"{world.keystring}:{world.shared_secret}"})
    assert good.status_code == 200 and good.json()["shop_id"] == shop_id


async def test_pii_needs_email_and_address_scopes(client, world, shop_id):
    from etsy_helpers import api_headers

    h = api_headers(world, scopes=["transactions_r"])
    body = (await client.get(f"/v3/application/shops/{shop_id}/receipts", headers=h)).json()
    assert all(r["buyer_email"] is None and r["first_line"] is None for r in body["results"])


async def test_token_scopes_endpoint(client, world):
    tokens = world.issue_tokens(world.shops[0][0], ["shops_r", "email_r"])
    r = await client.post(
        "/v3/application/scopes",
        data={"token": tokens["access_token"]},
        headers={"x-api-key": f"{world.keystring}:{world.shared_secret}"},
    )
    assert r.status_code == 200 and sorted(r.json()["scopes"]) == ["email_r", "shops_r"]


async def test_control_api_issues_tokens(client, world):
    r = await client.post("/_sandbox/tokens", json={"scopes": "shops_r"})
    assert r.status_code == 200
    assert r.json()["access_token"].startswith(f"{world.shops[0][0]}.")
