"""The dashboard's pages: every one a plain URL (filters in the query string, so it can be
bookmarked); lists answer an htmx request for their results with the results alone.

Routes parse the request, call the Dashboard service and render; they hold no query code.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from shopbridge.errors import ShopbridgeError
from shopbridge.jobs.schedule import STREAMS
from shopbridge.web.services import ACTIONS, SYNC_STREAMS, Dashboard

Render = Callable[..., HTMLResponse]
ORDER_STATUSES = ("pending", "paid", "shipped", "delivered", "canceled", "refunded", "void")
ITEM_STATES = ("active", "inactive", "sold_out", "draft", "expired", "removed")


def flash(request: Request, message: str) -> None:
    """A one-line result shown on the next page (kept in the signed session)."""
    request.state.session["flash"] = message[:500]
    request.state.session_changed = True


def back(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def _ids(values: list[str]) -> list[int]:
    try:
        return [int(v) for v in values[:1000]]
    except ValueError:
        raise ShopbridgeError("the selection holds something that is not an error id") from None


ERRORS_FILTERS = ("shop", "every", "after")


async def _errors_page(request: Request) -> str:
    """The errors page an action came from (its filter and page, from the form's `back`), so
    the list the person worked on shows again; only the list's own parameters are kept."""
    form = await request.form()
    kept = [(k, v[:200]) for k, v in parse_qsl(str(form.get("back") or "")[:1000])
            if k in ERRORS_FILTERS]
    return f"/errors?{urlencode(kept)}" if kept else "/errors"


def router(dash: Dashboard, page: Render) -> APIRouter:
    r = APIRouter(include_in_schema=False)

    # --- overview --------------------------------------------------------------------------

    @r.get("/", response_class=HTMLResponse)
    def overview(request: Request) -> Response:
        shops = dash.shops()
        return page(request, "overview.html", shops=shops, alerts=dash.alerts(shops),
                    streams=SYNC_STREAMS, actions=ACTIONS)

    # --- shops -----------------------------------------------------------------------------

    @r.get("/shops", response_class=HTMLResponse)
    def shops_page(request: Request) -> Response:
        return page(request, "shops.html", shops=dash.shops(), error=None, form={},
                    woo_error=None, woo={})

    @r.post("/shops", response_class=HTMLResponse)
    def add_shop(
        request: Request,
        name: str = Form(""),
        keystring: str = Form(""),
        shared_secret: str = Form(""),
        api_url: str = Form(""),
        warehouse: str = Form(""),
    ) -> Response:
        try:
            added = dash.add_etsy(name, keystring, shared_secret, api_url, warehouse)
        except ShopbridgeError as exc:
            # The form comes back with what was typed, except the secret.
            return page(request, "shops.html", 400, shops=dash.shops(), error=str(exc),
                        form={"name": name[:200], "keystring": keystring[:200],
                              "api_url": api_url[:200], "warehouse": warehouse[:200]},
                        woo_error=None, woo={})
        flash(request, f"shop {added} added: now connect it")
        return back(f"/shops/{quote(added)}")

    @r.post("/shops/woocommerce", response_class=HTMLResponse)
    def add_woo(
        request: Request,
        name: str = Form(""),
        url: str = Form(""),
        consumer_key: str = Form(""),
        consumer_secret: str = Form(""),
        warehouse: str = Form(""),
    ) -> Response:
        try:
            added = dash.add_woocommerce(name, url, consumer_key, consumer_secret, warehouse)
        except ShopbridgeError as exc:
            return page(request, "shops.html", 400, shops=dash.shops(), error=None, form={},
                        woo_error=str(exc), woo={"name": name[:200], "url": url[:200],
                                                 "consumer_key": consumer_key[:200],
                                                 "warehouse": warehouse[:200]})
        flash(request, f"shop {added} added: now check its keys and connect it")
        return back(f"/shops/{quote(added)}")

    @r.get("/shops/{name}", response_class=HTMLResponse)
    def shop_page(request: Request, name: str) -> Response:
        shop = dash.shop(name)
        streams: dict[str, Any] = next(
            (s["streams"] for s in dash.shops() if s["name"] == shop["name"]), {}
        )
        return page(request, "shop.html", shop=shop, streams=streams, sync_streams=SYNC_STREAMS,
                    actions=ACTIONS)

    @r.post("/shops/{name}/connect", response_class=HTMLResponse)
    async def connect(request: Request, name: str) -> Response:
        """Etsy: start OAuth (the channel sends the owner back to /oauth/callback).
        WooCommerce: check the keys now."""
        shop = await asyncio.to_thread(dash.shop, name)
        if shop["channel"] == "woocommerce":
            done = await dash.connect_woocommerce(name)
            flash(request, f"shop {done['name']} connected ({done['currency']}, "
                           f"{done['timezone'] or 'UTC'})")
            target = f"/shops/{quote(done['name'])}"
            if _htmx(request):
                return Response(status_code=204, headers={"HX-Redirect": target})
            return back(target)
        callback = str(request.url_for("oauth_callback"))
        url = await asyncio.to_thread(dash.authorize, name, callback)
        if _htmx(request):
            return Response(status_code=204, headers={"HX-Redirect": url})
        # A form may not redirect to another site under our CSP (form-action 'self'): a link.
        return page(request, "connect.html", shop=name, url=url)

    @r.get("/oauth/callback", response_class=HTMLResponse, name="oauth_callback")
    async def oauth_callback(request: Request) -> Response:
        params = {k: v[:2000] for k, v in request.query_params.items()}
        try:
            done = await dash.complete(params)
        except ShopbridgeError as exc:
            return page(request, "message.html", 400, message=f"not connected: {exc}")
        flash(request, f"shop {done['name']} connected (Etsy shop {done['external_shop_id']})")
        return back(f"/shops/{quote(done['name'])}")

    @r.post("/shops/{name}/pause")
    def pause(request: Request, name: str) -> Response:
        dash.pause(name)
        flash(request, f"shop {name} paused: no job calls its API until it is resumed")
        return back(f"/shops/{quote(name)}")

    @r.post("/shops/{name}/resume")
    def resume(request: Request, name: str) -> Response:
        dash.resume(name)
        flash(request, f"shop {name} resumed")
        return back(f"/shops/{quote(name)}")

    @r.post("/shops/{name}/remove")
    def remove(request: Request, name: str, confirm: str = Form("")) -> Response:
        if confirm != name:
            raise ShopbridgeError(f"type the shop's name ({name}) to remove it")
        dash.remove(name)
        flash(request, f"shop {name} removed; its orders and items stay in the ledger")
        return back("/shops")

    # --- sync now ----------------------------------------------------------------------------

    @r.post("/shops/{name}/sync/{stream}", response_class=HTMLResponse)
    def sync_now(request: Request, name: str, stream: str) -> Response:
        job = dash.sync_now(name, stream)
        if _htmx(request):
            return page(request, "_job.html", job=job.as_dict())
        return back(f"/jobs/{job.id}")

    @r.get("/jobs/{job_id}", response_class=HTMLResponse)
    def job_page(request: Request, job_id: int) -> Response:
        job = dash.job(job_id).as_dict()
        if _htmx(request):
            return page(request, "_job.html", job=job)
        return page(request, "job.html", job=job)

    # --- runs ------------------------------------------------------------------------------

    @r.get("/runs", response_class=HTMLResponse)
    def runs_page(
        request: Request, shop: str | None = None, failed: bool = False, after: str | None = None
    ) -> Response:
        found = dash.runs(shop, failed, after)
        return page(request, "runs.html", runs=found.rows, next=found.next,
                    shop=(shop or "")[:200], failed=failed)

    @r.get("/runs/{run_id}", response_class=HTMLResponse)
    def run_page(request: Request, run_id: int) -> Response:
        return page(request, "run.html", run=dash.run(run_id))

    @r.get("/runs/{run_id}/records/{record_id}", response_class=HTMLResponse)
    def record_page(request: Request, run_id: int, record_id: int) -> Response:
        return page(request, "record.html", record=dash.record(run_id, record_id))

    @r.post("/runs/{run_id}/resync", response_class=HTMLResponse)
    def resync(request: Request, run_id: int) -> Response:
        job = dash.resync(run_id)
        if _htmx(request):
            return page(request, "_job.html", job=job.as_dict())
        return back(f"/jobs/{job.id}")

    # --- errors ----------------------------------------------------------------------------

    @r.get("/errors", response_class=HTMLResponse)
    def errors_page(request: Request, shop: str | None = None, every: bool = False,
                    after: str | None = None) -> Response:
        found = dash.errors(shop, every, after)
        return page(request, "errors.html", errors=found.rows, next=found.next,
                    shop=(shop or "")[:200], every=every, results=None)

    async def _retry(request: Request, ids: list[int]) -> Response:
        results = await dash.retry_errors(ids)
        fixed = sum(1 for x in results if x.get("outcome") != "failed")
        flash(request, f"retried {len(results)}: {fixed} landed, {len(results) - fixed} still fail"
              + "".join(f"; error {x['error']}: {x['reason']}" for x in results
                        if x.get("outcome") == "failed" and x.get("reason"))[:400])
        return back(await _errors_page(request))

    @r.post("/errors/retry")
    async def retry_many(request: Request) -> Response:
        form = await request.form()
        return await _retry(request, _ids([str(v) for v in form.getlist("ids")]))

    @r.post("/errors/dismiss")
    async def dismiss_many(request: Request) -> Response:
        form = await request.form()
        done = await asyncio.to_thread(dash.dismiss_errors,
                                       _ids([str(v) for v in form.getlist("ids")]))
        flash(request, f"dismissed {len(done)} error(s): they stay listed under 'all'")
        return back(await _errors_page(request))

    @r.post("/errors/{error_id}/retry")
    async def retry_one(request: Request, error_id: int) -> Response:
        return await _retry(request, [error_id])

    @r.post("/errors/{error_id}/dismiss")
    async def dismiss_one(request: Request, error_id: int) -> Response:
        await asyncio.to_thread(dash.dismiss_errors, [error_id])
        flash(request, f"error {error_id} dismissed")
        return back(await _errors_page(request))

    # --- schedules -------------------------------------------------------------------------

    @r.get("/schedules", response_class=HTMLResponse)
    def schedules_page(request: Request) -> Response:
        return page(request, "schedules.html", rows=dash.schedules(), streams=list(STREAMS),
                    error=None)

    @r.post("/schedules", response_class=HTMLResponse)
    def set_schedule(
        request: Request, shop: str = Form(""), stream: str = Form(""), interval: str = Form("")
    ) -> Response:
        try:
            every = dash.set_interval(shop, stream, interval)
        except ShopbridgeError as exc:
            return page(request, "schedules.html", 400, rows=dash.schedules(),
                        streams=list(STREAMS), error=str(exc))
        flash(request, f"{stream} of {shop}: every {every}" if every != "off"
              else f"{stream} of {shop}: off")
        return back("/schedules")

    # --- orders, customers ---------------------------------------------------------------

    @r.get("/orders", response_class=HTMLResponse)
    def orders_page(
        request: Request,
        shop: str | None = None,
        status: str | None = None,
        since: str | None = None,
        until: str | None = None,
        search: str | None = None,
        after: str | None = None,
    ) -> Response:
        found = dash.orders(shop, status, since, until, search, after)
        filters = {"shop": shop, "status": status, "since": since, "until": until,
                   "search": search}
        return page(request, "orders.html", orders=found.rows, next=found.next,
                    filters={k: (v or "")[:200] for k, v in filters.items()},
                    shops=dash.shop_names(), statuses=ORDER_STATUSES)

    @r.get("/orders/{shop}/{number}", response_class=HTMLResponse)
    def order_page(request: Request, shop: str, number: str) -> Response:
        return page(request, "order.html", order=dash.order(shop, number), ship_error=None,
                    typed={})

    @r.post("/orders/{shop}/{number}/ship", response_class=HTMLResponse)
    async def ship(request: Request, shop: str, number: str, carrier: str = Form(""),
                   tracking: str = Form(""), note: str = Form("")) -> Response:
        try:
            result = await dash.ship(shop, number, carrier, tracking, note, request.state.user)
        except ShopbridgeError as exc:
            return page(request, "order.html", 400, order=dash.order(shop, number),
                        ship_error=str(exc), typed={"carrier": carrier[:100],
                                                    "tracking": tracking[:100]})
        if not result["ok"]:
            return page(request, "order.html", 400, order=dash.order(shop, number),
                        ship_error=f"{result['outcome']}: {result['message']}",
                        typed={"carrier": carrier[:100], "tracking": tracking[:100]})
        flash(request, f"order {number}: {result['outcome']}: {result['message']}")
        return back(f"/orders/{quote(shop)}/{quote(number)}")

    @r.post("/orders/{shop}/{number}/payload", response_class=HTMLResponse)
    async def live_payload(request: Request, shop: str, number: str) -> Response:
        try:
            payload = await dash.live_payload(shop, number)
        except ShopbridgeError as exc:
            return page(request, "_payload.html", 400, payload=None, error=str(exc))
        return page(request, "_payload.html", payload=payload, error=None)

    @r.get("/customers", response_class=HTMLResponse)
    def customers_page(request: Request, shop: str | None = None, search: str | None = None,
                       after: str | None = None) -> Response:
        found = dash.customers(shop, search, after)
        return page(request, "customers.html", customers=found.rows, next=found.next,
                    filters={"shop": (shop or "")[:200], "search": (search or "")[:200]})

    @r.get("/customers/{customer_id}", response_class=HTMLResponse)
    def customer_page(request: Request, customer_id: int) -> Response:
        return page(request, "customer.html", customer=dash.customer(customer_id))

    # --- items, unmatched, stock -----------------------------------------------------------

    @r.get("/items", response_class=HTMLResponse)
    def items_page(request: Request, shop: str | None = None, status: str | None = None,
                   search: str | None = None, after: str | None = None) -> Response:
        found = dash.items(shop, status, search, after)
        return page(request, "items.html", items=found.rows, next=found.next,
                    filters={"shop": (shop or "")[:200], "status": (status or "")[:40],
                             "search": (search or "")[:200]}, states=ITEM_STATES)

    @r.get("/items/unmatched", response_class=HTMLResponse)
    def unmatched_page(request: Request) -> Response:
        return page(request, "unmatched.html", rows=dash.unmatched())

    @r.post("/items/unmatched/{binding_id}/link")
    def link(request: Request, binding_id: int, variant: str = Form("")) -> Response:
        try:
            target = int(variant.strip()[:12])
        except ValueError:
            raise ShopbridgeError(f"{variant[:20]!r} is not a ledger variant id") from None
        dash.link(binding_id, target)
        flash(request, f"channel variant {binding_id} linked to ledger variant {target}")
        return back("/items/unmatched")

    @r.post("/items/unmatched/{binding_id}/create")
    def create_from(request: Request, binding_id: int) -> Response:
        done = dash.create_from(binding_id)
        flash(request, f"channel variant {binding_id} kept as ledger variant "
                       f"{done['ledger_variant']}")
        return back("/items/unmatched")

    @r.get("/items/{item_id}", response_class=HTMLResponse)
    def item_page(request: Request, item_id: int) -> Response:
        return page(request, "item.html", item=dash.item(item_id))

    @r.get("/variants/{variant_id}", response_class=HTMLResponse)
    def variant_page(request: Request, variant_id: int) -> Response:
        return page(request, "variant.html", variant=dash.variant(variant_id))

    @r.get("/stock", response_class=HTMLResponse)
    def stock_page(request: Request, shop: str | None = None, warehouse: str | None = None,
                   search: str | None = None, after: str | None = None) -> Response:
        found = dash.stock(shop, warehouse, search, after)
        return page(request, "stock.html", rows=found.rows, next=found.next,
                    filters={"shop": (shop or "")[:200], "warehouse": (warehouse or "")[:200],
                             "search": (search or "")[:200]})

    @r.get("/stock/{sku}", response_class=HTMLResponse)
    def stock_moves(request: Request, sku: str) -> Response:
        return page(request, "moves.html", sku=sku[:200], moves=dash.moves(sku),
                    warehouses=dash.warehouses(), error=None)

    @r.post("/stock/{sku}/adjust", response_class=HTMLResponse)
    def adjust(request: Request, sku: str, mode: str = Form("by"), quantity: str = Form(""),
               warehouse: str = Form(""), reason: str = Form("")) -> Response:
        try:
            done = dash.adjust(sku, mode, quantity, warehouse, reason, request.state.user)
        except ShopbridgeError as exc:
            return page(request, "moves.html", 400, sku=sku[:200], moves=dash.moves(sku),
                        warehouses=dash.warehouses(), error=str(exc))
        flash(request, f"{sku}: on hand {done['on_hand_before']} -> {done['on_hand']} in "
                       f"{done['warehouse']}")
        return back(f"/stock/{quote(sku)}")

    # --- the request log and the budget ------------------------------------------------------

    @r.get("/requests", response_class=HTMLResponse)
    def requests_page(request: Request, shop: str | None = None) -> Response:
        names = dash.shop_names()
        chosen = (shop or (names[0] if names else ""))[:200]
        rows: list[dict[str, Any]] = dash.requests(chosen) if chosen else []
        return page(request, "requests.html", rows=rows, shop=chosen, shops=names)

    @r.get("/budget", response_class=HTMLResponse)
    def budget_page(request: Request) -> Response:
        return page(request, "budget.html", budget=dash.budget())

    return r
