"""The JSON API under /api/v1: the same actions as the pages, through the same Dashboard
service. A session (with its CSRF token as X-CSRF-Token on unsafe requests) or a token
(`Authorization: Bearer sbt_...`, made with `shopbridge token create NAME`).
Documented at /api/docs (OpenAPI at /api/openapi.json)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request, Response
from pydantic import BaseModel, Field

from shopbridge.web.services import Dashboard


class Ids(BaseModel):
    ids: list[int] = Field(min_length=1, max_length=1000)


class Interval(BaseModel):
    interval: str = Field(max_length=20, description="5m, 2h, 90s, or off")


class Link(BaseModel):
    variant: int = Field(description="The ledger variant the channel variant really is.")


class Adjust(BaseModel):
    by: int | None = Field(None, description="Add N (negative: take away).")
    set: int | None = Field(None, ge=0, description="Set on hand to N.")
    warehouse: str | None = Field(None, max_length=200)
    reason: str = Field(min_length=1, max_length=500)


class Shipment(BaseModel):
    carrier: str | None = Field(None, max_length=200)
    tracking: str | None = Field(None, max_length=255)
    note: str | None = Field(None, max_length=500)


class NewWooShop(BaseModel):
    name: str = Field(max_length=64)
    url: str = Field(max_length=200, description="https; http only on this machine")
    consumer_key: str = Field(max_length=200)
    consumer_secret: str = Field(max_length=200)
    warehouse: str | None = Field(None, max_length=200)


class NewShop(BaseModel):
    name: str = Field(max_length=64)
    keystring: str = Field(max_length=200)
    shared_secret: str = Field(max_length=200)
    api_url: str | None = Field(None, max_length=200)
    warehouse: str | None = Field(None, max_length=200, description="Stock comes from here.")


def operations(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """The API's operations as /api/docs lists them: method, path, summary, parameters and the
    request body's fields, from the OpenAPI document."""
    schemas = spec.get("components", {}).get("schemas", {})
    out = []
    for path, methods in spec.get("paths", {}).items():
        if not path.startswith("/api/v1"):
            continue
        for method, op in methods.items():
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            ref = body.get("schema", {}).get("$ref", "")
            fields = schemas.get(ref.rsplit("/", 1)[-1], {}).get("properties", {}) if ref else {}
            out.append({
                "method": method.upper(),
                "path": path,
                "summary": op.get("summary") or "",
                "parameters": [
                    {"name": p["name"], "in": p["in"], "required": p.get("required", False)}
                    for p in op.get("parameters", [])
                ],
                "body": [
                    {"name": name, "description": field.get("description", "")}
                    for name, field in fields.items()
                ],
            })
    return out


def _page(found: Any) -> dict[str, Any]:
    return {"rows": found.rows, "next": found.next}


def router(dash: Dashboard) -> APIRouter:
    r = APIRouter(prefix="/api/v1", tags=["api"])

    @r.get("/shops", summary="Shops with status, last and next run per stream, calls today")
    def shops() -> list[dict[str, Any]]:
        return dash.shops()

    @r.post("/shops", status_code=201, summary="Register an Etsy shop (then connect it)")
    def add_shop(body: NewShop) -> dict[str, Any]:
        return dash.shop(dash.add_etsy(body.name, body.keystring, body.shared_secret,
                                       body.api_url, body.warehouse))

    @r.post("/shops/woocommerce", status_code=201,
            summary="Register a WooCommerce shop by its REST API keys (then connect it)")
    def add_woo(body: NewWooShop) -> dict[str, Any]:
        return dash.shop(dash.add_woocommerce(body.name, body.url, body.consumer_key,
                                              body.consumer_secret, body.warehouse))

    @r.post("/shops/{name}/connect",
            summary="WooCommerce: check the keys and connect. Etsy: the URL to authorise at")
    async def connect(name: str, request: Request) -> dict[str, Any]:
        shop = await asyncio.to_thread(dash.shop, name)
        if shop["channel"] == "woocommerce":
            return await dash.connect_woocommerce(name)
        callback = str(request.url_for("oauth_callback"))
        return {"authorize_url": await asyncio.to_thread(dash.authorize, name, callback)}

    @r.get("/shops/{name}")
    def shop(name: str) -> dict[str, Any]:
        return dash.shop(name)

    @r.post("/shops/{name}/pause")
    def pause(name: str) -> dict[str, Any]:
        dash.pause(name)
        return dash.shop(name)

    @r.post("/shops/{name}/resume")
    def resume(name: str) -> dict[str, Any]:
        dash.resume(name)
        return dash.shop(name)

    @r.delete("/shops/{name}")
    def remove(name: str) -> dict[str, Any]:
        dash.remove(name)
        return {"removed": name}

    @r.post("/shops/{name}/sync/{stream}", status_code=202,
            summary="Sync a stream now; poll /jobs/{id} for its progress")
    def sync_now(name: str, stream: str) -> dict[str, Any]:
        return dash.sync_now(name, stream).as_dict()

    @r.get("/jobs/{job_id}", summary="A sync started here: progress and result")
    def job(job_id: int) -> dict[str, Any]:
        return dash.job(job_id).as_dict()

    @r.get("/runs")
    def runs(shop: str | None = None, failed: bool = False, after: str | None = None,
             limit: int = 50) -> Any:
        if not 1 <= limit <= 1000:
            raise HTTPException(422, "limit is 1 to 1000")
        # A bare list, newest first (the first version's shape); `after` a run id to go on from.
        return dash.runs(shop, failed, after, limit).rows

    @r.get("/runs/{run_id}")
    def run(run_id: int) -> dict[str, Any]:
        return dash.run(run_id)

    @r.get("/runs/{run_id}/records/{record_id}", summary="One record of a run, with its payload")
    def record(run_id: int, record_id: int) -> dict[str, Any]:
        return dash.record(run_id, record_id)

    @r.post("/runs/{run_id}/resync", status_code=202)
    def resync(run_id: int) -> dict[str, Any]:
        return dash.resync(run_id).as_dict()

    @r.get("/errors", summary="Queued failures oldest first, a page at a time; the next "
           "page's `after` is in the Link header (rel=next)")
    def errors(request: Request, response: Response, shop: str | None = None,
               include_closed: bool = Query(False, alias="all"),
               after: str | None = Query(None, description="'first_seen|id' of the last row "
                                         "seen (the Link header's next page carries it)"),
               limit: int = Query(50, ge=1, le=1000)) -> Any:
        found = dash.errors(shop, include_closed, after, limit)
        if found.next is not None:
            following = request.url.include_query_params(after=found.next)
            response.headers["Link"] = f'<{following}>; rel="next"'
        # A bare list, oldest first (the first version's shape).
        return found.rows

    @r.post("/errors/retry", summary="Fetch these records again now (one run each)")
    async def retry(body: Ids) -> list[dict[str, Any]]:
        return await dash.retry_errors(body.ids)

    @r.post("/errors/dismiss")
    def dismiss(body: Ids) -> list[dict[str, Any]]:
        return dash.dismiss_errors(body.ids)

    @r.get("/schedules")
    def schedules() -> list[dict[str, Any]]:
        return dash.schedules()

    @r.put("/schedules/{shop}/{stream}")
    def set_schedule(shop: str, stream: str, body: Interval) -> dict[str, Any]:
        return {"shop": shop, "stream": stream,
                "every": dash.set_interval(shop, stream, body.interval)}

    @r.get("/orders", summary="Orders newest first; `next` is the `after` of the next page")
    def orders(shop: str | None = None, status: str | None = None,
               since: str | None = Query(None, alias="from"),
               until: str | None = Query(None, alias="to"),
               search: str | None = None, after: str | None = None) -> dict[str, Any]:
        return _page(dash.orders(shop, status, since, until, search, after))

    @r.get("/orders/{shop}/{number}")
    def order(shop: str, number: str) -> dict[str, Any]:
        return dash.order(shop, number)

    @r.post("/orders/{shop}/{number}/ship",
            summary="Tell the channel the order shipped (carrier and tracking code)")
    async def ship(shop: str, number: str, body: Shipment) -> dict[str, Any]:
        return await dash.ship(shop, number, body.carrier or "", body.tracking or "",
                               body.note or "", None)

    @r.post("/orders/{shop}/{number}/payload",
            summary="The order as the channel answers it now (one API call)")
    async def live_payload(shop: str, number: str) -> Any:
        return await dash.live_payload(shop, number)

    @r.get("/customers")
    def customers(shop: str | None = None, search: str | None = None,
                  after: str | None = None) -> dict[str, Any]:
        return _page(dash.customers(shop, search, after))

    @r.get("/customers/{customer_id}")
    def customer(customer_id: int) -> dict[str, Any]:
        return dash.customer(customer_id)

    @r.get("/items")
    def items(shop: str | None = None, status: str | None = None, search: str | None = None,
              after: str | None = None) -> dict[str, Any]:
        return _page(dash.items(shop, status, search, after))

    @r.get("/items/unmatched")
    def unmatched() -> list[dict[str, Any]]:
        return dash.unmatched()

    @r.post("/items/unmatched/{binding_id}/link")
    def link(binding_id: int, body: Link) -> dict[str, Any]:
        return dash.link(binding_id, body.variant)

    @r.post("/items/unmatched/{binding_id}/create")
    def create_from(binding_id: int) -> dict[str, Any]:
        return dash.create_from(binding_id)

    @r.get("/items/{item_id}")
    def item(item_id: int) -> dict[str, Any]:
        return dash.item(item_id)

    @r.get("/variants/{variant_id}")
    def variant(variant_id: int) -> dict[str, Any]:
        return dash.variant(variant_id)

    @r.get("/stock")
    def stock(shop: str | None = None, warehouse: str | None = None, search: str | None = None,
              after: str | None = None) -> dict[str, Any]:
        return _page(dash.stock(shop, warehouse, search, after))

    @r.get("/stock/{sku}/moves")
    def moves(sku: str, limit: int = Query(200, ge=1, le=10_000)) -> list[dict[str, Any]]:
        return dash.moves(sku, limit)

    @r.post("/stock/{sku}/adjust")
    def adjust(sku: str, body: Adjust) -> dict[str, Any]:
        if (body.by is None) == (body.set is None):
            raise HTTPException(422, "give exactly one of by and set")
        mode, number = ("by", body.by) if body.by is not None else ("set", body.set)
        return dash.adjust(sku, mode, str(number), body.warehouse, body.reason, None)

    @r.get("/requests")
    def requests(shop: str, limit: int = Query(100, ge=1, le=1000)) -> list[dict[str, Any]]:
        return dash.requests(shop, limit)

    @r.get("/budget")
    def budget() -> dict[str, Any]:
        return dash.budget()

    return r
