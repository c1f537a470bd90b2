"""The dashboard's pages and JSON API on a shop connected through the dashboard itself: add the
sandbox shop in the form, connect it through the OAuth redirect to /oauth/callback, sync now
with progress, then every page and its actions, and bad input on each form."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from shopbridge.config import Settings
from shopbridge.sandbox.etsy import SandboxConfig, SandboxHandle, serve_in_thread
from shopbridge.store import users
from shopbridge.store.db import Database
from shopbridge.store.models import SalesOrder, StockMove
from shopbridge.web.app import create_app

PASSWORD = "correct horse battery"
CALLBACK = "http://testserver/oauth/callback"
SHOP = "crafts"


@pytest.fixture
def sandbox() -> Iterator[SandboxHandle]:
    config = SandboxConfig(seed=5, listings=8, receipts=60, qps_limit=1000, auto_approve=True,
                           redirect_uris=[CALLBACK])
    with serve_in_thread(config) as handle:
        yield handle


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    db = Database(f"sqlite:///{tmp_path / 'ledger.db'}")
    db.upgrade()
    yield db
    db.dispose()


@pytest.fixture
def client(tmp_path: Path, database: Database) -> Iterator[TestClient]:
    settings = Settings(home=tmp_path, secret_key=Fernet.generate_key().decode())
    app = create_app(settings, database, secret="test-secret")
    users.add_user(database, "ann", PASSWORD)
    with TestClient(app) as test_client:
        token = csrf(test_client, "/login")
        answer = test_client.post("/login", data={"name": "ann", "password": PASSWORD,
                                                  "csrf": token}, follow_redirects=False)
        assert answer.status_code == 303
        yield test_client
    app.state.dashboard.runner.close()


def csrf(client: TestClient, path: str = "/") -> str:
    found = re.search(r'name="csrf-token" content="([^"]+)"', client.get(path).text)
    assert found
    return found.group(1)


def post(client: TestClient, path: str, **data: str) -> httpx.Response:
    return client.post(path, data={"csrf": csrf(client), **data}, follow_redirects=False)


def connect(client: TestClient, sandbox: SandboxHandle) -> None:
    added = post(client, "/shops", name=SHOP, keystring=sandbox.keystring,
                 shared_secret=sandbox.shared_secret, api_url=sandbox.base_url,
                 warehouse="main")
    assert added.status_code == 303, added.text
    assert added.headers["location"] == f"/shops/{SHOP}"
    page = client.get(f"/shops/{SHOP}").text
    assert "added: now connect it" in page and sandbox.shared_secret not in page
    started = post(client, f"/shops/{SHOP}/connect")
    url = re.search(r'id="authorize"|href="([^"]+)" id="authorize"', started.text)
    assert started.status_code == 200 and url and url.group(1)
    htmx = client.post(f"/shops/{SHOP}/connect",
                       headers={"hx-request": "true", "x-csrf-token": csrf(client)})
    assert htmx.status_code == 204 and htmx.headers["hx-redirect"].startswith(sandbox.base_url)
    # The owner approves on the channel, which sends the browser back to our callback.
    approved = httpx.get(htmx.headers["hx-redirect"], follow_redirects=False)
    back = urlsplit(approved.headers["location"])
    assert f"{back.scheme}://{back.netloc}{back.path}" == CALLBACK
    done = client.get(f"{back.path}?{back.query}", follow_redirects=False)
    assert done.status_code == 303, done.text
    page = client.get(f"/shops/{SHOP}").text
    assert "connected (Etsy shop" in page and "Reauthorise" in page


def sync(client: TestClient, stream: str) -> dict:
    started = client.post(f"/shops/{SHOP}/sync/{stream}",
                          headers={"hx-request": "true", "x-csrf-token": csrf(client)})
    assert started.status_code == 200 and 'hx-trigger="every 1s"' in started.text
    job_id = int(re.search(r'id="job-(\d+)"', started.text).group(1))
    client.app.state.dashboard.runner.wait(job_id, 60)
    finished = client.get(f"/jobs/{job_id}", headers={"hx-request": "true"})
    assert "finished" in finished.text and "every 1s" not in finished.text, finished.text
    return client.get(f"/api/v1/jobs/{job_id}").json()


def test_connect_sync_and_every_page(
    client: TestClient, sandbox: SandboxHandle, database: Database
) -> None:
    connect(client, sandbox)
    listings = sync(client, "listings")
    assert listings["state"] == "done" and listings["summary"]["created"] > 0
    orders = sync(client, "orders")
    assert orders["summary"]["created"] > 0 and orders["done"] == orders["total"]
    with database.read() as session:
        stored = session.execute(select(func.count()).select_from(SalesOrder)).scalar_one()
    assert stored == orders["summary"]["created"]

    overview = client.get("/").text
    assert SHOP in overview and "never run" in overview  # reconcile never ran
    run = client.get(f"/runs/{orders['run']}")
    assert run.status_code == 200 and "Resync what this run covered" in run.text

    # Orders: a page of 50 and a keyset next page that does not repeat a row.
    first = client.get("/orders")
    numbers = re.findall(r'href="/orders/crafts/([^"]+)"', first.text)
    assert len(numbers) == 50 and 'rel="next"' in first.text
    nxt = re.search(r'href="\?([^"]+)" rel="next"', first.text).group(1).replace("&amp;", "&")
    second = re.findall(r'href="/orders/crafts/([^"]+)"', client.get(f"/orders?{nxt}").text)
    assert len(second) == stored - 50 and not set(second) & set(numbers)
    partial = client.get("/orders?status=paid", headers={"hx-request": "true",
                                                          "hx-target": "results"})
    assert "<html" not in partial.text
    assert "<table" in partial.text or "No orders" in partial.text
    detail = client.get(f"/orders/{SHOP}/{numbers[0]}")
    assert detail.status_code == 200 and "Lines" in detail.text and "Raw payload" in detail.text
    assert re.search(r"\d+\.\d\d [A-Z]{3}", detail.text)  # money in its currency
    live = client.post(f"/orders/{SHOP}/{numbers[0]}/payload",
                       headers={"hx-request": "true", "x-csrf-token": csrf(client)})
    assert live.status_code == 200 and "receipt_id" in live.text and "<html" not in live.text
    assert client.get(f"/orders/{SHOP}/nope").status_code == 404
    assert "No orders match" in client.get("/orders?search=zzzznothing").text
    bad_date = client.get("/orders?since=yesterday")
    assert bad_date.status_code == 400 and "not a date" in bad_date.text

    customers = client.get("/customers").text
    customer_id = re.search(r'href="/customers/(\d+)"', customers).group(1)
    assert "Orders" in client.get(f"/customers/{customer_id}").text

    items = client.get("/items").text
    item_id = re.search(r'href="/items/(\d+)"', items).group(1)
    item = client.get(f"/items/{item_id}").text
    sku = re.search(r'href="/stock/([^"]+)"', item).group(1)
    variant_id = re.search(r'href="/variants/(\d+)"', item).group(1)
    variant = client.get(f"/variants/{variant_id}").text
    assert "On the channels" in variant and "Stock per warehouse" in variant
    assert client.get("/variants/999999").status_code == 404
    assert client.get("/items/unmatched").status_code == 200

    stock = client.get("/stock").text
    assert "On hand" in stock
    # Adjusting: a negative result and a non-number are refused, nothing changes.
    with database.read() as session:
        moves_before = session.execute(select(func.count()).select_from(StockMove)).scalar_one()
    refused = post(client, f"/stock/{sku}/adjust", mode="set", quantity="-3", reason="count")
    assert refused.status_code == 400 and "below 0" in refused.text
    refused = post(client, f"/stock/{sku}/adjust", mode="by", quantity="lots", reason="count")
    assert refused.status_code == 400 and "whole number" in refused.text
    with database.read() as session:
        assert session.execute(select(func.count()).select_from(StockMove)).scalar_one() == \
            moves_before
    adjusted = post(client, f"/stock/{sku}/adjust", mode="by", quantity="5", reason="count")
    assert adjusted.status_code == 303
    moves = client.get(adjusted.headers["location"]).text
    assert "count" in moves and "web:ann" in moves and "on hand" in moves

    # Schedules: 0 and nonsense are refused; 10m is taken.
    zero = post(client, "/schedules", shop=SHOP, stream="orders", interval="0")
    assert zero.status_code == 400 and "write &#39;off&#39;" in zero.text
    assert post(client, "/schedules", shop=SHOP, stream="orders", interval="1y").status_code == 400
    assert post(client, "/schedules", shop=SHOP, stream="orders", interval="10m").status_code == 303
    assert "every 10m" in client.get("/schedules").text or "10m" in client.get("/schedules").text

    assert "No open errors" in client.get("/errors").text
    requests = client.get(f"/requests?shop={SHOP}").text
    assert "/v3/application/shops" in requests and sandbox.shared_secret not in requests
    assert "Per API key" in client.get("/budget").text

    # Pause and resume, remove with the wrong confirmation is refused.
    assert post(client, f"/shops/{SHOP}/pause").status_code == 303
    assert "paused" in client.get("/").text
    assert post(client, f"/shops/{SHOP}/resume").status_code == 303
    wrong = post(client, f"/shops/{SHOP}/remove", confirm="other")
    assert wrong.status_code == 400 and SHOP in client.get("/shops").text


def test_forged_oauth_state_and_bad_shop_form(client: TestClient, sandbox: SandboxHandle) -> None:
    forged = client.get("/oauth/callback?code=abc&state=forged")
    assert forged.status_code == 400 and "unknown, expired or already used" in forged.text
    assert "Traceback" not in forged.text
    refused = client.get("/oauth/callback?error=access_denied&error_description=user+denied")
    assert refused.status_code == 400 and "user denied" in refused.text
    long = post(client, "/shops", name="x" * 10_000, keystring="k", shared_secret="s")
    assert long.status_code == 400 and "too long" in long.text
    bad = post(client, "/shops", name="ok", keystring="k", shared_secret="s",
               api_url="http://evil.example")
    assert bad.status_code == 400 and 'value="k"' in bad.text and "Traceback" not in bad.text


def test_api_with_a_token(client: TestClient, sandbox: SandboxHandle, database: Database) -> None:
    connect(client, sandbox)
    sync(client, "listings")
    sync(client, "orders")
    token = users.create_token(database, "ci")
    api = TestClient(client.app, headers={"authorization": f"Bearer {token}"})
    shops = api.get("/api/v1/shops").json()
    assert [s["name"] for s in shops] == [SHOP] and "orders" in shops[0]["streams"]
    page = api.get("/api/v1/orders").json()
    assert len(page["rows"]) == 50 and page["next"]
    rest = api.get("/api/v1/orders", params={"after": page["next"]}).json()
    assert rest["next"] is None and {r["id"] for r in rest["rows"]}.isdisjoint(
        r["id"] for r in page["rows"])
    number = page["rows"][0]["number"]
    assert api.get(f"/api/v1/orders/{SHOP}/{number}").json()["number"] == number
    assert api.get("/api/v1/orders", params={"after": "garbage"}).status_code == 400
    items = api.get("/api/v1/items").json()["rows"]
    item = api.get(f"/api/v1/items/{items[0]['id']}").json()
    sku = next(v["sku"] for v in item["variants"] if v["sku"])
    done = api.post(f"/api/v1/stock/{sku}/adjust", json={"by": 2, "reason": "api"}).json()
    assert done["change"] == 2
    assert api.post(f"/api/v1/stock/{sku}/adjust", json={"reason": "api"}).status_code == 422
    assert api.post(f"/api/v1/stock/{sku}/adjust",
                    json={"set": -1, "reason": "api"}).status_code == 422
    assert api.get(f"/api/v1/stock/{sku}/moves").json()[0]["reason"] == "api"
    assert api.get("/api/v1/stock").json()["rows"]
    assert api.get("/api/v1/customers").json()["rows"]
    assert api.put(f"/api/v1/schedules/{SHOP}/orders", json={"interval": "0"}).status_code == 400
    assert api.put(f"/api/v1/schedules/{SHOP}/orders",
                   json={"interval": "15m"}).json()["every"] == "15m"
    assert api.get("/api/v1/schedules").json()
    assert api.get("/api/v1/errors").json() == []
    assert api.post("/api/v1/errors/dismiss", json={"ids": [999]}).status_code == 400
    assert api.get("/api/v1/budget").json()["keys"]
    assert api.get("/api/v1/requests", params={"shop": SHOP}).json()
    assert api.get("/api/v1/shops/nope").status_code == 404
    job = api.post(f"/api/v1/shops/{SHOP}/sync/reconcile")
    assert job.status_code == 202
    client.app.state.dashboard.runner.wait(job.json()["id"], 60)
    assert api.get(f"/api/v1/jobs/{job.json()['id']}").json()["state"] == "done"
    runs = api.get("/api/v1/runs").json()
    newest = api.get("/api/v1/runs", params={"limit": 1}).json()
    assert len(newest) == 1 and newest[0]["id"] == runs[0]["id"]
    rest = api.get("/api/v1/runs", params={"after": str(runs[0]["id"])}).json()
    assert [r["id"] for r in rest] == [r["id"] for r in runs[1:]]
    resync = api.post(f"/api/v1/runs/{runs[-1]['id']}/resync")
    assert resync.status_code == 202
    client.app.state.dashboard.runner.wait(resync.json()["id"], 60)
    assert api.post(f"/api/v1/shops/{SHOP}/pause").json()["status"] == "disabled"
    # A session needs its CSRF token on the API too; a token does not.
    assert client.post(f"/api/v1/shops/{SHOP}/resume").status_code == 403
    assert api.post(f"/api/v1/shops/{SHOP}/resume").json()["status"] == "connected"
    assert "/api/v1/orders" in api.get("/api/openapi.json").json()["paths"]
    docs = client.get("/api/docs")
    assert docs.status_code == 200
    assert "<code>/api/v1/orders/{shop}/{number}/ship</code>" in docs.text
    assert "<script>" not in docs.text and "cdn" not in docs.text.lower()


def test_ship_an_order_push_stock_and_drift(
    client: TestClient, sandbox: SandboxHandle, database: Database
) -> None:
    connect(client, sandbox)
    sync(client, "listings")
    sync(client, "orders")
    open_orders = re.findall(r'href="/orders/crafts/([^"]+)"',
                             client.get("/orders?status=paid").text)
    assert open_orders
    number = open_orders[0]
    page = client.get(f"/orders/{SHOP}/{number}").text
    assert "Ship it" in page
    long = post(client, f"/orders/{SHOP}/{number}/ship", carrier="usps", tracking="9" * 10_000)
    assert long.status_code == 400 and "at most 255" in long.text and "Traceback" not in long.text
    lonely = post(client, f"/orders/{SHOP}/{number}/ship", carrier="usps")
    assert lonely.status_code == 400 and "without a tracking code" in lonely.text
    shipped = post(client, f"/orders/{SHOP}/{number}/ship", carrier="usps",
                   tracking="9400111899223817250000")
    assert shipped.status_code == 303, shipped.text
    page = client.get(shipped.headers["location"]).text
    assert "posted" in page and "9400111899223817250000" in page and "Ship it" not in page

    pushed = sync(client, "stock")
    assert pushed["state"] == "done", pushed
    drift = sync(client, "drift")
    assert drift["state"] == "done" and drift["summary"]["stream"] == "drift"
    assert "Check drift now" in client.get(f"/shops/{SHOP}").text


def test_errors_retry_dismiss_in_bulk_and_a_records_payload(
    client: TestClient, sandbox: SandboxHandle, database: Database
) -> None:
    from shopbridge.store import history
    from shopbridge.store.models import Shop, SyncError

    connect(client, sandbox)
    receipts = list(sandbox.sandbox.shop_state(sandbox.shops[0][1]).receipts)
    with database.write() as session:
        shop_id = session.execute(select(Shop.id).where(Shop.name == SHOP)).scalar_one()
        run_id = history.start_run(session, shop_id, "orders", "manual").id
        for external_id in (str(receipts[0]), str(receipts[1]), "999", "998"):
            history.record_failure(session, shop_id, run_id, "receipt", external_id, "boom",
                                   {"receipt_id": external_id})
            history.record_outcome(session, run_id, "receipt", external_id, "failed", "boom",
                                   {"receipt_id": external_id})
    listed = client.get("/errors").text
    ids = {receipt: error_id for error_id, receipt in
           re.findall(r'name="ids" value="(\d+)".*?receipt (\d+)</td>', listed)}
    assert set(ids) == {str(receipts[0]), str(receipts[1]), "999", "998"}
    # Bulk retry of the two real receipts: both land; the forged ones stay.
    form = {"csrf": csrf(client, "/errors"), "ids": [ids[str(receipts[0])], ids[str(receipts[1])]]}
    retried = client.post("/errors/retry", data=form, follow_redirects=False)
    assert retried.status_code == 303
    assert "retried 2: 2 landed, 0 still fail" in client.get("/errors").text
    # One by one: the unknown receipt still fails, with the channel's reason.
    one = client.post(f"/errors/{ids['999']}/retry", data={"csrf": csrf(client, "/errors")},
                      follow_redirects=False)
    assert one.status_code == 303
    page = client.get("/errors").text
    assert "1 still fail" in page and "404" in page
    dismissed = client.post("/errors/dismiss", data={"csrf": csrf(client, "/errors"),
                                                     "ids": [ids["999"], ids["998"]]},
                            follow_redirects=False)
    assert dismissed.status_code == 303
    assert "dismissed 2 error(s)" in client.get("/errors").text
    with database.read() as session:
        statuses = sorted(e.status for e in session.execute(select(SyncError)).scalars())
    assert statuses == ["dismissed", "dismissed"]
    assert "No open errors" in client.get("/errors").text
    assert client.get("/errors?every=true").text.count("dismissed") >= 2
    assert post(client, "/errors/dismiss").status_code == 400  # nothing chosen

    run = client.get(f"/runs/{run_id}").text
    link = re.search(rf'href="(/runs/{run_id}/records/\d+)">payload of 999', run).group(1)
    record = client.get(link).text
    assert "&#34;receipt_id&#34;: &#34;999&#34;" in record or '"receipt_id": "999"' in record
    assert client.get(f"/runs/{run_id}/records/99999").status_code == 404


def test_empty_loading_and_error_states_of_the_lists(client: TestClient) -> None:
    htmx = {"hx-request": "true", "hx-target": "results"}
    for path, empty in (("/orders", "No orders"), ("/customers", "No customers"),
                        ("/items", "No items"), ("/stock", "No stock"), ("/runs", "No runs"),
                        ("/errors", "No open errors"), ("/requests", "No API calls"),
                        ("/schedules", "nothing is scheduled"), ("/budget", "no calls"),
                        ("/items/unmatched", "Nothing is waiting"), ("/shops", "No shops yet")):
        page = client.get(path)
        assert page.status_code == 200 and empty in page.text, path
        if 'id="results"' in page.text:  # a list: its filter form shows a loading indicator
            assert 'class="htmx-indicator"' in page.text, path
            alone = client.get(path, headers=htmx)
            assert empty in alone.text and "<html" not in alone.text, path
    # An error answers the results alone too (htmx swaps 4xx answers: see base.html's config).
    bad = client.get("/orders?since=yesterday", headers=htmx)
    assert bad.status_code == 400 and "not a date" in bad.text and "<html" not in bad.text
    assert client.get("/orders?after=nonsense").status_code == 400
    assert client.get("/stock?warehouse=nowhere").status_code == 400
    unknown = client.get("/orders?shop=nowhere")
    assert unknown.status_code == 400 and "no shop named" in unknown.text
    assert client.get("/jobs/12345").status_code == 404


def test_a_woocommerce_shop_by_its_keys(client: TestClient, database: Database) -> None:
    from shopbridge.sandbox.woocommerce import WooSandboxConfig
    from shopbridge.sandbox.woocommerce import serve_in_thread as woo_sandbox

    with woo_sandbox(WooSandboxConfig(seed=11, products=6, orders=70)) as woo:
        wrong = post(client, "/shops/woocommerce", name="site", url="ftp://nowhere",
                     consumer_key="ck", consumer_secret="cs")
        assert wrong.status_code == 400 and "not an http(s) URL" in wrong.text
        long = post(client, "/shops/woocommerce", name="site", url=woo.base_url,
                    consumer_key="ck", consumer_secret="cs_" + "9" * 300)
        assert long.status_code == 400 and "the consumer secret is too long" in long.text
        assert "9" * 300 not in long.text
        added = post(client, "/shops/woocommerce", name="site", url=woo.base_url,
                     consumer_key=woo.consumer_key, consumer_secret=woo.consumer_secret,
                     warehouse="main")
        assert added.status_code == 303, added.text
        page = client.get("/shops/site").text
        assert "Check the keys and connect" in page and woo.consumer_secret not in page
        connected = post(client, "/shops/site/connect")
        assert connected.status_code == 303, connected.text
        page = client.get("/shops/site").text
        assert "shop site connected (" in page and "connected" in page
        job = client.post("/shops/site/sync/orders",
                          headers={"hx-request": "true", "x-csrf-token": csrf(client)})
        job_id = int(re.search(r'id="job-(\d+)"', job.text).group(1))
        client.app.state.dashboard.runner.wait(job_id, 60)
        done = client.get(f"/api/v1/jobs/{job_id}").json()
        assert done["state"] == "done", done
        assert done["summary"]["created"] == 70
    orders = client.get("/orders?shop=site").text
    assert len(re.findall(r'href="/orders/site/', orders)) == 50


def test_the_errors_list_pages_by_key_on_the_page_and_in_the_api(
    client: TestClient, database: Database
) -> None:
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import insert

    from shopbridge.store.models import Shop, SyncError

    start = datetime(2026, 3, 1, tzinfo=UTC)
    with database.write() as session:
        shop = Shop(channel="etsy", name=SHOP, api_url="http://127.0.0.1:1", status="connected")
        session.add(shop)
        session.flush()
        # 123 open errors, more than two pages; three share each first-seen second.
        session.execute(insert(SyncError), [
            {"shop_id": shop.id, "entity": "receipt", "external_id": str(5000 + n),
             "status": "open", "error": f"boom {n}", "attempts": 1,
             "first_seen": start + timedelta(seconds=n // 3), "last_seen": start}
            for n in range(123)
        ])
    # The page: 50 rows and a next-page link that keeps the filter; the link's page goes on.
    seen: list[str] = []
    url = f"/errors?shop={SHOP}"
    for _ in range(10):
        text = client.get(url).text
        rows = re.findall(r'name="ids" value="\d+".*?receipt (\d+)</td>', text)
        assert len(rows) <= 50
        seen.extend(rows)
        found = re.search(r'<a href="\?([^"]+)" rel="next">', text)
        if found is None:
            break
        assert f"shop={SHOP}" in found.group(1).replace("&amp;", "&")
        url = "/errors?" + found.group(1).replace("&amp;", "&")
    assert seen == [str(5000 + n) for n in range(123)]
    # An htmx request for the results (the filter form, a later page) gets them alone.
    alone = client.get(url, headers={"hx-request": "true", "hx-target": "results"}).text
    assert "<html" not in alone and "receipt 5122" in alone and "receipt 5000" not in alone
    # Bulk dismiss acts on what was chosen on that later page, and on nothing else.
    chosen = re.findall(r'name="ids" value="(\d+)"', alone)[:2]
    came_from = re.search(r'name="back" value="([^"]*)"', alone).group(1).replace("&amp;", "&")
    done = client.post("/errors/dismiss", data={"csrf": csrf(client, "/errors"), "ids": chosen,
                                                "back": came_from}, follow_redirects=False)
    # Back to the page it was done on: its filter and its place in the list.
    assert done.status_code == 303 and done.headers["location"] == "/errors?" + came_from
    assert f"shop={SHOP}" in came_from and "after=" in came_from
    # Only the list's own parameters go back; anything else in `back` is dropped.
    one = client.post(f"/errors/{chosen[0]}/dismiss", follow_redirects=False, data={
        "csrf": csrf(client, "/errors"), "back": "next=https://evil.example/&shop=x"})
    assert one.status_code == 303 and one.headers["location"] == "/errors?shop=x"
    with database.read() as session:
        dismissed = session.execute(
            select(SyncError.id).where(SyncError.status == "dismissed")).scalars().all()
    assert sorted(dismissed) == sorted(int(i) for i in chosen)
    # The API: a bare list, oldest first; the next page in the Link header, to the end.
    api_seen: list[str] = []
    next_url: str | None = "/api/v1/errors?limit=20"
    pages = 0
    while next_url and pages < 20:
        answer = client.get(next_url)
        assert answer.status_code == 200
        body = answer.json()
        assert isinstance(body, list) and len(body) <= 20
        api_seen.extend(row["external_id"] for row in body)
        link = answer.headers.get("link")
        next_url = re.match(r'<([^>]+)>; rel="next"', link).group(1) if link else None
        pages += 1
    assert pages == 7
    assert api_seen == [str(5000 + n) for n in range(123) if str(5000 + n) not in
                        set(seen[100:102])]
    everything = client.get("/api/v1/errors", params={"all": "true", "limit": 1000}).json()
    assert len(everything) == 123 and "link" not in client.get(
        "/api/v1/errors", params={"all": "true", "limit": 1000}).headers
    assert client.get("/api/v1/errors", params={"after": "nonsense"}).status_code == 400
    assert client.get("/api/v1/errors", params={"limit": 0}).status_code == 422
    assert client.get("/errors?after=nonsense").status_code == 400
